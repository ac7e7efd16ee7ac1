"""The LightGBM flavor: ``save_model``, ``log_model`` and ``load_model`` (``mlnb.lightgbm``).

A ``lightgbm.Booster`` is saved as LightGBM's own text model (``model.lgb``, ``model_to_string``)
and loaded with ``lightgbm.Booster(model_str=...)``: no pickle. A scikit-learn model
(``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``) is saved with skops, as MLflow does,
when skops can hold it with no types but skops' own and LightGBM's (:data:`SKOPS_TYPES`, a fixed
list, never the ``skops_trusted_types`` an ``MLmodel`` file claims); otherwise (a custom
objective function, say) it is pickled, and the pickle loads only under the scikit-learn
flavor's rules (this user's mlnb wrote it into the store, or ``trusted=True``). The ``MLmodel``
sections are MLflow's (``lightgbm``: ``lgb_version``, ``data``, ``model_class``,
``serialization_format``, ``skops_trusted_types``, ``code``; ``python_function`` with
``loader_module: mlflow.lightgbm``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.models import sklearn
from mlnb.models.flavor import (
    MLFLOW_IGNORED,
    check_keywords,
    class_path,
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

FLAVOR = "lightgbm"
LOADER_MODULE = "mlflow.lightgbm"
BOOSTER = "lightgbm.basic.Booster"
BOOSTER_FILE = "model.lgb"
WRAPPERS = ("lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor",
            "lightgbm.sklearn.LGBMRanker")
SKOPS_TYPES = frozenset({"collections.OrderedDict", BOOSTER, *WRAPPERS})
"""Types a skops file of this flavor may hold besides skops' own: loading them sets a Booster
from its text model and a wrapper's attributes, and runs no code of the file's choosing."""
_IGNORED = MLFLOW_IGNORED | {"skops_trusted_types"}


def _payload(lgb_model: Any, serialization_format: str | None
             ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], set[str]]:
    import lightgbm  # LightGBM: loaded on first use, not by import mlnb

    model_class = class_path(lgb_model)
    modules = {"lightgbm", "numpy", "scipy", "pandas"}
    if isinstance(lgb_model, lightgbm.Booster):
        filename, fmt, trusted_types = BOOSTER_FILE, None, None
        data = lgb_model.model_to_string().encode("utf-8")
    elif isinstance(lgb_model, lightgbm.LGBMModel):
        if not lgb_model.__sklearn_is_fitted__():
            raise InvalidParameterError("This LightGBM model is not fitted; fit it first.")
        fmt, data = sklearn.serialize(lgb_model, serialization_format, SKOPS_TYPES)
        filename = sklearn.FILES[fmt]
        trusted_types = sorted(SKOPS_TYPES) if fmt == "skops" else None
        modules |= {"sklearn"} | ({"skops"} if fmt == "skops" else set())
    else:
        raise InvalidParameterError(
            f"mlnb.lightgbm saves a lightgbm.Booster or one of LightGBM's scikit-learn models "
            f"(LGBMClassifier, LGBMRegressor, LGBMRanker), not {model_class}.")
    flavors = {
        "python_function": pyfunc_section(LOADER_MODULE, filename),
        FLAVOR: {"lgb_version": lightgbm.__version__, "data": filename, "model_class": model_class,
                 "code": None, "serialization_format": fmt, "skops_trusted_types": trusted_types},
    }
    return {filename: data}, flavors, modules


def _signature(lgb_model: Any, signature: ModelSignature | None, input_example: Any
               ) -> ModelSignature | None:
    return signature_for(lambda x: lgb_model.predict(x), signature, input_example)


def save_model(lgb_model: Any, path: str | os.PathLike[str], *, signature: ModelSignature | None = None,
               input_example: Any = None, serialization_format: str | None = None,
               **kwargs: Any) -> None:
    """Save a fitted LightGBM model to a new local folder (MLflow's ``mlflow.lightgbm.save_model``).

    A Booster is saved as LightGBM's text model; a scikit-learn model with skops when it holds
    only skops' and LightGBM's types, else as a pickle (``serialization_format`` forces either).
    Differences from MLflow: the keywords after ``path`` are keyword-only; ``conda_env``,
    ``code_paths``, ``pip_requirements``, ``extra_pip_requirements``, ``metadata``,
    ``extra_files`` and ``skops_trusted_types`` are accepted and ignored (mlnb trusts a fixed list
    of LightGBM types), any other keyword is an error.

    :param lgb_model: a ``lightgbm.Booster`` or a fitted ``LGBMClassifier``/``LGBMRegressor``/...
    :param path: a folder that does not exist yet, or is empty.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input, saved as ``input_example.json``.
    :param serialization_format: for a scikit-learn model, ``"skops"`` or ``"pickle"``
        (``"cloudpickle"`` means a plain pickle); ignored for a Booster.
    :param kwargs: the ignored MLflow keywords above.
    :raises AlreadyExistsError: when ``path`` exists and is not empty.
    """
    check_keywords("mlnb.lightgbm.save_model", kwargs, _IGNORED)
    payload, flavors, modules = _payload(lgb_model, serialization_format)
    save_built(payload, flavors, modules=modules, path=path, input_example=input_example,
               signature=_signature(lgb_model, signature, input_example))


def log_model(lgb_model: Any, artifact_path: str = "model", *, signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              serialization_format: str | None = None, run_id: str | None = None,
              await_registration_for: int | None = None, reference_data: Any = None,
              model_id: str | None = None,
              **kwargs: Any) -> ModelInfo:
    """Log a fitted LightGBM model into a run's artifacts (MLflow's ``mlflow.lightgbm.log_model``).

    Without an active run (and no ``run_id``) a run is started and ended for it; with
    ``registered_model_name`` the model is also registered as that model's next version.
    Formats and differences from MLflow as in :func:`save_model`; ``run_id`` is mlnb's addition,
    and MLflow 3's ``params``, ``tags`` and ``model_type`` go on the logged model, and ``step``
    is taken only as its default (see :func:`mlnb.models.record.logged_model_fields`).

    :param lgb_model: a ``lightgbm.Booster`` or a fitted LightGBM scikit-learn model.
    :param artifact_path: the model's folder inside the run's artifacts.
    :param signature: the model's signature; default inferred from ``input_example`` and the
        model's predictions on it.
    :param input_example: a few rows of input, saved with the model.
    :param registered_model_name: also register the model under this name.
    :param serialization_format: for a scikit-learn model, ``"skops"`` or ``"pickle"``.
    :param run_id: log into this run instead of the active one.
    :param await_registration_for: accepted for MLflow compatibility; registration is immediate.
    :param reference_data: the data the model was trained on (a DataFrame, or
        ``mlnb.data.from_pandas(df, targets="label")`` to name its target column), saved
        with it as a Parquet sample (hash-recorded): the default reference of ``mlnb monitor``.
    :param model_id: log into this existing logged model (made by ``initialize_logged_model``
        or ``create_external_model``) instead of a new one, as MLflow 3 does.
    :param kwargs: ``name=`` (MLflow 3's spelling of ``artifact_path``) and the ignored keywords.
    """
    fields = logged_model_fields(kwargs, model_id)
    artifact_path = artifact_path_from(artifact_path, kwargs, set(_IGNORED))
    payload, flavors, modules = _payload(lgb_model, serialization_format)
    return log_built_model(
        payload, flavors, modules=modules, signature=_signature(lgb_model, signature, input_example),
        input_example=input_example, artifact_path=artifact_path, run_id=run_id,
        registered_model_name=registered_model_name, model_id=model_id, reference_data=reference_data,
        fields=fields
    )


def load_model(model_uri: str, dst_path: str | None = None, *, trusted: bool = False) -> Any:
    """The LightGBM model at ``model_uri``: a ``Booster`` or the scikit-learn model it was saved as.

    Every file must match the sha256 its ``MLmodel`` records (and, through ``models:/``, the
    hashes pinned at registration). A text model or a skops file of LightGBM's types loads from
    anywhere; a pickle only as :func:`mlnb.sklearn.load_model` allows.

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
        ``models:/<name>@<alias>`` or a local folder.
    :param dst_path: accepted for MLflow compatibility and ignored (the model is read in place).
    :param trusted: skip every check: only for a model whose source you trust.
    :raises UntrustedModelError: for a file that fails the checks.
    """
    return load_by_uri(model_uri, lambda loc, desc, tr: load_location(loc, desc, trusted=tr),
                       trusted=trusted)


def load_location(location: ModelLocation, descriptor: ModelDescriptor, *, trusted: bool) -> Any:
    """The LightGBM model of a resolved location, after the integrity (and, for a pickle, origin)
    checks.

    :param location: where the model is.
    :param descriptor: its parsed ``MLmodel``.
    :param trusted: skip the checks, as in :func:`load_model`.
    :raises InvalidParameterError: for no lightgbm flavor, a class mlnb does not load, or a file
        LightGBM cannot read.
    """
    conf = flavor_section(location, descriptor, FLAVOR, "LightGBM")
    model_class = str(conf.get("model_class") or BOOSTER)
    filename = str(conf.get("data") or "")
    if model_class in WRAPPERS:
        return sklearn.load_serialized(location, descriptor, filename, conf.get("serialization_format"),
                                       trusted=trusted, vouched=SKOPS_TYPES)
    if model_class != BOOSTER:
        raise InvalidParameterError(
            f"The model at {location.uri!r} names the class {model_class!r}, which mlnb does not "
            f"load (it loads: {', '.join((BOOSTER, *WRAPPERS))}). It was not loaded.")
    path = verified_file(location, filename, runs_code=False, trusted=trusted)
    check_files(location, descriptor, trusted=trusted)
    import lightgbm  # LightGBM: loaded on first use, not by import mlnb

    try:
        return lightgbm.Booster(model_str=path.read_text(encoding="utf-8"))
    except (lightgbm.basic.LightGBMError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{filename} of the model at {location.uri!r} is not a LightGBM text model "
            f"({type(exc).__name__}). It was not loaded.") from None


def predict_fn(model: Any) -> Callable[[Any], Any]:
    """The pyfunc predict of a LightGBM model (a Booster and a scikit-learn model alike).

    :param model: the loaded Booster or scikit-learn model.
    """
    return model.predict  # type: ignore[no-any-return]
