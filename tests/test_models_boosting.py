"""The XGBoost and LightGBM flavors: round trips by every URI kind, MLflow's MLmodel sections both
ways, tampered or foreign files refused, serving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_models_data import frame

import mlnb
from mlnb.errors import InvalidParameterError, UntrustedModelError

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")


def data():
    X, y = frame(80)
    return X[["x1", "x2"]], y


def xgb_classifier():
    X, y = data()
    return xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y), X


def xgb_booster():
    X, y = data()
    return xgb.train({"max_depth": 2, "objective": "binary:logistic"}, xgb.DMatrix(X, y), 5), X


def xgb_regressor_on_arrays():
    X, _ = data()
    array = X.to_numpy()
    return xgb.XGBRegressor(n_estimators=5).fit(array, array[:, 0] * 2.0), array


def lgb_classifier():
    X, y = data()
    return lgb.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1).fit(X, y), X


def lgb_booster():
    X, y = data()
    params = {"objective": "binary", "min_data_in_leaf": 5, "verbose": -1}
    return lgb.train(params, lgb.Dataset(X, y), 5), X


def raw_predict(model, X):
    if isinstance(model, xgb.Booster):
        return model.predict(xgb.DMatrix(X))
    return model.predict(X)


CASES = [("xgboost", xgb_classifier), ("xgboost", xgb_booster), ("xgboost", xgb_regressor_on_arrays),
         ("lightgbm", lgb_classifier), ("lightgbm", lgb_booster)]
IDS = ["xgb-classifier", "xgb-booster", "xgb-regressor-arrays", "lgb-classifier", "lgb-booster"]


@pytest.mark.parametrize(("flavor", "make"), CASES, ids=IDS)
def test_round_trip_by_every_uri_kind(tracking, flavor, make):
    model, X = make()
    expected = raw_predict(model, X)
    module = getattr(mlnb, flavor)
    with mlnb.start_run() as run:
        info = module.log_model(model, "model", input_example=X[:5], registered_model_name="m")
    assert info.registered_model_version == "1"
    assert info.signature is not None and info.signature.outputs is not None
    client = mlnb.MlnbClient()
    client.transition_model_version_stage("m", 1, "production")
    client.set_registered_model_alias("m", "champion", 1)
    local = client.download_artifacts(run.run_id, "model")
    for uri in [info.model_uri, "models:/m/1", "models:/m/Production", "models:/m/latest",
                "models:/m@champion", local]:
        loaded = module.load_model(uri)
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(raw_predict(loaded, X), expected)
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), expected)


def test_xgboost_folder_is_mlflows_format_and_holds_no_pickle(tmp_path):
    model, X = xgb_classifier()
    mlnb.xgboost.save_model(model, tmp_path / "m", input_example=X[:3], model_format="json")
    descriptor = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert descriptor["flavors"]["xgboost"] == {
        "xgb_version": xgb.__version__, "data": "model.json",
        "model_class": "xgboost.sklearn.XGBClassifier", "model_format": "json", "code": None}
    assert descriptor["flavors"]["python_function"]["loader_module"] == "mlflow.xgboost"
    assert json.loads((tmp_path / "m" / "model.json").read_bytes())["learner"]  # plain JSON
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "MLmodel", "input_example.json", "model.json", "python_env.yaml", "requirements.txt"]
    requirements = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert any(r.startswith(("xgboost==", "xgboost-cpu==")) for r in requirements)
    assert [c["name"] for c in descriptor["signature"]["inputs"]] == ["x1", "x2"]


def test_lightgbm_wrapper_is_skops_and_booster_is_text(tmp_path):
    model, X = lgb_classifier()
    mlnb.lightgbm.save_model(model, tmp_path / "wrapper")
    conf = yaml.safe_load((tmp_path / "wrapper" / "MLmodel").read_text())["flavors"]["lightgbm"]
    assert (conf["data"], conf["serialization_format"]) == ("model.skops", "skops")
    # No store wrote it, yet it loads: a skops file of LightGBM's own types runs no chosen code.
    np.testing.assert_array_equal(mlnb.lightgbm.load_model(str(tmp_path / "wrapper")).predict(X),
                                  model.predict(X))
    booster, _ = lgb_booster()
    mlnb.lightgbm.save_model(booster, tmp_path / "booster")
    text = (tmp_path / "booster" / "model.lgb").read_text()
    assert text.startswith("tree\n")
    requirements = (tmp_path / "booster" / "requirements.txt").read_text()
    assert "lightgbm==" + lgb.__version__ in requirements


def test_mlflow_loads_mlnb_models(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    for flavor, make in CASES:
        model, X = make()
        folder = tmp_path / f"{flavor}-{make.__name__}"
        getattr(mlnb, flavor).save_model(model, folder)
        loaded = getattr(mlflow, flavor).load_model(str(folder))
        np.testing.assert_array_equal(raw_predict(loaded, X), raw_predict(model, X))
        np.testing.assert_array_equal(mlflow.pyfunc.load_model(str(folder)).predict(X),
                                      raw_predict(model, X))


def test_mlnb_loads_mlflow_models_when_trusted_and_says_why_otherwise(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    model, X = xgb_classifier()
    mlflow.xgboost.save_model(model, str(tmp_path / "x"))
    with pytest.raises(UntrustedModelError, match="lists no files with their sha256"):
        mlnb.xgboost.load_model(str(tmp_path / "x"))
    np.testing.assert_array_equal(
        mlnb.pyfunc.load_model(str(tmp_path / "x"), trusted=True).predict(X), model.predict(X))
    booster, _ = lgb_booster()
    mlflow.lightgbm.save_model(booster, str(tmp_path / "l"))
    np.testing.assert_array_equal(mlnb.lightgbm.load_model(str(tmp_path / "l"), trusted=True).predict(X),
                                  booster.predict(X))


@pytest.mark.parametrize(("flavor", "make", "filename"),
                         [("xgboost", xgb_classifier, "model.ubj"), ("lightgbm", lgb_booster, "model.lgb"),
                          ("lightgbm", lgb_classifier, "model.skops")],
                         ids=["xgb", "lgb-booster", "lgb-wrapper"])
def test_tampered_weights_are_refused(tracking, flavor, make, filename):
    model, _ = make()
    module = getattr(mlnb, flavor)
    with mlnb.start_run():
        info = module.log_model(model, "model")
    folder = Path(mlnb.MlnbClient().download_artifacts(info.run_id, "model"))
    weights = folder / filename
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    for uri in (info.model_uri, str(folder)):
        with pytest.raises(UntrustedModelError, match=f"{filename} of the model at .* has changed"):
            module.load_model(uri)
        with pytest.raises(UntrustedModelError, match="has changed"):
            mlnb.pyfunc.load_model(uri)


def test_a_class_outside_the_allowlist_is_never_imported(tmp_path):
    model, _ = xgb_classifier()
    mlnb.xgboost.save_model(model, tmp_path / "m")
    mlmodel = tmp_path / "m" / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("xgboost.sklearn.XGBClassifier",
                                                   "subprocess.Popen"))
    with pytest.raises(InvalidParameterError, match=r"names the class 'subprocess\.Popen', which mlnb "
                                                    "does not load"):
        mlnb.xgboost.load_model(str(tmp_path / "m"), trusted=True)


def test_a_lightgbm_pickle_is_refused_outside_the_store(tracking, tmp_path):
    model, X = lgb_classifier()
    with mlnb.start_run():
        info = mlnb.lightgbm.log_model(model, "model", serialization_format="pickle")
    np.testing.assert_array_equal(mlnb.lightgbm.load_model(info.model_uri).predict(X), model.predict(X))
    mlnb.lightgbm.save_model(model, tmp_path / "copy", serialization_format="pickle")
    with pytest.raises(UntrustedModelError, match="is a pickle that this store did not write"):
        mlnb.lightgbm.load_model(str(tmp_path / "copy"))


def test_clear_errors_for_wrong_models_formats_and_keywords(tmp_path):
    X, y = data()
    with pytest.raises(InvalidParameterError, match="model_format 'xgb' is not supported"):
        mlnb.xgboost.save_model(xgb_classifier()[0], tmp_path / "a", model_format="xgb")
    with pytest.raises(InvalidParameterError, match=r"not sklearn\.linear_model\._base\.LinearRegression"):
        from sklearn.linear_model import LinearRegression

        mlnb.xgboost.save_model(LinearRegression().fit(X, y), tmp_path / "b")
    with pytest.raises(InvalidParameterError, match="fit it first"):
        mlnb.xgboost.save_model(xgb.XGBClassifier(), tmp_path / "c")
    with pytest.raises(InvalidParameterError, match="not fitted; fit it first"):
        mlnb.lightgbm.save_model(lgb.LGBMClassifier(), tmp_path / "d")
    with pytest.raises(InvalidParameterError, match=r"save_model got unexpected arguments \['colour'\]"):
        mlnb.lightgbm.save_model(lgb_booster()[0], tmp_path / "e", colour="red")
    mlnb.xgboost.save_model(xgb_classifier()[0], tmp_path / "f")
    with pytest.raises(InvalidParameterError, match="has no lightgbm flavor"):
        mlnb.lightgbm.load_model(str(tmp_path / "f"))
    assert not any((tmp_path / n).exists() for n in "abcde")


def test_signature_is_enforced_and_served(tmp_path):
    import http.client

    from mlnb.models.serve import make_server, serve_in_thread
    from mlnb.models.signature import SignatureError

    model, X = xgb_classifier()
    mlnb.xgboost.save_model(model, tmp_path / "m", input_example=X[:5])
    with pytest.raises(SignatureError, match="x2"):
        mlnb.pyfunc.load_model(str(tmp_path / "m")).predict(X[["x1"]])
    server = make_server(str(tmp_path / "m"), "127.0.0.1", 0, max_body_bytes=1024 * 1024)
    serve_in_thread(server)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
        body = json.dumps({"dataframe_split": json.loads(X[:4].to_json(orient="split", index=False))})
        conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())) == (
            200, {"predictions": model.predict(X[:4]).tolist()})
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
