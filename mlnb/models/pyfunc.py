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
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlnb.capture.environment import python_version
from mlnb.errors import InvalidParameterError
from mlnb.models import keras, lightgbm, pytorch, sklearn, xgboost
from mlnb.models.format import (
    ModelDescriptor,
    ModelInfo,
    build_model_files,
    check_files,
    verified_file,
    write_folder,
)
from mlnb.models.record import (
    artifact_path_from,
    log_built_model,
    logged_model_fields,
    signature_for,
)
from mlnb.models.signature import ModelSignature, Schema, enforce_schema
from mlnb.models.uri import ModelLocation, resolve_model_uri
from mlnb.store.artifacts import iter_source_files, resolve_inside, safe_relpath
from mlnb.tracking.client import current_store

FLAVOR = "python_function"
_FLAVORS: dict[str, Any] = {  # loader_module -> mlnb's flavor module (which imports its library lazily)
    "mlnb.models.sklearn": sklearn,
    # MLflow's own sklearn models (logged through mlnb's MLflow REST API) have the same sklearn
    # flavor; their files are user artifacts, so a pickle in them loads only with trusted=True.
    "mlflow.sklearn": sklearn,
    "mlflow.xgboost": xgboost,
    "mlflow.lightgbm": lightgbm,
    "mlnb.models.pytorch": pytorch,
    "mlflow.keras": keras,
}
_LOADERS = (*_FLAVORS, "mlnb.models.pyfunc")
PICKLE_FILE = "python_model.pkl"


class PythonModel:
    """Subclass this and define ``predict(self, context, model_input)`` to log your own model.

    MLflow's ``mlflow.pyfunc.PythonModel``. The class must be importable where the model is loaded
    (not defined in a notebook's ``__main__`` if it is loaded elsewhere).
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Called once after loading, with ``context.artifacts`` (name -> local path).

        :param context: the :class:`PythonModelContext`.
        """

    def predict(self, context: PythonModelContext, model_input: Any, params: Any = None) -> Any:
        """Predict on ``model_input``; override it.

        :param context: the :class:`PythonModelContext`.
        :param model_input: the input, checked against the signature.
        :param params: unlike MLflow, mlnb never passes inference params: it is always None.
        """
        raise NotImplementedError("Define predict(self, context, model_input) in your PythonModel.")


class PythonModelContext:
    """What a :class:`PythonModel` sees: the local paths of the artifacts it was logged with.

    :param artifacts: artifact name -> local file path.
    """

    def __init__(self, artifacts: dict[str, str]) -> None:
        self.artifacts = artifacts


