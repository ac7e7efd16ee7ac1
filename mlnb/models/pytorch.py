"""The PyTorch flavor: ``save_model``, ``log_model`` and ``load_model`` (``mlnb.pytorch``).

No pickle and no ``torch.load``: a module is saved as its ``state_dict`` in safetensors
(``model.safetensors``: tensors only, nothing to execute) plus a description of how to build
it again, kept in ``MLmodel``: its class's import path and constructor arguments (JSON), or for
an ``nn.Sequential`` the description of each child. The constructor arguments are the
``init_args`` given, else read from the module's attributes of the same names as its
``__init__`` parameters; either way the save builds a fresh module from them and checks that its
``state_dict`` has the same keys and shapes, so a model that could not be rebuilt is refused
when saved, not when loaded.

Loading imports the classes the description names. Classes of ``torch.nn`` load from anywhere;
importing any other class runs its module's code, so that passes the same gate as a pickle: this
user's mlnb must have written the ``MLmodel`` into the store (or the store is trusted, ``mlnb
trust``), or the caller passes ``trusted=True``. MLflow's own PyTorch flavor (pickle or
``torch.export`` archives) cannot read these folders, and mlnb does not load MLflow's.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Callable
from typing import Any

from mlnb.entities import MLMODEL
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

FLAVOR = "pytorch"
LOADER_MODULE = "mlnb.models.pytorch"
WEIGHTS = "model.safetensors"
SEQUENTIAL = "torch.nn.modules.container.Sequential"
_SAFE_PREFIX = "torch.nn."  # torch's own layers: importing them runs no code of the model's choosing
_IGNORED = MLFLOW_IGNORED | {"pickle_module", "export_model", "serialization_format"}


# --- describing a module -----------------------------------------------------------------------


def describe(module: Any, init_args: dict[str, Any] | None = None) -> dict[str, Any]:
    """How to build ``module`` again: ``{"class": path, "init_args": {...}}``, or for an
    ``nn.Sequential`` ``{"class": ..., "children": [...]}``.

    :param module: the ``torch.nn.Module``.
    :param init_args: its constructor's keyword arguments (JSON values); default read from its
        attributes named as its ``__init__`` parameters.
    :raises InvalidParameterError: for arguments that are not JSON, or a required one not found.
    """
    name = class_path(module)
    if name == SEQUENTIAL and init_args is None:
        return {"class": name, "children": [describe(child) for child in module.children()]}
    if type(module).__qualname__ != type(module).__name__ or type(module).__module__ == "__main__":
        raise InvalidParameterError(
            f"mlnb.pytorch saves modules whose class can be imported by name, not {name} (a class "
            "defined inside a function or in the notebook's __main__): move it into a module file.")
    args = dict(init_args) if init_args is not None else _init_args_from_attributes(module)
    try:
        json.dumps(args, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"The constructor arguments of {name} must be JSON values (numbers, text, lists, "
            f"dicts): {exc}. Pass init_args= with JSON values.") from None
    return {"class": name, "init_args": args}


def _init_args_from_attributes(module: Any) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for param in list(inspect.signature(type(module).__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        value = getattr(module, param.name, inspect.Parameter.empty)
        if _is_json(value):
            args[param.name] = value
        elif param.default is inspect.Parameter.empty:
            raise InvalidParameterError(
                f"mlnb.pytorch cannot tell the constructor argument {param.name!r} of "
                f"{class_path(module)} (no attribute of that name holds a JSON value). Pass "
                f"init_args={{{param.name!r}: ..., ...}} to log_model/save_model.")
    return args


def _is_json(value: Any) -> bool:
    if value is inspect.Parameter.empty:
        return False
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def classes_of(spec: dict[str, Any]) -> list[str]:
    """Every class path a description names.

    :param spec: what :func:`describe` returned (or an ``MLmodel`` holds).
    """
    found = [str(spec.get("class"))]
    for child in spec.get("children") or []:
        found += classes_of(child)
    return found


def build(spec: dict[str, Any]) -> Any:
    """A new module from its description (imports the classes it names: check them first).

    :param spec: what :func:`describe` returned.
    :raises InvalidParameterError: for a class that cannot be imported or built.
    """
    import torch  # PyTorch: loaded on first use, not by import mlnb

    name = str(spec.get("class"))
    module_name, _, attr = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attr)  # torch or the user's class
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise TypeError(f"{name} is not a torch.nn.Module class")
        if "children" in spec:
            return cls(*(build(child) for child in spec["children"]))
        return cls(**dict(spec.get("init_args") or {}))
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"The module {name} cannot be built here ({type(exc).__name__}: {exc}); its class must "
            "be importable with the same constructor arguments.") from None


def _check_rebuilds(module: Any, spec: dict[str, Any]) -> None:
    fresh = build(spec)
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
    if want != got:
        diff = sorted(set(want) ^ set(got)) or sorted(k for k in want if want[k] != got[k])
        raise InvalidParameterError(
            f"A {spec['class']} built from the constructor arguments {spec.get('init_args', {})} "
            f"does not have this model's weights (first difference: {diff[0]!r}). Pass "
            "init_args= with the arguments the model was built with.")


# --- saving --------------------------------------------------------------------------------------


def _payload(pytorch_model: Any, init_args: dict[str, Any] | None
             ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], set[str]]:
    import torch  # PyTorch: loaded on first use, not by import mlnb
    from safetensors.torch import save as save_tensors  # safetensors: with PyTorch

    if not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidParameterError(
            f"mlnb.pytorch saves a torch.nn.Module, not {type(pytorch_model).__name__}.")
    spec = describe(pytorch_model, init_args)
    _check_rebuilds(pytorch_model, spec)
    # Contiguous copies: safetensors refuses views and tensors sharing memory (tied weights).
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in pytorch_model.state_dict().items()}
    flavors = {
        "python_function": pyfunc_section(LOADER_MODULE, WEIGHTS),
        FLAVOR: {"pytorch_version": str(torch.__version__),  # a str subclass YAML refuses
                 "model_data": WEIGHTS,
                 "serialization_format": "safetensors", "module": spec, "code": None},
    }
    modules = {"torch", "safetensors", "numpy"} | {c.split(".")[0] for c in classes_of(spec)}
    return {WEIGHTS: save_tensors(tensors)}, flavors, modules


def _signature(pytorch_model: Any, signature: ModelSignature | None, input_example: Any
               ) -> ModelSignature | None:
    return signature_for(lambda x: predict_fn(pytorch_model)(x), signature, input_example)


def save_model(pytorch_model: Any, path: str | os.PathLike[str], *, signature: ModelSignature | None = None,
               input_example: Any = None, init_args: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
    """Save a ``torch.nn.Module`` to a new local folder: its ``state_dict`` in safetensors and how
    to build it (MLflow's ``mlflow.pytorch.save_model`` names; not its pickle format).

    Differences from MLflow: ``init_args`` (mlnb's) gives the constructor's keyword arguments
    (default read from the module's attributes); the keywords after ``path`` are keyword-only;
    MLflow's ``conda_env``, ``code_paths``, ``pip_requirements``, ``extra_pip_requirements``,
    ``metadata``, ``extra_files``, ``pickle_module``, ``export_model`` and
    ``serialization_format`` are accepted and ignored (the format is always safetensors).

    :param pytorch_model: the module (its class importable by name, not defined in ``__main__``).
    :param path: a folder that does not exist yet, or is empty.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input (an array or DataFrame of numbers).
    :param init_args: the constructor's keyword arguments, as JSON values.
    :param kwargs: the ignored MLflow keywords above.
    :raises InvalidParameterError: for a module that cannot be rebuilt from its description.
    :raises AlreadyExistsError: when ``path`` exists and is not empty.
    """
    check_keywords("mlnb.pytorch.save_model", kwargs, _IGNORED)
    payload, flavors, modules = _payload(pytorch_model, init_args)
    save_built(payload, flavors, modules=modules, path=path, input_example=input_example,
               signature=_signature(pytorch_model, signature, input_example))


def log_model(pytorch_model: Any, artifact_path: str = "model", *,
              signature: ModelSignature | None = None, input_example: Any = None,
              registered_model_name: str | None = None, init_args: dict[str, Any] | None = None,
              run_id: str | None = None, await_registration_for: int | None = None,
              reference_data: Any = None, model_id: str | None = None,
              **kwargs: Any) -> ModelInfo:
    """Log a ``torch.nn.Module`` into a run's artifacts (MLflow's ``mlflow.pytorch.log_model``
    names; safetensors, see :func:`save_model`).

    Without an active run (and no ``run_id``) a run is started and ended for it; with
    ``registered_model_name`` the model is also registered as that model's next version.

    :param pytorch_model: the module.
    :param artifact_path: the model's folder inside the run's artifacts.
    :param signature: the model's signature; default inferred from ``input_example``.
    :param input_example: a few rows of input, saved with the model.
    :param registered_model_name: also register the model under this name.
    :param init_args: the constructor's keyword arguments, as JSON values.
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
    fields = logged_model_fields(kwargs, model_id)
    artifact_path = artifact_path_from(artifact_path, kwargs, set(_IGNORED))
    payload, flavors, modules = _payload(pytorch_model, init_args)
    return log_built_model(
        payload, flavors, modules=modules,
        signature=_signature(pytorch_model, signature, input_example),
        input_example=input_example, artifact_path=artifact_path, run_id=run_id,
        registered_model_name=registered_model_name, model_id=model_id, reference_data=reference_data,
        fields=fields
    )


# --- loading -------------------------------------------------------------------------------------


def load_model(model_uri: str, dst_path: str | None = None, *, trusted: bool = False) -> Any:
    """The ``torch.nn.Module`` at ``model_uri``, built and filled with its weights, in eval mode.

    Every file must match the sha256 its ``MLmodel`` records (and, through ``models:/``, the
    hashes pinned at registration). A module of ``torch.nn`` classes loads from anywhere; one that
    imports other classes only if this user's mlnb wrote it into the store, the store is trusted,
    or with ``trusted=True``. ``torch.load`` is never called.

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
        ``models:/<name>@<alias>`` or a local folder.
    :param dst_path: accepted for MLflow compatibility and ignored (the model is read in place).
    :param trusted: skip every check: only for a model whose source you trust.
    :raises UntrustedModelError: for a file that fails the checks.
    """
    return load_by_uri(model_uri, lambda loc, desc, tr: load_location(loc, desc, trusted=tr),
                       trusted=trusted)


def load_location(location: ModelLocation, descriptor: ModelDescriptor, *, trusted: bool) -> Any:
    """The module of a resolved location, after the integrity checks and, for classes outside
    ``torch.nn``, the origin gate of its ``MLmodel``.

    :param location: where the model is.
    :param descriptor: its parsed ``MLmodel``.
    :param trusted: skip the checks, as in :func:`load_model`.
    :raises InvalidParameterError: for no pytorch flavor, another format, or weights that do not
        fit the module.
    """
    conf = flavor_section(location, descriptor, FLAVOR, "PyTorch")
    spec = conf.get("module")
    if conf.get("serialization_format") != "safetensors" or not isinstance(spec, dict):
        raise InvalidParameterError(
            f"The model at {location.uri!r} is not in mlnb's PyTorch format (a safetensors "
            "state_dict and a module description); mlnb does not load pickled or torch.export "
            "PyTorch models. It was not loaded.")
    foreign = [c for c in classes_of(spec) if not c.startswith(_SAFE_PREFIX)]
    if foreign and not trusted:
        verified_file(location, MLMODEL, runs_code=True, trusted=False,
                      what=f"names the class {foreign[0]} to import, which runs its module's code,")
    path = verified_file(location, str(conf.get("model_data") or WEIGHTS), runs_code=False,
                         trusted=trusted)
    check_files(location, descriptor, trusted=trusted)
    from safetensors.torch import load as load_tensors  # safetensors: with PyTorch

    module = build(spec)
    try:
        module.load_state_dict(load_tensors(path.read_bytes()), strict=True)
    except Exception as exc:  # SafetensorError, or RuntimeError for missing/unexpected keys
        raise InvalidParameterError(
            f"The weights of the model at {location.uri!r} do not fit its module "
            f"({type(exc).__name__}: {str(exc)[:300]}). It was not loaded.") from None
    return module.eval()


def predict_fn(model: Any) -> Callable[[Any], Any]:
    """The pyfunc predict of a module: the input as a tensor of the weights' dtype, no gradients,
    the output as a numpy array.

    :param model: the loaded module.
    """
    import torch  # PyTorch: loaded on first use, not by import mlnb

    dtype = next((p.dtype for p in model.parameters()), torch.float32)

    def predict(data: Any) -> Any:
        import numpy as np  # numpy: loaded on first use, not by import mlnb

        array = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
        with torch.no_grad():
            return model(torch.as_tensor(array, dtype=dtype)).cpu().numpy()

    return predict
