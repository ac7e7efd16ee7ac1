"""The XGBoost flavor: ``save_model``, ``log_model`` and ``load_model`` (``mlnb.xgboost``).

No pickle anywhere: a ``Booster`` or one of XGBoost's scikit-learn models (``XGBClassifier``,
``XGBRegressor``, ...) is saved with its own ``save_model`` as UBJSON (``model.ubj``, the
default) or JSON, which also keeps the scikit-learn wrapper's attributes (classes, parameters),
and is loaded by creating an empty model of the recorded class and calling its
``load_model``. The class comes from an allowlist, never imported by the name the ``MLmodel``
file gives (that name is data). The ``MLmodel`` sections are MLflow's (``xgboost``:
``xgb_version``, ``data``, ``model_class``, ``model_format``, ``code``; ``python_function`` with
``loader_module: mlflow.xgboost``), so MLflow loads these models and mlnb loads MLflow's.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlnb.errors import InvalidParameterError
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

FLAVOR = "xgboost"
LOADER_MODULE = "mlflow.xgboost"
FORMATS = ("ubj", "json")
CLASSES = {
    "xgboost.core.Booster": ("xgboost.core", "Booster"),
    "xgboost.sklearn.XGBClassifier": ("xgboost.sklearn", "XGBClassifier"),
    "xgboost.sklearn.XGBRegressor": ("xgboost.sklearn", "XGBRegressor"),
    "xgboost.sklearn.XGBRanker": ("xgboost.sklearn", "XGBRanker"),
    "xgboost.sklearn.XGBRFClassifier": ("xgboost.sklearn", "XGBRFClassifier"),
    "xgboost.sklearn.XGBRFRegressor": ("xgboost.sklearn", "XGBRFRegressor"),
}
"""The classes mlnb saves and loads: ``model_class`` -> (module, name)."""


def _format(model_format: str) -> str:
    name = str(model_format).lower()
    if name not in FORMATS:
        raise InvalidParameterError(
            f"model_format {model_format!r} is not supported; use 'ubj' (UBJSON, the default) or "
            "'json' (XGBoost's deprecated binary 'xgb' and pickles are not written).")
    return name


def _model_class(xgb_model: Any) -> str:
    name = class_path(xgb_model)
    if name not in CLASSES:
        raise InvalidParameterError(
            f"mlnb.xgboost saves an xgboost.Booster or one of XGBoost's scikit-learn models "
            f"({', '.join(n.rsplit('.', 1)[1] for n in CLASSES if 'sklearn' in n)}), not "
            f"{name}. Save the fitted booster (model.get_booster()) or wrap a custom class in "
            "an mlnb.pyfunc.PythonModel.")
    return name


def _model_bytes(xgb_model: Any, fmt: str) -> bytes:
    # XGBModel.save_model writes the scikit-learn attributes into the file too; it takes a path.
    with tempfile.TemporaryDirectory(prefix="mlnb-xgb-") as tmp:
        target = Path(tmp) / f"model.{fmt}"
        try:
            xgb_model.save_model(str(target))
        except Exception as exc:  # an unfitted scikit-learn model has no booster
            raise InvalidParameterError(
                f"This XGBoost model cannot be saved ({type(exc).__name__}: {exc}); fit it first."
            ) from None
        return target.read_bytes()


def _payload(xgb_model: Any, model_format: str
             ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], set[str]]:
    import xgboost  # XGBoost: loaded on first use, not by import mlnb

    model_class = _model_class(xgb_model)
    fmt = _format(model_format)
    filename = f"model.{fmt}"
    flavors = {
        "python_function": pyfunc_section(LOADER_MODULE, filename),
        FLAVOR: {"xgb_version": xgboost.__version__, "data": filename, "model_class": model_class,
                 "model_format": fmt, "code": None},
    }
    modules = {"xgboost", "numpy", "scipy", "pandas"}
    if ".sklearn." in model_class:
        modules.add("sklearn")
    return {filename: _model_bytes(xgb_model, fmt)}, flavors, modules


def _signature(xgb_model: Any, signature: ModelSignature | None, input_example: Any
               ) -> ModelSignature | None:
    return signature_for(lambda x: predict_fn(xgb_model)(x), signature, input_example)


def save_model(xgb_model: Any, path: str | os.PathLike[str], *, signature: ModelSignature | None = None,
               input_example: Any = None, model_format: str = "ubj", **kwargs: Any) -> None:
    """Save a fitted XGBoost model to a new local folder (MLflow's ``mlflow.xgboost.save_model``).

    Differences from MLflow: the keywords after ``path`` are keyword-only; ``model_format`` is
    ``"ubj"`` or ``"json"`` (not the deprecated ``"xgb"``); ``conda_env``, ``code_paths``,
    ``pip_requirements``, ``extra_pip_requirements``, ``metadata`` and ``extra_files`` are
    accepted and ignored (requirements are pinned from what is installed), any other keyword is
    an error.

    :param xgb_model: an ``xgboost.Booster`` or a fitted ``XGBClassifier``/``XGBRegressor``/...
    :param path: a folder that does not exist yet, or is empty.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input, saved as ``input_example.json``.
    :param model_format: ``"ubj"`` (UBJSON, default) or ``"json"``.
    :param kwargs: the ignored MLflow keywords above.
    :raises AlreadyExistsError: when ``path`` exists and is not empty.
    """
    check_keywords("mlnb.xgboost.save_model", kwargs, MLFLOW_IGNORED)
    payload, flavors, modules = _payload(xgb_model, model_format)
    save_built(payload, flavors, modules=modules, path=path, input_example=input_example,
               signature=_signature(xgb_model, signature, input_example))


def log_model(xgb_model: Any, artifact_path: str = "model", *, signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              model_format: str = "ubj", run_id: str | None = None,
              await_registration_for: int | None = None, reference_data: Any = None,
              model_id: str | None = None,
              **kwargs: Any) -> ModelInfo:
    """Log a fitted XGBoost model into a run's artifacts (MLflow's ``mlflow.xgboost.log_model``).

    Without an active run (and no ``run_id``) a run is started and ended for it; with
    ``registered_model_name`` the model is also registered as that model's next version.
    Differences from MLflow as in :func:`save_model`; ``run_id`` is mlnb's addition, and
    MLflow 3's ``params``, ``tags`` and ``model_type`` go on the logged model, and ``step``
    is taken only as its default (see :func:`mlnb.models.record.logged_model_fields`).

    :param xgb_model: an ``xgboost.Booster`` or a fitted XGBoost scikit-learn model.
    :param artifact_path: the model's folder inside the run's artifacts.
    :param signature: the model's signature; default inferred from ``input_example`` and the
        model's predictions on it.
    :param input_example: a few rows of input, saved with the model.
    :param registered_model_name: also register the model under this name.
    :param model_format: ``"ubj"`` (UBJSON, default) or ``"json"``.
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
    artifact_path = artifact_path_from(artifact_path, kwargs, set(MLFLOW_IGNORED))
    payload, flavors, modules = _payload(xgb_model, model_format)
    return log_built_model(
        payload, flavors, modules=modules, signature=_signature(xgb_model, signature, input_example),
        input_example=input_example, artifact_path=artifact_path, run_id=run_id,
        registered_model_name=registered_model_name, model_id=model_id, reference_data=reference_data,
        fields=fields
    )


