"""The fluent tracking API: MLflow's module-level functions over one "current run".

``start_run`` returns an :class:`ActiveRun`, a handle that is also a context manager: leaving the
``with`` block ends the run FINISHED, or FAILED if an exception escaped (KILLED for Ctrl-C), and
the exception still propagates. Logging with no active run starts one, as MLflow does.

MLflow keeps every fluent function in one module; here :mod:`mlnb.tracking.experiment` holds the
store and experiment choice and :mod:`mlnb.tracking.reading` the read side, and this module
re-exports both. Each function is one call to the :class:`~mlnb.tracking.client.MlnbClient` of
the current store (:func:`~mlnb.tracking.client.current_client`); the process state (URI,
active experiment, the stack of active runs) lives in :mod:`mlnb.tracking.state`.
"""

from __future__ import annotations

import atexit
import os
import sys
from types import TracebackType
from typing import Any

from mlnb.entities import (
    Dataset,
    DatasetInput,
    Run,
    RunInfo,
    RunStatus,
)
from mlnb.errors import InvalidParameterError, RunStateError
from mlnb.store.artifacts import safe_relpath
from mlnb.tracking import system_metrics
from mlnb.tracking.client import MlnbClient, RunOperations, after_logging, current_client
from mlnb.tracking.context import run_context_tags
from mlnb.tracking.experiment import (
    active_experiment_id,
    create_experiment,
    delete_experiment,
    get_experiment,
    get_experiment_by_name,
    get_tracking_uri,
    search_experiments,
    set_experiment,
    set_tracking_uri,
)
from mlnb.tracking.reading import (
    SEARCH_MAX_RESULTS_PANDAS,
    delete_run,
    get_metric_history,
    get_run,
    list_artifacts,
    register_model,
    restore_run,
    search_runs,
)
from mlnb.tracking.state import state
from mlnb.tracking.writer import flush_all

__all__ = [
    "SEARCH_MAX_RESULTS_PANDAS", "ActiveRun", "active_experiment_id", "active_run",
    "create_experiment", "delete_experiment", "delete_run", "delete_tag", "end_run", "flush",
    "flush_async_logging",
    "get_artifact_uri", "get_experiment", "get_experiment_by_name", "get_metric_history",
    "get_run", "get_tracking_uri", "last_active_run", "list_artifacts", "log_artifact",
    "log_artifacts", "log_dict", "log_figure", "log_input", "log_metric", "log_metrics", "log_param",
    "log_params", "log_table", "log_text", "register_model", "restore_run", "search_experiments",
    "search_runs", "set_experiment", "set_tag", "set_tags", "set_tracking_uri", "start_run",
]


