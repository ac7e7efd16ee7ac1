"""The fluent tracking API: MLflow's module-level functions over one "current run".

``start_run`` returns an :class:`ActiveRun`, a handle that is also a context manager: leaving the
``with`` block ends the run FINISHED, or FAILED if an exception escaped (KILLED for Ctrl-C), and
the exception still propagates. Logging with no active run starts one, as MLflow does.

Each function is one call to the :class:`~mlnb.tracking.client.MlnbClient` of the current store
(:func:`~mlnb.tracking.client.current_client`); the process state (URI, active experiment, the
stack of active runs) lives in :mod:`mlnb.tracking.state`.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlnb.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    ModelVersion,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)
from mlnb.errors import InvalidParameterError, NotFoundError, RunStateError
from mlnb.registry import model_source
from mlnb.store import location as store_location
from mlnb.store.artifacts import safe_relpath
from mlnb.tracking.client import MlnbClient, current_client
from mlnb.tracking.context import run_context_tags
from mlnb.tracking.state import explicit_uri, state
from mlnb.tracking.writer import flush_all

if TYPE_CHECKING:
    import pandas

SEARCH_MAX_RESULTS_PANDAS = 100_000


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
        """Log one param of this run; see :func:`mlnb.log_param`."""
        return self.client.log_param(self.run_id, key, value)

    def log_params(self, params: dict[str, Any]) -> None:
        """Log several params of this run; see :func:`mlnb.log_params`."""
        self.client.log_params(self.run_id, _mapping(params, "log_params"))

    def log_metric(self, key: str, value: float, step: int | None = None,
                   timestamp: int | None = None) -> None:
        """Log one metric point of this run; see :func:`mlnb.log_metric`."""
        self.client.log_metric(self.run_id, key, value, timestamp, step or 0)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None,
                    timestamp: int | None = None) -> None:
        """Log several metric points of this run; see :func:`mlnb.log_metrics`."""
        self.client.log_metrics(self.run_id, _mapping(metrics, "log_metrics"), step, timestamp)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag of this run; see :func:`mlnb.set_tag`."""
        self.client.set_tag(self.run_id, key, value)

    def end(self, status: str = RunStatus.FINISHED) -> None:
        """End this run with ``status`` (FINISHED, FAILED or KILLED)."""
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


# --- where, and which experiment --------------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Use this store from now on.

    :param uri: a folder (``.mlnb``), a ``.db`` file or a ``sqlite:///`` URI. Unlike MLflow,
        ``http(s)://`` tracking servers are not accepted.
    :raises InvalidParameterError: for a URI mlnb cannot use (nothing changes then).
    """
    text = os.fspath(uri)
    store_location.from_uri(text, Path.cwd())  # fail now on a bad URI
    state.tracking_uri = text
    state.experiment_id = None


def get_tracking_uri() -> str:
    """The store in use, as a folder path or ``sqlite:///`` URI (resolved by the store rules:
    ``set_tracking_uri``, else ``MLNB_TRACKING_URI``, else the nearest ``.mlnb/``)."""
    return store_location.resolve(explicit_uri()).uri


def set_experiment(experiment_name: str | None = None,
                   experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it (by name) if it does not exist yet.

    :param experiment_name: the experiment's name; created when missing (race-free across
        processes).
    :param experiment_id: or the id of an existing experiment. Give exactly one of the two.
    :returns: the active experiment.
    :raises RunStateError: for a deleted experiment (restore it first).
    """
    client = current_client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterError("set_experiment needs exactly one of experiment_name or "
                                    "experiment_id.")
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        experiment = client.get_or_create_experiment(str(experiment_name))
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise RunStateError(
            f"Experiment {experiment.name!r} is deleted. Restore it (mlnb.MlnbClient()."
            f"restore_experiment({experiment.experiment_id!r})) or choose another name."
        )
    state.experiment_id = experiment.experiment_id
    return experiment


