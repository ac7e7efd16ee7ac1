"""The fluent tracking API: MLflow's module-level functions over one "current run".

``start_run`` returns an :class:`ActiveRun`, a handle that is also a context manager: leaving the
``with`` block ends the run FINISHED, or FAILED if an exception escaped (KILLED for Ctrl-C), and
the exception still propagates. Logging with no active run starts one, as MLflow does.

The only state is the tracking URI, the active experiment and the stack of active runs (a stack
so that ``nested=True`` works), all in :class:`_State`.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlnb.artifacts import safe_relpath
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
from mlnb.errors import InvalidParameterError, NotFoundError, RunStateError
from mlnb.store import location as store_location
from mlnb.tracking.client import MlnbClient, now_ms
from mlnb.tracking.context import run_context_tags

if TYPE_CHECKING:
    import pandas

SEARCH_MAX_RESULTS_PANDAS = 100_000


@dataclass
class _State:
    tracking_uri: str | None = None
    experiment_id: str | None = None
    active: list[ActiveRun] = field(default_factory=list)
    last_run_id: str | None = None
    clients: dict[str | None, MlnbClient] = field(default_factory=dict)
    pid: int = field(default_factory=os.getpid)


_state = _State()


def _client() -> MlnbClient:
    if _state.pid != os.getpid():  # a forked child does not own its parent's runs
        _state.active.clear()
        _state.pid = os.getpid()
    uri = _state.tracking_uri or os.environ.get(store_location.ENV_VAR) or None
    client = _state.clients.get(uri)
    if client is None:
        client = _state.clients[uri] = MlnbClient(uri)
    return client


class ActiveRun:
    """A handle on a run: its id, fresh ``info`` and ``data``, logging methods, and ``with``."""

    def __init__(self, run_id: str, client: MlnbClient) -> None:
        self.run_id = run_id
        self._client = client

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_name!r} ({self.run_id}) {self.info.status}>"

    @property
    def info(self) -> RunInfo:
        return self._client.store.get_run_info(self.run_id)

    @property
    def data(self) -> Any:
        return self._client.get_run(self.run_id).data

    def log_param(self, key: str, value: Any) -> Any:
        return self._client.log_param(self.run_id, key, value)

    def log_params(self, params: dict[str, Any]) -> None:
        items = _mapping(params, "log_params").items()
        self._client.store.log_batch(self.run_id, params=[Param(k, v) for k, v in items])

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: int | None = None) -> None:
        self._client.log_metric(self.run_id, key, value, timestamp, step or 0)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None,
                    timestamp: int | None = None) -> None:
        t = timestamp if timestamp is not None else now_ms()
        for key, value in _mapping(metrics, "log_metrics").items():
            self._client.log_metric(self.run_id, key, value, t, step or 0)

    def set_tag(self, key: str, value: Any) -> None:
        self._client.set_tag(self.run_id, key, value)

    def end(self, status: str = RunStatus.FINISHED) -> None:
        end_run(status, run_id=self.run_id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
            self._client.set_tag(self.run_id, "mlnb.error", f"{exc_type.__name__}: {exc}"[:8000])
        end_run(status, run_id=self.run_id)


# --- where, and which experiment --------------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Use this store from now on: a folder, a ``.db`` file or a ``sqlite:///`` URI."""
    text = os.fspath(uri)
    store_location.from_uri(text, Path.cwd())  # fail now on a bad URI
    _state.tracking_uri = text
    _state.experiment_id = None


def get_tracking_uri() -> str:
    """The store in use, as a folder path or ``sqlite:///`` URI (resolved by the store rules)."""
    explicit = _state.tracking_uri or os.environ.get(store_location.ENV_VAR) or None
    return store_location.resolve(explicit).uri


