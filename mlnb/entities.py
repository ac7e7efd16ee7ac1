"""Plain, frozen, JSON-ready records: what the store returns and every front end shows.

Names and attributes follow MLflow's entities (``run.info.run_id``, ``run.data.metrics``) so that
code written against MLflow reads the same values from mlnb.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

MLMODEL = "MLmodel"
"""The descriptor file of a model folder (flavors, signature, the sha256 of every file)."""

MODEL_ORIGIN = "model"
"""The artifact origin the store records for the files mlnb's model writer (``log_model``) wrote."""


class RunStatus:
    """A run's lifecycle states, as MLflow names them."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)

    @staticmethod
    def is_terminated(status: str) -> bool:
        """Whether ``status`` is FINISHED, FAILED or KILLED.

        :param status: a run status.
        """
        return status in RunStatus.TERMINAL

    @staticmethod
    def to_string(status: str) -> str:
        """The status's name (statuses are already strings here, unlike MLflow's integers).

        :param status: a run status.
        """
        return status


class ViewType:
    """Which lifecycle stages a search returns (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @staticmethod
    def stages(view_type: int) -> tuple[str, ...]:
        """The lifecycle stages a view type selects.

        :param view_type: ``ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        """
        return {1: ("active",), 2: ("deleted",), 3: ("active", "deleted")}[view_type]


class LifecycleStage:
    """Whether an experiment or run is active or deleted (deleted ones can be restored)."""
    ACTIVE = "active"
    DELETED = "deleted"


def _to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


class MlflowIterable:
    """``dict(entity)`` as MLflow's entities give it: ``(name, value)`` pairs, sorted by name, for
    the names MLflow's entity has. A name mlnb does not record has MLflow's empty value (None);
    mlnb's own extra fields (such as a file's ``sha256``) are left out, and stay in ``to_dict()``.
    As in MLflow, nested entities stay entities (``dict(run)["info"]`` is a ``RunInfo``).
    """

    _MLFLOW_ONLY: ClassVar[tuple[str, ...]] = ()
    _MLNB_ONLY: ClassVar[tuple[str, ...]] = ()

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                  if f.name not in self._MLNB_ONLY}
        for name in self._MLFLOW_ONLY:
            values.setdefault(name, None)
        for name in sorted(values):
            yield name, values[name]


@dataclass(frozen=True)
class Experiment(MlflowIterable):
    """An experiment: its id, unique name, artifact folder, lifecycle stage, tags and times (ms)."""

    _MLFLOW_ONLY = ("effective_trace_archival_retention", "trace_location", "workspace")
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The experiment as a JSON-ready dict."""
        return _to_dict(self)


@dataclass(frozen=True)
class Metric(MlflowIterable):
    """One metric point: key, value, timestamp (ms since the epoch) and step."""

    _MLFLOW_ONLY = ("dataset_digest", "dataset_name", "model_id", "run_id")
    key: str
    value: float
    timestamp: int
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The point as a JSON-ready dict."""
        return _to_dict(self)


@dataclass(frozen=True)
class Param(MlflowIterable):
    """A run's param; the value is text."""
    key: str
    value: str


@dataclass(frozen=True)
class RunTag(MlflowIterable):
    """A run's tag; the value is text."""
    key: str
    value: str


@dataclass(frozen=True)
class RunInfo(MlflowIterable):
    """A run's metadata: ids, name, status, times (ms; ``end_time`` None while unfinished), artifact
    URI, lifecycle stage and user.
    """
    run_id: str
    experiment_id: str
    run_name: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    user_id: str = ""

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for ``run_id``."""
        return self.run_id


@dataclass(frozen=True)
class RunData(MlflowIterable):
    """A run's params, latest metric values and tags, each a dict by key."""
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run(MlflowIterable):
    """A run: its ``info`` and its ``data``."""

    _MLFLOW_ONLY = ("inputs", "outputs")
    info: RunInfo
    data: RunData

    def to_dict(self) -> dict[str, Any]:
        """The run as ``{"info": {...}, "data": {...}}``."""
        return _to_dict(self)

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's name for :meth:`to_dict` (``{"info": {...}, "data": {...}}``)."""
        return self.to_dict()


@dataclass(frozen=True)
class FileInfo(MlflowIterable):
    """One artifact, or one folder of artifacts (``is_dir``), relative to its run's root."""

    _MLNB_ONLY = ("sha256",)

    path: str
    is_dir: bool
    file_size: int | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The file info as a JSON-ready dict."""
        return _to_dict(self)


def json_safe_float(value: float) -> float | str:
    """NaN and infinities as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (valid JSON).

    :param value: the number.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


# --- model registry ---------------------------------------------------------------------------


class ModelVersionStage:
    """The closed set of registry stages (MLflow's), and their canonical spelling."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"
    ALL = (NONE, STAGING, PRODUCTION, ARCHIVED)

    @staticmethod
    def canonical(stage: str | None) -> str | None:
        """The canonical name of ``stage`` (any case, surrounding blanks ignored), or None.

        :param stage: a stage name, or None.
        """
        if stage is None:
            return None
        wanted = str(stage).strip().lower()
        for name in ModelVersionStage.ALL:
            if name.lower() == wanted:
                return name
        return None


@dataclass(frozen=True)
class ModelVersion(MlflowIterable):
    """One numbered version of a registered model. ``source`` reads ``models:/m-<id>`` when the
    version is a logged model (MLflow 3), else the ``runs:/`` URI of its folder; where its files
    are is ``storage_location`` (mlnb-only): the ``runs:/`` folder, or ``models:/m-<id>`` for a
    logged model without a run."""

    _MLFLOW_ONLY = ("deployment_job_state", "metrics", "params", "run_link",
                    "status_message", "workspace")
    _MLNB_ONLY = ("storage_location",)

    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str = ""
    user_id: str = ""
    current_stage: str = ModelVersionStage.NONE
    source: str = ""
    run_id: str | None = None
    status: str = "READY"
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None
    storage_location: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The version as a JSON-ready dict."""
        return _to_dict(self)


