"""``MlnbClient``: the tracking API with explicit ids (MLflow's ``MlflowClient``).

The fluent functions in :mod:`mlnb.tracking.fluent` keep the "current run" and call this client;
the CLI, the widgets and the server use the client (or the store) directly. Metric points go
through the store's :class:`~mlnb.tracking.writer.MetricWriter`, and every read flushes it first,
so a process always reads what it has logged.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlnb.artifacts import iter_source_files, safe_relpath
from mlnb.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.registry import RegistryClientMixin
from mlnb.store import Store, open_store
from mlnb.tracking import formats
from mlnb.tracking.writer import MetricWriter

_writers: dict[int, MetricWriter] = {}


def writer_for(store: Store) -> MetricWriter:
    writer = _writers.get(id(store))
    if writer is None or writer.store is not store:
        writer = _writers[id(store)] = MetricWriter(store)
    return writer


def now_ms() -> int:
    return int(time.time() * 1000)


class PagedList(list[Any]):
    """A page of results and the token for the next one (``None`` on the last page)."""

    def __init__(self, items: Sequence[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token


class MlnbClient(RegistryClientMixin):
    """Tracking operations on one store, each naming its run or experiment explicitly."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        if tracking_uri is None:
            # As MLflow's client: no URI means the one given to mlnb.set_tracking_uri, if any.
            from mlnb.tracking import fluent

            tracking_uri = fluent._state.tracking_uri
        self.store = open_store(tracking_uri)
        self.writer = writer_for(self.store)

    @property
    def tracking_uri(self) -> str:
        return self.store.location.uri

    # --- experiments ------------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        """Create an experiment and return its id; its artifacts live in the store's root."""
        if artifact_location is not None:
            raise InvalidParameterError(
                "artifact_location is not supported: artifacts stay in the store's own folder so "
                "that no path can point outside it. Drop the argument."
            )
        return self.store.create_experiment(name, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self, view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
        filter_string: str | None = None, order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        return self.store.search_experiments(view_type, filter_string, max_results, order_by)

    def delete_experiment(self, experiment_id: str) -> None:
        self.writer.flush()
        self.writer.forget()  # its runs are deleted with it
        self.store.set_experiment_lifecycle(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.set_experiment_lifecycle(experiment_id, LifecycleStage.ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.store.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.store.set_experiment_tag(experiment_id, key, value)

    # --- runs -------------------------------------------------------------------------------

    def create_run(
        self, experiment_id: str, start_time: int | None = None,
        tags: dict[str, Any] | None = None, run_name: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        info = self.store.create_run(
            experiment_id, run_name, tags, parent_run_id, current_user(), start_time
        )
        return self.get_run(info.run_id)

    def get_run(self, run_id: str) -> Run:
        self.writer.flush()
        return self.store.get_run(run_id)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        self.writer.flush()
        self.store.update_run(run_id, status=status, run_name=name)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> RunInfo:
        """End a run: flush its metrics, then record its final status and end time."""
        self.writer.flush()
        return self.store.update_run(run_id, status=status, end_time=end_time or now_ms())

    def delete_run(self, run_id: str) -> None:
        self.writer.flush()
        self.writer.forget(run_id)
        self.store.set_run_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self.store.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)

    def search_runs(
        self, experiment_ids: Sequence[str], filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
        order_by: Sequence[str] | None = None, page_token: str | None = None,
    ) -> PagedList:
        """A page of matching runs; pass ``result.token`` as ``page_token`` for the next page."""
        self.writer.flush()
        self.store.reap_dead_runs()
        offset = _offset(page_token)
        runs = self.store.search_runs(
            [str(e) for e in experiment_ids], filter_string, run_view_type, max_results,
            order_by, offset,
        )
        token = str(offset + len(runs)) if len(runs) == max_results else None
        return PagedList(runs, token)

    # --- logging ----------------------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self.store.log_batch(run_id, params=[Param(key, value)])
        return value

    def log_metric(
        self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int = 0
    ) -> None:
        self.writer.add(run_id, key, value, timestamp if timestamp is not None else now_ms(),
                        step or 0)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.store.log_batch(run_id, tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(run_id, key)

    def log_batch(
        self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags at once, all or nothing (metrics are not buffered)."""
        self.writer.flush()
        self.store.log_batch(run_id, list(metrics), list(params), list(tags))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.writer.flush()
        return self.store.get_metric_history(run_id, key)

    # --- artifacts --------------------------------------------------------------------------

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Copy one file into the run's artifacts (under ``artifact_path`` if given)."""
        source = Path(local_path)
        if not source.is_file():
            raise NotFoundError(f"log_artifact: {str(source)!r} is not a file.")
        self.store.put_artifact_file(run_id, source, _join(artifact_path, source.name))

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Copy every file below a folder into the run's artifacts, keeping the layout."""
        folder = Path(local_dir)
        if not folder.is_dir():
            raise NotFoundError(f"log_artifacts: {str(folder)!r} is not a folder.")
        prefix = safe_relpath(artifact_path, allow_empty=True) if artifact_path else ""
        for source, rel in iter_source_files(folder):
            self.store.put_artifact_file(run_id, source, _join(prefix, rel))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        if not isinstance(text, str):
            raise InvalidParameterError(
                f"log_text takes text, not {type(text).__name__}; use log_dict for data or "
                "log_artifact for a file."
            )
        self.store.put_artifact_bytes(run_id, artifact_file, text.encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        safe_relpath(artifact_file)  # a bad path is the error to report, before any rendering
        self.store.put_artifact_bytes(
            run_id, artifact_file, formats.dict_bytes(dictionary, artifact_file))

    def log_figure(self, run_id: str, figure: Any, artifact_file: str,
                   save_kwargs: dict[str, Any] | None = None) -> None:
        safe_relpath(artifact_file)
        self.store.put_artifact_bytes(
            run_id, artifact_file, formats.figure_bytes(figure, artifact_file, save_kwargs))

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Save a table as JSON; logging to the same file again appends its rows (as MLflow)."""
        safe_relpath(artifact_file)
        columns = formats.table_columns(data)
        try:
            existing: bytes | None = self.store.artifact_path(run_id, artifact_file).read_bytes()
        except NotFoundError:
            existing = None
        self.store.put_artifact_bytes(run_id, artifact_file, formats.table_bytes(columns, existing))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self.store.list_artifacts(run_id, path or "")

    def download_artifacts(self, run_id: str, path: str = "",
                           dst_path: str | os.PathLike[str] | None = None) -> str:
        """The local path of an artifact; with ``dst_path``, a copy made there."""
        source = self.store.artifact_path(run_id, path)
        if dst_path is None:
            return str(source)
        target = Path(dst_path) / (source.name if path else run_id)
        if source.is_dir():
            # mlnb never writes symlinks; one found here was planted and may point anywhere.
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=_symlinks)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return str(target)


def _symlinks(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if os.path.islink(os.path.join(folder, name))]


def _join(prefix: str | None, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}" if prefix else name


def _offset(page_token: str | None) -> int:
    if not page_token:
        return 0
    if not page_token.isdigit():
        raise InvalidParameterError(f"page_token {page_token!r} is not one this client returned.")
    return int(page_token)


def current_user() -> str:
    """The operating-system user (as MLflow records it), or "" where none can be found."""
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in some containers
        return ""


MlflowClient = MlnbClient
