"""``mlnb.pyfunc``: load any logged model and ``predict`` with its signature enforced, and log a
model written as a Python class (:class:`PythonModel`, MLflow's ``mlflow.pyfunc.PythonModel``).

A ``PythonModel`` is saved with the standard ``pickle``, so its class must be importable where
the model is loaded (a class defined in a notebook's ``__main__`` loads only in that session).
Loading it runs code, so it passes the same gate as any pickle: this user's mlnb must have
written the file into the store (or the user trusts the store) and its sha256 must still match,
or the caller passes ``trusted=True``.

The flavor that loads a model is chosen from an allowlist, never imported by the module name an
``MLmodel`` file claims (that name is data, and importing it would run code).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlnb.capture.environment import python_version
from mlnb.errors import InvalidParameterError
from mlnb.models import sklearn
from mlnb.models.format import (
    ModelDescriptor,
    ModelInfo,
    build_model_files,
    check_files,
    verified_file,
    write_folder,
)
from mlnb.models.record import artifact_path_from, log_built_model, signature_for
from mlnb.models.signature import ModelSignature, Schema, enforce_schema
from mlnb.models.uri import ModelLocation, resolve_model_uri
from mlnb.store.artifacts import resolve_inside, safe_relpath

FLAVOR = "python_function"
_LOADERS = ("mlnb.models.sklearn", "mlnb.models.pyfunc")
PICKLE_FILE = "python_model.pkl"


class PythonModel:
    """Subclass this and define ``predict(self, context, model_input)`` to log your own model."""

    def load_context(self, context: PythonModelContext) -> None:
        """Called once after loading, with ``context.artifacts`` (name -> local path)."""

    def predict(self, context: PythonModelContext, model_input: Any, params: Any = None) -> Any:
        raise NotImplementedError("Define predict(self, context, model_input) in your PythonModel.")


class PythonModelContext:
    """What a :class:`PythonModel` sees: the local paths of the artifacts it was logged with."""

    def __init__(self, artifacts: dict[str, str]) -> None:
        self.artifacts = artifacts


class PyFuncModel:
    """A loaded model of any flavor: ``predict(data)`` checks ``data`` against the signature."""

    def __init__(self, predict_fn: Callable[[Any], Any], descriptor: ModelDescriptor,
                 location: ModelLocation, raw_model: Any) -> None:
        self._predict_fn = predict_fn
        self.metadata = descriptor
        self.location = location
        self._raw = raw_model

    def __repr__(self) -> str:
        flavors = ", ".join(f for f in self.metadata.flavors if f != FLAVOR)
        return f"<mlnb PyFuncModel {self.location.uri!r} ({flavors or FLAVOR})>"

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    def get_input_schema(self) -> Schema | None:
        return self.signature.inputs if self.signature else None

    def prepare(self, data: Any) -> Any:
        """``data`` converted and checked against the input signature (SignatureError if not)."""
        schema = self.get_input_schema()
        return enforce_schema(data, schema) if schema is not None else data

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._predict_fn(self.prepare(data))

    def unwrap_python_model(self) -> Any:
        return self._raw

    def get_raw_model(self) -> Any:
        return self._raw


def load_model(model_uri: str, suppress_warnings: bool = False, dst_path: str | None = None,
               *, trusted: bool = False) -> PyFuncModel:
    """Load the model at ``model_uri`` (``runs:/``, ``models:/``, or a folder) for ``predict``.

    Every file must match the sha256 its ``MLmodel`` records (and, through ``models:/``, the
    hashes pinned at registration). A pickled model loads only if this user's mlnb wrote it into
    the store and it is unchanged, or the store is trusted (``mlnb trust``), or with
    ``trusted=True``.

    :param model_uri: ``runs:/``, ``models:/`` or a folder.
    :param suppress_warnings: accepted for MLflow compatibility.
    :param dst_path: accepted for MLflow compatibility (the model is read in place).
    :param trusted: skip every check: only for a model whose source you trust.
    """
    location = resolve_model_uri(model_uri)
    return load_location(location, trusted=trusted)


def load_location(location: ModelLocation, *, trusted: bool = False) -> PyFuncModel:
    descriptor = ModelDescriptor.load(location.local_dir)
    conf = descriptor.flavors.get(FLAVOR)
    if not isinstance(conf, dict):
        raise InvalidParameterError(
            f"The model at {location.uri!r} has no {FLAVOR} flavor, so it cannot be loaded "
            "generically; load it with its own flavor's load_model.")
    loader = conf.get("loader_module")
    if loader not in _LOADERS:
        raise InvalidParameterError(
            f"The model at {location.uri!r} needs the loader {loader!r}, which mlnb does not "
            f"provide (it can load: {', '.join(_LOADERS)}). It was not loaded.")
    if loader == "mlnb.models.sklearn":
        raw = sklearn.load_location(location, descriptor, trusted=trusted)
        return PyFuncModel(sklearn.predict_fn(raw), descriptor, location, raw)
    raw = _load_python_model(location, descriptor, conf, trusted)
    context = PythonModelContext(_artifact_paths(location, conf))
    raw.load_context(context)
    return PyFuncModel(_python_predict(raw, context), descriptor, location, raw)


def _load_python_model(location: ModelLocation, descriptor: ModelDescriptor, conf: dict[str, Any],
                       trusted: bool) -> Any:
    path = verified_file(location, str(conf.get("data", PICKLE_FILE)), runs_code=True, trusted=trusted)
    check_files(location, descriptor, trusted=trusted)
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (AttributeError, ModuleNotFoundError, ImportError) as exc:
        raise InvalidParameterError(
            f"The Python model at {location.uri!r} cannot be loaded here: {exc}. Its class must be "
            "importable (define it in a module, not in the notebook, to load it elsewhere).") from None


def _artifact_paths(location: ModelLocation, conf: dict[str, Any]) -> dict[str, str]:
    names = conf.get("artifacts") or {}
    return {str(k): str(resolve_inside(location.local_dir, safe_relpath(str(v))))
            for k, v in names.items()}


def _python_predict(model: Any, context: PythonModelContext) -> Callable[[Any], Any]:
    def predict(data: Any) -> Any:
        return model.predict(context, data)

    return predict


# --- saving a PythonModel --------------------------------------------------------------------


def _payload(python_model: Any, artifacts: dict[str, str] | None
             ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], list[str]]:
    if not isinstance(python_model, PythonModel) and not callable(getattr(python_model, "predict", None)):
        raise InvalidParameterError(
            "python_model must be an instance of mlnb.pyfunc.PythonModel (with a predict method).")
    try:
        data = pickle.dumps(python_model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise InvalidParameterError(f"The python_model cannot be pickled: {exc}.") from None
    payload = {PICKLE_FILE: data}
    names: dict[str, str] = {}
    for key, local in (artifacts or {}).items():
        source = Path(local)
        if not source.is_file():
            raise InvalidParameterError(f"Artifact {key!r}: {local!r} is not a file.")
        rel = f"artifacts/{source.name}"
        payload[rel] = source.read_bytes()
        names[str(key)] = rel
    flavors = {FLAVOR: {"loader_module": "mlnb.models.pyfunc", "data": PICKLE_FILE,
                        "python_version": python_version(), "serialization_format": "pickle",
                        "artifacts": names, "env": {"virtualenv": "python_env.yaml"}}}
    module = type(python_model).__module__.split(".")[0]
    return payload, flavors, ["numpy", "pandas", module]


def _signature(python_model: Any, signature: ModelSignature | None, input_example: Any
               ) -> ModelSignature | None:
    context = PythonModelContext({})
    return signature_for(lambda x: python_model.predict(context, x), signature, input_example)


def save_model(path: str | os.PathLike[str], python_model: Any = None,
               artifacts: dict[str, str] | None = None, signature: ModelSignature | None = None,
               input_example: Any = None) -> None:
    """Save a :class:`PythonModel` to a new local folder."""
    payload, flavors, modules = _payload(python_model, artifacts)
    files, _ = build_model_files(
        payload, flavors, modules=modules, signature=_signature(python_model, signature, input_example),
        input_example=input_example, run_id=None, artifact_path=None,
    )
    write_folder(path, files)


def log_model(artifact_path: str = "model", python_model: Any = None,
              artifacts: dict[str, str] | None = None, *, signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              run_id: str | None = None, await_registration_for: int | None = None,
              **kwargs: Any) -> ModelInfo:
    """Log a :class:`PythonModel` to the active run (MLflow's ``mlflow.pyfunc.log_model``)."""
    artifact_path = artifact_path_from(artifact_path, kwargs, {
        "pip_requirements", "extra_pip_requirements", "conda_env", "code_path", "code_paths"})

    payload, flavors, modules = _payload(python_model, artifacts)
    return log_built_model(
        payload, flavors, modules=modules, signature=_signature(python_model, signature, input_example),
        input_example=input_example, artifact_path=artifact_path, run_id=run_id,
        registered_model_name=registered_model_name,
    )

