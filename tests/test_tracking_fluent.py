"""The fluent API as a user drives it: values round-trip, nothing is lost on end_run or flush."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from separate_read import rows_seen_by_others

import mlnb
from mlnb.errors import InvalidParameterError, NotFoundError, ParamConflictError, RunStateError
from mlnb.tracking import state as tracking_state

pytestmark = pytest.mark.both_backends


def _rows_on_disk(store_dir: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
    """Read through a separate connection: what another process would see right now."""
    return rows_seen_by_others(os.environ["MLNB_TRACKING_URI"], sql, params)


def test_nan_and_infinities_round_trip_everywhere(tracking: Path) -> None:
    with mlnb.start_run(run_name="special") as run:
        mlnb.log_metric("nan", 0.0, step=0)
        mlnb.log_metric("nan", math.nan, step=1)
        mlnb.log_metric("pinf", math.inf)
        mlnb.log_metric("ninf", float("-inf"))
        mlnb.log_metric("np_nan", np.float64("nan"))
    metrics = mlnb.get_run(run.run_id).data.metrics
    assert math.isnan(metrics["nan"]) and math.isnan(metrics["np_nan"])
    assert metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf
    history = mlnb.get_metric_history(run.run_id, "nan")
    assert history[0].value == 0.0 and math.isnan(history[1].value)
    frame = mlnb.search_runs()
    assert math.isnan(frame.loc[0, "metrics.nan"])
    assert frame.loc[0, "metrics.pinf"] == math.inf and frame.loc[0, "metrics.ninf"] == -math.inf
    assert mlnb.search_runs(filter_string="metrics.pinf > 1e308", output_format="list")
    assert mlnb.search_runs(filter_string="metrics.ninf < -1e308", output_format="list")


def test_param_relog_rule(tracking: Path) -> None:
    with mlnb.start_run() as run:
        mlnb.log_param("lr", 0.1)
        mlnb.log_param("lr", 0.1)
        mlnb.log_params({"lr": "0.1", "batch": 32})
        with pytest.raises(ParamConflictError, match=r"'lr'.*'0.1'.*'0.2'"):
            mlnb.log_param("lr", 0.2)
        with pytest.raises(ParamConflictError):
            mlnb.log_params({"new": 1, "lr": 0.3})
    assert mlnb.get_run(run.run_id).data.params == {"lr": "0.1", "batch": "32"}


# Points packed in chunks and points still in rows, read with plain sqlite3.
_POINTS_ON_DISK = (
    "SELECT (SELECT coalesce(sum(c.points), 0) FROM metric_chunks c JOIN metric_series s "
    "USING (series_id) WHERE s.run_id = ?) + (SELECT count(*) FROM metric_tail t "
    "JOIN metric_series s USING (series_id) WHERE s.run_id = ?)")


def test_metrics_are_on_disk_when_end_run_returns(tracking: Path) -> None:
    run = mlnb.start_run()
    for step in range(1234):
        mlnb.log_metric("loss", float(step), step=step)
    mlnb.end_run()
    assert _rows_on_disk(tracking, _POINTS_ON_DISK, (run.run_id,) * 2) == [(1234,)]
    assert _rows_on_disk(tracking, "SELECT status FROM runs WHERE run_id = ?",
                         (run.run_id,)) == [("FINISHED",)]


def test_metrics_are_on_disk_when_flush_returns(tracking: Path) -> None:
    with mlnb.start_run() as run:
        mlnb.log_metrics({"a": 1.0, "b": 2.0}, step=3)
        mlnb.flush()
        assert _rows_on_disk(tracking, "SELECT s.key, t.value, t.step FROM metric_tail t "
                             "JOIN metric_series s USING (series_id) WHERE s.run_id = ? "
                             "ORDER BY s.key", (run.run_id,)) == [("a", 1.0, 3), ("b", 2.0, 3)]


def test_background_flush_within_seconds(tracking: Path) -> None:
    import time

    with mlnb.start_run() as run:
        mlnb.log_metric("slow", 1.0)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if _rows_on_disk(tracking, _POINTS_ON_DISK, (run.run_id,) * 2) == [(1,)]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("a buffered point did not reach the store within 5 s")


def test_bad_metric_fails_at_the_call_that_logged_it(tracking: Path) -> None:
    with mlnb.start_run() as run:
        mlnb.log_metric("good", 1.0)
        with pytest.raises(TypeError, match="'acc'"):
            mlnb.log_metric("acc", "0.9")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="'acc'"):
            mlnb.log_metric("acc", None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="'acc'"):
            mlnb.log_metric("acc", [0.9])  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match=r"'bad/../key'"):
            mlnb.log_metric("bad/../key", 1.0)
        with pytest.raises(TypeError, match="step"):
            mlnb.log_metric("acc", 1.0, step="one")  # type: ignore[arg-type]
        mlnb.log_metric("acc", np.float32(0.5))
    assert mlnb.get_run(run.run_id).data.metrics == {"good": 1.0, "acc": 0.5}


def test_keyboard_interrupt_marks_run_killed(tracking: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with mlnb.start_run() as run:
            mlnb.log_metric("m", 1.0)
            raise KeyboardInterrupt
    got = mlnb.get_run(run.run_id)
    assert got.info.status == "KILLED" and got.data.metrics == {"m": 1.0}


def test_logging_without_a_run_starts_one(tracking: Path) -> None:
    mlnb.log_param("auto", 1)
    run = mlnb.active_run()
    assert run is not None
    mlnb.end_run()
    assert mlnb.last_active_run().data.params == {"auto": "1"}  # type: ignore[union-attr]
    assert mlnb.active_run() is None
    mlnb.end_run()  # no active run: nothing to do, no error


def test_resume_a_run(tracking: Path) -> None:
    with mlnb.start_run(run_name="resumable") as run:
        mlnb.log_metric("m", 1.0, step=0)
    with mlnb.start_run(run_id=run.run_id):
        mlnb.log_metric("m", 2.0, step=1)
        assert mlnb.get_run(run.run_id).info.status == "RUNNING"
    got = mlnb.get_run(run.run_id)
    assert got.info.status == "FINISHED" and got.data.metrics == {"m": 2.0}
    mlnb.delete_run(run.run_id)
    with pytest.raises(RunStateError, match="deleted"):
        mlnb.start_run(run_id=run.run_id)
    mlnb.restore_run(run.run_id)
    with pytest.raises(NotFoundError):
        mlnb.start_run(run_id="0" * 32)


def test_experiments_by_name_and_env(tracking: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = mlnb.set_experiment("first")
    with mlnb.start_run() as run:
        pass
    assert mlnb.get_run(run.run_id).info.experiment_id == experiment.experiment_id
    assert mlnb.set_experiment("first").experiment_id == experiment.experiment_id
    with pytest.raises(InvalidParameterError, match="exactly one"):
        mlnb.set_experiment()
    mlnb.delete_experiment(experiment.experiment_id)
    with pytest.raises(RunStateError, match="deleted"):
        mlnb.set_experiment("first")
    tracking_state.state.experiment_id = None
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    with mlnb.start_run() as run:
        pass
    assert mlnb.get_experiment(mlnb.get_run(run.run_id).info.experiment_id).name == "from-env"


@pytest.mark.parametrize("artifact_backend", ["local", "s3"])
def test_log_table_appends_rows_and_log_dict_formats(tracking: Path) -> None:
    with mlnb.start_run() as run:
        mlnb.log_table({"x": [1, 2], "y": ["a", "b"]}, "t.json")
        mlnb.log_table({"x": [3], "y": ["c"]}, "t.json")
        with pytest.raises(InvalidParameterError, match="columns"):
            mlnb.log_table({"z": [1]}, "t.json")
        mlnb.log_dict({"nested": {"k": [1, 2]}}, "d.json")
        with pytest.raises(InvalidParameterError, match="JSON"):
            mlnb.log_dict({"bad": object()}, "bad.json")
        with pytest.raises(InvalidParameterError, match="matplotlib or Plotly"):
            mlnb.log_figure("not a figure", "f.png")
    root = Path(mlnb.MlnbClient().download_artifacts(run.run_id))
    assert json.loads((root / "t.json").read_text()) == {"columns": ["x", "y"],
                                                         "data": [[1, "a"], [2, "b"], [3, "c"]]}
    assert json.loads((root / "d.json").read_text()) == {"nested": {"k": [1, 2]}}
    assert not (root / "bad.json").exists()
    assert {f.path for f in mlnb.list_artifacts(run.run_id)} == {"t.json", "d.json"}
    assert mlnb.get_artifact_uri.__name__  # reachable from the module


def test_search_runs_pages_and_formats(tracking: Path) -> None:
    for i in range(12):
        with mlnb.start_run(run_name=f"r{i:02d}"):
            mlnb.log_metric("i", float(i))
    client = mlnb.MlnbClient()
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs(["0"], order_by=["metrics.i ASC"], max_results=5, page_token=token)
        seen += [r.info.run_name for r in page]
        token = page.token
        if token is None:
            break
    assert seen == [f"r{i:02d}" for i in range(12)]
    with pytest.raises(InvalidParameterError, match="page_token"):
        client.search_runs(["0"], page_token="garbage")
    assert len(mlnb.search_runs(max_results=3, output_format="list")) == 3
    with pytest.raises(InvalidParameterError, match="output_format"):
        mlnb.search_runs(output_format="csv")
    frame = mlnb.search_runs(experiment_names=["Default"], order_by=["metrics.i DESC"])
    assert list(frame["tags.mlflow.runName"][:2]) == ["r11", "r10"]
    with pytest.raises(NotFoundError, match="'nope'"):
        mlnb.search_runs(experiment_names=["nope"])


def test_logging_to_a_deleted_run_is_refused(tracking: Path) -> None:
    with mlnb.start_run() as run:
        pass
    client = mlnb.MlnbClient()
    client.delete_run(run.run_id)
    with pytest.raises(RunStateError, match="restore it"):
        client.log_param(run.run_id, "x", 1)
    with pytest.raises(RunStateError, match="restore it"):
        client.log_text(run.run_id, "x", "a.txt")


# --- user mistakes get mlnb errors, not tracebacks from the internals -------------------------


def test_out_of_range_metric_values_and_steps_fail_at_the_call(tracking: Path) -> None:
    with mlnb.start_run() as run:
        mlnb.log_metric("ok", 1.0, step=0)
        with pytest.raises(InvalidParameterError, match="'big' is too large"):
            mlnb.log_metric("big", 10**400)
        with pytest.raises(InvalidParameterError, match=r"'m': step .* out of range"):
            mlnb.log_metric("m", 1.0, step=10**30)
        with pytest.raises(InvalidParameterError, match=r"timestamp .* out of range"):
            mlnb.log_metric("m", 1.0, timestamp=-(10**30))
        mlnb.log_metric("ok", 2.0, step=2**63 - 1)
    # The good points were not taken down by the bad ones.
    assert [m.value for m in mlnb.get_metric_history(run.run_id, "ok")] == [1.0, 2.0]


@pytest.mark.parametrize("artifact_backend", ["local", "s3"])
def test_artifact_helpers_refuse_wrong_inputs_cleanly(tracking: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with mlnb.start_run() as run:
        with pytest.raises(InvalidParameterError, match="log_text takes text"):
            mlnb.log_text(123, "a.txt")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="YAML"):
            mlnb.log_dict({"a": object()}, "a.yaml")
        figure = plt.figure()
        with pytest.raises(InvalidParameterError, match=r"'f.xyz'"):
            mlnb.log_figure(figure, "f.xyz")
        plt.close(figure)
        mlnb.log_table({"a": [math.nan, 1.0, math.inf]}, "t.json")
    assert [f.path for f in mlnb.list_artifacts(run.run_id)] == ["t.json"]
    text = (Path(mlnb.MlnbClient().download_artifacts(run.run_id, "t.json"))).read_text()
    assert json.loads(text) == {"columns": ["a"], "data": [[None], [1.0], [None]]}


def test_end_run_with_a_bad_status_keeps_the_run_active(tracking: Path) -> None:
    run = mlnb.start_run()
    with pytest.raises(InvalidParameterError, match="'DONE'"):
        mlnb.end_run("DONE")
    assert mlnb.active_run() is not None and mlnb.active_run().run_id == run.run_id  # type: ignore[union-attr]
    mlnb.end_run("KILLED")
    assert mlnb.get_run(run.run_id).info.status == "KILLED"


def test_search_arguments_are_checked(tracking: Path) -> None:
    for name in ("a", "b"):
        with mlnb.start_run(run_name=name):
            mlnb.log_metric("m", 1.0 if name == "a" else 2.0)
    runs = mlnb.search_runs(order_by="metrics.m DESC", output_format="list")  # type: ignore[arg-type]
    assert [r.info.run_name for r in runs] == ["b", "a"]
    with pytest.raises(InvalidParameterError, match="filter is text"):
        mlnb.search_runs(filter_string=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="view_type"):
        mlnb.search_runs(run_view_type=7)


def test_client_without_uri_uses_set_tracking_uri(tmp_path: Path, tracking: Path) -> None:
    other = tmp_path / "explicit-store"
    mlnb.set_tracking_uri(str(other))
    with mlnb.start_run() as run:
        mlnb.log_param("where", "explicit")
    client = mlnb.MlnbClient()
    assert client.store.location.db_path == other / "mlnb.db"
    assert client.get_run(run.run_id).data.params == {"where": "explicit"}


def test_flush_waits_for_a_background_flush_in_progress(tracking: Path) -> None:
    """mlnb.flush() must not return while the background thread still holds the points."""
    import threading
    import time

    from mlnb.tracking.writer import FLUSH_INTERVAL_S

    with mlnb.start_run() as run:
        client = mlnb.MlnbClient()
        seen_after_flush: list[list[tuple]] = []  # type: ignore[type-arg]

        def flush_then_look() -> None:
            mlnb.flush()
            seen_after_flush.append(_rows_on_disk(
                tracking, _POINTS_ON_DISK, (run.run_id,) * 2))

        with client.store.cx.write():  # hold the store while the background thread wakes up
            mlnb.log_metric("m", 1.0)
            time.sleep(FLUSH_INTERVAL_S * 1.6)
            other = threading.Thread(target=flush_then_look)
            other.start()
            time.sleep(0.2)
        other.join(timeout=30)
        assert seen_after_flush == [[(1,)]]
