"""Real servers for the MLflow REST tests: ``mlnb server`` and ``mlflow server`` (SQLite) as
subprocesses on free loopback ports, the MLflow-style client session, and a field-by-field
snapshot of what a server holds, read through ``MlflowClient``."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "scripts" / "mlflow_client_session.py"
MLFLOW = Path(sys.executable).parent / "mlflow"


@dataclass
class Server:
    url: str
    token: str | None
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_mlnb_server(store: Path, work: Path, *args: str) -> Server:
    """``mlnb --store STORE server --port 0 ARGS``; waits for its ready lines."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "mlnb-server.log"
    out = open(log, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlnb", "--store", str(store), "server", "--port", "0", *args],
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = re.search(r"export MLFLOW_TRACKING_URI=(\S+)", text)
        if found:
            token = re.search(r"export MLFLOW_TRACKING_TOKEN=(\S+)", text)
            return Server(found.group(1), token.group(1) if token else None, process, log)
        if process.poll() is not None:
            raise RuntimeError(f"mlnb server exited early:\n{text[-3000:]}")
        time.sleep(0.1)
    Server("", None, process, log).stop()
    raise RuntimeError(f"mlnb server did not start:\n{log.read_text()[-3000:]}")


def start_mlflow_server(work: Path, port: int) -> Server:
    """A real ``mlflow server`` with a SQLite backend and proxied artifacts in ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "mlflow-server.log"
    out = open(log, "wb")
    process = subprocess.Popen(
        [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
         "--artifacts-destination", str(work / "mlartifacts")],
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=work)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).read()
            return Server(url, None, process, log)
        except OSError:
            time.sleep(0.5)
    Server(url, None, process, log).stop()
    raise RuntimeError(f"mlflow server did not start:\n{log.read_text()[-3000:]}")


def client_env(url: str, token: str | None) -> dict[str, str]:
    """The environment of an MLflow client of ``url`` (no retries: a failure shows at once)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
               MLFLOW_ENABLE_ASYNC_LOGGING="false")
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return env


def run_session(url: str, token: str | None, work: Path) -> dict[str, Any]:
    """Run the MLflow-style session script against ``url``; its JSON results."""
    done = subprocess.run([sys.executable, str(SCRIPT), str(work)], env=client_env(url, token),
                          capture_output=True, text=True, timeout=600, cwd=work.parent)
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _value(v: float) -> Any:
    return "NaN" if isinstance(v, float) and math.isnan(v) else v


def snapshot(url: str, token: str | None) -> dict[str, Any]:
    """What the server holds after the session, field by field, through ``MlflowClient`` reads
    (ids replaced by names, times left out: they differ between two runs of the script)."""
    from mlflow import MlflowClient

    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(client_env(url, token))
    try:
        return _snapshot(MlflowClient(url))
    finally:
        os.environ.clear()
        os.environ.update(old)


def _snapshot(client: Any) -> dict[str, Any]:
    exp = client.get_experiment_by_name("session")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.run_name ASC"])
    names = {r.info.run_id: r.info.run_name for r in runs}
    found: dict[str, Any] = {"experiment": {"name": exp.name, "stage": exp.lifecycle_stage,
                                            "tags": exp.tags}}
    for run in runs:
        tags = dict(run.data.tags)
        if "mlflow.parentRunId" in tags:
            tags["mlflow.parentRunId"] = names[tags["mlflow.parentRunId"]]
        found[f"run {run.info.run_name}"] = {
            "status": run.info.status, "user": run.info.user_id, "stage": run.info.lifecycle_stage,
            "params": run.data.params, "tags": tags,
            "metrics": {k: _value(v) for k, v in run.data.metrics.items()},
            "histories": {k: [(m.step, _value(m.value)) for m in client.get_metric_history(
                run.info.run_id, k)] for k in sorted(run.data.metrics)},
            "outputs": len(run.outputs.model_outputs) if run.outputs else 0,
            "inputs": _inputs(run), "inputs (get_run)": _inputs(client.get_run(run.info.run_id)),
            "artifacts": _tree(client, run.info.run_id, None),
        }
        if run.info.run_name == "parent":
            for path in ("notes.txt", "plots/a.csv", "config/settings.json"):
                local = client.download_artifacts(run.info.run_id, path)
                found[f"file {path}"] = Path(local).read_text()
    for run in runs:
        for output in (run.outputs.model_outputs if run.outputs else []):
            model = client.get_logged_model(output.model_id)
            found["logged model"] = {"name": model.name, "status": str(model.status),
                                     "params": model.params, "run": names[model.source_run_id],
                                     "tags": {k: v for k, v in model.tags.items()}}
    rm = client.get_registered_model("session-model")
    found["registered model"] = {"description": rm.description, "tags": rm.tags,
                                 "aliases": rm.aliases}
    # Each version read on its own: MLflow's search leaves out aliases (mlnb's has them).
    versions = [client.get_model_version("session-model", v.version)
                for v in client.search_model_versions("name = 'session-model'")]
    found["versions"] = sorted(
        (v.version, v.current_stage, v.description, v.tags, v.status, sorted(v.aliases),
         names.get(v.run_id)) for v in versions)
    found["latest"] = sorted((v.current_stage, v.version)
                             for v in client.get_latest_versions("session-model"))
    return found


def _inputs(run: Any) -> list[Any]:
    """A run's dataset inputs: every field of the dataset and the tags of its use."""
    return [(d.dataset.to_dictionary(), sorted((t.key, t.value) for t in d.tags))
            for d in (run.inputs.dataset_inputs if run.inputs else [])]


def _tree(client: Any, run_id: str, path: str | None) -> list[tuple[str, bool, int | None]]:
    """Every file and folder of a run's artifacts except logged models' folders (MLflow keeps
    those beside the runs, mlnb in the run's ``models/`` folder)."""
    found = []
    for info in client.list_artifacts(run_id, path):
        if path is None and info.path == "models":
            continue
        found.append((info.path, info.is_dir, info.file_size))
        if info.is_dir:
            found += _tree(client, run_id, info.path)
    return found
