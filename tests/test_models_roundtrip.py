"""Log, register, promote and load models by every URI kind; predictions are identical."""

from __future__ import annotations

import numpy as np
import pytest
from test_models_data import classifier, forest, pipeline, regressor

import mlnb
from mlnb.errors import InvalidParameterError, NotFoundError

pytestmark = pytest.mark.both_backends


@pytest.fixture(params=["local", "s3"])
def artifact_backend(request: pytest.FixtureRequest) -> str:
    """Every test here runs with artifacts in a local folder and in S3 (SeaweedFS)."""
    return str(request.param)


@pytest.mark.parametrize("make", [classifier, regressor, pipeline, forest],
                         ids=["classifier", "regressor", "pipeline", "forest"])
def test_round_trip_by_every_uri_kind(tracking, make):
    model, X = make()
    expected = model.predict(X)
    with mlnb.start_run() as run:
        info = mlnb.sklearn.log_model(model, "model", input_example=X[:5],
                                      registered_model_name="m")
    assert info.model_uri == f"models:/{info.model_id}"  # MLflow 3's URI of the logged model
    assert info.registered_model_version == "1"
    client = mlnb.MlnbClient()
    client.transition_model_version_stage("m", 1, "production")
    client.set_registered_model_alias("m", "champion", 1)
    local = client.download_artifacts(run.run_id, "model")
    uris = [info.model_uri, f"runs:/{run.run_id}/model", "models:/m/1", "models:/m/Production",
            "models:/m/latest", "models:/m@champion", local]
    for uri in uris:
        np.testing.assert_array_equal(mlnb.sklearn.load_model(uri).predict(X), expected)
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), expected)


def test_model_folder_holds_descriptor_requirements_and_hashes(tracking):
    import yaml

    from mlnb.store.artifacts import sha256_of

    model, X = pipeline()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "clf", input_example=X[:3])
    folder = mlnb.MlnbClient().download_artifacts(info.run_id, "clf")
    from pathlib import Path

    folder = Path(folder)
    descriptor = yaml.safe_load((folder / "MLmodel").read_text())
    assert descriptor["run_id"] == info.run_id
    assert descriptor["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert [c["name"] for c in descriptor["signature"]["inputs"]] == ["x1", "x2", "color"]
    for name, meta in descriptor["files"].items():
        assert sha256_of(folder / name) == meta["sha256"]
        assert (folder / name).stat().st_size == meta["size"]
    requirements = (folder / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("skops==") for r in requirements)
    assert "-r requirements.txt" in (folder / "python_env.yaml").read_text()
    assert info.run_id is not None and mlnb.active_run() is None  # started and ended its own run


def test_save_model_to_folder_and_load_skops_without_store(tmp_path):
    model, X = classifier()
    mlnb.sklearn.save_model(model, tmp_path / "m")
    np.testing.assert_array_equal(mlnb.pyfunc.load_model(str(tmp_path / "m")).predict(X),
                                  model.predict(X))
    with pytest.raises(mlnb.exceptions.AlreadyExistsError):
        mlnb.sklearn.save_model(model, tmp_path / "m")


def test_python_model_round_trip(tracking, tmp_path):
    weights = tmp_path / "w.txt"
    weights.write_text("3")
    info = mlnb.pyfunc.log_model("pm", python_model=Scaler(), artifacts={"w": str(weights)},
                                 input_example=np.array([[1.0], [2.0]]))
    loaded = mlnb.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(np.array([[1.0], [4.0]])), [[3.0], [12.0]])


class Scaler(mlnb.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["w"]) as handle:
            self.factor = float(handle.read())

    def predict(self, context, model_input, params=None):
        return np.asarray(model_input) * getattr(self, "factor", 1.0)


@pytest.mark.parametrize("uri", [
    "models:/m$(id)/1", "models:/m;rm -rf x/1", "models:/`id`/1", "s3://bucket/model",
    "http://127.0.0.1:9/x", "runs:/notanid/model", "runs:/" + "a" * 32 + "/../../etc",
    "models:/m/Prod",
])
def test_bad_uris_are_refused(tracking, uri):
    with pytest.raises((InvalidParameterError, NotFoundError)):
        mlnb.pyfunc.load_model(uri)


def test_log_model_with_explicit_run_id_and_no_active_run(tracking):
    run = mlnb.MlnbClient().create_run("0")
    model, _ = classifier()
    info = mlnb.sklearn.log_model(model, "model", run_id=run.info.run_id)
    assert info.run_id == run.info.run_id
    assert mlnb.active_run() is None
