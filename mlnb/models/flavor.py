"""What every flavor's ``save_model``, ``load_model`` and ``MLmodel`` section share.

A flavor builds its files in memory (``payload``), names them in its ``flavors`` section and
says which packages it needs; this module writes them to a folder, finds a flavor's section in a
loaded ``MLmodel``, and resolves a URI for its ``load_model``. Logging into a run is
:func:`mlnb.models.record.log_built_model`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from mlnb.capture.environment import python_version
from mlnb.errors import InvalidParameterError
from mlnb.models.format import ModelDescriptor, build_model_files, write_folder
from mlnb.models.signature import ModelSignature
from mlnb.models.uri import ModelLocation, resolve_model_uri

Loader = Callable[[ModelLocation, ModelDescriptor, bool], Any]


def save_built(payload: dict[str, bytes], flavors: dict[str, dict[str, Any]], *,
               modules: Iterable[str], signature: ModelSignature | None, input_example: Any,
               path: str | os.PathLike[str]) -> None:
    """Write a flavor's files, requirements and ``MLmodel`` to a new local folder.

    :param payload: the flavor's own files (name -> bytes).
    :param flavors: the ``flavors`` section of ``MLmodel``.
    :param modules: import names whose installed versions go into ``requirements.txt``.
    :param signature: the model's signature, or None.
    :param input_example: the input example, or None.
    :param path: a folder that does not exist yet, or is empty.
    :raises AlreadyExistsError: when ``path`` exists and is not empty.
    """
    files, _ = build_model_files(payload, flavors, modules=modules, signature=signature,
                                 input_example=input_example, run_id=None, artifact_path=None)
    write_folder(path, files)


def load_by_uri(model_uri: str, loader: Loader, *, trusted: bool) -> Any:
    """Resolve ``model_uri``, parse its ``MLmodel`` and hand both to the flavor's loader.

    :param model_uri: ``runs:/``, ``models:/`` or a local folder.
    :param loader: the flavor's ``(location, descriptor, trusted) -> model``.
    :param trusted: skip the integrity and origin checks.
    """
    location = resolve_model_uri(model_uri)
    return loader(location, ModelDescriptor.load(location.local_dir), trusted)


def flavor_section(location: ModelLocation, descriptor: ModelDescriptor, flavor: str,
                   library: str) -> dict[str, Any]:
    """The ``flavors.<flavor>`` mapping of a model, or a clear error when it has none.

    :param location: where the model is (for the message).
    :param descriptor: its parsed ``MLmodel``.
    :param flavor: the flavor's name in ``MLmodel``.
    :param library: the library's name as users know it ("XGBoost").
    :raises InvalidParameterError: when the section is missing or not a mapping.
    """
    conf = descriptor.flavors.get(flavor)
    if not isinstance(conf, dict):
        found = ", ".join(sorted(descriptor.flavors)) or "none"
        raise InvalidParameterError(
            f"The model at {location.uri!r} has no {flavor} flavor, so it is not a model of "
            f"{library} (its flavors: {found}); load it with mlnb.pyfunc.load_model or its own "
            "flavor's load_model.")
    return conf


def pyfunc_section(loader_module: str, filename: str) -> dict[str, Any]:
    """The ``python_function`` section MLflow writes for a flavor whose model is one file.

    :param loader_module: the module MLflow imports to load it (``mlflow.xgboost``); mlnb maps it
        to its own loader and never imports the name it reads.
    :param filename: the model file, relative to the model folder.
    """
    return {"loader_module": loader_module, "data": filename, "python_version": python_version(),
            "env": {"virtualenv": "python_env.yaml"}}


def class_path(obj: Any) -> str:
    """``module.QualifiedName`` of an object's class (MLflow's ``model_class``).

    :param obj: any object.
    """
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def check_keywords(function: str, kwargs: dict[str, Any], accepted: Iterable[str]) -> None:
    """Refuse keywords a flavor function neither uses nor accepts for MLflow compatibility.

    :param function: the function's name, for the message (``"mlnb.xgboost.save_model"``).
    :param kwargs: its extra keyword arguments.
    :param accepted: the MLflow keywords it accepts and ignores.
    :raises InvalidParameterError: naming the unknown keywords.
    """
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise InvalidParameterError(f"{function} got unexpected arguments {unknown}.")


MLFLOW_IGNORED = frozenset({
    "conda_env", "code_paths", "pip_requirements", "extra_pip_requirements", "metadata",
    "extra_files"})
"""MLflow ``log_model`` keywords the new flavors accept and ignore (documented on each); MLflow 3's
``params``, ``tags``, ``model_type`` and ``step`` are taken by
:func:`mlnb.models.record.logged_model_fields`."""