class PyFuncModel:
    """A loaded model of any flavor: ``predict(data)`` checks ``data`` against the signature.

    :param predict_fn: the flavor's predict function.
    :param descriptor: the model's parsed ``MLmodel``.
    :param location: where it was loaded from.
    :param raw_model: the flavor's own model object.
    """

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
        """The model's signature, or None."""
        return self.metadata.signature

    def get_input_schema(self) -> Schema | None:
        """The input schema of the signature, or None when the model has none."""
        return self.signature.inputs if self.signature else None

    def prepare(self, data: Any) -> Any:
        """``data`` converted and checked against the input signature (SignatureError if not).

        :param data: a DataFrame, dict of columns, list of records or array.
        """
        schema = self.get_input_schema()
        return enforce_schema(data, schema) if schema is not None else data

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predictions on ``data``, after converting and checking it against the signature.

        :param data: a DataFrame, dict of columns, list of records or array.
        :param params: accepted for MLflow compatibility and ignored (not passed to the model).
        :raises SignatureError: when ``data`` does not fit the input signature.
        """
        return self._predict_fn(self.prepare(data))

    def predict_prepared(self, prepared: Any) -> Any:
        """Predictions on input :meth:`prepare` already converted and checked (the scoring server
        prepares once and reports a bad input apart from a failing model).

        :param prepared: what :meth:`prepare` returned.
        """
        return self._predict_fn(prepared)

    def unwrap_python_model(self) -> Any:
        """The underlying model object (the :class:`PythonModel`, or the scikit-learn estimator)."""
        return self._raw

    def get_raw_model(self) -> Any:
        """The underlying model object, as :meth:`unwrap_python_model`."""
        return self._raw


def load_model(model_uri: str, suppress_warnings: bool = False, dst_path: str | None = None,
               *, trusted: bool = False) -> PyFuncModel:
    """Load the model at ``model_uri`` (``runs:/``, ``models:/``, or a folder) for ``predict``.

    Every file must match the sha256 its ``MLmodel`` records (and, through ``models:/``, the
    hashes pinned at registration). A pickled model loads only if this user's mlnb wrote it into
    the store and it is unchanged, or the store is trusted (``mlnb trust``), or with
    ``trusted=True`` (mlnb's addition; MLflow loads any pickle). Only mlnb's own loaders are used,
    never a module an ``MLmodel`` file names.

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
        ``models:/<name>@<alias>`` or a local folder.
    :param suppress_warnings: accepted for MLflow compatibility and ignored.
    :param dst_path: accepted for MLflow compatibility and ignored (the model is read in place).
    :param trusted: skip every check: only for a model whose source you trust.
    :raises UntrustedModelError: for a file that fails the checks.
    """
    location = resolve_model_uri(model_uri)
    return load_location(location, trusted=trusted)


def load_location(location: ModelLocation, *, trusted: bool = False) -> PyFuncModel:
    """The model of an already resolved location, by its ``python_function`` flavor.

    :param location: where the model is.
    :param trusted: skip the origin checks, as in :func:`load_model`.
    :raises InvalidParameterError: when the model has no pyfunc flavor or names an unknown loader.
    """
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
    flavor = _FLAVORS.get(str(loader))
    if flavor is not None:
        raw = flavor.load_location(location, descriptor, trusted=trusted)
        return PyFuncModel(flavor.predict_fn(raw), descriptor, location, raw)
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
    for key, uri in (artifacts or {}).items():
        source = _artifact_source(str(key), uri)
        rel = f"artifacts/{source.name}"
        if source.is_dir():
            for file, inner in iter_source_files(source):
                payload[f"{rel}/{inner}"] = file.read_bytes()
        else:
            payload[rel] = source.read_bytes()
        names[str(key)] = rel
    flavors = {FLAVOR: {"loader_module": "mlnb.models.pyfunc", "data": PICKLE_FILE,
                        "python_version": python_version(), "serialization_format": "pickle",
                        "artifacts": names, "env": {"virtualenv": "python_env.yaml"}}}
    module = type(python_model).__module__.split(".")[0]
    return payload, flavors, ["numpy", "pandas", module]


def _artifact_source(key: str, uri: Any) -> Path:
    """The local file or folder an entry of ``artifacts=`` names, as MLflow resolves them: a local
    file or folder, ``runs:/<run_id>/<path>`` (a run's artifact, file or folder) or a ``models:/``
    URI (the registered version's model folder: MLflow's "wrap a logged model" pattern)."""
    if not isinstance(uri, (str, os.PathLike)) or not str(uri).strip():
        raise InvalidParameterError(f"Artifact {key!r}: give a path or URI, not {uri!r}.")
    text = os.fspath(uri)
    if text.startswith("models:"):
        return resolve_model_uri(text).local_dir
    if text.startswith("runs:"):
        match = re.match(r"^runs:/([0-9a-f]{32})(?:/(.*))?$", text)
        if match is None:
            raise InvalidParameterError(
                f"Artifact {key!r}: {text!r} is not valid; write runs:/<32-hex run id>/<path>.")
        return current_store().artifact_path(match.group(1),
                                             safe_relpath(match.group(2) or "", allow_empty=True))
    if text.startswith("file:"):
        text = unquote(urlparse(text).path)
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", text):
        raise InvalidParameterError(
            f"Artifact {key!r}: {text!r} has a scheme mlnb does not read; use a local path, "
            "runs:/<run_id>/<path> or models:/<name>/<version>.")
    source = Path(text).expanduser()
    if not source.exists():
        raise InvalidParameterError(f"Artifact {key!r}: {text!r} is neither a file nor a folder.")
    return source


def _signature(python_model: Any, signature: ModelSignature | None, input_example: Any
               ) -> ModelSignature | None:
    context = PythonModelContext({})
    return signature_for(lambda x: python_model.predict(context, x), signature, input_example)


def save_model(path: str | os.PathLike[str], python_model: Any = None,
               artifacts: dict[str, str] | None = None, signature: ModelSignature | None = None,
               input_example: Any = None) -> None:
    """Save a :class:`PythonModel` to a new local folder (pickled, with its artifacts copied in).

    Unlike MLflow, there is no ``code_path``, ``conda_env`` or ``pip_requirements`` argument.

    :param path: a folder that does not exist yet, or is empty.
    :param python_model: the :class:`PythonModel` instance.
    :param artifacts: name -> a local file or folder, ``runs:/`` or ``models:/`` URI; each is
        copied into ``artifacts/``.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input, saved with the model.
    """
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
              reference_data: Any = None, model_id: str | None = None,
              **kwargs: Any) -> ModelInfo:
    """Log a :class:`PythonModel` to the active run (MLflow's ``mlflow.pyfunc.log_model``).

    Without an active run (and no ``run_id``) a run is started and ended for it. Differences from
    MLflow: the keywords after ``artifacts`` are keyword-only; ``run_id`` is mlnb's addition;
    ``pip_requirements``, ``extra_pip_requirements``, ``conda_env``, ``code_path`` and
    ``code_paths`` are accepted and ignored, and any other unknown keyword is an error.

    :param artifact_path: the model's folder inside the run's artifacts.
    :param python_model: the :class:`PythonModel` instance.
    :param artifacts: name -> a local file or folder, a ``runs:/<run_id>/<path>`` artifact or a
        ``models:/`` model, copied into the model's ``artifacts/`` (``context.artifacts[name]`` is
        its path when the model is loaded).
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
        ignored keywords
        above.
    """
    fields = logged_model_fields(kwargs, model_id)
    artifact_path = artifact_path_from(artifact_path, kwargs, {
        "pip_requirements", "extra_pip_requirements", "conda_env", "code_path", "code_paths"})

    payload, flavors, modules = _payload(python_model, artifacts)
    return log_built_model(
        payload, flavors, modules=modules, signature=_signature(python_model, signature, input_example),
        input_example=input_example, artifact_path=artifact_path, run_id=run_id,
        registered_model_name=registered_model_name, model_id=model_id, reference_data=reference_data,
        user_files=[name for name in payload if name != PICKLE_FILE],  # the artifacts given
        fields=fields,
    )

