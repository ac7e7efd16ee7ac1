"""One crafted row never breaks the store's entry points (issue 11, item 12).

Each test writes a bad value with raw sqlite3, as another tool or a hand-made UPDATE would, and
then uses the store through a public entry point in a new process (where the first open reaps
dead runs): the bad row is skipped with a warning naming it, everything else works.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import mlnb
from mlnb.entities import ViewType
from mlnb.errors import MalformedRowWarning, StoreError

ROOT = Path(__file__).resolve().parent.parent


def two_runs(store: Path) -> tuple[str, str]:
    """A finished run with a metric, and a second run that the test will damage."""
    client = mlnb.MlnbClient(str(store))
    good = client.create_run("0", run_name="good").info.run_id
    client.log_metric(good, "acc", 0.5)
    client.set_terminated(good)
    bad = client.create_run("0", run_name="bad").info.run_id
    client.set_terminated(bad)
    client.writer.flush()
    return good, bad


def damage(store: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(store / "mlnb.db") as cx:
        cx.execute(sql, params)


def run_python(code: str, store: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MLNB_TRACKING_URI=str(store), PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def runs_ls(store: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_python("from mlnb.cli import main; raise SystemExit(main(['runs', 'ls']))",
                      store, cwd)


START_AND_SEARCH = """
import mlnb
with mlnb.start_run(run_name="new"):
    mlnb.log_param("p", 1)
print(sorted(r.info.run_name for r in mlnb.search_runs(output_format="list")))
"""


@pytest.mark.parametrize(("column", "pid"), [
    ("pid", "abc"), ("pid", 1.5), ("pid", -1), ("pid", 0), ("pid_start", b"\x01"),
])
def test_a_running_run_with_a_bad_pid_is_left_alone_with_a_warning(
        tmp_path: Path, column: str, pid: object) -> None:
    store = tmp_path / "store"
    _, bad = two_runs(store)
    damage(store, f"UPDATE runs SET status = 'RUNNING', host = ?, {column} = ? WHERE run_id = ?",
           socket.gethostname(), pid, bad)

    result = run_python(START_AND_SEARCH, store, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['bad', 'good', 'new']"
    assert f"mlnb skipped the liveness check of run '{bad}' of the store: its {column} is {pid!r}" \
        in result.stderr
    # Not marked KILLED on a guess, and nothing else about it changed.
    assert mlnb.MlnbClient(str(store)).get_run(bad).info.status == "RUNNING"

    ls = runs_ls(store, tmp_path)
    assert ls.returncode == 0, ls.stderr
    assert "good" in ls.stdout and "new" in ls.stdout and "Traceback" not in ls.stderr
    assert ls.stderr.startswith(f"mlnb: warning: mlnb skipped the liveness check of run '{bad}'")


# A bad experiment id or lifecycle stage matches no search (the WHERE clause filters it in SQL),
# so there the warning comes only from reading the run by its id.
@pytest.mark.parametrize(("column", "value", "searched"), [
    ("start_time", "yesterday", True), ("end_time", "x", True), ("status", "WEIRD", True),
    ("start_time", 1.5, True), ("lifecycle_stage", "gone", False), ("experiment_id", "zero", False),
])
def test_a_run_row_with_a_bad_value_is_skipped_in_listings(
        tmp_path: Path, column: str, value: object, searched: bool) -> None:
    store = tmp_path / "store"
    good, bad = two_runs(store)
    damage(store, f"UPDATE runs SET {column} = ? WHERE run_id = ?", value, bad)

    result = run_python(START_AND_SEARCH, store, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['good', 'new']"
    warned = f"mlnb skipped run '{bad}' of the store: its {column} is {value!r}"
    assert (warned in result.stderr) == searched, result.stderr

    ls = runs_ls(store, tmp_path)
    assert ls.returncode == 0, ls.stderr
    names = [line.split()[1] for line in ls.stdout.splitlines()[2:]]  # a random id may hold "bad"
    assert "good" in names and "bad" not in names and bad not in ls.stdout
    assert "Traceback" not in ls.stderr
    assert (f"mlnb: warning: {warned}" in ls.stderr) == searched, ls.stderr

    client = mlnb.MlnbClient(str(store))
    with pytest.raises(StoreError, match=f"Run {bad} in the store is malformed: its {column} is"):
        client.get_run(bad)
    client.delete_run(bad)  # the way out the message names works on the bad row itself
    assert client.get_run(good).data.metrics == {"acc": 0.5}


def test_a_metric_row_with_a_bad_value_is_skipped(tmp_path: Path) -> None:
    store = tmp_path / "store"
    good, _ = two_runs(store)
    client = mlnb.MlnbClient(str(store))
    client.log_metric(good, "loss", 0.25, step=1)
    client.writer.flush()
    damage(store, "UPDATE metric_series SET value = 'high' WHERE run_id = ? AND key = 'acc'", good)
    damage(store, "UPDATE metric_tail SET step = 'one' WHERE series_id IN (SELECT series_id FROM "
           "metric_series WHERE run_id = ? AND key = 'loss')", good)
    with pytest.warns(MalformedRowWarning, match=f"metric 'acc' of run {good} of the store: "
                      "its value is 'high', not a number"):
        run = client.get_run(good)
    assert run.data.metrics == {"loss": 0.25}
    with pytest.warns(MalformedRowWarning, match="its step is 'one'"):
        assert client.get_metric_history(good, "loss") == []
    with pytest.warns(MalformedRowWarning, match="its step is 'one'"):
        assert client.store.metric_histories([good], ["loss"]) == {good: {"loss": []}}


@pytest.mark.parametrize(("column", "value", "problem"), [
    ("last_update_time", "soon", "its last_update_time is 'soon'"),
    ("creation_time", "yesterday", "its creation_time is 'yesterday'"),
])
def test_an_experiment_row_with_a_bad_value_is_skipped(tmp_path: Path, column: str, value: str,
                                                        problem: str) -> None:
    store = tmp_path / "store"
    client = mlnb.MlnbClient(str(store))
    keep = client.create_experiment("keep")
    bad = client.create_experiment("bad")
    damage(store, f"UPDATE experiments SET {column} = ? WHERE experiment_id = ?", value, int(bad))
    with pytest.warns(MalformedRowWarning, match=f"experiment {int(bad)} of the store: {problem}"):
        names = [e.name for e in client.search_experiments(ViewType.ALL)]
    assert names == ["Default", "keep"]
    assert client.get_experiment(keep).name == "keep"
    with pytest.raises(StoreError, match=f"Experiment {int(bad)} in the store is malformed"):
        client.get_experiment(bad)
    listed = run_python("from mlnb.cli import main; raise SystemExit(main(['experiments', 'ls', '--all']))",
                        store, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "keep" in listed.stdout and "mlnb: warning: mlnb skipped experiment" in listed.stderr


def test_a_model_version_row_with_a_bad_stage_is_skipped(tracking: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    for _ in range(2):
        mlnb.sklearn.log_model(model, "model", registered_model_name="churn")
    damage(tracking, "UPDATE model_versions SET current_stage = 'Limbo' WHERE version = 2")
    client = mlnb.MlnbClient()
    with pytest.warns(MalformedRowWarning, match="model version 'churn' 2 of the store: "
                                                 "its current_stage is 'Limbo'"):
        versions = client.search_model_versions("name = 'churn'")
    assert [v.version for v in versions] == ["1"]
    assert [v.version for v in client.get_latest_versions("churn")] == ["1"]
    assert client.transition_model_version_stage("churn", 1, "Production").current_stage == "Production"
    assert [v.version for v in client.get_registered_model("churn").latest_versions] == ["1"]