class ActiveRun:
    """A handle on a run: its id, fresh ``info`` and ``data``, logging methods, and ``with``.

    Leaving a ``with`` block ends the run: FINISHED, FAILED when an exception escaped (its text
    kept in the ``mlnb.error`` tag), KILLED for Ctrl-C.

    :param run_id: the run's id.
    :param client: the client of the run's store.
    """

    def __init__(self, run_id: str, client: MlnbClient) -> None:
        self.run_id = run_id
        self.client = client

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_name!r} ({self.run_id}) {self.info.status}>"

    @property
    def info(self) -> RunInfo:
        """The run's info, read now (status, times, name, artifact URI)."""
        return self.client.get_run_info(self.run_id)

    @property
    def data(self) -> Any:
        """The run's params, latest metrics and tags, read now."""
        return self.client.get_run(self.run_id).data

    def log_param(self, key: str, value: Any) -> Any:
        """Log one param of this run; see :func:`mlnb.log_param`.

        :param key: the param's name.
        :param value: any value, stored as text.
        """
        return self.client.log_param(self.run_id, key, value)

    def log_params(self, params: dict[str, Any]) -> None:
        """Log several params of this run; see :func:`mlnb.log_params`.

        :param params: names and values.
        """
        self.client.log_params(self.run_id, _mapping(params, "log_params"))

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: int | None = None) -> None:
        """Log one metric point of this run (buffered); see :func:`mlnb.log_metric`.

        :param key: the metric's name.
        :param value: a number.
        :param step: the training step (default 0).
        :param timestamp: milliseconds since the epoch (default now).
        """
        self.client.log_metric(self.run_id, key, value, timestamp, step or 0)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None,
                    timestamp: int | None = None) -> None:
        """Log several metric points of this run (buffered); see :func:`mlnb.log_metrics`.

        :param metrics: names and values.
        :param step: the training step (default 0).
        :param timestamp: milliseconds since the epoch (default now).
        """
        self.client.log_metrics(self.run_id, _mapping(metrics, "log_metrics"), step, timestamp)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag of this run; see :func:`mlnb.set_tag`.

        :param key: the tag's name.
        :param value: any value, stored as text.
        """
        self.client.set_tag(self.run_id, key, value)

    def end(self, status: str = RunStatus.FINISHED) -> None:
        """End this run (if it is still active), whether or not it is the innermost one.

        :param status: FINISHED (default), FAILED or KILLED.
        """
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
            self.client.set_tag(self.run_id, "mlnb.error", f"{exc_type.__name__}: {exc}"[:8000])
        end_run(status, run_id=self.run_id)


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

    Use it as ``with mlnb.start_run(run_name="baseline") as run:``. With no active run and no
    ``run_id``, the environment variable ``MLNB_RUN_ID`` names a run to resume (as MLflow's
    ``MLFLOW_RUN_ID``). The run gets the tags of its context: the script or notebook, the git
    commit and, in a kernel, the cell's provenance.

    :param run_id: resume this run instead of starting a new one.
    :param experiment_id: the experiment of the new run; default the active experiment.
    :param run_name: a name; default a random one such as ``swift-otter-42``.
    :param nested: start a child of the active run (without it, a second run is an error).
    :param parent_run_id: or name the parent run explicitly.
    :param tags: tags of the new run.
    :param description: the run's note (``mlflow.note.content``).
    :param log_system_metrics: sample CPU, memory, disk, network, GPUs and this process into
        ``system/...`` metrics while the run is active (:mod:`mlnb.tracking.system_metrics`);
        None (default) follows ``enable_system_metrics_logging()`` and
        ``MLNB_ENABLE_SYSTEM_METRICS_LOGGING``, False turns it off for this run.
    :raises RunStateError: when a run is already active and ``nested`` is False.
    """
    system = system_metrics.is_enabled() if log_system_metrics is None else bool(log_system_metrics)
    sampling = system_metrics.settings() if system else None  # a bad setting: no run is made
    client = current_client()
    if run_id is None and not state.active and not nested:
        # MLflow's MLFLOW_RUN_ID: a launcher (mlnb run) hands its run to the script it starts.
        run_id = os.environ.pop("MLNB_RUN_ID", None) or None
    if state.active and not nested and run_id is None:
        active = state.active[-1].run_id
        raise RunStateError(
            f"Run {active} is already active. End it with mlnb.end_run(), or start a child run "
            "with start_run(nested=True)."
        )
    if run_id is not None:
        client.resume_run(run_id)
        handle = ActiveRun(run_id, client)
    else:
        parent = parent_run_id or (state.active[-1].run_id if nested and state.active else None)
        all_tags = run_context_tags()
        all_tags.update(tags or {})
        if description is not None:
            all_tags["mlflow.note.content"] = description
        eid = str(experiment_id) if experiment_id is not None else active_experiment_id()
        run = client.create_run(eid, tags=all_tags, run_name=run_name, parent_run_id=parent)
        handle = ActiveRun(run.info.run_id, client)
    state.active.append(handle)
    state.last_run_id = handle.run_id
    _watch_uncaught_exceptions()
    if sampling is not None:
        system_metrics.start_monitor(handle.run_id, client, *sampling)
    return handle


def end_run(status: str = RunStatus.FINISHED, run_id: str | None = None) -> None:
    """End the active run (or the given one); its metrics are on disk after.

    Nothing happens when no run is active, as in MLflow.

    :param status: FINISHED (default), FAILED or KILLED; another value raises
        ``InvalidParameterError`` and leaves the run active.
    :param run_id: mlnb-only: end this active run instead of the innermost one (nothing happens
        when no active run has this id).
    """
    if status not in RunStatus.TERMINAL:  # before the run leaves the stack: a typo keeps it active
        raise InvalidParameterError(
            f"end_run status must be one of {', '.join(RunStatus.TERMINAL)}, not {status!r}."
        )
    if not state.active:
        return
    handle = state.active[-1]
    if run_id is not None:
        matches = [h for h in state.active if h.run_id == run_id]
        if not matches:
            return
        handle = matches[-1]
    state.active.remove(handle)
    system_metrics.stop_monitor(handle.run_id)  # its last sample lands before the run ends
    handle.client.set_terminated(handle.run_id, status)
    state.last_run_id = handle.run_id


def active_run() -> ActiveRun | None:
    """The active run's handle, or None."""
    return state.active[-1] if state.active else None


def last_active_run() -> Run | None:
    """The active run, or else the run most recently ended in this process, or None."""
    if state.last_run_id is None:
        return None
    return current_client().get_run(state.last_run_id)


