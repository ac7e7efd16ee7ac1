"""A store made by someone else is foreign: its code-running model files do not load without
trusted=True or `mlnb trust` (issue 11, item 1), end to end in subprocesses.

User A logs and registers a PythonModel whose unpickling writes a marker file, then the store is
copied to user B. B is another key location (always), and a real second Unix user created for the
test where the machine allows it (root, with an interpreter other users can run).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MARKER_MODULE = '''
from pathlib import Path

import mlnb


class MarkerModel(mlnb.pyfunc.PythonModel):
    """Unpickling this writes the marker file: proof that loading the pickle ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __setstate__(self, state):
        Path(state["marker"]).write_text("the pickle ran code")
        self.__dict__.update(state)

    def predict(self, context, model_input):
        return [7] * len(model_input)
'''

LOG_AND_REGISTER = '''
import sys
import pandas as pd
import mlnb
from markermod import MarkerModel

info = mlnb.pyfunc.log_model("model", python_model=MarkerModel(sys.argv[1]),
                             input_example=pd.DataFrame({"x": [1.0, 2.0]}),
                             registered_model_name="marker-model")
print(info.registered_model_version)
'''

LOAD = '''
import mlnb
model = mlnb.pyfunc.load_model("models:/marker-model/1")
print("loaded", list(model.predict({"x": [1.0]})))
'''


@dataclass
class UserB:
    """How to run a command as user B: its environment, and a prefix that switches uid."""

    home: Path
    prefix: list[str] = field(default_factory=list)
    uid: int = field(default_factory=os.geteuid)
    gid: int = field(default_factory=os.getegid)


@pytest.fixture
def base() -> Iterator[Path]:
    # Not tmp_path: a second user must be able to reach these folders (pytest's are 0700).
    folder = Path(tempfile.mkdtemp(prefix="mlnb-trust-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _env(home: Path, code: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLNB_HOME", "MLNB_TRACKING_URI", "XDG_CONFIG_HOME", "MLFLOW_EXPERIMENT_NAME")}
    env.update(HOME=str(home), PYTHONPATH=f"{ROOT}{os.pathsep}{code}", **extra)
    return env


def _run(prefix: list[str], args: list[str], env: dict[str, str], cwd: Path,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _make_store_as_a(base: Path, marker: Path) -> Path:
    code = base / "code"
    code.mkdir(mode=0o755)
    (code / "markermod.py").write_text(MARKER_MODULE)
    (code / "markermod.py").chmod(0o644)
    work = base / "a"
    work.mkdir(mode=0o700)
    env = _env(base / "a-home", code, MLNB_HOME=str(base / "a-home" / "mlnb"))
    made = _run([], [sys.executable, "-c", LOG_AND_REGISTER, str(marker)], env, work)
    assert made.returncode == 0, made.stderr
    # A's own store needs no ceremony: A loads its own pickle without trusted=True.
    own = _run([], [sys.executable, "-c", LOAD], env, work)
    assert own.returncode == 0, own.stderr
    assert "loaded [7]" in own.stdout and marker.exists()
    marker.unlink()
    return work / ".mlnb"


def _key_is_private_and_outside(key: Path, uid: int, store: Path) -> None:
    assert key.stat().st_uid == uid and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    secret = key.read_bytes()
    assert all(secret not in p.read_bytes() for p in store.rglob("*") if p.is_file())


def _copy_to_b(store: Path, base: Path, user: UserB) -> Path:
    project = base / "b" / "project"
    shutil.copytree(store, project / ".mlnb")
    (project / "input.csv").write_text("x\n1.0\n2.0\n")
    for path in [base / "b", *(base / "b").rglob("*")]:
        os.chown(path, user.uid, user.gid)
    return project


def _refused(result: subprocess.CompletedProcess[str], marker: Path, store: Path) -> None:
    text = result.stderr.replace("\n", " ")
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr or "UntrustedModelError" in result.stderr
    assert "written by someone else" in text
    assert "would run code" in text
    assert f"mlnb trust {store}" in text and "trusted=True" in text
    assert not marker.exists(), "the foreign pickle ran code"


def _attack(base: Path, user: UserB) -> None:
    b_dir = base / "b"
    b_dir.mkdir(mode=0o755)
    user.home.mkdir(mode=0o700)
    os.chown(user.home, user.uid, user.gid)
    marker = b_dir / "marker"
    store = _make_store_as_a(base, marker)
    project = _copy_to_b(store, base, user)
    os.chown(b_dir, user.uid, user.gid)
    env = _env(user.home, base / "code")
    py = [*user.prefix, sys.executable]
    uri = "models:/marker-model/1"
    where = project / ".mlnb"

    _refused(_run(py, ["-c", LOAD], env, project), marker, where)
    _refused(_run(py, ["-m", "mlnb", "predict", uri, "-i", "input.csv"], env, project), marker, where)
    _refused(_run(py, ["-m", "mlnb", "serve", uri, "--port", "0"], env, project, timeout=60),
             marker, where)
    _key_is_private_and_outside(base / "a-home" / "mlnb" / "key", os.geteuid(), store)
    # B's own key, made on first use in B's default place
    _key_is_private_and_outside(user.home / ".config" / "mlnb" / "key", user.uid, where)

    trust = _run(py, ["-m", "mlnb", "trust", str(where)], env, project)
    assert trust.returncode == 0, trust.stderr
    assert "not written by your mlnb" in trust.stdout and "runs code" in trust.stdout
    listed = _run(py, ["-m", "mlnb", "trust", "--list"], env, project)
    assert str(where / "mlnb.db") in listed.stdout

    loaded = _run(py, ["-c", LOAD], env, project)
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded [7]" in loaded.stdout and marker.exists()
    marker.unlink()
    predicted = _run(py, ["-m", "mlnb", "predict", uri, "-i", "input.csv"], env, project)
    assert predicted.returncode == 0, predicted.stderr
    assert "7" in predicted.stdout and marker.exists()
    marker.unlink()
    _serves(py, uri, env, project)
    assert marker.exists()
    marker.unlink()

    revoked = _run(py, ["-m", "mlnb", "trust", "--revoke", str(where)], env, project)
    assert revoked.returncode == 0, revoked.stderr
    _refused(_run(py, ["-c", LOAD], env, project), marker, where)


def _serves(py: list[str], uri: str, env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.Popen([*py, "-m", "mlnb", "serve", uri, "--port", "0"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Serving models:/marker-model/1"), proc.stderr.read() if proc.stderr else ""
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_copied_store_is_foreign_to_another_key(base: Path) -> None:
    _attack(base, UserB(home=base / "b" / "home"))


@pytest.fixture
def unix_user(base: Path, checkout_reachable_by_others: None) -> Iterator[tuple[str, int, int]]:
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("creating a second Unix user needs root, useradd and setpriv")
    name = f"mlnbt{secrets.token_hex(4)}"
    made = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"useradd failed: {made.stderr.strip()}")
    try:
        entry = pwd.getpwnam(name)
        yield name, entry.pw_uid, entry.pw_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_copied_store_is_foreign_to_another_unix_user(base: Path, unix_user: tuple[str, int, int]
                                                      ) -> None:
    _, uid, gid = unix_user
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import mlnb"], capture_output=True,
                           text=True, env=_env(base, base), cwd=base)
    if probe.returncode != 0:
        pytest.skip(f"another user cannot run this interpreter ({sys.executable}): "
                    f"{probe.stderr.strip()[-200:]}")
    _attack(base, UserB(home=base / "b" / "home", prefix=prefix, uid=uid, gid=gid))
