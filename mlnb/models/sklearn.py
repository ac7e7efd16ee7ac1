"""The scikit-learn flavor: ``save_model``, ``log_model`` and ``load_model`` (``mlnb.sklearn``).

Safe by default. A model is saved in the skops format when a plain round trip would load with
no untrusted types (skops audits every type on load and runs no code of the file's choosing).
Otherwise (e.g. trees, whose node arrays skops will not vouch for, or a custom function) it is
pickled, and the pickle loads only if this user's mlnb wrote it into the store (a record signed
with the user's key, or a store the user trusts) and its sha256 still matches, or if the caller
passes ``trusted=True`` (MLflow loads any pickle it is handed:
CVE-2024-37052 and following).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

from mlnb.capture.environment import python_version
from mlnb.errors import InvalidParameterError
from mlnb.models.format import (
    ModelDescriptor,
    ModelInfo,
    build_model_files,
    check_files,
    verified_file,
)
from mlnb.models.format import write_folder as _write_folder
from mlnb.models.record import (
    artifact_path_from,
    log_built_model,
    logged_model_fields,
    signature_for,
)
from mlnb.models.signature import ModelSignature
from mlnb.models.uri import ModelLocation, resolve_model_uri

FLAVOR = "sklearn"
FORMATS = ("skops", "pickle")
FILES = {"skops": "model.skops", "pickle": "model.pkl"}


def serialize(model: Any, serialization_format: str | None,
              vouched: frozenset[str] = frozenset()) -> tuple[str, bytes]:
    """(format, bytes) of a scikit-learn-style model: skops when every type skops does not trust
    by itself is in ``vouched``, else a pickle (the format the caller asked for, if any).

    :param model: the fitted model.
    :param serialization_format: ``"skops"``, ``"pickle"`` (``"cloudpickle"``) or None (choose).
    :param vouched: fully qualified type names the calling flavor knows to load without running
        code of the file's choosing (LightGBM's Booster and wrappers, say).
    :raises InvalidParameterError: for an unknown format, or a model neither format can hold.
    """
    wanted = _format_name(serialization_format)
    if wanted in (None, "skops"):
        try:
            import skops.io as sio  # skops: loaded on first use, not by import mlnb

            data = sio.dumps(model)
            untrusted = set(sio.get_untrusted_types(data=data)) - vouched
        except Exception as exc:  # skops refuses some objects outright (lambdas, odd attributes)
            if wanted == "skops":
                raise InvalidParameterError(f"This model cannot be saved with skops: {exc}.") from None
        else:
            if not untrusted or wanted == "skops":
                return "skops", data
    try:
        return "pickle", pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise InvalidParameterError(f"This model cannot be pickled: {exc}.") from None


def _format_name(serialization_format: str | None) -> str | None:
    if serialization_format is None:
        return None
    name = str(serialization_format).lower()
    if name == "cloudpickle":  # MLflow's default; a plain pickle here (no cloudpickle needed)
        name = "pickle"
    if name not in FORMATS:
        raise InvalidParameterError(
            f"serialization_format {serialization_format!r} is not supported; use 'skops' or "
            "'pickle' (or leave it out: skops when the model allows it).")
    return name


def _modules(sk_model: Any, fmt: str) -> set[str]:
    """Import names whose packages the model needs: sklearn, numpy, scipy, and its components'."""
    modules = {"sklearn", "numpy", "scipy", "pandas"}
    if fmt == "skops":
        modules.add("skops")
    parts = [sk_model]
    get_params = getattr(sk_model, "get_params", None)
    if callable(get_params):
        try:
            parts += [v for v in get_params(deep=True).values() if hasattr(v, "fit")]
        except Exception:  # an estimator with a broken get_params still saves
            pass
    modules.update(type(p).__module__.split(".")[0] for p in parts)
    return modules