def _active_run_id() -> str:
    if not state.active:
        start_run()
    return state.active[-1].run_id


# --- logging to the active run ----------------------------------------------------------------


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log one param of the active run (started if none is) and return its value.

    :param key: the param's name (letters, digits and ``_-./ :``, at most 250 characters).
    :param value: any value; stored as text. A param is fixed once logged: logging it again
        with another value raises ``ParamConflictError`` (MLflow's INVALID_PARAMETER_VALUE).
    :param synchronous: MLflow's flag. The param is written before the call returns in any
        case; ``False`` returns a :class:`~mlnb.tracking.client.RunOperations` (as MLflow)
        instead of the value.
    """
    return current_client().log_param(_active_run_id(), key, value, synchronous)


def log_params(params: dict[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    """Log several params of the active run at once, all or nothing.

    Unlike MLflow, there is no ``run_id`` argument: use :meth:`ActiveRun.log_params` or
    ``MlnbClient().log_params`` for another run.

    :param params: names and values, as for :func:`log_param`.
    :param synchronous: MLflow's flag: the params are written at once in any case; ``False``
        returns a :class:`~mlnb.tracking.client.RunOperations`.
    """
    client = current_client()
    client.log_params(_active_run_id(), _mapping(params, "log_params"))
    return after_logging(client.writer, synchronous)


def log_metric(key: str, value: float, step: int | None = None,
               synchronous: bool | None = None, timestamp: int | None = None
               ) -> RunOperations | None:
    """Log one metric point of the active run (started if none is).

    By default the point is buffered, as in MLflow's asynchronous mode: it is on disk within a
    second, at ``end_run``, ``flush()`` and ``flush_async_logging()``, and before any read in this
    process (a hard crash loses at most the last second of points). MLflow's ``run_id``,
    ``model_id`` and ``dataset`` arguments do not exist; use ``MlnbClient().log_metric`` for
    another run.

    :param key: the metric's name.
    :param value: a number; NaN and ±inf are kept as they are.
    :param step: the training step (default 0).
    :param synchronous: MLflow's flag: ``True`` writes the point (and every point buffered before
        it) before returning; ``False`` returns a :class:`~mlnb.tracking.client.RunOperations`
        whose ``wait()`` does so; ``None`` buffers.
    :param timestamp: milliseconds since the epoch (default now).
    """
    run_id = state.active[-1].run_id if state.active else _active_run_id()
    return current_client().log_metric(run_id, key, value, timestamp, step or 0, synchronous)


def log_metrics(metrics: dict[str, float], step: int | None = None,
                synchronous: bool | None = None, timestamp: int | None = None
                ) -> RunOperations | None:
    """Log several metric points of the active run with one step and timestamp (buffered).

    As :func:`log_metric`, without MLflow's ``run_id``, ``model_id`` and ``dataset`` arguments.

    :param metrics: names and values.
    :param step: the training step (default 0).
    :param synchronous: as for :func:`log_metric`.
    :param timestamp: milliseconds since the epoch (default now).
    """
    client = current_client()
    client.log_metrics(_active_run_id(), _mapping(metrics, "log_metrics"), step, timestamp)
    return after_logging(client.writer, synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    """Set one tag of the active run (a tag can be changed, unlike a param).

    :param key: the tag's name.
    :param value: any value, stored as text.
    :param synchronous: MLflow's flag: the tag is written at once in any case; ``False``
        returns a :class:`~mlnb.tracking.client.RunOperations`.
    """
    return current_client().set_tag(_active_run_id(), key, value, synchronous)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    """Set several tags of the active run at once, all or nothing.

    :param tags: names and values.
    :param synchronous: MLflow's flag: the tags are written at once in any case; ``False``
        returns a :class:`~mlnb.tracking.client.RunOperations`.
    """
    client = current_client()
    client.set_tags(_active_run_id(), _mapping(tags, "set_tags"))
    return after_logging(client.writer, synchronous)


def delete_tag(key: str) -> None:
    """Delete a tag of the active run.

    :param key: the tag's name.
    """
    current_client().delete_tag(_active_run_id(), key)


def log_input(dataset: Any, context: str | None = None, tags: dict[str, Any] | None = None
              ) -> None:
    """Record a dataset as an input of the active run (started if none is), as MLflow's
    ``mlflow.log_input``: the run's ``inputs.dataset_inputs`` in the MLflow API, and
    ``MlnbClient().get_dataset_inputs(run_id)``.

    :param dataset: a dataset from ``mlnb.data.from_pandas`` or ``mlnb.data.from_numpy`` (or a
        :class:`~mlnb.entities.Dataset` record).
    :param context: what the run used it for (``training``, ``eval``...): the input tag
        ``mlflow.data.context``.
    :param tags: more tags of this use (values become text).
    :raises InvalidParameterError: for something that is not a dataset, or tags beyond MLflow's
        limits.
    """
    record = dataset if isinstance(dataset, Dataset) else getattr(dataset, "to_record", None)
    if not isinstance(record, Dataset):
        if record is None:
            raise InvalidParameterError(
                f"log_input needs a dataset, not {type(dataset).__name__}: build one with "
                "mlnb.data.from_pandas(df) or mlnb.data.from_numpy(array).")
        record = record()
    found = {str(k): str(v) for k, v in _mapping(tags or {}, "log_input tags").items()}
    if context is not None:
        found["mlflow.data.context"] = str(context)
    current_client().log_inputs(_active_run_id(), [DatasetInput(record, found)])


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Copy one file into the active run's artifacts (written atomically, with its sha256).

    Unlike MLflow, there is no ``run_id`` argument: use ``MlnbClient().log_artifact``.

    :param local_path: the file to copy.
    :param artifact_path: a folder inside the run's artifacts; default the top.
    """
    current_client().log_artifact(_active_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Copy every file below a folder into the active run's artifacts, keeping the layout.
    Symbolic links to folders are skipped with a warning.

    :param local_dir: the folder to copy.
    :param artifact_path: a folder inside the run's artifacts; default the top.
    """
    current_client().log_artifacts(_active_run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Save text as an artifact of the active run.

    :param text: the text (UTF-8 on disk).
    :param artifact_file: its path inside the run's artifacts, e.g. ``"notes/summary.md"``.
    """
    current_client().log_text(_active_run_id(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    """Save a dict as a JSON or YAML artifact of the active run (by the file's extension).

    :param dictionary: JSON-ready data.
    :param artifact_file: ``*.json``, ``*.yaml`` or ``*.yml`` inside the run's artifacts.
    """
    current_client().log_dict(_active_run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
               ) -> None:
    """Save a matplotlib or Plotly figure as an artifact of the active run.

    :param figure: a ``matplotlib.figure.Figure`` or a ``plotly.graph_objects.Figure``.
    :param artifact_file: e.g. ``"roc.png"`` (matplotlib) or ``"curves.html"`` (Plotly).
    :param save_kwargs: extra keyword arguments for matplotlib's ``savefig`` (not used for
        Plotly figures).

    """
    current_client().log_figure(_active_run_id(), figure, artifact_file, save_kwargs)


def log_table(data: Any, artifact_file: str) -> None:
    """Save a table (a pandas DataFrame or a dict of columns) as a JSON artifact of the active
    run; logging to the same file again appends the rows, as MLflow does.

    :param data: a DataFrame or a dict of equal-length lists.
    :param artifact_file: a ``*.json`` path inside the run's artifacts.
    """
    current_client().log_table(_active_run_id(), data, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The ``file://`` URI of the active run's artifacts, or of one path inside them.

    :param artifact_path: a path inside the run's artifacts (checked to stay inside).
    """
    info = current_client().get_run_info(_active_run_id())
    if not artifact_path:
        return info.artifact_uri
    return f"{info.artifact_uri}/{safe_relpath(artifact_path)}"


def flush() -> None:
    """Write every buffered metric point now (mlnb-only: MLflow writes each point at once)."""
    flush_all()


def flush_async_logging() -> None:
    """MLflow's name for :func:`flush`: on return, every metric point logged in this process is
    on disk (mlnb buffers metric points by default, like MLflow's asynchronous logging)."""
    flush_all()


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
    if state.pid != os.getpid():
        return
    status = RunStatus.FAILED if _uncaught else RunStatus.FINISHED
    while state.active:
        run_id = state.active[-1].run_id
        try:
            end_run(status)
        except Exception as exc:  # the store is gone (a team store's database down): say so
            print(f"mlnb: could not end run {run_id} at exit ({exc}); it is marked KILLED "
                  "once its process is seen dead.", file=sys.stderr)
            if state.active and state.active[-1].run_id == run_id:
                state.active.pop()


def _mapping(value: Any, what: str) -> dict[str, Any]:
    """The dict a log_* call takes, or a clear error (MLflow's signature takes a dict too)."""
    if not isinstance(value, dict):
        raise InvalidParameterError(
            f"{what} takes a dict such as {{'lr': 0.01}}, not {type(value).__name__}.")
    return value


atexit.register(_end_runs_at_exit)
