"""mlnb.keras.MlnbCallback on tiny real Keras 3 fits (PyTorch backend): the optimizer params and
model summary at train begin, the epoch (or every n-th batch) metrics as steps equal to Keras's
History, into the active run or a run it starts and ends; a logging failure is a warning."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # the backend this machine installs
keras = pytest.importorskip("keras")

import mlnb  # noqa: E402
from mlnb.errors import InvalidParameterError  # noqa: E402


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype("float32")
    return X, (X @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]


def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                            keras.layers.Dense(1)])
    net.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return net


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlnb.MlnbClient().get_metric_history(run_id, key)]


def test_epoch_metrics_are_steps_equal_to_history_in_the_active_run(tracking: Path) -> None:
    X, y = data()
    net = model()
    with mlnb.start_run() as run, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = net.fit(X, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0,
                         callbacks=[mlnb.keras.MlnbCallback()])
        assert mlnb.active_run() is not None and mlnb.active_run().run_id == run.run_id
    assert not [w for w in caught if "mlnb" in str(w.message)]  # nothing failed to log
    for key in ("loss", "mae", "val_loss", "val_mae"):
        expected = [(i, pytest.approx(v, rel=1e-6)) for i, v in enumerate(fitted.history[key])]
        assert history(run.run_id, key) == expected
    # evaluation at each epoch's end, as MLflow's validation_ names, at that epoch's step
    assert history(run.run_id, "validation_loss") == [
        (i, pytest.approx(v, rel=1e-6)) for i, v in enumerate(fitted.history["val_loss"])]
    params = mlnb.get_run(run.run_id).data.params
    assert params["optimizer_name"] == "adam"
    assert float(params["optimizer_learning_rate"]) == pytest.approx(0.01)
    summary = Path(mlnb.MlnbClient().download_artifacts(run.run_id, "model_summary.txt"))
    assert "dense" in summary.read_text().lower()


def test_without_an_active_run_it_starts_and_ends_one(tracking: Path) -> None:
    X, y = data()
    fitted = model().fit(X, y, epochs=2, batch_size=16, verbose=0,
                         callbacks=[mlnb.keras.MlflowCallback()])  # MLflow's name, same class
    assert mlnb.active_run() is None
    [run] = mlnb.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status == "FINISHED"
    assert history(run.info.run_id, "loss") == [
        (i, pytest.approx(v, rel=1e-6)) for i, v in enumerate(fitted.history["loss"])]


class Stop(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("stopped by the test")


def test_a_run_left_by_a_fit_that_raised_is_killed_and_the_next_fit_gets_its_own(
        tracking: Path) -> None:
    X, y = data()
    net = model()
    with pytest.raises(RuntimeError, match="stopped by the test"):
        net.fit(X, y, epochs=2, verbose=0, callbacks=[mlnb.keras.MlnbCallback(), Stop()])
    net.fit(X, y, epochs=2, verbose=0, callbacks=[mlnb.keras.MlnbCallback()])
    assert mlnb.active_run() is None
    first, second = mlnb.search_runs(search_all_experiments=True, output_format="list",
                                     order_by=["attributes.start_time ASC"])
    assert (first.info.status, second.info.status) == ("KILLED", "FINISHED")
    assert [s for s, _ in history(first.info.run_id, "loss")] == [0]
    assert [s for s, _ in history(second.info.run_id, "loss")] == [0, 1]


def test_every_n_steps_logs_batch_metrics_at_the_optimizer_iteration(tracking: Path) -> None:
    X, y = data()
    with mlnb.start_run() as run:
        model().fit(X, y, epochs=2, batch_size=16, verbose=0,  # 4 batches an epoch: 8 steps
                    callbacks=[mlnb.keras.MlnbCallback(log_every_epoch=False,
                                                       log_every_n_steps=3)])
    assert [step for step, _ in history(run.run_id, "loss")] == [3, 6]


def test_a_logging_failure_is_a_warning_and_the_fit_completes(tracking: Path) -> None:
    X, y = data()
    net = model()
    with mlnb.start_run() as run:
        mlnb.log_param("optimizer_learning_rate", "0.5")  # a param is fixed once logged
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted = net.fit(X, y, epochs=2, batch_size=16, verbose=0,
                             callbacks=[mlnb.keras.MlnbCallback()])
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("MlnbCallback could not log the optimizer params" in m
               and "optimizer_learning_rate" in m for m in messages), messages
    assert len(fitted.history["loss"]) == 2  # the fit went on, and so did the metrics
    assert [s for s, _ in history(run.run_id, "loss")] == [0, 1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"log_every_n_steps": 5}, "log_every_n_steps must be None when log_every_epoch=True"),
    ({"log_every_epoch": False}, "with log_every_epoch=False, give log_every_n_steps"),
    ({"log_every_epoch": False, "log_every_n_steps": 0}, "must be a positive integer, not 0"),
])
def test_contradictory_frequencies_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        mlnb.keras.MlnbCallback(**kwargs)