def _payload(sk_model: Any, serialization_format: str | None
             ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], set[str]]:
    import sklearn  # scikit-learn: loaded on first use, not by import mlnb

    fmt, data = serialize(sk_model, serialization_format)
    filename = FILES[fmt]
    flavors = {
        "python_function": {"loader_module": "mlnb.models.sklearn", "model_path": filename,
                            "predict_fn": "predict", "python_version": python_version(),
                            "env": {"virtualenv": "python_env.yaml"}},
        FLAVOR: {"pickled_model": filename, "serialization_format": fmt,
                 "sklearn_version": sklearn.__version__, "code": None},
    }
    return {filename: data}, flavors, _modules(sk_model, fmt)


def _signature(sk_model: Any, signature: ModelSignature | None, input_example: Any
               ) -> ModelSignature | None:
    return signature_for(getattr(sk_model, "predict", None) or (lambda x: None), signature, input_example)


def save_model(sk_model: Any, path: str | os.PathLike[str], *, signature: ModelSignature | None = None,
               input_example: Any = None, serialization_format: str | None = None, **_: Any) -> None:
    """Save a fitted scikit-learn model to a new local folder.

    As ``mlflow.sklearn.save_model``, except: the format is skops when the model round-trips with no
    untrusted type, else a pickle (``"cloudpickle"`` means a plain pickle); the keywords after
    ``path`` are keyword-only; other MLflow keywords (``conda_env``, ``pip_requirements``, ...) are
    accepted and ignored.

    :param sk_model: the fitted estimator or pipeline.
    :param path: a folder that does not exist yet, or is empty.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input, saved as ``input_example.json``.
    :param serialization_format: ``"skops"`` or ``"pickle"``; default skops when the model allows
        it.
    :param _: other MLflow keyword arguments, accepted and ignored.
    :raises AlreadyExistsError: when ``path`` exists and is not empty.
    """
    payload, flavors, modules = _payload(sk_model, serialization_format)
    files, _desc = build_model_files(
        payload, flavors, modules=modules, signature=_signature(sk_model, signature, input_example),
        input_example=input_example, run_id=None, artifact_path=None,
    )
    _write_folder(path, files)