class LoggedModelStatus(str, Enum):
    """A logged model's status, as MLflow 3's ``mlflow.entities.LoggedModelStatus`` names it:
    PENDING while its files are written, then READY, or FAILED."""

    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(frozen=True)
class LoggedModel(MlflowIterable):
    """MLflow 3's logged model: a model with an id of its own (``models:/m-<id>``), the run that
    logged it and its folder in that run's artifacts (``artifact_path``, mlnb-only), or, for a
    model without a run, the URI of its own folder (``storage_uri``, mlnb-only)."""

    _MLFLOW_ONLY = ("metrics", "status_message")
    _MLNB_ONLY = ("artifact_path", "storage_uri")

    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    artifact_path: str | None
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    status: str = "READY"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    storage_uri: str | None = None

    @property
    def model_uri(self) -> str:
        """``models:/m-<id>``, the URI that loads and registers it."""
        return f"models:/{self.model_id}"

    @property
    def artifact_location(self) -> str:
        """Where its files are: ``runs:/<run id>/<path>`` for a model of a run, else its own
        folder under the artifact root."""
        if self.source_run_id is not None and self.artifact_path is not None:
            return f"runs:/{self.source_run_id}/{self.artifact_path}"
        return self.storage_uri or f"models:/{self.model_id}"

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        values = dict(MlflowIterable.__iter__(self))
        values.update(model_uri=self.model_uri, artifact_location=self.artifact_location)
        yield from sorted(values.items())

    def to_dict(self) -> dict[str, Any]:
        """The logged model as a JSON-ready dict."""
        return _to_dict(self)


@dataclass(frozen=True)
class RegisteredModel(MlflowIterable):
    """A named model; ``latest_versions`` holds the newest version of each stage."""

    _MLFLOW_ONLY = ("deployment_job_id", "deployment_job_state", "workspace")

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The model as a JSON-ready dict (its latest versions included)."""
        return _to_dict(self)


@dataclass(frozen=True)
class RegistryEvent:
    """One recorded change: a stage transition, an alias set or deleted, a version created..."""

    event_id: int
    name: str
    version: str | None
    kind: str
    from_value: str | None
    to_value: str | None
    timestamp: int
    user_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return _to_dict(self)


@dataclass(frozen=True)
class Dataset(MlflowIterable):
    """MLflow's dataset record: a name and a digest (fingerprint) that identify it in an
    experiment, where it came from (``source_type``, and ``source`` as JSON text), and its schema
    and profile (JSON text, or None)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The dataset as a JSON-ready dict."""
        return _to_dict(self)


@dataclass(frozen=True)
class DatasetInput:
    """A dataset a run used, with the tags of that use (``mlflow.data.context``: ``training``,
    ``eval``...)."""

    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The input as a JSON-ready dict."""
        return _to_dict(self)


@dataclass(frozen=True)
class ThresholdResult:
    """One threshold of a registry gate checked against a version's attached evaluation.

    ``value`` is None when the evaluation has no such metric (or none is attached).
    """

    metric: str
    min: float | None
    max: float | None
    value: float | None
    passed: bool

    def describe(self) -> str:
        """The check in words, e.g. ``accuracy >= 0.9 (measured 0.85)``."""
        bounds = " and ".join(
            f"{self.metric} {op} {bound:g}" for op, bound in ((">=", self.min), ("<=", self.max))
            if bound is not None)
        measured = "not measured" if self.value is None else f"measured {self.value:g}"
        return f"{bounds} ({measured})"


@dataclass(frozen=True)
class GateCheck:
    """Whether a model version may move to a stage or alias (``target``) under its model's gate.

    ``applies``: the gate names ``target``; ``passed``: the move is allowed (always when the gate
    does not apply); ``reason``: why it is blocked, in words, or ``""``.
    """

    name: str
    version: str
    target: str
    applies: bool
    passed: bool
    evaluation_run_id: str | None
    results: list[ThresholdResult] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return {"name": self.name, "version": self.version, "target": self.target,
                "applies": self.applies, "passed": self.passed,
                "evaluation_run_id": self.evaluation_run_id, "reason": self.reason,
                "results": [dict(metric=r.metric, min=r.min, max=r.max, value=r.value,
                                 passed=r.passed) for r in self.results]}


@dataclass(frozen=True)
class RegistryGate:
    """A registered model's promotion gate: the metric bounds a version's attached evaluation must
    meet before it moves to any stage or alias in ``applies_to``.

    ``thresholds`` maps a metric name to ``{"min": x}``, ``{"max": y}`` or both (inclusive).
    """

    name: str
    thresholds: dict[str, dict[str, float]]
    applies_to: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The gate as a JSON-ready dict."""
        return {"name": self.name, "thresholds": self.thresholds, "applies_to": self.applies_to}
