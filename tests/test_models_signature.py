"""Signatures are inferred from examples and enforced at predict time, naming what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_models_data import classifier, pipeline, regressor

import mlnb
from mlnb.models import ColSpec, ModelSignature, SignatureError, TensorSpec, infer_signature


def test_infer_from_dataframe_and_array():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"], "d": [True, False]})
    sig = infer_signature(frame, np.array([0.1, 0.2]))
    assert sig.inputs.inputs == (ColSpec("long", "a"), ColSpec("double", "b"), ColSpec("string", "c"),
                                 ColSpec("boolean", "d"))
    assert sig.outputs.inputs == (TensorSpec("float64", (-1,)),)
    array_sig = infer_signature(np.zeros((3, 4), dtype=np.float32))
    assert array_sig.inputs.inputs == (TensorSpec("float32", (-1, 4)),)
    assert ModelSignature.from_dict(sig.to_dict()) == sig


@pytest.fixture
def loaded(tracking):
    model, X = pipeline()
    info = mlnb.sklearn.log_model(model, "model", input_example=X[:5])
    return mlnb.pyfunc.load_model(info.model_uri), X


def test_missing_column_is_named(loaded):
    model, X = loaded
    with pytest.raises(SignatureError, match=r"missing input column\(s\) \['color'\]"):
        model.predict(X.drop(columns=["color"]))


def test_wrong_type_is_named(loaded):
    model, X = loaded
    bad = X.copy()
    bad["x1"] = "text"
    with pytest.raises(SignatureError, match="Column 'x1' expects double"):
        model.predict(bad)


def test_extra_columns_are_dropped_and_order_fixed(loaded):
    model, X = loaded
    shuffled = X[["color", "x2", "x1"]].assign(extra=1)
    np.testing.assert_array_equal(model.predict(shuffled), model.predict(X))


def test_rows_as_lists_take_the_column_names(loaded):
    model, X = loaded
    np.testing.assert_array_equal(model.predict(X.values.tolist()), model.predict(X))
    with pytest.raises(SignatureError, match="Expected 3 values per row"):
        model.predict([[1.0, 2.0]])


def test_integer_column_accepts_whole_floats_only(tracking):
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame({"n": [1, 2, 3, 4]})
    model = LinearRegression().fit(X, [2, 4, 6, 8])
    info = mlnb.sklearn.log_model(model, "model", input_example=X)
    loaded = mlnb.pyfunc.load_model(info.model_uri)
    assert loaded.predict(pd.DataFrame({"n": [5.0]}))[0] == pytest.approx(10)
    with pytest.raises(SignatureError, match="Column 'n' expects whole numbers"):
        loaded.predict(pd.DataFrame({"n": [5.5]}))


def test_tensor_signature_checks_shape_and_dtype(tracking):
    model, X = regressor()
    info = mlnb.sklearn.log_model(model, "model", input_example=X[:3])
    loaded = mlnb.pyfunc.load_model(info.model_uri)
    assert loaded.predict(X[:2].tolist()).shape == (2,)
    with pytest.raises(SignatureError, match="dimension 1 has size 3"):
        loaded.predict(np.zeros((2, 3)))
    with pytest.raises(SignatureError, match="float64"):
        loaded.predict(np.array([["a", "b"]]))


def test_no_signature_without_example(tracking):
    model, X = classifier()
    info = mlnb.sklearn.log_model(model, "model")
    assert info.signature is None
    assert len(mlnb.pyfunc.load_model(info.model_uri).predict(X)) == len(X)


def test_required_column_refuses_missing_values_naming_it(tracking):
    model, X = classifier()
    info = mlnb.sklearn.log_model(model, "model", input_example=X[:5])
    loaded = mlnb.pyfunc.load_model(info.model_uri)
    for bad in ({"x1": [0.1, np.nan], "x2": [1.0, 2.0]}, {"x1": [0.1, None], "x2": [1.0, 2.0]},
                pd.DataFrame({"x1": [0.1, np.nan], "x2": [1.0, 2.0]})):
        with pytest.raises(SignatureError, match=r"'x1'.*missing"):
            loaded.predict(bad)


def test_optional_column_accepts_missing_values():
    from mlnb.models.signature import Schema, enforce_schema

    schema = Schema((ColSpec("double", "a"), ColSpec("double", "b", required=False),
                     ColSpec("string", "s", required=False)))
    out = enforce_schema({"a": [1.0, 2.0], "b": [None, 1.0], "s": ["x", None]}, schema)
    assert np.isnan(out["b"][0]) and pd.isna(out["s"][1])
    with pytest.raises(SignatureError, match=r"'s'.*missing"):
        enforce_schema({"a": [1.0], "s": [None]}, Schema((ColSpec("double", "a"), ColSpec("string", "s"))))


def test_pyfunc_predictions_are_identical_to_the_flavors(tracking):
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge(alpha=0.1).fit(X, y)
    info = mlnb.sklearn.log_model(model, "model", input_example=X[:5])
    via_pyfunc = mlnb.pyfunc.load_model(info.model_uri).predict(X)
    via_sklearn = mlnb.sklearn.load_model(info.model_uri).predict(X)
    assert np.array_equal(via_pyfunc, via_sklearn)
    assert np.array_equal(via_pyfunc, model.predict(X))
