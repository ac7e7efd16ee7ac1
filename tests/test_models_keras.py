"""The Keras 3 flavor (PyTorch backend here): a .keras archive in MLflow's layout, loaded by every
URI kind in safe mode with identical predictions; tampered weights, Lambda code and unvouched
custom classes refused; MLflow's own loader reads mlnb's folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

os.environ.setdefault("KERAS_BACKEND", "torch")  # the backend this machine installs
keras = pytest.importorskip("keras")

import mlnb  # noqa: E402
from mlnb.errors import InvalidParameterError, UntrustedModelError  # noqa: E402


@keras.saving.register_keras_serializable(package="mlnb_tests")
class Scale(keras.layers.Layer):
    """A custom layer: its class is not Keras's own."""

    def call(self, x):
        return x * 2.0


def inputs() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(6, 3)).astype("float32")


def dense() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile("adam", "mse")
    model.fit(inputs(), np.ones((6, 2), "float32"), epochs=2, verbose=0)
    return model


def test_round_trip_by_every_uri_kind(tracking: Path) -> None:
    model, X = dense(), inputs()
    expected = model.predict(X, verbose=0)
    with mlnb.start_run() as run:
        info = mlnb.keras.log_model(model, "model", input_example=X[:2], registered_model_name="k")
    client = mlnb.MlnbClient()
    client.set_registered_model_alias("k", "champion", 1)
    local = client.download_artifacts(run.run_id, "model")
    for uri in [info.model_uri, "models:/k/1", "models:/k@champion", local]:
        loaded = mlnb.keras.load_model(uri)
        np.testing.assert_array_equal(loaded.predict(X, verbose=0), expected)
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), expected)
    assert info.signature is not None


def test_the_folder_is_mlflows_layout_and_mlflow_loads_it(tmp_path: Path) -> None:
    model, X = dense(), inputs()
    mlnb.keras.save_model(model, tmp_path / "m")
    assert (tmp_path / "m" / "data" / "model.keras").is_file()
    flavors = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]
    assert flavors["keras"]["keras_backend"] == "torch" and flavors["keras"]["data"] == "data"
    assert flavors["python_function"]["loader_module"] == "mlflow.keras"
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert f"keras=={keras.__version__}" in requirements and "torch==" in requirements
    mlflow = pytest.importorskip("mlflow")
    theirs = mlflow.keras.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(theirs.predict(X, verbose=0), model.predict(X, verbose=0))


def test_tampered_weights_are_refused(tracking: Path) -> None:
    with mlnb.start_run():
        info = mlnb.keras.log_model(dense(), "model")
    folder = Path(mlnb.MlnbClient().download_artifacts(info.run_id, "model"))
    archive = folder / "data" / "model.keras"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    for uri in (info.model_uri, str(folder)):
        with pytest.raises(UntrustedModelError, match=r"data/model\.keras of the model at .* has changed"):
            mlnb.keras.load_model(uri)


def test_lambda_code_is_refused_in_safe_mode(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x + 1.0)])
    mlnb.keras.save_model(model, tmp_path / "m")
    with pytest.raises(InvalidParameterError, match=r"Keras refused data/model\.keras .* in safe mode"):
        mlnb.keras.load_model(str(tmp_path / "m"))


def test_custom_classes_load_only_when_vouched(tracking: Path, tmp_path: Path) -> None:
    X = inputs()
    model = keras.Sequential([keras.Input((3,)), Scale()])
    mlnb.keras.save_model(model, tmp_path / "m")
    with pytest.raises(UntrustedModelError, match=r"names classes of .*test_models_keras"):
        mlnb.keras.load_model(str(tmp_path / "m"))
    loaded = mlnb.keras.load_model(str(tmp_path / "m"), trusted=True)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), X * 2.0)
    with mlnb.start_run():
        info = mlnb.keras.log_model(model, "model")  # written by this user's log_model: vouched
    np.testing.assert_array_equal(mlnb.keras.load_model(info.model_uri).predict(X, verbose=0), X * 2.0)


def test_bad_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"saves a Keras 3 keras\.Model, not builtins\.dict"):
        mlnb.keras.save_model({}, tmp_path / "a")
    with pytest.raises(InvalidParameterError, match=r"save_exported_model=True .* is not supported"):
        mlnb.keras.save_model(dense(), tmp_path / "b", save_exported_model=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.e2e  # a fresh interpreter importing torch and Keras: slow
def test_a_fresh_process_picks_the_models_backend(tmp_path: Path) -> None:
    import subprocess
    import sys

    model, X = dense(), inputs()
    mlnb.keras.save_model(model, tmp_path / "m")
    np.save(tmp_path / "x.npy", X)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = ("import sys, numpy as np, mlnb; m = mlnb.pyfunc.load_model(sys.argv[1]); "
            "np.save(sys.argv[2], m.predict(np.load(sys.argv[3])))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m"), str(tmp_path / "y.npy"),
                           str(tmp_path / "x.npy")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # Keras alone would default to TensorFlow, absent here
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), model.predict(X, verbose=0))
