import math

import pytest

import mlnb
from mlnb.entities import Metric, Param
from mlnb.errors import ParamConflictError, RunStateError

pytestmark = pytest.mark.both_backends


def test_run_context_manager_records_params_metrics_and_finishes(tracking):
    with mlnb.start_run(run_name="baseline") as run:
        mlnb.log_param("lr", 0.01)
        for step in range(3):
            mlnb.log_metric("loss", 1.0 / (step + 1), step=step)
    got = mlnb.get_run(run.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "baseline"
    assert got.data.params == {"lr": "0.01"}
    assert got.data.metrics["loss"] == pytest.approx(1 / 3)
    assert [m.step for m in mlnb.get_metric_history(run.run_id, "loss")] == [0, 1, 2]


def test_exception_marks_run_failed_and_propagates(tracking):
    with pytest.raises(ZeroDivisionError):
        with mlnb.start_run() as run:
            raise ZeroDivisionError("boom")
    got = mlnb.get_run(run.run_id)
    assert got.info.status == "FAILED"
    assert got.data.tags["mlnb.error"].startswith("ZeroDivisionError")


def test_nan_and_infinities_round_trip(store):
    run = store.create_run("0")
    values = [math.nan, math.inf, -math.inf, 0.5]
    store.log_batch(run.run_id, metrics=[Metric("m", v, 1, i) for i, v in enumerate(values)])
    history = [m.value for m in store.get_metric_history(run.run_id, "m")]
    assert math.isnan(history[0]) and history[1:] == [math.inf, -math.inf, 0.5]


def test_param_relog_same_value_ok_different_value_refused(store):
    run = store.create_run("0")
    store.log_batch(run.run_id, params=[Param("lr", "0.1")])
    store.log_batch(run.run_id, params=[Param("lr", "0.1")])
    with pytest.raises(ParamConflictError, match="'lr'"):
        store.log_batch(run.run_id, params=[Param("lr", "0.2")])


def test_nested_run_requires_nested_flag(tracking):
    with mlnb.start_run() as parent:
        with pytest.raises(RunStateError, match="nested=True"):
            mlnb.start_run()
        with mlnb.start_run(nested=True) as child:
            pass
    assert mlnb.get_run(child.run_id).data.tags["mlflow.parentRunId"] == parent.run_id


def test_search_runs_filter_order_and_frame(tracking):
    for lr, acc in [("0.1", 0.7), ("0.01", 0.9), ("0.001", 0.8)]:
        with mlnb.start_run():
            mlnb.log_param("lr", lr)
            mlnb.log_metric("acc", acc)
    frame = mlnb.search_runs(filter_string="metrics.acc >= 0.8", order_by=["metrics.acc DESC"])
    assert list(frame["params.lr"]) == ["0.01", "0.001"]
    assert list(frame.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri",
                                       "start_time", "end_time"]
