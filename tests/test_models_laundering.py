"""A foreign pickle does not become trusted by being copied into the store with log_artifact(s).

Only files written by mlnb's model writer (``log_model``) load without ``trusted=True``, and only
when reached through an ``MLmodel`` the model writer also wrote and that is unchanged.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_models_data import forest

import mlnb
from mlnb.errors import MlnbError, UntrustedModelError
from mlnb.store import open_store


class Evil:
    """Unpickling this creates the sentinel file: proof that the pickle's code ran."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


def _foreign_model(tmp_path: Path, sentinel: Path) -> Path:
    model, _ = forest()
    folder = tmp_path / "foreign"
    mlnb.sklearn.save_model(model, folder)
    (folder / "model.pkl").write_bytes(pickle.dumps(Evil(sentinel)))
    return folder


def _loaders():
    return (mlnb.pyfunc.load_model, mlnb.sklearn.load_model)


def test_log_artifacts_of_a_foreign_model_does_not_launder_it(tracking, tmp_path):
    sentinel = tmp_path / "pwned"
    folder = _foreign_model(tmp_path, sentinel)
    with mlnb.start_run() as r2:
        mlnb.log_artifacts(str(folder), "model")
    uri = f"runs:/{r2.info.run_id}/model"
    local = str(open_store().artifact_path(r2.info.run_id, "model"))
    for load in _loaders():
        for where in (uri, local):
            with pytest.raises(UntrustedModelError, match="not written by mlnb's model writer"):
                load(where)
    assert not sentinel.exists()
    try:
        mlnb.register_model(uri, "laundered")
    except MlnbError:
        pass  # refusing the registration is the other acceptable answer
    else:
        with pytest.raises(UntrustedModelError, match="trusted=True"):
            mlnb.pyfunc.load_model("models:/laundered/1")
    assert not sentinel.exists()
    mlnb.pyfunc.load_model(uri, trusted=True)
    assert sentinel.exists()


def test_register_check_refuses_a_model_logged_with_log_artifacts(tracking, tmp_path):
    folder = _foreign_model(tmp_path, tmp_path / "pwned")
    with mlnb.start_run() as r2:
        mlnb.log_artifacts(str(folder), "model")
    from mlnb.registry import require_model_writer

    with pytest.raises(UntrustedModelError, match="model writer"):
        require_model_writer(open_store(), r2.info.run_id, "model")
    with pytest.raises(UntrustedModelError, match="model writer"):
        mlnb.register_model(f"runs:/{r2.info.run_id}/model", "laundered")
    assert mlnb.MlnbClient().search_registered_models() == []
    model, _ = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "real")
    require_model_writer(open_store(), info.run_id, "real")
    assert mlnb.register_model(info.model_uri, "real-model").version == "1"


def _log_model_and_payload(tmp_path: Path, sentinel: Path) -> tuple[str, str, Path]:
    model, _ = forest()
    payload = tmp_path / "x.bin"
    payload.write_bytes(pickle.dumps(Evil(sentinel)))
    with mlnb.start_run() as run:
        info = mlnb.sklearn.log_model(model, "model")
        assert info.flavors["sklearn"]["serialization_format"] == "pickle"
        mlnb.log_artifact(str(payload), "model")
    return info.model_uri, run.info.run_id, open_store().artifact_path(run.info.run_id, "model")


def _point_mlmodel_at(mlmodel: Path, name: str) -> None:
    descriptor = yaml.safe_load(mlmodel.read_text())
    descriptor["flavors"]["sklearn"]["pickled_model"] = name
    descriptor["flavors"]["python_function"]["model_path"] = name
    mlmodel.write_text(yaml.safe_dump(descriptor))


def test_edited_mlmodel_cannot_point_at_a_user_logged_file(tracking, tmp_path):
    sentinel = tmp_path / "pwned"
    uri, _, folder = _log_model_and_payload(tmp_path, sentinel)
    _point_mlmodel_at(folder / "MLmodel", "x.bin")
    for load in _loaders():
        with pytest.raises(UntrustedModelError, match="trusted=True"):
            load(uri)
    assert not sentinel.exists()