def load_model(model_uri: str, dst_path: str | None = None, *, trusted: bool = False) -> Any:
    """The XGBoost model at ``model_uri``: a ``Booster`` or the scikit-learn model it was saved as.

    Every file must match the sha256 its ``MLmodel`` records (and, through ``models:/``, the
    hashes pinned at registration); a changed file is refused. Loading runs no code of the
    file's choosing (UBJSON/JSON, a class from mlnb's allowlist).

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
        ``models:/<name>@<alias>`` or a local folder.
    :param dst_path: accepted for MLflow compatibility and ignored (the model is read in place).
    :param trusted: skip the integrity checks (a folder you vouch for, e.g. one MLflow wrote).
    :raises UntrustedModelError: for a file that fails the checks.
    """
    return load_by_uri(model_uri, lambda loc, desc, tr: load_location(loc, desc, trusted=tr),
                       trusted=trusted)


def load_location(location: ModelLocation, descriptor: ModelDescriptor, *, trusted: bool) -> Any:
    """The XGBoost model of a resolved location, after the integrity check of every file.

    :param location: where the model is.
    :param descriptor: its parsed ``MLmodel``.
    :param trusted: skip the checks, as in :func:`load_model`.
    :raises InvalidParameterError: for no xgboost flavor, a class or format mlnb does not load,
        or a file XGBoost cannot read.
    """
    conf = flavor_section(location, descriptor, FLAVOR, "XGBoost")
    model_class = str(conf.get("model_class") or "xgboost.core.Booster")
    if model_class not in CLASSES:
        raise InvalidParameterError(
            f"The model at {location.uri!r} names the class {model_class!r}, which mlnb does not "
            f"load (it loads: {', '.join(CLASSES)}). It was not loaded.")
    filename = str(conf.get("data") or "")
    fmt = str(conf.get("model_format") or Path(filename).suffix.lstrip("."))
    if fmt not in FORMATS:
        raise InvalidParameterError(
            f"The model at {location.uri!r} is saved as {fmt!r}; mlnb reads XGBoost's 'ubj' and "
            "'json' formats only. It was not loaded.")
    path = verified_file(location, filename, runs_code=False, trusted=trusted)
    check_files(location, descriptor, trusted=trusted)
    module, name = CLASSES[model_class]
    model = getattr(importlib.import_module(module), name)()  # XGBoost: allowlisted class
    try:
        model.load_model(str(path))
    except Exception as exc:  # xgboost.core.XGBoostError: a file XGBoost cannot parse
        raise InvalidParameterError(
            f"{filename} of the model at {location.uri!r} is not a model XGBoost can read "
            f"({type(exc).__name__}). It was not loaded.") from None
    return model


def predict_fn(model: Any) -> Callable[[Any], Any]:
    """The pyfunc predict of an XGBoost model (a ``Booster`` gets its input as a ``DMatrix``).

    :param model: the loaded Booster or scikit-learn model.
    """
    import xgboost  # XGBoost: loaded on first use, not by import mlnb

    if isinstance(model, xgboost.Booster):
        def predict(data: Any) -> Any:
            return model.predict(xgboost.DMatrix(data))

        return predict
    return model.predict  # type: ignore[no-any-return]