def log_model(sk_model: Any, artifact_path: str = "model", *, signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              serialization_format: str | None = None, run_id: str | None = None,
              await_registration_for: int | None = None, reference_data: Any = None,
              model_id: str | None = None,
              **kwargs: Any) -> ModelInfo:
    """Log a fitted scikit-learn model into a run's artifacts and return its :class:`ModelInfo`.

    Without an active run (and no ``run_id``) a run is started and ended for it. With
    ``registered_model_name`` the model is also registered as that model's next version.

    Differences from ``mlflow.sklearn.log_model``: skops is the default format (see
    :func:`save_model`); the keywords after ``artifact_path`` are keyword-only; ``run_id`` is mlnb's
    addition; ``pip_requirements``, ``extra_pip_requirements``, ``conda_env``, ``pyfunc_predict_fn``
    and ``metadata`` are accepted and ignored, and any other unknown keyword is an error.

    :param sk_model: the fitted estimator or pipeline.
    :param artifact_path: the model's folder inside the run's artifacts.
    :param signature: the model's signature; default inferred from ``input_example`` and the model's
        predictions on it.
    :param input_example: a few rows of input, saved with the model.
    :param registered_model_name: also register the model under this name.
    :param serialization_format: ``"skops"`` or ``"pickle"``; default skops when the model allows
        it.
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
        "pip_requirements", "extra_pip_requirements", "conda_env", "pyfunc_predict_fn", "metadata"})

    payload, flavors, modules = _payload(sk_model, serialization_format)
    return log_built_model(
        payload, flavors, modules=modules, signature=_signature(sk_model, signature, input_example),
        input_example=input_example, artifact_path=artifact_path, run_id=run_id,
        registered_model_name=registered_model_name, model_id=model_id, reference_data=reference_data,
        fields=fields
    )


def load_model(model_uri: str, dst_path: str | None = None, *, trusted: bool = False) -> Any:
    """The scikit-learn model at ``model_uri`` (``runs:/``, ``models:/`` or a folder).

    Every file must match the sha256 its ``MLmodel`` records (and, through ``models:/``, the
    hashes pinned at registration). A pickle (or skops file with types skops does not vouch for)
    loads only if this user's mlnb wrote it into the store and it is unchanged, or the store is
    trusted (``mlnb trust``), or with ``trusted=True`` (mlnb's addition; MLflow loads any pickle).

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
        ``models:/<name>@<alias>`` or a local folder.
    :param dst_path: accepted for MLflow compatibility and ignored (the model is read in place).
    :param trusted: skip every check: only for a model whose source you trust.
    :raises UntrustedModelError: for a file that fails the checks.
    """
    location = resolve_model_uri(model_uri)
    return load_location(location, ModelDescriptor.load(location.local_dir), trusted=trusted)


def load_location(location: ModelLocation, descriptor: ModelDescriptor, *, trusted: bool) -> Any:
    """The scikit-learn model of a resolved location, after the origin gate of its model file
    and the integrity check of every file (:func:`~mlnb.models.format.check_files`).

    :param location: where the model is.
    :param descriptor: its parsed ``MLmodel``.
    :param trusted: skip the checks, as in :func:`load_model`.
    :raises InvalidParameterError: when the model has no sklearn flavor.
    """
    conf = descriptor.flavors.get(FLAVOR)
    if not isinstance(conf, dict):
        raise InvalidParameterError(f"The model at {location.uri!r} is not a scikit-learn model.")
    return load_serialized(location, descriptor, str(conf.get("pickled_model") or ""),
                           conf.get("serialization_format"), trusted=trusted)


def load_serialized(location: ModelLocation, descriptor: ModelDescriptor, filename: str, fmt: Any,
                    *, trusted: bool, vouched: frozenset[str] = frozenset()) -> Any:
    """Load a model file :func:`serialize` wrote, after the origin gate of the file and the
    integrity check of every file (:func:`~mlnb.models.format.check_files`).

    :param location: where the model is.
    :param descriptor: its parsed ``MLmodel``.
    :param filename: the model file, relative to the model folder.
    :param fmt: ``"skops"``, or anything else for a pickle.
    :param trusted: skip the checks, as in :func:`load_model`.
    :param vouched: types the calling flavor trusts in a skops file besides skops' own (never
        read from the ``MLmodel`` file: that list would be the file's own say-so).
    """
    if fmt == "skops":
        return _load_skops(location, descriptor, filename, trusted, vouched)
    path = verified_file(location, filename, runs_code=True, trusted=trusted)
    check_files(location, descriptor, trusted=trusted)
    with open(path, "rb") as handle:
        return pickle.load(handle)


def _load_skops(location: ModelLocation, descriptor: ModelDescriptor, filename: str,
                trusted: bool, vouched: frozenset[str] = frozenset()) -> Any:
    import skops.io as sio  # skops: loaded on first use, not by import mlnb

    path = verified_file(location, filename, runs_code=False, trusted=trusted)
    try:
        found = sio.get_untrusted_types(file=path)  # reads the file's schema; runs nothing
    except Exception as exc:  # zipfile, json and skops errors: not a skops file at all
        raise InvalidParameterError(
            f"{filename} of the model at {location.uri!r} is not a readable skops file "
            f"({type(exc).__name__}); it was not loaded.") from None
    untrusted = [t for t in found if t not in vouched]
    if untrusted and not trusted:
        # Types skops does not vouch for can run code on load: the same gate as a pickle.
        verified_file(location, filename, runs_code=True, trusted=False,
                      what=f"is a skops file holding types skops does not trust "
                           f"({', '.join(untrusted)})")
    check_files(location, descriptor, trusted=trusted)
    return sio.load(path, trusted=found or None)


def predict_fn(model: Any) -> Callable[[Any], Any]:
    """The pyfunc predict of a scikit-learn model.

    A DataFrame goes in as an array when the model was fitted without column names, so scikit-learn
    does not warn on every call.

    :param model: the loaded estimator.
    """
    named = hasattr(model, "feature_names_in_")

    def predict(data: Any) -> Any:
        if not named and hasattr(data, "to_numpy"):
            data = data.to_numpy()
        return model.predict(data)

    return predict
