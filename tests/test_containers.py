"""Container images of a model: the generated build context (Dockerfile linted with hadolint,
pinned requirements, the model, mlnb), build-docker without a daemon, and the image's entry
command run outside Docker in a fresh virtualenv built from the generated requirements."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import mlnb
from mlnb.cli import main
from mlnb.models.container import docker_command
from mlnb.models.uri import resolve_model_uri

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 0.5, 2.5], "b": [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]})
Y = [0, 0, 1, 1, 0, 1]


@pytest.fixture
def model_uri(tracking: Path) -> str:
    model = LogisticRegression().fit(X, Y)
    return mlnb.sklearn.log_model(model, "model", input_example=X[:2]).model_uri


def _sha(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _generate(model_uri: str, out: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["models", "generate-dockerfile", model_uri, "--output-directory", str(out),
                 *extra]) == 0
    return capsys.readouterr().out


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = dockerfile.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]
    return [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in lines]


def test_the_build_context_is_small_pinned_and_lints_clean(
        model_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "image"
    printed = _generate(model_uri, out, "--allowed-host", "model-svc", capsys=capsys)
    assert f"docker build -t NAME {out}" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        ".dockerignore", "Dockerfile", "mlnb", "model", "requirements.txt"]
    model_dir = resolve_model_uri(model_uri).local_dir
    assert _sha(out / "model") == _sha(model_dir)
    assert (out / "mlnb" / "models" / "serve.py").is_file()
    assert not list((out / "mlnb").rglob("__pycache__"))

    steps = _instructions((out / "Dockerfile").read_text())
    python = (model_dir / "python_env.yaml").read_text().split("python:")[1].split()[0]
    assert steps[0] == ("FROM", f"python:{python}-slim")
    kinds = [k for k, _ in steps]
    assert kinds.index("USER") > kinds.index("RUN")  # root only for the install
    assert dict(steps)["USER"] == "10001"
    assert "/ping" in dict(steps)["HEALTHCHECK"] and dict(steps)["EXPOSE"] == "8080"
    assert json.loads(dict(steps)["ENTRYPOINT"]) == [
        "python", "-m", "mlnb", "serve", "/opt/ml/model", "--host", "0.0.0.0", "--port", "8080"]
    assert 'MLNB_SERVE_ALLOWED_HOSTS="model-svc"' in dict(steps)["ENV"]

    requirements = (out / "requirements.txt").read_text().splitlines()
    model_requirements = (model_dir / "requirements.txt").read_text().splitlines()
    assert all("==" in line for line in requirements)
    assert not any(line.startswith("mlnb") for line in requirements)  # copied in, not on PyPI
    assert set(model_requirements) - {line for line in model_requirements if
                                      line.startswith("mlnb")} <= set(requirements)
    assert any(line.startswith("sqlite-utils==") for line in requirements)

    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    lint = subprocess.run([hadolint, str(out / "Dockerfile")], capture_output=True, text=True)
    assert (lint.returncode, lint.stdout, lint.stderr) == (0, "", "")


def test_an_existing_folder_is_refused_and_nothing_is_left_behind(
        model_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "image"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["models", "generate-dockerfile", model_uri, "-d", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlnb: error: {out} already exists and is not an empty folder")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image", "store"]  # no temp folder left

    assert main(["models", "generate-dockerfile", model_uri, "-d", str(tmp_path / "x"),
                 "--allowed-host", "bad host;rm"]) == 2
    assert "'bad host;rm' is not a host name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(docker_command() is not None, reason="a Docker daemon answers here")
def test_build_docker_without_a_daemon_says_what_to_run(
        model_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "build-docker", model_uri, "-n", "churn-model:1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlnb: error: No Docker daemon answers on this machine")
    assert f"mlnb models generate-dockerfile {model_uri} --output-directory model-image" in err
    assert "docker build -t churn-model:1 model-image" in err
    assert main(["models", "build-docker", model_uri, "-n", "Bad Name"]) == 2
    assert "'Bad Name' is not an image name" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, host: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={
        "Host": host, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.e2e
def test_the_entry_command_serves_from_a_fresh_virtualenv(
        model_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "image"
    _generate(model_uri, out, "--allowed-host", "model-svc", capsys=capsys)
    steps = dict(_instructions((out / "Dockerfile").read_text()))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r",
                          str(out / "requirements.txt")], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr

    # The image's ENTRYPOINT, with the image's paths mapped to the context's; bound to
    # 127.0.0.1 on a free port (this machine's servers bind loopback only).
    port = _free_port()
    image_paths = {"/opt/ml/model": str(out / "model"), "python": str(venv / "bin" / "python"),
                   "0.0.0.0": "127.0.0.1", "8080": str(port)}
    command = [image_paths.get(arg, arg) for arg in json.loads(steps["ENTRYPOINT"])]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(out),
           "MLNB_SERVE_ALLOWED_HOSTS": "model-svc"}
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if _request(f"{base}/ping", "localhost")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /ping"
            time.sleep(0.2)
        body = json.dumps({"dataframe_split": X.to_dict(orient="split")}).encode()
        status, answer = _request(f"{base}/invocations", f"model-svc:{port}", body)
        assert status == 200, answer
        expected = LogisticRegression().fit(X, Y).predict(X).tolist()
        assert json.loads(answer)["predictions"] == expected
        status, answer = _request(f"{base}/ping", "attacker.example")
        assert status == 403 and b"DNS rebinding" in answer
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert list(cwd.iterdir()) == []  # serving a model folder writes no store