def test_mlmodel_relogged_with_log_artifact_is_not_the_model_writers(tracking, tmp_path):
    sentinel = tmp_path / "pwned"
    uri, run_id, folder = _log_model_and_payload(tmp_path, sentinel)
    edited = tmp_path / "edit" / "MLmodel"
    edited.parent.mkdir()
    edited.write_bytes((folder / "MLmodel").read_bytes())
    _point_mlmodel_at(edited, "x.bin")
    client = mlnb.MlnbClient()
    client.log_artifact(run_id, str(edited), "model")  # hash recorded, but as a user file
    for load in _loaders():
        with pytest.raises(UntrustedModelError, match="not written by mlnb's model writer"):
            load(uri)
    assert not sentinel.exists()


def test_relogging_over_the_model_pickle_resets_its_origin(tracking, tmp_path):
    sentinel = tmp_path / "pwned"
    model, _ = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps(Evil(sentinel)))
    mlnb.MlnbClient().log_artifact(info.run_id, str(evil), "model")
    with pytest.raises(UntrustedModelError, match="not written by mlnb's model writer"):
        mlnb.pyfunc.load_model(info.model_uri)
    assert not sentinel.exists()


def test_a_logged_model_still_loads_without_trust(tracking):
    model, X = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model", registered_model_name="ok")
    for uri in (info.model_uri, "models:/ok/1"):
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), model.predict(X))
        np.testing.assert_array_equal(mlnb.sklearn.load_model(uri).predict(X), model.predict(X))


class MarkerModel(mlnb.pyfunc.PythonModel):
    """Unpickling this writes the marker file: proof that loading the pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __setstate__(self, state: dict[str, str]) -> None:
        Path(state["marker"]).write_text("the pickle ran code")
        self.__dict__.update(state)

    def predict(self, context, model_input):
        return [7] * len(model_input)


def test_store_copy_does_not_launder_a_foreign_model(tmp_path, monkeypatch):
    import os

    import pandas as pd

    from mlnb.store import Store, StoreLocation
    from mlnb.store.copy import copy_store
    from mlnb.store.trust import add_trusted

    sentinel = tmp_path / "pwned"
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    ours = os.environ["MLNB_HOME"]
    monkeypatch.setenv("MLNB_HOME", str(tmp_path / "someone-else"))  # another user's key
    mlnb.set_tracking_uri(str(src_dir))
    with mlnb.start_run():
        mlnb.pyfunc.log_model("model", python_model=MarkerModel(sentinel),
                              input_example=pd.DataFrame({"x": [1.0]}), registered_model_name="theirs")
    monkeypatch.setenv("MLNB_HOME", ours)
    model, X = forest()
    with mlnb.start_run():
        mlnb.sklearn.log_model(model, "model", registered_model_name="mine")
    src = Store(StoreLocation(src_dir / "mlnb.db", src_dir / "artifacts"))
    add_trusted(src.store_id, src.location.db_path)  # trusted where it is: not carried along
    dst = Store(StoreLocation(dst_dir / "mlnb.db", dst_dir / "artifacts"))
    copy_store(src, dst)
    theirs = dst.get_model_version("theirs", "1")
    proof = dst.artifact_proof(theirs.run_id, "model/python_model.pkl")
    assert proof is not None and proof.origin == "model" and not proof.signed and not proof.vouched
    mlnb.set_tracking_uri(str(dst_dir))
    for uri in ("models:/theirs/1", f"runs:/{theirs.run_id}/model"):
        with pytest.raises(UntrustedModelError, match="trusted=True"):
            mlnb.pyfunc.load_model(uri)
    assert not sentinel.exists()
    np.testing.assert_array_equal(mlnb.sklearn.load_model("models:/mine/1").predict(X),
                                  model.predict(X))  # this user's own model: signed for DST
    mlnb.pyfunc.load_model("models:/theirs/1", trusted=True)
    assert sentinel.exists()  # the payload is real
    src.close()
    dst.close()
