"""Logging a built model as a logged model, in a run or without one (and registering it), shared
by every flavor's ``log_model``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlnb.entities import LoggedModel
from mlnb.errors import InvalidParameterError, MlnbError, RunStateError
from mlnb.models.format import ModelInfo, build_model_files, log_files
from mlnb.models.signature import ModelSignature, infer_schema
from mlnb.store.artifacts import safe_relpath
from mlnb.store.logged_models import check_model_id
from mlnb.tracking import fluent
from mlnb.tracking.client import current_store
from mlnb.tracking.experiment import active_experiment_id
from mlnb.tracking.fluent import register_model
from mlnb.tracking.logged_models import note_logged_model
from mlnb.tracking.model_client import EXTERNAL_MODEL_TAG


def log_built_model(
    payload: dict[str, bytes], flavors: dict[str, dict[str, Any]], *, modules: Iterable[str],
    signature: ModelSignature | None, input_example: Any, artifact_path: str,
    run_id: str | None, registered_model_name: str | None, user_files: Iterable[str] = (),
    reference_data: Any = None, model_id: str | None = None,
    fields: LoggedModelFields | None = None,
) -> ModelInfo:
    """Write the model's files as a logged model and register it under ``registered_model_name``
    if given.

    The model is MLflow 3's logged model: PENDING while its files are written, READY after
    (FAILED if writing fails). Its files go into ``run_id``'s artifacts, or the active run's;
    with no run, into the model's own folder (a logged model without a run, as MLflow 3 does).

    :param payload: the flavor's own files (name -> bytes).
    :param flavors: the ``flavors`` section of ``MLmodel``.
    :param modules: import names whose installed versions go into ``requirements.txt``.
    :param signature: the model's signature, or None.
    :param input_example: the input example, or None.
    :param artifact_path: the model's folder inside the run's artifacts; its last part is the
        logged model's name.
    :param run_id: the run, or None for the active run (or no run).
    :param registered_model_name: register the model under this name, or None.
    :param user_files: names in ``payload`` whose bytes the user supplied (recorded as ``"user"``
        files, never as the model writer's).
    :param reference_data: the data the model was trained on (a DataFrame, or
        ``mlnb.data.from_pandas(df, targets="label")`` to name its target column), saved with
        the model as a Parquet sample: the default reference of ``mlnb monitor``.
    :param model_id: log into this existing logged model (one ``initialize_logged_model`` or
        ``create_external_model`` made) instead of a new one, as MLflow 3 does: the files go
        to its folder and it keeps its name, run, params and tags.
    :param fields: MLflow 3's ``params``, ``tags`` and ``model_type`` of a new logged model
        (:func:`logged_model_fields`).
    """
    path = safe_relpath(artifact_path)
    store = current_store()
    if model_id is not None:
        logged = _existing_model(model_id, path, run_id)
        run_id, path = logged.source_run_id, logged.artifact_path or logged.name
    else:
        if run_id is None:
            active = fluent.active_run()
            run_id = None if active is None else active.run_id
        experiment_id = (store.get_run_info(run_id).experiment_id if run_id is not None
                         else active_experiment_id())
        fields = fields or LoggedModelFields()
        # MLflow 3: the model's params are the given ones, then the run's (which win)
        params = {**fields.params, **(store.get_run(run_id).data.params if run_id else {})}
        logged = store.create_logged_model(experiment_id, path.rsplit("/", 1)[-1], run_id,
                                           None if run_id is None else path, fields.model_type,
                                           params, fields.tags, status="PENDING")
    # A model without a run owns its folder: its files sit at the top of it.
    owner, folder = (logged.model_id, "") if run_id is None else (run_id, path)
    try:
        files, descriptor = build_model_files(
            payload, flavors, modules=modules, signature=signature, input_example=input_example,
            run_id=run_id, artifact_path=path, reference_data=reference_data,
            model_id=logged.model_id,
        )
        log_files(files, folder, owner, user_files)
    except BaseException:
        _finalize_quietly(logged.model_id, "FAILED")
        raise
    if EXTERNAL_MODEL_TAG in logged.tags:  # its files are now an MLflow model's, in the store
        store.delete_logged_model_tag(logged.model_id, EXTERNAL_MODEL_TAG)
    store.set_logged_model_status(logged.model_id, "READY")
    note_logged_model(logged.model_id)
    info = ModelInfo(
        # MLflow 3: models:/<model_id>; runs:/<run_id>/<path> still loads a model of a run.
        model_uri=logged.model_uri, run_id=run_id, artifact_path=path,
        signature=signature, flavors=flavors, utc_time_created=descriptor.utc_time_created,
        model_uuid=descriptor.model_uuid, mlnb_version=descriptor.mlnb_version,
        saved_input_example_info=descriptor.saved_input_example_info,
        model_id=logged.model_id, name=logged.name,
    )
    if registered_model_name is not None:
        version = register_model(info.model_uri, registered_model_name)
        info = ModelInfo(**{**info.__dict__, "registered_model_version": version.version})
    return info


def _existing_model(model_id: str, path: str, run_id: str | None) -> LoggedModel:
    """The logged model ``log_model(model_id=...)`` writes into, made PENDING for its files.

    MLflow 3 logs into a model of any status; mlnb's rule that a finalized model's files cannot
    change (what a registration pins stays) allows a READY or FAILED one only while it has no
    files (an external model, or one whose upload failed before any file).
    """
    store = current_store()
    model = store.get_logged_model(check_model_id(model_id))
    name = path.rsplit("/", 1)[-1]
    if name != "model" and name != model.name:
        raise InvalidParameterError(
            f"log_model(model_id={model_id!r}) logs into logged model {model.name!r}: its name "
            f"stays; drop name={name!r} (or pass the model's own name).")
    if run_id is not None and run_id != model.source_run_id:
        raise InvalidParameterError(
            f"Logged model {model_id} belongs to "
            f"{'run ' + model.source_run_id if model.source_run_id else 'no run'}, not run "
            f"{run_id}: its files go where the model keeps them; drop run_id=.")
    if store.artifact_files(model.source_run_id or model.model_id, model.artifact_path or ""):
        raise RunStateError(
            f"Logged model {model_id} ({model.name!r}) already has files: a model's files are "
            "written once. Initialize a new model (mlnb.initialize_logged_model) to log another.")
    if model.status != "PENDING":
        store.set_logged_model_status(model.model_id, "PENDING")
    return model


def _finalize_quietly(model_id: str, status: str) -> None:
    """Mark a model whose files could not be written FAILED, without hiding why they could not
    (a failure here, such as the store gone, leaves the first error to be seen)."""
    try:
        current_store().set_logged_model_status(model_id, status)
    except MlnbError:
        pass


def signature_for(model_predict: Any, signature: ModelSignature | None, input_example: Any
                  ) -> ModelSignature | None:
    """The given signature, or one inferred from the input example and the model's output on it.

    :param model_predict: the model's predict function (a failure leaves the outputs unknown).
    :param signature: the signature the user gave, or None.
    :param input_example: the input example, or None (then no signature is inferred).
    """
    if signature is not None or input_example is None:
        return signature
    inputs = infer_schema(input_example)
    try:
        outputs = infer_schema(model_predict(input_example))
    except Exception:  # a model that cannot predict on its example still gets an input schema
        outputs = None
    return ModelSignature(inputs, outputs)


@dataclass(frozen=True)
class LoggedModelFields:
    """What MLflow 3's ``log_model`` records on a new logged model besides its files."""

    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    model_type: str | None = None


def logged_model_fields(kwargs: dict[str, Any], model_id: str | None) -> LoggedModelFields:
    """Take MLflow 3's ``params``, ``tags``, ``model_type`` and ``step`` out of ``log_model``'s
    keyword arguments.

    ``params`` and ``tags`` (values as text) and ``model_type`` go on the new logged model.
    ``step`` is MLflow's step whose run metrics it links to the model; mlnb links no metrics to
    models, so only its default (0) is taken. Logging into an existing model (``model_id``)
    keeps that model's own params, tags and type, so giving them then is refused.

    :param kwargs: ``log_model``'s other keyword arguments (the four are removed from it).
    :param model_id: the existing logged model written into, or None.
    :raises InvalidParameterError: for a value of the wrong kind, a ``step`` other than 0, or
        fields given with ``model_id``.
    """
    params, tags = kwargs.pop("params", None), kwargs.pop("tags", None)
    model_type, step = kwargs.pop("model_type", None), kwargs.pop("step", 0)
    for name, value in (("params", params), ("tags", tags)):
        if value is not None and not isinstance(value, Mapping):
            raise InvalidParameterError(f"log_model's {name} must be a dict, not {type(value).__name__}.")
    if model_type is not None and not isinstance(model_type, str):
        raise InvalidParameterError(
            f"log_model's model_type must be text, not {type(model_type).__name__}.")
    if isinstance(step, bool) or not isinstance(step, int) or step != 0:
        raise InvalidParameterError(
            f"log_model's step={step!r} would link the run's metrics of that step to the model "
            "(MLflow 3); mlnb does not link metrics to models. Leave step out.")
    if model_id is not None and (params or tags or model_type):
        raise InvalidParameterError(
            f"log_model(model_id={model_id!r}) logs into an existing model, which keeps its own "
            "params, tags and model_type: set them with log_model_params / "
            "set_logged_model_tags instead.")
    return LoggedModelFields({str(k): str(v) for k, v in (params or {}).items()},
                             {str(k): str(v) for k, v in (tags or {}).items()}, model_type)


def artifact_path_from(artifact_path: str, kwargs: dict[str, Any], accepted: set[str]) -> str:
    """The artifact path, from MLflow's keyword arguments of ``log_model``.

    ``name=`` (MLflow 3's spelling of ``artifact_path``) is honoured, the ``accepted`` others are
    ignored, anything else is an error.

    :param artifact_path: the ``artifact_path`` argument.
    :param kwargs: the other keyword arguments of ``log_model``.
    :param accepted: MLflow keywords this flavor accepts and ignores.
    :raises InvalidParameterError: for an unknown keyword.
    """
    if kwargs.get("name") and artifact_path == "model":
        artifact_path = str(kwargs["name"])
    unknown = set(kwargs) - accepted - {"name"}
    if unknown:
        raise InvalidParameterError(f"log_model got unexpected arguments {sorted(unknown)}.")
    return artifact_path
