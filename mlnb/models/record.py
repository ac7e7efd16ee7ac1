"""Logging a built model into a run (and registering it), shared by every flavor's ``log_model``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.models.format import ModelInfo, build_model_files, log_files
from mlnb.models.signature import ModelSignature, infer_schema
from mlnb.store.artifacts import safe_relpath
from mlnb.tracking import fluent
from mlnb.tracking.client import current_store
from mlnb.tracking.fluent import register_model


def log_built_model(
    payload: dict[str, bytes], flavors: dict[str, dict[str, Any]], *, modules: Iterable[str],
    signature: ModelSignature | None, input_example: Any, artifact_path: str,
    run_id: str | None, registered_model_name: str | None, user_files: Iterable[str] = (),
    reference_data: Any = None,
) -> ModelInfo:
    """Write the model's files into a run and register it under ``registered_model_name`` if given.

    The run is ``run_id``, or the active run, or a new run ended afterwards (FAILED if writing
    fails), as MLflow does.

    :param payload: the flavor's own files (name -> bytes).
    :param flavors: the ``flavors`` section of ``MLmodel``.
    :param modules: import names whose installed versions go into ``requirements.txt``.
    :param signature: the model's signature, or None.
    :param input_example: the input example, or None.
    :param artifact_path: the model's folder inside the run's artifacts.
    :param run_id: the run, or None for the active (or a new) run.
    :param registered_model_name: register the model under this name, or None.
    :param user_files: names in ``payload`` whose bytes the user supplied (recorded as ``"user"``
        files, never as the model writer's).
    :param reference_data: the data the model was trained on (a DataFrame), saved with the
        model as a Parquet sample: the default reference of ``mlnb monitor``.
    """
    path = safe_relpath(artifact_path)
    started = None
    if run_id is None:
        active = fluent.active_run()
        if active is None:
            started = fluent.start_run()
            active = started
        run_id = active.run_id
    try:
        files, descriptor = build_model_files(
            payload, flavors, modules=modules, signature=signature, input_example=input_example,
            run_id=run_id, artifact_path=path, reference_data=reference_data,
        )
        log_files(files, path, run_id, user_files)
        store = current_store()
        # MLflow 3: the model gets an id of its own, linked to the run that logged it.
        logged = store.create_logged_model(store.get_run_info(run_id).experiment_id,
                                           path.rsplit("/", 1)[-1], run_id, path)
    except BaseException:
        if started is not None:
            fluent.end_run("FAILED")
        raise
    if started is not None:
        fluent.end_run()
    info = ModelInfo(
        # runs:/ as before (code builds paths from it); models:/<model_id> names it as well.
        model_uri=f"runs:/{run_id}/{path}", run_id=run_id, artifact_path=path,
        signature=signature, flavors=flavors, utc_time_created=descriptor.utc_time_created,
        model_uuid=descriptor.model_uuid, mlnb_version=descriptor.mlnb_version,
        saved_input_example_info=descriptor.saved_input_example_info,
        model_id=logged.model_id, name=logged.name,
    )
    if registered_model_name is not None:
        version = register_model(info.model_uri, registered_model_name)
        info = ModelInfo(**{**info.__dict__, "registered_model_version": version.version})
    return info


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
