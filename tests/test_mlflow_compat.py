"""An MLflow-style script (``import mlnb as mlflow``) runs unchanged; the store holds what it logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlnb.store import Store, StoreLocation

SCRIPT = Path(__file__).parent / "scripts" / "mlflow_style_train.py"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], Store]:
    tmp = tmp_path_factory.mktemp("compat")
    env = dict(os.environ, MLNB_TRACKING_URI=str(tmp / "store"), MPLBACKEND="Agg")
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    result = subprocess.run([sys.executable, str(SCRIPT)], env=env, cwd=tmp, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    ids = json.loads(result.stdout.strip().splitlines()[-1])
    store = Store(StoreLocation(tmp / "store" / "mlnb.db", tmp / "store" / "artifacts"))
    return result.stdout, ids, store


def test_script_output(ran: tuple[str, dict[str, str], Store]) -> None:
    out, _, _ = ran
    assert "search_rows 1" in out
    assert "history [0, 1, 2, 3, 4]" in out
    assert "experiments ['Default', 'mlflow-style']" in out
    assert "caught ParamConflictError" in out
    assert "caught RESOURCE_DOES_NOT_EXIST" in out


def test_parent_and_children(ran: tuple[str, dict[str, str], Store]) -> None:
    _, ids, store = ran
    parent = store.get_run(ids["parent"])
    assert parent.info.status == "FINISHED" and parent.info.run_name == "parent"
    assert parent.data.params == {"learning_rate": "0.01", "epochs": "5", "optimizer": "adam"}
    assert parent.data.tags["team"] == "research" and parent.data.tags["priority"] == "high"
    assert parent.data.metrics == {"parent_loss": 1.0}
    assert store.get_experiment(parent.info.experiment_id).name == "mlflow-style"
    children = [store.get_run(c) for c in store.child_run_ids(ids["parent"])]
    assert sorted(c.info.run_name for c in children) == ["child-lr-0.01", "child-lr-0.1"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == ids["parent"]
        assert child.data.tags["child"] == "yes"
        assert child.data.metrics["accuracy"] == pytest.approx(0.9)
        assert [m.step for m in store.get_metric_history(child.info.run_id, "loss")] == [0, 1, 2, 3, 4]


def test_client_log_batch_landed(ran: tuple[str, dict[str, str], Store]) -> None:
    _, ids, store = ran
    child = store.get_run(ids["child"])
    assert child.data.params["lr"] == "0.1"
    assert child.data.params["extra_p"] == "x" and child.data.tags["extra_t"] == "y"
    assert child.data.metrics["extra"] == 1.5


def test_artifacts(ran: tuple[str, dict[str, str], Store]) -> None:
    _, ids, store = ran
    run_id = ids["parent"]
    listed = {f.path for f in store.list_artifacts(run_id)}
    assert listed == {"config", "notes", "plots", "features.txt", "data"}
    root = store.artifact_path(run_id)
    assert json.loads((root / "config" / "model.json").read_text()) == {
        "layers": [64, 32], "activation": "relu"}
    assert (root / "config" / "extra.yaml").read_text().strip() == "seed: 42"
    assert (root / "notes" / "summary.txt").read_text() == "training finished\n"
    assert (root / "plots" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (root / "data" / "features.txt").read_text() == "a,b,c\n"
    record = store.artifact_record(run_id, "plots/curve.png")
    assert record.file_size == (root / "plots" / "curve.png").stat().st_size


def test_tags_mlflow_sets(ran: tuple[str, dict[str, str], Store]) -> None:
    _, ids, store = ran
    tags = store.get_run(ids["parent"]).data.tags
    assert tags["mlflow.runName"] == "parent"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"].endswith("mlflow_style_train.py")
