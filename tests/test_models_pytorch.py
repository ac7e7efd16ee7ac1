"""The PyTorch flavor: a state_dict in safetensors and a module description, loaded by every URI
kind with identical outputs; tampered weights and unvouched classes refused; never torch.load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import mlnb
from mlnb.errors import InvalidParameterError, UntrustedModelError

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
from torch_models import MLP, Opaque  # noqa: E402


def inputs(n_in=4):
    return np.random.default_rng(0).normal(size=(8, n_in)).astype("float32")


def outputs(model, X):
    with torch.no_grad():
        return model(torch.as_tensor(X)).numpy()


def mlp():
    torch.manual_seed(0)
    return MLP(4, 8, n_out=3)


def sequential():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1, bias=False))


@pytest.mark.parametrize("make", [mlp, sequential], ids=["custom-class", "sequential"])
def test_round_trip_by_every_uri_kind(tracking, make):
    model, X = make(), inputs()
    expected = outputs(model, X)
    with mlnb.start_run() as run:
        info = mlnb.pytorch.log_model(model, "model", input_example=X[:3], registered_model_name="net")
    client = mlnb.MlnbClient()
    client.set_registered_model_alias("net", "champion", 1)
    local = client.download_artifacts(run.run_id, "model")
    for uri in [info.model_uri, "models:/net/1", "models:/net/latest", "models:/net@champion", local]:
        loaded = mlnb.pytorch.load_model(uri)
        assert type(loaded) is type(model) and not loaded.training
        np.testing.assert_array_equal(outputs(loaded, X), expected)
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), expected)


def test_the_folder_holds_safetensors_and_a_description(tmp_path):
    mlnb.pytorch.save_model(mlp(), tmp_path / "m", input_example=inputs()[:2])
    conf = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]["pytorch"]
    assert conf["serialization_format"] == "safetensors"
    assert conf["module"] == {"class": "torch_models.MLP",
                              "init_args": {"n_in": 4, "hidden": 8, "n_out": 3, "activation": "relu"}}
    from safetensors.numpy import load_file

    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert sorted(weights) == ["layers.0.bias", "layers.0.weight", "layers.2.bias", "layers.2.weight"]
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert "torch==" in requirements and "safetensors==" in requirements


def test_torch_nn_modules_load_from_any_folder_other_classes_only_when_vouched(tracking, tmp_path):
    X = inputs()
    mlnb.pytorch.save_model(sequential(), tmp_path / "seq")
    np.testing.assert_array_equal(outputs(mlnb.pytorch.load_model(str(tmp_path / "seq")), X),
                                  outputs(sequential(), X))
    mlnb.pytorch.save_model(mlp(), tmp_path / "mlp")
    with pytest.raises(UntrustedModelError, match=r"names the class torch_models\.MLP to import"):
        mlnb.pytorch.load_model(str(tmp_path / "mlp"))
    with pytest.raises(UntrustedModelError, match=r"names the class torch_models\.MLP to import"):
        mlnb.pyfunc.load_model(str(tmp_path / "mlp"))
    loaded = mlnb.pytorch.load_model(str(tmp_path / "mlp"), trusted=True)
    np.testing.assert_array_equal(outputs(loaded, X), outputs(mlp(), X))
    with mlnb.start_run():
        info = mlnb.pytorch.log_model(mlp(), "model")  # written by this user's log_model: vouched
    np.testing.assert_array_equal(outputs(mlnb.pytorch.load_model(info.model_uri), X), outputs(mlp(), X))


def test_tampered_weights_are_refused(tracking):
    with mlnb.start_run():
        info = mlnb.pytorch.log_model(sequential(), "model")
    folder = Path(mlnb.MlnbClient().download_artifacts(info.run_id, "model"))
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    for uri in (info.model_uri, str(folder)):
        with pytest.raises(UntrustedModelError, match=r"model\.safetensors of the model at .* has changed"):
            mlnb.pytorch.load_model(uri)


def test_an_edited_description_cannot_import_other_code(tmp_path):
    mlnb.pytorch.save_model(sequential(), tmp_path / "m")
    mlmodel = tmp_path / "m" / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("torch.nn.modules.activation.Tanh",
                                                   "torch.nn.modules.module.os.system"))
    with pytest.raises(InvalidParameterError, match="cannot be built here"):
        mlnb.pytorch.load_model(str(tmp_path / "m"))
    mlmodel.write_text(mlmodel.read_text().replace("torch.nn.modules.module.os.system", "os.system"))
    with pytest.raises(UntrustedModelError, match=r"names the class os\.system to import"):
        mlnb.pytorch.load_model(str(tmp_path / "m"))


def test_constructor_arguments_must_be_known(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"cannot tell the constructor argument 'width' .*"
                                                    r"Pass init_args="):
        mlnb.pytorch.save_model(Opaque(6), tmp_path / "a")
    with pytest.raises(InvalidParameterError, match="does not have this model's weights"):
        mlnb.pytorch.save_model(Opaque(6), tmp_path / "b", init_args={"width": 5})
    mlnb.pytorch.save_model(Opaque(6), tmp_path / "c", init_args={"width": 6})
    assert mlnb.pytorch.load_model(str(tmp_path / "c"), trusted=True).linear.out_features == 6
    with pytest.raises(InvalidParameterError, match=r"saves a torch\.nn\.Module, not ndarray"):
        mlnb.pytorch.save_model(np.zeros(3), tmp_path / "d")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
