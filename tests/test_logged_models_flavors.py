"""``log_model(..., model_id=...)`` on every flavor: the files go into the existing logged model
(MLflow 3), which becomes READY and loads by ``models:/<model_id>``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlnb


class Doubler(mlnb.pyfunc.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.asarray(model_input) * 2.0


def _sklearn() -> tuple[Callable[..., Any], Any, np.ndarray]:
    from sklearn.linear_model import LinearRegression

    X = np.array([[1.0], [2.0], [3.0]])
    return mlnb.sklearn.log_model, LinearRegression().fit(X, [2.0, 4.0, 6.0]), X


def _xgboost() -> tuple[Callable[..., Any], Any, np.ndarray]:
    xgb = pytest.importorskip("xgboost")
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    return mlnb.xgboost.log_model, xgb.XGBRegressor(n_estimators=2).fit(X, [1, 2, 3, 4]), X


def _lightgbm() -> tuple[Callable[..., Any], Any, np.ndarray]:
    lgb = pytest.importorskip("lightgbm")
    X = np.arange(40, dtype=float).reshape(20, 2)
    model = lgb.LGBMRegressor(n_estimators=2, min_child_samples=2, verbose=-1)
    return mlnb.lightgbm.log_model, model.fit(X, np.arange(20.0)), X


def _pytorch() -> tuple[Callable[..., Any], Any, np.ndarray]:
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    torch.manual_seed(0)
    return mlnb.pytorch.log_model, torch.nn.Linear(2, 1), np.ones((3, 2), "float32")


def _keras() -> tuple[Callable[..., Any], Any, np.ndarray]:
    os.environ.setdefault("KERAS_BACKEND", "torch")  # the backend this machine installs
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    return mlnb.keras.log_model, model, np.ones((3, 2), "float32")


def _pyfunc() -> tuple[Callable[..., Any], Any, np.ndarray]:
    def log(model: Any, **kw: Any) -> Any:
        return mlnb.pyfunc.log_model(python_model=model, **kw)

    return log, Doubler(), np.array([[1.0], [2.0]])


@pytest.mark.parametrize("make", [_sklearn, _xgboost, _lightgbm, _pytorch, _keras, _pyfunc],
                         ids=["sklearn", "xgboost", "lightgbm", "pytorch", "keras", "pyfunc"])
def test_every_flavor_logs_into_an_existing_logged_model(
        tracking: Path, make: Callable[[], tuple[Callable[..., Any], Any, np.ndarray]]) -> None:
    log, model, X = make()
    pending = mlnb.initialize_logged_model(name="agent", params={"k": "v"})
    info = log(model, model_id=pending.model_id)
    got = mlnb.get_logged_model(pending.model_id)
    assert (info.model_id, got.status, got.name, got.params) == (
        pending.model_id, "READY", "agent", {"k": "v"})
    assert len(mlnb.search_logged_models(output_format="list")) == 1
    assert len(np.asarray(mlnb.pyfunc.load_model(info.model_uri).predict(X))) == len(X)


@pytest.mark.parametrize("make", [_sklearn, _xgboost, _lightgbm, _pytorch, _keras, _pyfunc],
                         ids=["sklearn", "xgboost", "lightgbm", "pytorch", "keras", "pyfunc"])
def test_every_flavor_records_params_tags_and_model_type_on_the_new_model(
        tracking: Path, make: Callable[[], tuple[Callable[..., Any], Any, np.ndarray]]) -> None:
    """MLflow 3's ``log_model(params=, tags=, model_type=)``: on the logged model, the run's
    params winning over the given ones."""
    log, model, _ = make()
    with mlnb.start_run():
        mlnb.log_param("lr", "0.1")
        info = log(model, name="m", params={"lr": 9, "depth": 3}, tags={"team": "vision"},
                   model_type="regressor", step=0)
    got = mlnb.get_logged_model(info.model_id)
    assert got.params == {"lr": "0.1", "depth": "3"}
    assert got.tags.get("team") == "vision" and got.model_type == "regressor"


def test_log_model_refuses_what_it_cannot_record(tracking: Path) -> None:
    log, model, _ = _sklearn()
    with pytest.raises(mlnb.exceptions.MlflowException, match="does not link metrics"):
        log(model, name="m", step=5)
    with pytest.raises(mlnb.exceptions.MlflowException, match="params must be a dict"):
        log(model, name="m", params=["lr"])
    pending = mlnb.initialize_logged_model(name="agent")
    with pytest.raises(mlnb.exceptions.MlflowException, match="keeps its own"):
        log(model, model_id=pending.model_id, tags={"a": "b"})
    assert mlnb.search_logged_models(output_format="list") == [mlnb.get_logged_model(pending.model_id)]
