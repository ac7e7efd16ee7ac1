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


# --- mlnb.keras.autolog(): every Model.fit, no callback to pass ------------------------------


@pytest.fixture
def keras_autolog() -> object:
    mlnb.keras.autolog()
    yield
    mlnb.keras.autolog(disable=True)


def test_autolog_logs_a_fit_into_its_own_run_with_the_model(tracking: Path,
                                                           keras_autolog: object) -> None:
    X, y = data()
    net = model()
    fitted = net.fit(X, y, epochs=2, batch_size=16, verbose=0)
    run = mlnb.last_active_run()
    assert run is not None and run.info.status == "FINISHED"
    assert mlnb.active_run() is None  # the run autolog started is ended
    expected = [(i, pytest.approx(v, rel=1e-6)) for i, v in enumerate(fitted.history["loss"])]
    assert history(run.info.run_id, "loss") == expected
    assert run.data.params["optimizer_name"].startswith("adam")  # Keras numbers later ones
    loaded = mlnb.keras.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), net.predict(X, verbose=0), rtol=1e-6)


def test_autolog_uses_the_active_run_and_leaves_a_users_own_callback_alone(
        tracking: Path, keras_autolog: object) -> None:
    X, y = data()
    with mlnb.start_run() as run:
        model().fit(X, y, epochs=2, batch_size=16, verbose=0)
        model().fit(X, y, epochs=3, batch_size=16, verbose=0,
                    callbacks=[mlnb.keras.MlnbCallback()])  # logged once, by the user's callback
        assert mlnb.active_run() is not None
    # one run holds both fits: 2 points, then the user's fit's 3 at the same steps
    assert [step for step, _ in history(run.run_id, "loss")] == [0, 0, 1, 1, 2]


def test_autolog_off_logs_nothing_and_a_failed_fit_marks_its_run_failed(
        tracking: Path, keras_autolog: object) -> None:
    X, y = data()
    with pytest.raises(ValueError):
        model().fit(X[:, :2], y, epochs=1, verbose=0)  # the wrong input shape
    failed = mlnb.last_active_run()
    assert failed is not None and failed.info.status == "FAILED"
    mlnb.keras.autolog(disable=True)
    model().fit(X, y, epochs=1, verbose=0)
    assert mlnb.last_active_run().info.run_id == failed.info.run_id  # no new run


def test_mlnb_autolog_does_not_import_keras_and_patches_it_on_import(tracking: Path) -> None:
    import subprocess
    import sys

    script = """
import sys, numpy as np, mlnb
mlnb.autolog()
assert "keras" not in sys.modules, "mlnb.autolog() imported keras"
import keras
net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
net.compile("sgd", "mse")
net.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), epochs=2, verbose=0)
run = mlnb.last_active_run()
print(run.info.status, len(mlnb.MlnbClient().get_metric_history(run.info.run_id, "loss")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "KERAS_BACKEND": "torch"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["FINISHED", "2"]
