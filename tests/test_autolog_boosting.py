"""XGBoost and LightGBM autologging on tiny real fits: params, per-iteration metrics as steps
matching the library's own evaluation history, best iteration under early stopping, feature
importance, the model; a logging failure is a warning; mlnb.autolog() turns every one on."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mlnb

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402


@pytest.fixture
def data():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6].rename(columns=lambda c: c.replace(" ", "_"))
    return X.iloc[:400], y.iloc[:400], X.iloc[400:], y.iloc[400:]


@pytest.fixture
def autolog(tracking: Path) -> Iterator[None]:
    mlnb.autolog()
    yield
    mlnb.autolog(disable=True)


def runs():
    return mlnb.search_runs(search_all_experiments=True, output_format="list",
                            order_by=["attributes.start_time ASC"])


def history(run_id, key):
    return [(m.step, m.value) for m in mlnb.MlnbClient().get_metric_history(run_id, key)]


def artifact_json(run_id, path):
    return json.loads(Path(mlnb.MlnbClient().download_artifacts(run_id, path)).read_text())


def test_xgboost_train_logs_params_iterations_importance_and_model(autolog, data):
    X, y, Xv, yv = data
    dtrain, dvalid = xgb.DMatrix(X, y), xgb.DMatrix(Xv, yv)
    evals_result: dict = {}
    booster = xgb.train({"max_depth": 2, "eta": 0.3, "objective": "binary:logistic",
                         "eval_metric": "logloss"}, dtrain, 4, evals=[(dtrain, "train"), (dvalid, "eval")],
                        evals_result=evals_result, verbose_eval=False)
    [run] = runs()
    assert run.info.status == "FINISHED" and mlnb.active_run() is None
    assert run.data.tags["mlflow.autologging"] == "xgboost"
    assert run.data.params["max_depth"] == "2" and run.data.params["num_boost_round"] == "4"
    for name in ("train", "eval"):
        assert history(run.info.run_id, f"{name}-logloss") == [
            (i, pytest.approx(v)) for i, v in enumerate(evals_result[name]["logloss"])]
    table = artifact_json(run.info.run_id, "feature_importance_weight.json")
    assert table["columns"] == ["feature", "importance"]
    assert dict(table["data"]) == pytest.approx(booster.get_score(importance_type="weight"))
    chart = artifact_json(run.info.run_id, "feature_importance_weight_chart.json")
    assert chart["data"][0]["type"] == "bar" and "layout" in chart
    loaded = mlnb.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert [c.name for c in loaded.signature.inputs.inputs] == list(X.columns)
    np.testing.assert_array_equal(loaded.predict(Xv), booster.predict(dvalid))


def test_xgboost_early_stopping_logs_the_best_iteration(autolog, data):
    X, y, Xv, yv = data
    model = xgb.XGBClassifier(n_estimators=200, learning_rate=0.9, max_depth=6,
                              early_stopping_rounds=2, eval_metric="logloss")
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    [run] = runs()
    results = model.evals_result()["validation_0"]["logloss"]
    assert len(results) < 200  # it did stop early
    metrics = run.data.metrics
    assert metrics["best_iteration"] == model.best_iteration
    assert metrics["stopped_iteration"] == len(results) - 1
    steps = history(run.info.run_id, "validation_0-logloss")
    assert steps[:-1] == [(i, pytest.approx(v)) for i, v in enumerate(results)]
    assert steps[-1] == (len(results), pytest.approx(results[model.best_iteration]))
    assert run.data.params["n_estimators"] == "200"
    loaded = mlnb.xgboost.load_model(f"runs:/{run.info.run_id}/model")
    assert isinstance(loaded, xgb.XGBClassifier)
    np.testing.assert_array_equal(loaded.predict(Xv), model.predict(Xv))


def test_lightgbm_train_and_sklearn_fit(autolog, data):
    X, y, Xv, yv = data
    record: dict = {}
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, lgb.Dataset(X, y), 5,
                        valid_sets=[lgb.Dataset(Xv, yv)], callbacks=[lgb.record_evaluation(record)])
    model = lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(X, y, eval_set=[(Xv, yv)])
    first, second = runs()
    assert first.data.params["num_leaves"] == "4" and first.data.params["num_boost_round"] == "5"
    assert history(first.info.run_id, "valid_0-binary_logloss") == [
        (i, pytest.approx(v)) for i, v in enumerate(record["valid_0"]["binary_logloss"])]
    for kind in ("split", "gain"):
        table = artifact_json(first.info.run_id, f"feature_importance_{kind}.json")
        assert dict(table["data"]) == pytest.approx(
            dict(zip(booster.feature_name(), booster.feature_importance(kind).tolist(), strict=True)))
    np.testing.assert_array_equal(
        mlnb.lightgbm.load_model(f"runs:/{first.info.run_id}/model").predict(Xv), booster.predict(Xv))
    assert second.data.params["n_estimators"] == "3"
    assert [s for s, _ in history(second.info.run_id, "valid_0-l2")] == [0, 1, 2]
    loaded = mlnb.lightgbm.load_model(f"runs:/{second.info.run_id}/model")
    assert isinstance(loaded, lgb.LGBMRegressor)
    np.testing.assert_array_equal(loaded.predict(Xv), model.predict(Xv))


def test_lightgbm_early_stopping(autolog, data):
    X, y, Xv, yv = data
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.8, verbose=-1)
    model.fit(X, y, eval_set=[(Xv, yv)], callbacks=[lgb.early_stopping(2, verbose=False)])
    [run] = runs()
    results = model.evals_result_["valid_0"]["binary_logloss"]
    assert len(results) < 300
    assert run.data.metrics["best_iteration"] == model.best_iteration_
    steps = history(run.info.run_id, "valid_0-binary_logloss")
    assert steps[-1] == (len(results), pytest.approx(results[model.best_iteration_ - 1]))


def test_a_fit_inside_the_active_run_and_a_second_fit_as_its_child(autolog, data):
    X, y, _, _ = data
    with mlnb.start_run() as parent:
        xgb.XGBRegressor(n_estimators=2).fit(X, y)
        xgb.XGBRegressor(n_estimators=3).fit(X, y)
    first, child = runs()
    assert first.info.run_id == parent.info.run_id and first.data.params["n_estimators"] == "2"
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.params["n_estimators"] == "3"
    for run in (first, child):  # XGBoost's integration, not scikit-learn's, logged them
        assert run.data.tags["mlflow.autologging"] == "xgboost"
        assert isinstance(mlnb.xgboost.load_model(f"runs:/{run.info.run_id}/model"), xgb.XGBRegressor)


def test_inside_an_autologged_search_the_inner_fits_are_not_logged_twice(autolog, data):
    X, y, _, _ = data
    GridSearchCV(xgb.XGBClassifier(n_estimators=2), {"max_depth": [1, 2]}, cv=2).fit(X, y)
    tags = [r.data.tags.get("mlflow.autologging") for r in runs()]
    assert tags[0] == "sklearn" and "xgboost" not in tags  # the search and its candidates only


def test_a_logging_failure_is_a_warning_and_the_fit_succeeds(autolog, data, monkeypatch):
    from mlnb.tracking.client import MlnbClient

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(MlnbClient, "log_metrics", broken)
    X, y, _, _ = data
    with pytest.warns(RuntimeWarning, match="mlnb xgboost autolog: could not log an iteration's "
                                            "metrics: OSError: disk full"):
        model = xgb.XGBClassifier(n_estimators=2).fit(X, y, eval_set=[(X, y)], verbose=False)
    assert model.predict(X[:3]).shape == (3,)
    [run] = runs()
    assert run.info.status == "FINISHED"


def test_disable_restores_the_library_and_logs_nothing(tracking, data):
    X, y, _, _ = data
    original = xgb.train
    mlnb.xgboost.autolog()
    assert xgb.train is not original
    mlnb.xgboost.autolog(disable=True)
    assert xgb.train is original
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xgb.XGBClassifier(n_estimators=2).fit(X, y)
    assert runs() == []
