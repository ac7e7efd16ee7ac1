"""A pickle loads only if the store wrote it and it is unchanged, or with trusted=True."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_models_data import classifier, forest

import mlnb
from mlnb.errors import InvalidParameterError, UntrustedModelError


class Evil:
    """Unpickling this creates the sentinel file: proof that the pickle's code ran."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


def _plant(folder: Path, sentinel: Path) -> None:
    (folder / "model.pkl").write_bytes(pickle.dumps(Evil(sentinel)))


def test_foreign_pickle_is_refused_and_trusted_loads_it(tracking, tmp_path):
    model, _ = forest()
    folder = tmp_path / "foreign"
    mlnb.sklearn.save_model(model, folder)
    assert (folder / "model.pkl").exists()
    sentinel = tmp_path / "pwned"
    _plant(folder, sentinel)
    for load in (mlnb.sklearn.load_model, mlnb.pyfunc.load_model):
        with pytest.raises(UntrustedModelError, match="did not write"):
            load(str(folder))
    assert not sentinel.exists()
    mlnb.sklearn.load_model(str(folder), trusted=True)
    assert sentinel.exists()


def test_untampered_store_pickle_loads_without_trust(tracking):
    model, X = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model", registered_model_name="f")
    assert info.flavors["sklearn"]["serialization_format"] == "pickle"
    np.testing.assert_array_equal(mlnb.sklearn.load_model("models:/f/1").predict(X), model.predict(X))


def test_tampered_store_pickle_is_refused_by_every_uri(tracking, tmp_path):
    model, _ = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model", registered_model_name="f")
    folder = Path(mlnb.MlnbClient().download_artifacts(info.run_id, "model"))
    mlnb.sklearn.load_model(info.model_uri)  # trusted once...
    sentinel = tmp_path / "pwned"
    _plant(folder, sentinel)
    for uri in (info.model_uri, "models:/f/1", str(folder)):
        with pytest.raises(UntrustedModelError, match="changed since the store wrote it"):
            mlnb.pyfunc.load_model(uri)
    assert not sentinel.exists()
    mlnb.pyfunc.load_model(info.model_uri, trusted=True)
    assert sentinel.exists()


def test_skops_with_untrusted_types_from_outside_is_refused(tracking, tmp_path):
    model, X = forest()
    mlnb.sklearn.save_model(model, tmp_path / "s", serialization_format="skops")
    with pytest.raises(UntrustedModelError, match=r"sklearn\.tree\._tree\.Tree"):
        mlnb.sklearn.load_model(str(tmp_path / "s"))
    loaded = mlnb.sklearn.load_model(str(tmp_path / "s"), trusted=True)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_copied_store_model_is_foreign(tracking, tmp_path):
    model, _ = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    copy = tmp_path / "copy"
    shutil.copytree(mlnb.MlnbClient().download_artifacts(info.run_id, "model"), copy)
    with pytest.raises(UntrustedModelError):
        mlnb.sklearn.load_model(str(copy))


def test_mlmodel_cannot_name_its_own_loader_module(tracking, tmp_path):
    model, _ = classifier()
    mlnb.sklearn.save_model(model, tmp_path / "m")
    descriptor = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    descriptor["flavors"]["python_function"]["loader_module"] = "os"
    (tmp_path / "m" / "MLmodel").write_text(yaml.safe_dump(descriptor))
    with pytest.raises(InvalidParameterError, match="loader 'os'"):
        mlnb.pyfunc.load_model(str(tmp_path / "m"))


def test_model_folders_are_private(tracking, tmp_path):
    model, _ = classifier()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    folder = Path(mlnb.MlnbClient().download_artifacts(info.run_id, "model"))
    assert oct(os.stat(folder).st_mode & 0o777) == oct(0o700)
    mlnb.sklearn.save_model(model, tmp_path / "own")
    assert oct(os.stat(tmp_path / "own").st_mode & 0o077) == oct(0)
