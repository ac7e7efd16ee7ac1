"""``MlnbClient``: the tracking API with explicit ids (MLflow's ``MlflowClient``).

The fluent functions in :mod:`mlnb.tracking.fluent` keep the "current run" and call this client;
the CLI, the widgets and the server use the client (or the store) directly. Metric points go
through the store's :class:`~mlnb.tracking.writer.MetricWriter`, and every read flushes it first,
so a process always reads what it has logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlnb.capture.environment import current_user
from mlnb.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlnb.errors import InvalidParameterError, RunStateError
from mlnb.registry import RegistryClientMixin
from mlnb.store import Store, open_store, resolve
from mlnb.store.paging import PagedList, page, token_offset
from mlnb.store.sql import now_ms
from mlnb.tracking.artifacts import ArtifactClientMixin
from mlnb.tracking.model_client import LoggedModelClientMixin
from mlnb.tracking.state import explicit_uri, forget_parent_runs, state
from mlnb.tracking.writer import MetricWriter

_writers: dict[int, MetricWriter] = {}


def writer_for(store: Store) -> MetricWriter:
    """The one metric writer of ``store`` in this process (its buffer is shared by every client).

    :param store: an open store.
    """
    writer = _writers.get(id(store))
    if writer is None or writer.store is not store:
        writer = _writers[id(store)] = MetricWriter(store)
    return writer


class RunOperations:
    """What a logging call with ``synchronous=False`` returns (MLflow's ``RunOperations``):
    :meth:`wait` returns once everything this process logged to the store is on disk.

    :param writer: the metric writer of the store logged to.
    """

    def __init__(self, writer: MetricWriter) -> None:
        self._writer = writer

    def wait(self) -> None:
        """Block until the buffered metric points are written (params and tags already are)."""
        self._writer.flush()


def after_logging(writer: MetricWriter, synchronous: bool | None) -> RunOperations | None:
    """MLflow's ``synchronous`` argument, applied after a logging call buffered or wrote its data.

    ``True``: the buffered metric points are written before the call returns. ``False``: nothing
    more is done (mlnb's metric points are buffered anyway) and a :class:`RunOperations` is
    returned, as MLflow returns one. ``None`` (the default): mlnb's default, which is MLflow's
    asynchronous mode for metric points (on disk within a second, and before any read in this
    process) and synchronous writes for params and tags; ``MLFLOW_ENABLE_ASYNC_LOGGING`` changes
    nothing.

    :param writer: the metric writer of the store logged to.
    :param synchronous: the caller's ``synchronous`` argument.
    """
    if synchronous is None:
        return None
    if not isinstance(synchronous, bool):
        raise InvalidParameterError(f"synchronous must be True, False or None, not {synchronous!r}.")
    if synchronous:
        writer.flush()
        return None
    return RunOperations(writer)


class MlnbClient(RegistryClientMixin, ArtifactClientMixin, LoggedModelClientMixin):
    """Tracking operations on one store, each naming its run or experiment explicitly.

    MLflow's ``MlflowClient`` (also importable under that name). The differences: the store is a
    local folder or SQLite file (no tracking server), metric points are buffered (on disk within a
    second and before any read), artifacts always live in the store's own folder, and the registry
    methods come from :class:`~mlnb.registry.RegistryClientMixin`.

    :param tracking_uri: a ``.mlnb`` folder, a ``.db`` file or a ``sqlite:///`` URI; default the one
        given to ``mlnb.set_tracking_uri``, else the store rules of :func:`current_client`.
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        # As MLflow's client: no URI means the one given to mlnb.set_tracking_uri, if any.
        self.store = open_store(tracking_uri if tracking_uri is not None else state.tracking_uri)
        self.writer = writer_for(self.store)

    @property
    def tracking_uri(self) -> str:
        """The URI of this client's store."""
        return self.store.location.uri

    # --- experiments ------------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        """Create an experiment and return its id; its artifacts live in the store's root.

        :param name: a name no other experiment has.
        :param artifact_location: not supported, unlike MLflow: artifacts stay in the store's own
            folder. Must be None.
        :param tags: tags of the new experiment.
        :raises InvalidParameterError: when ``artifact_location`` is given.
        """
        if artifact_location is not None:
            raise InvalidParameterError(
                "artifact_location is not supported: artifacts stay in the store's own folder so "
                "that no path can point outside it. Drop the argument."
            )
        return self.store.create_experiment(name, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id.

        :param experiment_id: the experiment's id.
        :raises NotFoundError: when the store has none.
        """
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None.

        :param name: the experiment's name.
        """
        return self.store.get_experiment_by_name(name)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment with this name, created if it does not exist (race-free across
        processes). What ``mlnb.set_experiment(name)`` uses.

        :param name: the experiment's name.
        """
        return self.store.get_or_create_experiment(name)

    def all_experiment_ids(self, view_type: int = ViewType.ALL) -> list[str]:
        """The ids of every experiment (deleted ones too with the default ``ViewType.ALL``).

        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        """
        return self.store.experiment_ids(view_type)

    def search_experiments(
        self, view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
        filter_string: str | None = None, order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        """Experiments matching a filter.

        Unlike MLflow, the result is a plain list, not a paged list, and there is no ``page_token``.

        :param view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
        :param max_results: at most this many.
        :param filter_string: e.g. ``"name LIKE 'churn%' and tags.team = 'ml'"``.
        :param order_by: e.g. ``["name ASC"]``.
        """
        return self.store.search_experiments(view_type, filter_string, max_results, order_by)

    def delete_experiment(self, experiment_id: str) -> None:
        """Delete an experiment and its runs (restorable with :meth:`restore_experiment`).

        Buffered metric points are written first.

        :param experiment_id: the experiment's id.
        """
        self.writer.flush()
        self.writer.forget()  # its runs are deleted with it
        self.store.set_experiment_lifecycle(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment.

        :param experiment_id: the experiment's id.
        """
        self.store.set_experiment_lifecycle(experiment_id, LifecycleStage.ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new name.

        :param experiment_id: the experiment's id.
        :param new_name: a name no other experiment has.
        """
        self.store.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set one tag of an experiment.

        :param experiment_id: the experiment's id.
        :param key: the tag's name.
        :param value: any value, stored as text.
        """
        self.store.set_experiment_tag(experiment_id, key, value)

    # --- runs -------------------------------------------------------------------------------

    def create_run(
        self, experiment_id: str, start_time: int | None = None,
        tags: dict[str, Any] | None = None, run_name: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run and return it (it does not become the fluent API's active run).

        The user is the current user. ``parent_run_id`` is mlnb's addition to MLflow's signature.

        :param experiment_id: the experiment of the run.
        :param start_time: milliseconds since the epoch; default now.
        :param tags: tags of the run.
        :param run_name: a name; default a random one.
        :param parent_run_id: make the run a child of this run.
        """
        info = self.store.create_run(
            experiment_id, run_name, tags, parent_run_id, current_user(), start_time
        )
        return self.get_run(info.run_id)

    def get_run(self, run_id: str) -> Run:
        """A run with its info and data (params, latest metrics, tags), read after a flush.

        :param run_id: the run.
        :raises NotFoundError: for a run this store does not have.
        """
        self.writer.flush()
        return self.store.get_run(run_id)

    def get_run_info(self, run_id: str) -> RunInfo:
        """A run's info alone (status, times, name, artifact URI): cheaper than :meth:`get_run`.

        :param run_id: the run.
        """
        return self.store.get_run_info(run_id)

    def resume_run(self, run_id: str) -> RunInfo:
        """Make a run RUNNING again, owned by this process (mlnb's side of ``start_run(run_id)``).

        :param run_id: the run; a deleted run must be restored first.
        :raises RunStateError: for a deleted run.
        """
        info = self.store.get_run_info(run_id)
        if info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise RunStateError(f"Run {run_id} is deleted; restore it before resuming it.")
        self.store.resume_run(run_id)
        return self.store.get_run_info(run_id)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status and/or name (buffered metric points are written first).

        :param run_id: the run.
        :param status: a new status (RUNNING, SCHEDULED, FINISHED, FAILED or KILLED).
        :param name: a new run name.
        """
        self.writer.flush()
        self.store.update_run(run_id, status=status, run_name=name)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> RunInfo:
        """End a run: flush its metrics, then record its final status and end time.

        Unlike MLflow, it returns the run's updated info.

        :param run_id: the run.
        :param status: FINISHED (default), FAILED or KILLED.
        :param end_time: milliseconds since the epoch; default now.
        """
        self.writer.flush()
        # No end time given: the store measures it, never before the run's start.
        return self.store.update_run(run_id, status=status, end_time=end_time)

    def delete_run(self, run_id: str) -> None:
        """Delete a run (restorable with :meth:`restore_run`); buffered metric points are written
        first.

        :param run_id: the run.
        """
        self.writer.flush()
        self.writer.forget(run_id)
        self.store.set_run_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        """Restore a deleted run.

        :param run_id: the run.
        """
        self.store.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)

    def search_runs(
        self, experiment_ids: Sequence[str], filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
        order_by: Sequence[str] | None = None, page_token: str | None = None,
    ) -> PagedList:
        """A page of matching runs; pass ``result.token`` as ``page_token`` for the next page.

        Runs of this host whose process died while RUNNING are marked KILLED before the search.

        :param experiment_ids: the experiments to search.
        :param filter_string: MLflow's grammar (``metrics.acc > 0.9 and params.lr = '0.01'``) plus
            ``or``, ``not`` and parentheses, which MLflow lacks.
        :param run_view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
        :param max_results: at most this many runs in the page.
        :param order_by: e.g. ``["metrics.acc DESC", "start_time"]``.
        :param page_token: the ``token`` of the previous page.
        """
        self.writer.flush()
        self.store.reap_dead_runs()
        offset = token_offset(page_token)
        runs = self.store.search_runs(
            [str(e) for e in experiment_ids], filter_string, run_view_type, max_results,
            order_by, offset,
        )
        return page(runs, offset, max_results)

    # --- logging ----------------------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Log one param of a run and return its value; a param is fixed once logged.

        :param run_id: the run.
        :param key: the param's name.
        :param value: any value; it is stored as text (at most 6,000 characters).
        :param synchronous: MLflow's flag (see :func:`after_logging`): the param is written at once
            in any case; ``False`` returns a :class:`RunOperations` instead of the value.
        :raises ParamConflictError: when the run already has ``key`` with another value.
        """
        self.store.log_batch(run_id, params=[Param(key, value)])
        operations = after_logging(self.writer, synchronous)
        return operations if synchronous is False else value

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log several params of a run at once, all or nothing.

        :param run_id: the run.
        :param params: names and values, as for :meth:`log_param`.
        """
        self.store.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])

    def log_metric(
        self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int = 0,
        synchronous: bool | None = None,
    ) -> RunOperations | None:
        """Log one metric point of a run; buffered, on disk within a second and on any read.

        :param run_id: the run.
        :param key: the metric's name.
        :param value: a number (NaN and ±inf are kept as they are).
        :param timestamp: milliseconds since the epoch; default now.
        :param step: the training step (default 0).
        :param synchronous: MLflow's flag: ``True`` writes the point before returning; ``False``
            returns a :class:`RunOperations`; see :func:`after_logging`.
        """
        self.writer.add(run_id, key, value, timestamp if timestamp is not None else now_ms(),
                        step or 0)
        return after_logging(self.writer, synchronous)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int | None = None,
                    timestamp: int | None = None) -> None:
        """Log several metric points of a run with one step and timestamp (buffered).

        :param run_id: the run.
        :param metrics: names and values.
        :param step: the training step (default 0).
        :param timestamp: milliseconds since the epoch; default now, the same for every point.
        """
        t = timestamp if timestamp is not None else now_ms()
        for key, value in metrics.items():
            self.writer.add(run_id, key, value, t, step or 0)

    def set_tag(self, run_id: str, key: str, value: Any,
                synchronous: bool | None = None) -> RunOperations | None:
        """Set one tag of a run (a tag can be changed, unlike a param).

        :param run_id: the run.
        :param key: the tag's name.
        :param value: any value, stored as text.
        :param synchronous: MLflow's flag: the tag is written at once in any case; ``False``
            returns a :class:`RunOperations`.
        """
        self.store.log_batch(run_id, tags=[RunTag(key, value)])
        return after_logging(self.writer, synchronous)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags of a run at once, all or nothing.

        :param run_id: the run.
        :param tags: names and values, as for :meth:`set_tag`.
        """
        self.store.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a tag of a run.

        :param run_id: the run.
        :param key: the tag's name.
        """
        self.store.delete_tag(run_id, key)

    def log_batch(
        self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (), synchronous: bool | None = None,
    ) -> RunOperations | None:
        """Write metrics, params and tags at once, all or nothing.

        Unlike :meth:`log_metric`, the metrics are not buffered: everything is written before the
        call returns, whatever ``synchronous`` says.

        :param run_id: the run.
        :param metrics: :class:`~mlnb.entities.Metric` points.
        :param params: :class:`~mlnb.entities.Param` values.
        :param tags: :class:`~mlnb.entities.RunTag` values.
        :param synchronous: MLflow's flag; ``False`` returns a :class:`RunOperations`.
        """
        self.writer.flush()
        self.store.log_batch(run_id, list(metrics), list(params), list(tags))
        return after_logging(self.writer, synchronous)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None,
                   models: Sequence[Any] | None = None) -> None:
        """Record the datasets (and logged models) a run used, all or nothing (MLflow's
        ``MlflowClient.log_inputs``). A dataset is recorded once per experiment for its name and
        digest; one the run has already keeps its first tags.

        :param run_id: the run.
        :param datasets: :class:`~mlnb.entities.DatasetInput` records (build the dataset with
            ``mlnb.data.from_pandas(df).to_record()``).
        :param models: logged model ids, or objects with a ``model_id`` (MLflow's
            ``LoggedModelInput``).
        """
        ids = [m if isinstance(m, str) else getattr(m, "model_id", m) for m in models or []]
        self.store.log_inputs(run_id, list(datasets or []), ids)

    def get_dataset_inputs(self, run_id: str) -> list[DatasetInput]:
        """The datasets a run used, in the order they were logged, with the tags of each use.

        :param run_id: the run.
        :raises NotFoundError: when there is no such run.
        """
        self.store.get_run_info(run_id)
        return self.store.dataset_inputs_of_runs([run_id])[run_id]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of a run (buffered points are written first).

        :param run_id: the run.
        :param key: the metric's name.
        """
        self.writer.flush()
        return self.store.get_metric_history(run_id, key)


MlflowClient = MlnbClient

_clients: dict[str | None, MlnbClient] = {}


def current_client() -> MlnbClient:
    """The client of the store the fluent API uses: ``set_tracking_uri(...)``, else
    ``MLNB_TRACKING_URI``, else the nearest ``.mlnb/`` (created in the current folder if none).

    One client per store and process; every layer above tracking reaches the current store
    through this function.
    """
    forget_parent_runs()
    uri = explicit_uri()
    client = _clients.get(uri)
    if client is None:
        client = _clients[uri] = MlnbClient(uri)
    return client


def current_store() -> Store:
    """The store of :func:`current_client`."""
    return current_client().store


def existing_store() -> Store | None:
    """The current store if it exists already, else None: reading a local model folder must
    never create a store, nor fail where none can be opened."""
    uri = explicit_uri()
    try:
        location = resolve(uri)
        if location.is_sqlite and not location.db_path.exists():
            return None
        return open_store(uri)
    except Exception:  # a local model folder loads even where no store can be opened
        return None