def set_experiment(experiment_name: str | None = None,
                   experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it (by name) if it does not exist yet."""
    client = _client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterError("set_experiment needs exactly one of experiment_name or "
                                    "experiment_id.")
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        experiment = client.store.get_or_create_experiment(str(experiment_name))
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise RunStateError(
            f"Experiment {experiment.name!r} is deleted. Restore it (mlnb.MlnbClient()."
            f"restore_experiment({experiment.experiment_id!r})) or choose another name."
        )
    _state.experiment_id = experiment.experiment_id
    return experiment


def _current_experiment_id() -> str:
    if _state.experiment_id is not None:
        return _state.experiment_id
    name = os.environ.get("MLNB_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if name:
        return set_experiment(name).experiment_id
    env_id = os.environ.get("MLNB_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")
    return env_id or "0"


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: dict[str, Any] | None = None) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def search_experiments(view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                       filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    return _client().search_experiments(view_type, max_results, filter_string, order_by)


def delete_experiment(experiment_id: str) -> None:
    _client().delete_experiment(experiment_id)


# --- the run's life ---------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run.

    Use it as ``with mlnb.start_run(run_name="baseline") as run:``. With ``nested=True`` the new
    run is a child of the active one. With no active run and no ``run_id``, the environment
    variable ``MLNB_RUN_ID`` names a run to resume (as MLflow's ``MLFLOW_RUN_ID``).
    ``log_system_metrics`` is accepted for MLflow compatibility and ignored.
    """
    client = _client()
    if run_id is None and not _state.active and not nested:
        # MLflow's MLFLOW_RUN_ID: a launcher (mlnb run) hands its run to the script it starts.
        run_id = os.environ.pop("MLNB_RUN_ID", None) or None
    if _state.active and not nested and run_id is None:
        active = _state.active[-1].run_id
        raise RunStateError(
            f"Run {active} is already active. End it with mlnb.end_run(), or start a child run "
            "with start_run(nested=True)."
        )
    if run_id is not None:
        handle = _resume(client, run_id)
    else:
        parent = parent_run_id or (_state.active[-1].run_id if nested and _state.active else None)
        all_tags = run_context_tags()
        all_tags.update(tags or {})
        if description is not None:
            all_tags["mlflow.note.content"] = description
        eid = str(experiment_id) if experiment_id is not None else _current_experiment_id()
        info = client.store.create_run(eid, run_name, all_tags, parent, _user_id(), None)
        handle = ActiveRun(info.run_id, client)
    _state.active.append(handle)
    _state.last_run_id = handle.run_id
    _watch_uncaught_exceptions()
    return handle


def _resume(client: MlnbClient, run_id: str) -> ActiveRun:
    info = client.store.get_run_info(run_id)
    if info.lifecycle_stage != LifecycleStage.ACTIVE:
        raise RunStateError(f"Run {run_id} is deleted; restore it before resuming it.")
    client.store.resume_run(run_id)
    return ActiveRun(run_id, client)


def end_run(status: str = RunStatus.FINISHED, run_id: str | None = None) -> None:
    """End the active run (or the given one) with ``status``; its metrics are on disk after."""
    if status not in RunStatus.TERMINAL:  # before the run leaves the stack: a typo keeps it active
        raise InvalidParameterError(
            f"end_run status must be one of {', '.join(RunStatus.TERMINAL)}, not {status!r}."
        )
    if not _state.active:
        return
    handle = _state.active[-1]
    if run_id is not None:
        matches = [h for h in _state.active if h.run_id == run_id]
        if not matches:
            return
        handle = matches[-1]
    _state.active.remove(handle)
    handle._client.set_terminated(handle.run_id, status)
    _state.last_run_id = handle.run_id


def active_run() -> ActiveRun | None:
    """The active run's handle, or None."""
    return _state.active[-1] if _state.active else None


def last_active_run() -> Run | None:
    """The active run, or else the run most recently ended in this process, or None."""
    if _state.last_run_id is None:
        return None
    return _client().get_run(_state.last_run_id)


def _active_run_id() -> str:
    if not _state.active:
        start_run()
    return _state.active[-1].run_id


# --- logging to the active run ----------------------------------------------------------------


def log_param(key: str, value: Any) -> Any:
    return _client().log_param(_active_run_id(), key, value)


def log_params(params: dict[str, Any]) -> None:
    items = _mapping(params, "log_params").items()
    _client().store.log_batch(_active_run_id(), params=[Param(k, v) for k, v in items])


def log_metric(key: str, value: float, step: int | None = None,
               timestamp: int | None = None) -> None:
    """Log one metric point; buffered, on disk within a second and by ``end_run``/``flush``."""
    client = _client()
    run_id = _state.active[-1].run_id if _state.active else _active_run_id()
    client.writer.add(run_id, key, value, timestamp if timestamp is not None else
                      int(time.time() * 1000), step or 0)


def log_metrics(metrics: dict[str, float], step: int | None = None,
                timestamp: int | None = None) -> None:
    items = _mapping(metrics, "log_metrics").items()
    client = _client()
    run_id = _active_run_id()
    t = timestamp if timestamp is not None else now_ms()
    for key, value in items:
        client.writer.add(run_id, key, value, t, step or 0)


def set_tag(key: str, value: Any) -> None:
    _client().set_tag(_active_run_id(), key, value)


def set_tags(tags: dict[str, Any]) -> None:
    items = _mapping(tags, "set_tags").items()
    _client().store.log_batch(_active_run_id(), tags=[RunTag(k, v) for k, v in items])


def delete_tag(key: str) -> None:
    _client().delete_tag(_active_run_id(), key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _client().log_artifact(_active_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _client().log_artifacts(_active_run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    _client().log_text(_active_run_id(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    _client().log_dict(_active_run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
               ) -> None:
    _client().log_figure(_active_run_id(), figure, artifact_file, save_kwargs)


def log_table(data: Any, artifact_file: str) -> None:
    _client().log_table(_active_run_id(), data, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    info = _client().store.get_run_info(_active_run_id())
    if not artifact_path:
        return info.artifact_uri
    return f"{info.artifact_uri}/{safe_relpath(artifact_path)}"


def flush() -> None:
    """Write every buffered metric point now."""
    from mlnb.tracking.writer import flush_all

    flush_all()


# --- reading ----------------------------------------------------------------------------------


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return _client().get_metric_history(run_id, key)


def list_artifacts(run_id: str, path: str | None = None) -> list[FileInfo]:
    return _client().list_artifacts(run_id, path)


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    _client().restore_run(run_id)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pandas.DataFrame | list[Run]:
    """Runs matching a filter, as a DataFrame with MLflow's columns or as a list of Runs.

    Without ``experiment_ids`` or ``experiment_names``, searches the active experiment (or all
    of them with ``search_all_experiments=True``).
    """
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(f"max_results must be a positive integer, not {max_results!r}.")
    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(f"output_format must be 'pandas' or 'list', not "
                                    f"{output_format!r}.")
    client = _client()
    ids = _experiment_ids(client, experiment_ids, experiment_names, search_all_experiments)
    runs: list[Run] = []
    token: str | None = None
    while len(runs) < max_results:
        page = client.search_runs(ids, filter_string, run_view_type,
                                  min(10_000, max_results - len(runs)), order_by, token)
        runs.extend(page)
        token = page.token
        if token is None:
            break
    if output_format == "list":
        return runs
    from mlnb.tracking.frames import runs_to_frame

    return runs_to_frame(runs)


def _experiment_ids(client: MlnbClient, ids: Sequence[str] | None,
                    names: Sequence[str] | None, search_all: bool) -> list[str]:
    if ids is not None and names is not None:
        raise InvalidParameterError("Give experiment_ids or experiment_names, not both.")
    if isinstance(ids, (str, int)):
        ids = [str(ids)]
    if names is not None:
        found = []
        for name in names:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise NotFoundError(f"No experiment named {name!r}.")
            found.append(experiment.experiment_id)
        return found
    if ids:
        return [str(i) for i in ids]
    if search_all:
        return [e.experiment_id for e in client.search_experiments(ViewType.ALL, 50_000)]
    return [_current_experiment_id()]


# --- process exit -----------------------------------------------------------------------------

_uncaught: list[BaseException] = []


def _watch_uncaught_exceptions() -> None:
    if getattr(sys.excepthook, "_mlnb", False):
        return
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _uncaught.append(exc)
        previous(exc_type, exc, tb)

    hook._mlnb = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _end_runs_at_exit() -> None:
    """End runs still active when the interpreter exits (FAILED after an uncaught error)."""
    if _state.pid != os.getpid():
        return
    status = RunStatus.FAILED if _uncaught else RunStatus.FINISHED
    while _state.active:
        try:
            end_run(status)
        except Exception:
            _state.active.pop()


def _user_id() -> str:
    from mlnb.tracking.client import current_user

    return current_user()


def _mapping(value: Any, what: str) -> dict[str, Any]:
    """The dict a log_* call takes, or a clear error (MLflow's signature takes a dict too)."""
    if not isinstance(value, dict):
        raise InvalidParameterError(
            f"{what} takes a dict such as {{'lr': 0.01}}, not {type(value).__name__}.")
    return value


atexit.register(_end_runs_at_exit)
