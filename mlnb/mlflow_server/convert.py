"""mlnb's records as MLflow's JSON messages (proto field names, int64 as numbers, ids as text).

Artifact locations are MLflow's proxied form, ``mlflow-artifacts:/<experiment>/<run>/artifacts``
(and ``mlflow-artifacts:/<experiment>/models/<model id>/artifacts`` for a logged model), which an
MLflow client resolves against its tracking URI, so its uploads and downloads come back here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlnb.entities import (
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    ModelVersion,
    RegisteredModel,
    RunInfo,
)

LOGGED_MODEL_STATUS = {"PENDING": "LOGGED_MODEL_PENDING", "READY": "LOGGED_MODEL_READY",
                       "FAILED": "LOGGED_MODEL_UPLOAD_FAILED"}
"""mlnb's logged model status -> MLflow's ``LoggedModelStatus`` name."""


def key_values(values: Mapping[str, str]) -> list[dict[str, str]]:
    """A dict as MLflow's repeated ``{key, value}`` messages, in key order.

    :param values: params or tags.
    """
    return [{"key": k, "value": v} for k, v in sorted(values.items())]


def experiment_location(experiment_id: str) -> str:
    """An experiment's ``artifact_location`` as MLflow's proxied artifact URI.

    :param experiment_id: the experiment.
    """
    return f"mlflow-artifacts:/{experiment_id}"


def run_artifact_uri(info: RunInfo) -> str:
    """A run's ``artifact_uri`` as MLflow's proxied artifact URI.

    :param info: the run.
    """
    return f"{experiment_location(info.experiment_id)}/{info.run_id}/artifacts"


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    """An ``Experiment`` message.

    :param experiment: the experiment.
    """
    found: dict[str, Any] = {
        "experiment_id": experiment.experiment_id, "name": experiment.name,
        "artifact_location": experiment_location(experiment.experiment_id),
        "lifecycle_stage": experiment.lifecycle_stage,
    }
    if experiment.last_update_time is not None:
        found["last_update_time"] = experiment.last_update_time
    if experiment.creation_time is not None:
        found["creation_time"] = experiment.creation_time
    if experiment.tags:
        found["tags"] = key_values(experiment.tags)
    return found


def run_info_json(info: RunInfo) -> dict[str, Any]:
    """A ``RunInfo`` message (``run_uuid`` beside ``run_id``, as MLflow still sends it).

    :param info: the run.
    """
    found: dict[str, Any] = {
        "run_uuid": info.run_id, "run_id": info.run_id, "experiment_id": info.experiment_id,
        "run_name": info.run_name, "user_id": info.user_id, "status": info.status,
        "start_time": info.start_time, "artifact_uri": run_artifact_uri(info),
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.end_time is not None:
        found["end_time"] = info.end_time
    return found


def metric_json(metric: Metric, run_id: str | None = None) -> dict[str, Any]:
    """A ``Metric`` message.

    :param metric: the point.
    :param run_id: its run, for the messages that carry it.
    """
    found: dict[str, Any] = {"key": metric.key, "value": metric.value,
                             "timestamp": metric.timestamp, "step": metric.step}
    if run_id is not None:
        found["run_id"] = run_id
    return found


def dataset_input_json(item: DatasetInput) -> dict[str, Any]:
    """A ``DatasetInput`` message: ``{tags: [{key, value}], dataset: {name, digest, ...}}``
    (schema and profile only when recorded, as MLflow's proto JSON leaves unset fields out).

    :param item: the input.
    """
    d = item.dataset
    dataset: dict[str, Any] = {"name": d.name, "digest": d.digest, "source_type": d.source_type,
                               "source": d.source}
    if d.schema:
        dataset["schema"] = d.schema
    if d.profile:
        dataset["profile"] = d.profile
    found: dict[str, Any] = {"dataset": dataset}
    if item.tags:
        found["tags"] = key_values(item.tags)
    return found


def run_json(info: RunInfo, params: Mapping[str, str], tags: Mapping[str, str],
             metrics: Sequence[Metric], models: Sequence[str],
             datasets: Sequence[DatasetInput] = (), model_inputs: Sequence[str] = ()
             ) -> dict[str, Any]:
    """A ``Run`` message: info, data (latest metrics, params, tags), inputs and outputs.

    :param info: the run.
    :param params: its params.
    :param tags: its tags.
    :param metrics: the latest point of each of its metrics.
    :param models: the ids of the models it logged (its ``outputs``).
    :param datasets: the datasets it used (``inputs.dataset_inputs``).
    :param model_inputs: the ids of the logged models it used (``inputs.model_inputs``).
    """
    data: dict[str, Any] = {}
    if metrics:
        data["metrics"] = [metric_json(m) for m in metrics]
    if params:
        data["params"] = key_values(params)
    if tags:
        data["tags"] = key_values(tags)
    outputs: dict[str, Any] = {}
    if models:
        outputs["model_outputs"] = [{"model_id": m, "step": 0} for m in models]
    inputs: dict[str, Any] = {}
    if datasets:
        inputs["dataset_inputs"] = [dataset_input_json(d) for d in datasets]
    if model_inputs:
        inputs["model_inputs"] = [{"model_id": m} for m in model_inputs]
    return {"info": run_info_json(info), "data": data, "inputs": inputs, "outputs": outputs}


def logged_model_json(model: LoggedModel) -> dict[str, Any]:
    """A ``LoggedModel`` message (info and data).

    :param model: the logged model.
    """
    info: dict[str, Any] = {
        "model_id": model.model_id, "experiment_id": model.experiment_id, "name": model.name,
        "creation_timestamp_ms": model.creation_timestamp,
        "last_updated_timestamp_ms": model.last_updated_timestamp,
        "artifact_uri": f"{experiment_location(model.experiment_id)}/models/{model.model_id}/artifacts",
        "status": LOGGED_MODEL_STATUS.get(model.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
        "model_type": model.model_type or "",
    }
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.tags:
        info["tags"] = key_values(model.tags)
    data: dict[str, Any] = {}
    if model.params:
        data["params"] = key_values(model.params)
    return {"info": info, "data": data}


def model_version_json(version: ModelVersion) -> dict[str, Any]:
    """A ``ModelVersion`` message.

    :param version: the version.
    """
    found: dict[str, Any] = {
        "name": version.name, "version": version.version,
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
        "user_id": version.user_id, "current_stage": version.current_stage,
        "description": version.description or "", "source": version.source,
        "status": version.status, "run_link": "",
    }
    if version.run_id:
        found["run_id"] = version.run_id
    if version.model_id:
        found["model_id"] = version.model_id
    if version.tags:
        found["tags"] = key_values(version.tags)
    if version.aliases:
        found["aliases"] = sorted(version.aliases)
    return found


def registered_model_json(model: RegisteredModel) -> dict[str, Any]:
    """A ``RegisteredModel`` message.

    :param model: the registered model.
    """
    found: dict[str, Any] = {
        "name": model.name, "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "description": model.description or "",
    }
    if model.latest_versions:
        found["latest_versions"] = [model_version_json(v) for v in model.latest_versions]
    if model.tags:
        found["tags"] = key_values(model.tags)
    if model.aliases:
        found["aliases"] = [{"alias": a, "version": v} for a, v in sorted(model.aliases.items())]
    return found