def active_experiment_id() -> str:
    """The experiment new runs go to: the one ``set_experiment`` chose, else the one named by
    ``MLNB_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_NAME`` (created if needed), else the one whose
    id is in ``MLNB_EXPERIMENT_ID``/``MLFLOW_EXPERIMENT_ID``, else ``"0"`` (Default)."""
    if state.experiment_id is not None:
        return state.experiment_id
    name = os.environ.get("MLNB_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if name:
        return set_experiment(name).experiment_id
    env_id = os.environ.get("MLNB_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")
    return env_id or "0"


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: dict[str, Any] | None = None) -> str:
    """Create an experiment and return its id.

    :param name: a name no other experiment has.
    :param artifact_location: not supported (artifacts stay inside the store); must be None.
    :param tags: experiment tags.
    """
    return current_client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id.

    :param experiment_id: the experiment's id.
    :raises NotFoundError: when there is none.
    """
    return current_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment with this name, or None.

    :param name: the experiment's name.
    """
    return current_client().get_experiment_by_name(name)


def search_experiments(view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                       filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    """Experiments matching a filter.

    :param view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
    :param max_results: at most this many.
    :param filter_string: e.g. ``"name LIKE 'churn%' and tags.team = 'ml'"``.
    :param order_by: e.g. ``["name ASC"]``; default oldest first.
    """
    return current_client().search_experiments(view_type, max_results, filter_string, order_by)


def delete_experiment(experiment_id: str) -> None:
    """Delete an experiment and its runs (restorable with ``MlnbClient().restore_experiment``).

    :param experiment_id: the experiment's id; the Default experiment cannot be deleted.
    """
    current_client().delete_experiment(experiment_id)


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
    :param log_system_metrics: accepted for MLflow compatibility; mlnb does not log system
        metrics yet, and ignores it.
    :raises RunStateError: when a run is already active and ``nested`` is False.
    """
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
    return handle


def end_run(status: str = RunStatus.FINISHED, run_id: str | None = None) -> None:
    """End the active run (or the given one); its metrics are on disk after.

    :param status: FINISHED (default), FAILED or KILLED.
    :param run_id: end this active run instead of the innermost one (nothing happens when no
        active run has this id).
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


def log_param(key: str, value: Any) -> Any:
    """Log one param of the active run (started if none is) and return its value.

    :param key: the param's name (letters, digits and ``_-./ :``, at most 250 characters).
    :param value: any value; stored as text. A param is fixed once logged: logging it again
        with another value raises ``ParamConflictError`` (MLflow's INVALID_PARAMETER_VALUE).
    """
    return current_client().log_param(_active_run_id(), key, value)


def log_params(params: dict[str, Any]) -> None:
    """Log several params of the active run at once, all or nothing.

    :param params: names and values, as for :func:`log_param`.
    """
    current_client().log_params(_active_run_id(), _mapping(params, "log_params"))


def log_metric(key: str, value: float, step: int | None = None,
               timestamp: int | None = None) -> None:
    """Log one metric point of the active run (started if none is).

    Unlike MLflow, the point is buffered: it is on disk within a second, at ``end_run`` and
    ``flush()``, and before any read in this process (a hard crash loses at most the last
    second of points).

    :param key: the metric's name.
    :param value: a number; NaN and ±inf are kept as they are.
    :param step: the training step (default 0).
    :param timestamp: milliseconds since the epoch (default now).
    """
    run_id = state.active[-1].run_id if state.active else _active_run_id()
    current_client().log_metric(run_id, key, value, timestamp, step or 0)


def log_metrics(metrics: dict[str, float], step: int | None = None,
                timestamp: int | None = None) -> None:
    """Log several metric points of the active run with one step and timestamp (buffered).

    :param metrics: names and values.
    :param step: the training step (default 0).
    :param timestamp: milliseconds since the epoch (default now).
    """
    current_client().log_metrics(_active_run_id(), _mapping(metrics, "log_metrics"), step,
                                 timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set one tag of the active run (a tag can be changed, unlike a param).

    :param key: the tag's name.
    :param value: any value, stored as text.
    """
    current_client().set_tag(_active_run_id(), key, value)


def set_tags(tags: dict[str, Any]) -> None:
    """Set several tags of the active run at once, all or nothing.

    :param tags: names and values.
    """
    current_client().set_tags(_active_run_id(), _mapping(tags, "set_tags"))


def delete_tag(key: str) -> None:
    """Delete a tag of the active run.

    :param key: the tag's name.
    """
    current_client().delete_tag(_active_run_id(), key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Copy one file into the active run's artifacts (written atomically, with its sha256).

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
    :param save_kwargs: extra keyword arguments for ``savefig`` / ``write_html``.
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


# --- reading ----------------------------------------------------------------------------------


def get_run(run_id: str) -> Run:
    """A run with its info and data (params, latest metrics, tags).

    :param run_id: the run's id.
    :raises NotFoundError: for a run the store does not have.
    """
    return current_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every point of one metric of a run, in step order.

    :param run_id: the run's id.
    :param key: the metric's name.
    """
    return current_client().get_metric_history(run_id, key)


def list_artifacts(run_id: str, path: str | None = None) -> list[FileInfo]:
    """The files and folders directly inside a run's artifacts (or inside ``path``).

    :param run_id: the run's id.
    :param path: a folder inside the run's artifacts; default the top.
    """
    return current_client().list_artifacts(run_id, path)


def delete_run(run_id: str) -> None:
    """Delete a run (it stays in the store, restorable with :func:`restore_run`).

    :param run_id: the run's id.
    """
    current_client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Restore a deleted run.

    :param run_id: the run's id.
    """
    current_client().restore_run(run_id)


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

    :param experiment_ids: the experiments to search; default the active experiment.
    :param filter_string: MLflow's grammar (``metrics.acc > 0.9 and params.lr = '0.01'``) plus
        ``or``, ``not`` and parentheses, which MLflow lacks.
    :param run_view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
    :param max_results: at most this many runs.
    :param order_by: e.g. ``["metrics.acc DESC", "start_time"]``; default newest first.
    :param output_format: ``"pandas"`` (default) or ``"list"``.
    :param search_all_experiments: search every experiment when none is named.
    :param experiment_names: or name the experiments to search (not with ``experiment_ids``).
    """
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(f"max_results must be a positive integer, not {max_results!r}.")
    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(f"output_format must be 'pandas' or 'list', not "
                                    f"{output_format!r}.")
    client = current_client()
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
    from mlnb.tracking.frames import runs_to_frame  # pandas: only when a DataFrame is asked for

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
        return client.all_experiment_ids()
    return [active_experiment_id()]


# --- the registry, by the current store -------------------------------------------------------


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None,
                   await_registration_for: int | None = None) -> ModelVersion:
    """Register the model at ``model_uri`` as the next version of ``name`` (created if needed).

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version>`` or a folder
        inside the store's artifact root; it must be a model mlnb's ``log_model`` wrote.
    :param name: the registered model's name.
    :param tags: tags of the new version.
    :param await_registration_for: accepted for MLflow compatibility; registration is
        immediate in mlnb.
    """
    client = current_client()
    client.writer.flush()
    source = model_source(client.store, model_uri)
    return client.create_model_version(name, source, tags=tags, create_model=True)


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
        try:
            end_run(status)
        except Exception:
            state.active.pop()


def _mapping(value: Any, what: str) -> dict[str, Any]:
    """The dict a log_* call takes, or a clear error (MLflow's signature takes a dict too)."""
    if not isinstance(value, dict):
        raise InvalidParameterError(
            f"{what} takes a dict such as {{'lr': 0.01}}, not {type(value).__name__}.")
    return value


atexit.register(_end_runs_at_exit)
