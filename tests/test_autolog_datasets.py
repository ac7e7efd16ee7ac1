"""Autolog records the training data: a dataset input of the run with MLflow's digest (context
``train``), and a bounded, seeded reference sample kept with the model, which ``mlnb monitor``
uses with no --reference. ``log_datasets=False`` turns it off; a failure is a warning."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import mlnb
from mlnb.autolog import _training_data
from mlnb.models.reference import load_reference_data
from mlnb.monitor.watch import monitor

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
mlflow_data = pytest.importorskip("mlflow.data")
from sklearn.linear_model import LogisticRegression  # noqa: E402

DAY = 86_400_000


@pytest.fixture
def autolog(tracking: Path) -> Iterator[None]:
    mlnb.autolog()
    yield
    mlnb.autolog(disable=True)


def frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.normal(40, 10, rows), "plan": rng.choice([0, 1, 2], rows),
                      "usage": rng.normal(0, 1, rows)})
    return X, pd.Series((X["usage"] > 0).astype(int), name="churned")


def only_run() -> Any:
    [run] = mlnb.search_runs(search_all_experiments=True, output_format="list")
    return run


def mlmodel(run_id: str) -> dict[str, Any]:
    folder = mlnb.MlnbClient().store.artifact_path(run_id, "model")
    return yaml.safe_load((folder / "MLmodel").read_text())


def inputs(run_id: str) -> list[tuple[str, dict[str, str]]]:
    return [(i.dataset.digest, i.tags) for i in mlnb.MlnbClient().get_dataset_inputs(run_id)]


def test_sklearn_fit_on_a_frame_logs_its_dataset_and_a_reference_monitor_uses(
        autolog: None) -> None:
    X, y = frame()
    model = LogisticRegression().fit(X, y)
    run_id = only_run().info.run_id
    digest = mlflow_data.from_pandas(X).digest
    assert inputs(run_id) == [(digest, {"mlflow.data.context": "train"})]
    info = mlmodel(run_id)["reference_data"]
    assert info == {"artifact_path": "reference_data.parquet", "format": "parquet", "rows": 400,
                    "rows_given": 400, "columns": ["age", "plan", "usage", "churned"],
                    "target": "churned", "dataset_digest": digest}
    uri = f"runs:/{run_id}/model"
    pd.testing.assert_frame_equal(load_reference_data(uri), X.assign(churned=y))
    # Score a batch: usage drifts, the ground truth is known; a day later the window is closed.
    live, _ = frame(300, seed=1)
    live["usage"] += 1.5
    logged = mlnb.log_predictions(uri, live, model.predict(live),
                                  targets=(live["usage"] > 0).astype(int).tolist())
    assert logged.logged == 300
    lines: list[str] = []
    result = monitor(uri, now_ms=int(time.time() * 1000) + DAY, progress=lines.append)
    assert f"Reference: the reference data logged with {uri} (400 rows, 4 columns)." in lines
    assert "Target column of the reference: 'churned'." in lines
    (window,) = result.windows
    assert window.drifted_columns == ["usage"] and window.rows == 300
    assert (window.prediction_drift, window.target_drift) == (True, True)


def test_an_array_larger_than_the_sample_keeps_10000_seeded_rows(autolog: None) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12_000, 3))
    y = (X[:, 0] > 0).astype(int)
    LogisticRegression().fit(X, y)
    run_id = only_run().info.run_id
    digest = mlflow_data.from_numpy(X, targets=y).digest
    assert inputs(run_id) == [(digest, {"mlflow.data.context": "train"})]
    info = mlmodel(run_id)["reference_data"]
    assert (info["rows"], info["rows_given"], info["columns"], info["target"]) == (
        10_000, 12_000, ["f0", "f1", "f2", "target"], "target")
    reference = load_reference_data(f"runs:/{run_id}/model")
    index = np.sort(np.random.default_rng(0).choice(12_000, 10_000, replace=False))
    np.testing.assert_array_equal(reference[["f0", "f1", "f2"]].to_numpy(), X[index])
    np.testing.assert_array_equal(reference["target"].to_numpy(), y[index])


def test_monitor_matches_inputs_logged_as_lists_to_the_f_columns(autolog: None) -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 2))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    uri = f"runs:/{only_run().info.run_id}/model"
    live = rng.normal(size=(200, 2)) + np.array([0, 3])  # the second column moves
    mlnb.log_predictions(uri, live, model.predict(live))
    result = monitor(uri, now_ms=int(time.time() * 1000) + DAY)
    (window,) = result.windows
    assert window.drifted_columns == ["f1"]
    assert [c.column for c in window.report.columns] == ["f0", "f1"]  # type: ignore[union-attr]


def test_log_datasets_false_records_neither(tracking: Path) -> None:
    mlnb.sklearn.autolog(log_datasets=False)
    try:
        X, y = frame()
        LogisticRegression().fit(X, y)
    finally:
        mlnb.sklearn.autolog(disable=True)
    run_id = only_run().info.run_id
    assert inputs(run_id) == []
    assert "reference_data" not in mlmodel(run_id)
    assert load_reference_data(f"runs:/{run_id}/model") is None


@pytest.mark.parametrize("train", ["xgboost.train", "XGBClassifier", "lightgbm.train",
                                   "LGBMClassifier"])
def test_boosting_fits_log_their_dataset_and_reference(autolog: None, train: str) -> None:
    X, y = frame()
    if train == "xgboost.train":
        xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 3)
    elif train == "XGBClassifier":
        xgb.XGBClassifier(n_estimators=3).fit(X, y)
    elif train == "lightgbm.train":
        lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 3)
    else:
        lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    run_id = only_run().info.run_id
    digest = mlflow_data.from_pandas(X).digest
    assert inputs(run_id) == [(digest, {"mlflow.data.context": "train"})]
    info = mlmodel(run_id)["reference_data"]
    assert (info["columns"], info["target"], info["dataset_digest"]) == (
        ["age", "plan", "usage", "churned"], "churned", digest)
    # The model loads (mlnb wrote it) and predicts its own reference for prediction drift.
    from mlnb.monitor.outputs import descriptor_of, model_side

    uri = f"runs:/{run_id}/model"
    side = model_side(uri, load_reference_data(uri), descriptor_of(uri), None, trusted=False)
    assert side.prediction_note is None and side.target == "churned"
    assert len(side.predictions) == 400


def test_xgboost_log_datasets_false(tracking: Path) -> None:
    mlnb.xgboost.autolog(log_datasets=False)
    try:
        X, y = frame()
        xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 2)
    finally:
        mlnb.xgboost.autolog(disable=True)
    run_id = only_run().info.run_id
    assert inputs(run_id) == [] and "reference_data" not in mlmodel(run_id)


def test_a_failure_recording_the_data_is_a_warning_and_the_fit_succeeds(
        autolog: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(X: Any, y: Any) -> Any:
        raise MemoryError("no room")

    monkeypatch.setattr(_training_data, "_dataset", broken)
    X, y = frame()
    with pytest.warns(RuntimeWarning, match="could not record the training data as a dataset "
                                            "input: MemoryError: no room"):
        model = LogisticRegression().fit(X, y)
    assert model.predict(X[:2]).shape == (2,)
    run = only_run()
    assert run.info.status == "FINISHED" and inputs(run.info.run_id) == []
    assert mlmodel(run.info.run_id)["reference_data"]["target"] == "churned"  # still kept


def test_wide_or_one_dimensional_data_keeps_no_reference() -> None:
    wide = np.zeros((5, _training_data.REFERENCE_MAX_COLUMNS + 1))
    assert _training_data.reference_sample(wide) is None
    assert _training_data.reference_sample(np.array(["a text", "another"])) is None
    sample = _training_data.reference_sample(pd.DataFrame({"target": [1, 2]}), [0, 1])
    assert sample is not None and sample.target == "target_1"  # no clash with a feature
    assert json.loads(json.dumps(list(sample.frame.columns))) == ["target", "target_1"]
