"""What ``mlnb import mlflow`` reads from an MLflow store, whatever kind it is.

Three readers produce these records: :mod:`mlnb.store.mlflow_files` (a file store folder,
``mlruns/``), :mod:`mlnb.store.mlflow_source` (MLflow's database, SQLite or PostgreSQL) and
:mod:`mlnb.store.mlflow_http` (a running MLflow server). :mod:`mlnb.store.mlflow_import` writes
them into mlnb. Values are MLflow's as its client returns them: ``±inf`` stays ``±inf`` where the
store kept it (the file store, a server over a file store), and is ``±1.797e308`` where MLflow's
database clamped it when it was logged.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlnb.entities import Dataset, DatasetInput, RunStatus
from mlnb.errors import MlnbError

Columns = tuple[list[int], list[int], list[float]]  # steps, timestamps, values in logging order

# The file store writes a run's status and a logged model's status as numbers.
RUN_STATUS_NUMBERS = {1: RunStatus.RUNNING, 2: RunStatus.SCHEDULED, 3: RunStatus.FINISHED,
                      4: RunStatus.FAILED, 5: RunStatus.KILLED}
MODEL_STATUS_NUMBERS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}


class SourceError(MlnbError):
    """The MLflow source cannot be read (wrong path, not an MLflow store, server down)."""


@dataclass
class MlflowExperiment:
    """An MLflow experiment (``deleted``: in MLflow's trash)."""

    experiment_id: str
    name: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class MlflowRun:
    """An MLflow run with its params and tags; ``artifact_uri`` as MLflow recorded it."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    user_id: str
    artifact_uri: str
    deleted_time: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: the metrics' names, where the reader learns them with the run (a server's search)
    metric_keys: list[str] = field(default_factory=list)
    #: the datasets the run used, with the tags of each use
    inputs: list[DatasetInput] = field(default_factory=list)
    #: the ids of the logged models the run used
    model_inputs: list[str] = field(default_factory=list)


@dataclass
class MlflowLoggedModel:
    """An MLflow 3 logged model: its files live at ``artifact_location``, outside its run's."""

    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    model_type: str | None
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    artifact_location: str
    lifecycle_stage: str = "active"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class MlflowVersion:
    """A registered model's version as MLflow keeps it."""

    version: int
    creation_time: int
    last_updated_time: int
    description: str
    source: str
    run_id: str | None
    status: str
    current_stage: str
    user_id: str
    storage_location: str | None = None
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class MlflowModel:
    """A registered model, its versions, tags and aliases (alias -> version)."""

    name: str
    creation_time: int
    last_updated_time: int
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[MlflowVersion] = field(default_factory=list)


@dataclass(frozen=True)
class ArtifactFile:
    """One artifact file of a run or logged model: its path inside it, and how to read it
    (``local``: the file on this machine; else the reader streams it with :meth:`MlflowReader.open`)."""

    path: str
    local: Path | None = None


class MlflowReader(ABC):
    """Reads one MLflow store. ``describe`` names it in messages."""

    describe: str

    @abstractmethod
    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment, deleted ones included."""

    @abstractmethod
    def runs(self, experiment_id: str) -> list[MlflowRun]:
        """The experiment's runs (deleted ones included), with params and tags.

        :param experiment_id: the experiment.
        """

    @abstractmethod
    def metrics(self, run: MlflowRun) -> dict[str, Columns]:
        """The run's full metric histories, each in the order MLflow returns it.

        :param run: the run.
        """

    @abstractmethod
    def artifacts(self, owner: MlflowRun | MlflowLoggedModel) -> tuple[list[ArtifactFile], str | None]:
        """The files of a run's or a logged model's artifacts, and why they cannot be read (None
        when they can: an empty list is then an empty folder).

        :param owner: the run or logged model.
        """

    def open(self, owner: MlflowRun | MlflowLoggedModel, file: ArtifactFile
             ) -> AbstractContextManager[Iterator[bytes]]:
        """The file's content as chunks (a reader with remote files overrides this).

        :param owner: the run or logged model the file belongs to.
        :param file: the file.
        """
        if file.local is None:
            raise SourceError(f"{file.path} has no local copy")
        return _local_chunks(file.local)

    @abstractmethod
    def logged_models(self) -> list[MlflowLoggedModel]:
        """MLflow 3's logged models (none for an older store)."""

    @abstractmethod
    def registered_models(self) -> list[MlflowModel]:
        """The model registry."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the source (a database connection)."""


def dataset_record(data: dict[str, object]) -> Dataset:
    """A dataset record from MLflow's fields (a file store's ``meta.yaml``, a server's
    ``Dataset`` message); what is missing is empty, and the importer's checks refuse it.

    :param data: the fields.
    """
    def text(name: str) -> str | None:
        value = data.get(name)
        return None if value is None else str(value)
    return Dataset(text("name") or "", text("digest") or "", text("source_type") or "",
                   text("source") or "", text("schema"), text("profile"))


@contextmanager
def _local_chunks(path: Path) -> Iterator[Iterator[bytes]]:
    with open(path, "rb") as handle:
        yield iter(lambda: handle.read(1 << 20), b"")


def local_folder(uri: str) -> Path | None:
    """The local folder of an artifact location (``file:///...`` or a plain path), else None
    (``mlflow-artifacts:``, ``s3://``... are not on this machine).

    :param uri: the location MLflow recorded.
    """
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        return Path(uri)
    return None


def walk_files(folder: Path) -> tuple[list[ArtifactFile], list[str]]:
    """Every regular file below a local folder (paths relative to it, ``/``-separated) and the
    symbolic links met, which are neither followed nor copied: a link may point anywhere.

    :param folder: the artifact folder.
    """
    files: list[ArtifactFile] = []
    links: list[str] = []
    if not folder.is_dir():
        return files, links
    for top, dirs, names in os.walk(folder):  # followlinks=False: a linked folder is not entered
        base = Path(top)
        for name in sorted(dirs + names):
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                links.append(rel)
            elif name in names and path.is_file():
                files.append(ArtifactFile(rel, path))
        dirs.sort()
    return sorted(files, key=lambda f: f.path), sorted(links)
