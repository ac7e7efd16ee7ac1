"""The Keras 3 flavor: ``save_model``, ``log_model`` and ``load_model`` (``mlnb.keras``).

A model is saved with Keras's own ``model.save`` as a ``.keras`` archive (its config as JSON and
its weights as HDF5; no pickle), in MLflow's layout: ``data/model.keras`` and
``data/keras_module.txt``, an MLmodel ``keras`` section (``data``, ``keras_version``,
``keras_backend``, ``save_exported_model: false``) and ``python_function`` with
``loader_module: mlflow.keras``, so MLflow loads these models and mlnb loads MLflow's.

Loading runs ``keras.saving.load_model(..., safe_mode=True)``, which refuses ``Lambda`` layers
and other serialized Python code, after the integrity check of every file. A model whose config
names classes outside Keras (custom layers, which Keras finds in its registry of classes the user
imported) passes only the origin check of its ``MLmodel`` (this user's mlnb wrote it) or with
``trusted=True``. When Keras is not imported yet and ``KERAS_BACKEND`` is unset, the backend the
model was saved with is chosen (Keras would otherwise default to TensorFlow).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlnb.entities import MLMODEL
from mlnb.errors import InvalidParameterError
from mlnb.models.flavor import (
    MLFLOW_IGNORED,
    check_keywords,
    flavor_section,
    load_by_uri,
    pyfunc_section,
    save_built,
)
from mlnb.models.format import ModelDescriptor, ModelInfo, check_files, verified_file
from mlnb.models.record import (
    artifact_path_from,
    log_built_model,
    logged_model_fields,
    signature_for,
)
from mlnb.models.signature import ModelSignature
from mlnb.models.uri import ModelLocation

FLAVOR = "keras"
LOADER_MODULE = "mlflow.keras"
DATA = "data"
MODEL_FILE = f"{DATA}/model.keras"
_KERAS_PACKAGES = ("keras",)


def _keras() -> Any:
    # Keras 3: loaded on first use, not by import mlnb
    import keras

    return keras


def _model_bytes(model: Any) -> bytes:
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise InvalidParameterError(
            f"mlnb.keras saves a Keras 3 keras.Model, not {type(model).__module__}."
            f"{type(model).__qualname__}.")
    with tempfile.TemporaryDirectory(prefix="mlnb-keras-") as tmp:
        target = Path(tmp) / "model.keras"
        try:
            model.save(str(target))
        except Exception as exc:  # an unbuilt model, a layer Keras cannot serialise
            raise InvalidParameterError(
                f"This Keras model cannot be saved ({type(exc).__name__}: {str(exc)[:300]}); "
                "build it (call it once or give keras.Input) first.") from None
        return target.read_bytes()


def _payload(model: Any) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], set[str]]:
    keras = _keras()
    backend = keras.backend.backend()
    flavors = {
        "python_function": pyfunc_section(LOADER_MODULE, DATA),
        FLAVOR: {"data": DATA, "keras_version": keras.__version__, "keras_backend": backend,
                 "save_exported_model": False},
    }
    # the backend's library (its import name is the backend's name) is pinned with Keras
    modules = {"keras", "numpy", "h5py", backend}
    payload = {MODEL_FILE: _model_bytes(model), f"{DATA}/keras_module.txt": b"keras"}
    return payload, flavors, modules


def _signature(model: Any, signature: ModelSignature | None, input_example: Any
               ) -> ModelSignature | None:
    return signature_for(lambda x: predict_fn(model)(x), signature, input_example)


def save_model(model: Any, path: str | os.PathLike[str], *, signature: ModelSignature | None = None,
               input_example: Any = None, **kwargs: Any) -> None:
    """Save a Keras 3 model to a new local folder (MLflow's ``mlflow.keras.save_model``).

    Differences from MLflow: the keywords after ``path`` are keyword-only; the exported
    (``save_exported_model=True``, TensorFlow SavedModel) format is not written; ``conda_env``,
    ``code_paths``, ``pip_requirements``, ``extra_pip_requirements``, ``metadata``,
    ``extra_files``, ``custom_objects`` and ``save_model_kwargs`` are accepted and ignored.

    :param model: a built ``keras.Model``.
    :param path: a folder that does not exist yet, or is empty.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input, saved as ``input_example.json``.
    :param kwargs: the ignored MLflow keywords above.
    :raises AlreadyExistsError: when ``path`` exists and is not empty.
    """
    _refuse_exported(kwargs)
    check_keywords("mlnb.keras.save_model", kwargs, MLFLOW_IGNORED | _KERAS_IGNORED)
    payload, flavors, modules = _payload(model)
    save_built(payload, flavors, modules=modules, path=path, input_example=input_example,
               signature=_signature(model, signature, input_example))


_KERAS_IGNORED = frozenset({"custom_objects", "save_model_kwargs", "save_exported_model"})


def _refuse_exported(kwargs: dict[str, Any]) -> None:
    if kwargs.get("save_exported_model"):
        raise InvalidParameterError(
            "save_exported_model=True (TensorFlow's SavedModel) is not supported: mlnb saves the "
            ".keras format. Drop the argument.")


def log_model(model: Any, artifact_path: str = "model", *, signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              run_id: str | None = None, await_registration_for: int | None = None,
              reference_data: Any = None, model_id: str | None = None,
              **kwargs: Any) -> ModelInfo:
    """Log a Keras 3 model into a run's artifacts (MLflow's ``mlflow.keras.log_model``).

    Without an active run (and no ``run_id``) a run is started and ended for it; with
    ``registered_model_name`` the model is also registered. Differences from MLflow as in
    :func:`save_model`; ``run_id`` is mlnb's addition.

    :param model: a built ``keras.Model``.
    :param artifact_path: the model's folder inside the run's artifacts.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input, saved with the model.
    :param registered_model_name: also register the model under this name.
    :param run_id: log into this run instead of the active one.
    :param await_registration_for: accepted for MLflow compatibility; registration is immediate.
    :param reference_data: the data the model was trained on (a DataFrame, or
        ``mlnb.data.from_pandas(df, targets="label")`` to name its target column), saved
        with it as a Parquet sample (hash-recorded): the default reference of ``mlnb monitor``.
    :param model_id: log into this existing logged model (made by ``initialize_logged_model``
        or ``create_external_model``) instead of a new one, as MLflow 3 does.
    :param kwargs: ``name=`` (MLflow 3's spelling of ``artifact_path``), ``params``, ``tags``,
        ``model_type`` and ``step`` (:func:`mlnb.models.record.logged_model_fields`) and the
        ignored keywords.
    """
    _refuse_exported(kwargs)
    fields = logged_model_fields(kwargs, model_id)
    artifact_path = artifact_path_from(artifact_path, kwargs, set(MLFLOW_IGNORED | _KERAS_IGNORED))
    payload, flavors, modules = _payload(model)
    return log_built_model(
        payload, flavors, modules=modules, signature=_signature(model, signature, input_example),
        input_example=input_example, artifact_path=artifact_path, run_id=run_id,
        registered_model_name=registered_model_name, model_id=model_id, reference_data=reference_data,
        fields=fields
    )


def load_model(model_uri: str, dst_path: str | None = None, *, trusted: bool = False) -> Any:
    """The Keras model at ``model_uri``, loaded in Keras's safe mode.

    Every file must match the sha256 its ``MLmodel`` records; a changed file is refused.

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
        ``models:/<name>@<alias>`` or a local folder.
    :param dst_path: accepted for MLflow compatibility and ignored (the model is read in place).
    :param trusted: skip the integrity and origin checks (a folder you vouch for).
    :raises UntrustedModelError: for a file that fails the checks.
    """
    return load_by_uri(model_uri, lambda loc, desc, tr: load_location(loc, desc, trusted=tr),
                       trusted=trusted)


def load_location(location: ModelLocation, descriptor: ModelDescriptor, *, trusted: bool) -> Any:
    """The Keras model of a resolved location, after the integrity checks.

    :param location: where the model is.
    :param descriptor: its parsed ``MLmodel``.
    :param trusted: skip the checks, as in :func:`load_model`.
    :raises InvalidParameterError: for no keras flavor, the exported format, or a file Keras
        refuses (in safe mode: Lambda layers and other serialized code).
    """
    conf = flavor_section(location, descriptor, FLAVOR, "Keras")
    if conf.get("save_exported_model"):
        raise InvalidParameterError(
            f"The model at {location.uri!r} is a TensorFlow SavedModel export; mlnb loads the "
            ".keras format only. It was not loaded.")
    data = str(conf.get("data") or DATA)
    relname = data if data.endswith(".keras") else f"{data.rstrip('/')}/model.keras"
    path = verified_file(location, relname, runs_code=False, trusted=trusted)
    check_files(location, descriptor, trusted=trusted)
    foreign = sorted({m for m in _config_modules(path) if m.split(".")[0] not in _KERAS_PACKAGES})
    if foreign and not trusted:
        verified_file(location, MLMODEL, runs_code=True, trusted=False,
                      what=f"names classes of {foreign[0]}, which are not Keras's own,")
    if "keras" not in sys.modules and not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = str(conf.get("keras_backend") or "tensorflow")
    keras = _keras()
    try:
        return keras.saving.load_model(str(path), safe_mode=True)
    except Exception as exc:  # ValueError for Lambda code in safe mode, OSError for a bad zip
        raise InvalidParameterError(
            f"Keras refused {relname} of the model at {location.uri!r} in safe mode "
            f"({type(exc).__name__}: {str(exc)[:300]}). It was not loaded.") from None


def _config_modules(path: Path) -> Iterator[str]:
    """The ``module`` names a ``.keras`` archive's ``config.json`` refers to."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return  # Keras reports what is wrong with the file when it loads it
    stack: list[Any] = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module = node.get("module")
            if isinstance(module, str) and "class_name" in node:
                yield module
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def predict_fn(model: Any) -> Callable[[Any], Any]:
    """The pyfunc predict of a Keras model: the input as a float32 array, the output as numpy.

    :param model: the loaded model.
    """

    def predict(data: Any) -> Any:
        import numpy as np  # numpy: loaded on first use, not by import mlnb

        array = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
        return np.asarray(model.predict(array.astype("float32"), verbose=0))

    return predict
