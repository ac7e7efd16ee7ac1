"""Runs, their params and tags, and the dead-run reaper: the tracking half of the store.

``log_batch`` is the one primitive that writes params, tags and metrics; every other logging call
is a batch of one. It validates everything before it writes anything, so a bad item leaves the
batch unwritten and the run as it was.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlnb.errors import (
    InvalidParameterError,
    NotFoundError,
    RunStateError,
    StoreError,
)
from mlnb.store import heartbeat, liveness, records, run_search, validation
from mlnb.store.access import DB_USER_TAG
from mlnb.store.dialect import StoreConnection, Writer
from mlnb.store.heartbeat import Heartbeat
from mlnb.store.search import (
    EntitySchema,
    KeyValueSource,
    compile_filter,
    compile_order_by,
    parse_filter,
    parse_order_by,
)
from mlnb.store.sql import (
    chunks,
    experiment_int,
    marks,
    now_ms,
    page_offset,
    result_limit,
    view_stages,
)

# MLflow's rule for a run's latest metric value: the greatest step, then the greatest timestamp,
# then the greatest value (NaN below every number). One definition, in SQL and in Python, for
# log_batch's upsert and the migration that recomputes old stores; get_run, search filters and
# ordering, and reproduce all read the latest value each metric_series row keeps.
LATEST_RANK = "({t}.step, {t}.timestamp, {t}.is_nan = 0, COALESCE({t}.value, 0))"

RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"

RUN_SCHEMA = EntitySchema(
    name="a run",
    attributes={
        "run_id": ("r.run_id", "str"),
        "run_name": ("r.name", "str"),
        "run name": ("r.name", "str"),  # MLflow's aliases: `Run name`, `Run Name`, Created
        "artifact_uri": ("mlnb_artifact_uri(r.run_id)", "str"),
        "status": ("r.status", "str"),
        "user_id": ("r.user_id", "str"),
        "lifecycle_stage": ("r.lifecycle_stage", "str"),
        "start_time": ("r.start_time", "num"),
        "created": ("r.start_time", "num"),
        "duration": ("(r.end_time - r.start_time)", "num"),
        "end_time": ("r.end_time", "num"),
        "experiment_id": ("CAST(r.experiment_id AS TEXT)", "str"),
        "parent_run_id": ("r.parent_run_id", "str"),
    },
    sources={
        "metrics": KeyValueSource("metric_series", (("run_id", "r.run_id"),), numeric=True),
        "params": KeyValueSource("params", (("run_id", "r.run_id"),), numeric=False),
        "tags": KeyValueSource("tags", (("run_id", "r.run_id"),), numeric=False),
    },
)

_ADJECTIVES = ("amber", "bold", "brisk", "calm", "clever", "crisp", "deft", "eager", "fair",
               "gentle", "keen", "lucid", "merry", "nimble", "quiet", "rapid", "sage", "steady",
               "sunny", "swift", "tidy", "vivid", "warm", "wise")
_NOUNS = ("badger", "bee", "crane", "deer", "eel", "finch", "fox", "gull", "hare", "heron", "ibis",
          "lark", "lynx", "mole", "newt", "otter", "owl", "panda", "seal", "swan", "trout", "wren")


def new_run_id() -> str:
    """A new run id: 32 random hex digits, as MLflow's."""
    return secrets.token_hex(16)


def random_run_name() -> str:
    """A name such as ``swift-otter-42`` for a run started without one."""
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"


class RunQueries:
    """The tracking tables' SQL. Mixed into :class:`mlnb.store.Store`."""

    cx: StoreConnection
    #: the heartbeats of this process's runs (team stores), None where pids tell liveness
    heartbeats: Heartbeat | None
    artifact_root_uri: str

    if TYPE_CHECKING:  # from ExperimentQueries and BatchQueries, beside this class in Store

        def get_experiment(self, experiment_id: str | int) -> Experiment: ...

        def log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[Param] = (),
                      tags: Sequence[RunTag] = ()) -> None: ...

        def fold_run_tails(self, conn: Writer, run_id: str) -> None: ...

        def require_writable(self) -> None: ...

        def can_write(self) -> bool: ...

        def db_role(self) -> str | None: ...

    _RUN_COLUMNS = ("r.run_id, r.experiment_id, r.name, r.status, r.start_time, r.end_time, "
                    "r.lifecycle_stage, r.user_id")

    # --- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        user_id: str = "",
        start_time: int | None = None,
    ) -> RunInfo:
        """Start a RUNNING run owned by this process; its tags are written in the same step.

        :param experiment_id: an active experiment.
        :param run_name: a name; default a random one.
        :param tags: tags of the run.
        :param parent_run_id: an existing run to be its parent.
        :param user_id: who runs it.
        :param start_time: milliseconds since the epoch; default now.
        """
        self.require_writable()  # a reader's start_run: one sentence naming its role and the fix
        name = validation.check_name(run_name, "Run") if run_name else random_run_name()
        run_id = new_run_id()
        start = start_time if start_time is not None else now_ms()
        host, pid, pid_start = liveness.current_process()
        all_tags = [RunTag(RUN_NAME_TAG, name)]
        if parent_run_id:
            all_tags.append(RunTag(PARENT_RUN_TAG, parent_run_id))
        all_tags += [RunTag(k, v) for k, v in (tags or {}).items() if k != RUN_NAME_TAG]
        role = self.db_role()
        if role is not None:  # who made it on PostgreSQL, where user_id (the login) could be anything
            all_tags.append(RunTag(DB_USER_TAG, role))
        with self.cx.write() as conn:
            experiment = self.get_experiment(experiment_id)
            if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
                raise RunStateError(
                    f"Experiment {experiment.name!r} is deleted; restore it before adding runs."
                )
            if parent_run_id:
                self.get_run_info(parent_run_id)
            conn.execute(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time, user_id, "
                "parent_run_id, host, pid, pid_start, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                f"?, ?, {self.cx.dialect.server_clock_ms})",
                [run_id, int(experiment.experiment_id), name, RunStatus.RUNNING, start, user_id,
                 parent_run_id, host, pid, pid_start],
            )
            self.log_batch(run_id, tags=all_tags)
        if self.heartbeats is not None:
            self.heartbeats.track(run_id)
        return self.get_run_info(run_id)

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status (ending it sets its end time), or rename it.

        :param run_id: the run.
        :param status: a new status, or None.
        :param end_time: the end time (ms), or None.
        :param run_name: a new name, or None.
        """
        if status is not None and status not in RunStatus.ALL:
            raise InvalidParameterError(
                f"{status!r} is not a run status; use one of {', '.join(RunStatus.ALL)}."
            )
        with self.cx.write() as conn:
            self.get_run_info(run_id)
            if status is not None and end_time is None and RunStatus.is_terminated(status):
                # Measured here: never before the start, even when this process's clock is
                # behind the one that started the run (another process, a stepped clock).
                conn.execute(
                    f"UPDATE runs SET status = ?, end_time = {self.cx.dialect.greatest('?', 'start_time')} "
                    "WHERE run_id = ?",
                    [status, now_ms(), run_id],
                )
            elif status is not None:  # an end time the caller gives is stored as given
                conn.execute(
                    "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?",
                    [status, end_time, run_id],
                )
            if run_name is not None:
                self.log_batch(run_id, tags=[RunTag(RUN_NAME_TAG, run_name)])
            if status is not None and RunStatus.is_terminated(status):
                self.fold_run_tails(conn, run_id)  # its series are complete: pack them
        if self.heartbeats is not None and status is not None:
            if RunStatus.is_terminated(status):
                self.heartbeats.untrack(run_id)
        return self.get_run_info(run_id)

    def resume_run(self, run_id: str) -> None:
        """Make an ended run RUNNING again, owned by this process.

        :param run_id: the run.
        """
        host, pid, pid_start = liveness.current_process()
        with self.cx.write() as conn:
            self.check_writable(run_id)
            conn.execute(
                "UPDATE runs SET status = 'RUNNING', end_time = NULL, host = ?, pid = ?, "
                f"pid_start = ?, heartbeat = {self.cx.dialect.server_clock_ms} WHERE run_id = ?",
                [host, pid, pid_start, run_id],
            )
        if self.heartbeats is not None:
            self.heartbeats.track(run_id)

    def set_run_lifecycle(self, run_id: str, stage: str) -> None:
        """Delete (``deleted``) or restore (``active``) a run; its data is kept either way.

        Works on a malformed run too, so that the user can delete one.

        :param run_id: the run.
        :param stage: ``deleted`` or ``active``.
        """
        with self.cx.write() as conn:
            if not self.cx.query("SELECT 1 FROM runs WHERE run_id = ?", [run_id]):
                raise NotFoundError(f"No run with id {run_id!r}.")
            conn.execute(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_id = ?",
                [stage, now_ms() if stage == LifecycleStage.DELETED else None, run_id],
            )

    def check_writable(self, run_id: str) -> None:
        """Refuse a write to a run that does not exist or is deleted.

        :param run_id: the run.
        :raises NotFoundError: when there is none.
        :raises RunStateError: when it is deleted.
        :raises ReadOnlyStoreError: when this user may only read the store (checked here, so a
            buffered metric or an artifact file fails at the call, not at a later flush).
        """
        self.require_writable()
        rows = self.cx.query("SELECT lifecycle_stage FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise NotFoundError(f"No run with id {run_id!r}.")
        if rows[0][0] != LifecycleStage.ACTIVE:
            raise RunStateError(f"Run {run_id} is deleted; restore it before logging to it.")

    def _infos(self, found: Sequence[Sequence[Any]]) -> list[RunInfo]:
        """The runs of ``found`` rows; a malformed row is skipped with a warning naming it."""
        infos = []
        for row in found:
            try:
                infos.append(records.run_info(row, self.artifact_root_uri))
            except records.MalformedRow as problem:
                records.skip(f"run {row[0]!r}", problem)
        return infos

    def get_run_info(self, run_id: str) -> RunInfo:
        """A run's info.

        :param run_id: the run.
        :raises NotFoundError: when there is none.
        :raises StoreError: when its row is malformed.
        """
        found = self.cx.query(f"SELECT {self._RUN_COLUMNS} FROM runs r WHERE r.run_id = ?", [run_id])
        if not found:
            raise NotFoundError(f"No run with id {run_id!r}.")
        try:
            return records.run_info(found[0], self.artifact_root_uri)
        except records.MalformedRow as problem:
            raise StoreError(
                f"Run {run_id} in the store is malformed: {problem}. It was not written by mlnb "
                "as it is; delete it (mlnb.delete_run) or repair the row."
            ) from None

    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Several runs, in the order asked, in a bounded number of queries.

        Raises NotFoundError naming the first id that does not exist; a malformed run is left
        out with a warning.

        :param run_ids: the runs (duplicates are read once).
        """
        infos: dict[str, RunInfo] = {}
        present: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(run_ids))):
            found = self.cx.query(
                f"SELECT {self._RUN_COLUMNS} FROM runs r WHERE r.run_id IN ({marks(chunk)})", chunk
            )
            present.update(row[0] for row in found)
            infos.update((info.run_id, info) for info in self._infos(found))
        missing = [r for r in run_ids if r not in present]
        if missing:
            raise NotFoundError(f"No run with id {missing[0]!r}.")
        return self._with_data([infos[r] for r in run_ids if r in infos])

    def get_run(self, run_id: str) -> Run:
        """A run with its params, tags and latest metrics.

        :param run_id: the run.
        :raises NotFoundError: when there is none.
        """
        info = self.get_run_info(run_id)
        return self._with_data([info])[0]

    def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, list[Metric]]:
        """Each run's latest point of every metric, with its step and timestamp (MLflow's
        ``RunData.metrics`` entries), by run id; a malformed row is skipped with a warning.

        :param run_ids: the runs.
        """
        found: dict[str, list[Metric]] = {r: [] for r in run_ids}
        for chunk in chunks(list(run_ids)):
            for run_id, key, value, is_nan, step, timestamp in self.cx.query(
                "SELECT run_id, key, value, is_nan, step, timestamp FROM metric_series "
                f"WHERE run_id IN ({marks(chunk)}) ORDER BY run_id, key", chunk,
            ):
                try:
                    found[run_id].append(Metric(records.text(key, "key"),
                                                records.metric_value(value, is_nan),
                                                int(timestamp), int(step)))
                except (records.MalformedRow, TypeError, ValueError) as problem:
                    records.skip(f"metric {key!r} of run {run_id}", records.MalformedRow(str(problem)))
        return found

    def _with_data(self, infos: list[RunInfo]) -> list[Run]:
        """Attach params, tags and latest metrics in three queries per 500 runs, not per run."""
        params: dict[str, dict[str, str]] = {i.run_id: {} for i in infos}
        tags: dict[str, dict[str, str]] = {i.run_id: {} for i in infos}
        metrics: dict[str, dict[str, float]] = {i.run_id: {} for i in infos}
        ids = [i.run_id for i in infos]
        for chunk in chunks(ids):
            placeholders = marks(chunk)
            for table, into in (("params", params), ("tags", tags)):
                for run_id, key, value in self.cx.query(
                    f"SELECT run_id, key, value FROM {table} WHERE run_id IN ({placeholders})",
                    chunk,
                ):
                    if isinstance(key, str) and isinstance(value, str):
                        into[run_id][key] = value
                    else:
                        records.skip(f"{table[:-1]} {key!r} of run {run_id}", records.MalformedRow(
                            f"its key and value are {key!r} and {value!r}, not texts"))
            for run_id, key, value, is_nan in self.cx.query(
                f"SELECT run_id, key, value, is_nan FROM metric_series WHERE run_id IN ({placeholders})",
                chunk,
            ):
                try:
                    metrics[run_id][records.text(key, "key")] = records.metric_value(value, is_nan)
                except records.MalformedRow as problem:
                    records.skip(f"metric {key!r} of run {run_id}", problem)
        return [Run(i, RunData(metrics[i.run_id], params[i.run_id], tags[i.run_id])) for i in infos]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        offset: int = 0,
    ) -> list[Run]:
        """Runs of the experiments that match the filter, ordered (newest first by default).

        :param experiment_ids: the experiments to search.
        :param filter_string: the search grammar.
        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        :param max_results: at most this many.
        :param order_by: order-by clauses.
        :param offset: rows to skip (paging).
        """
        return self._with_data(self.search_run_infos(
            experiment_ids, filter_string, view_type, max_results, order_by, offset))

    def search_run_infos(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        offset: int = 0,
    ) -> list[RunInfo]:
        """The infos of the runs :meth:`search_runs` returns, without their data (cheaper).

        :param experiment_ids: the experiments to search.
        :param filter_string: the search grammar.
        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        :param max_results: at most this many.
        :param order_by: order-by clauses.
        :param offset: rows to skip (paging).
        """
        terms = parse_order_by(order_by)
        condition, condition_params = self.run_condition(experiment_ids, filter_string, view_type)
        limit, skip = result_limit(max_results), page_offset(offset)
        if run_search.is_driven(terms, RUN_SCHEMA):  # by a metric, param or tag: its index
            return self._infos(run_search.driven_page(
                self.cx, self._RUN_COLUMNS, terms, RUN_SCHEMA, condition, condition_params,
                limit, skip))
        streams = self._newest_first_streams(experiment_ids, filter_string, view_type)
        if not terms and 1 < len(streams) <= run_search.MAX_STREAMS:
            found = run_search.newest_first(self.cx, self._RUN_COLUMNS, streams, limit, skip)
            if found is not None:
                return self._infos(found)
        order = compile_order_by(terms, RUN_SCHEMA)
        order_sql = (order.sql + ", " if order.sql else "") + "r.start_time DESC, r.run_id"
        found = self.cx.query(
            f"SELECT {self._RUN_COLUMNS} FROM runs r {order.joins} WHERE {condition} "
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?",
            [*order.join_params, *condition_params, limit, skip],
        )
        return self._infos(found)

    def count_runs(
        self, experiment_ids: Sequence[str], filter_string: str | None = None,
        view_type: int = ViewType.ACTIVE_ONLY,
    ) -> int:
        """How many runs of the experiments match the filter.

        :param experiment_ids: the experiments.
        :param filter_string: the search grammar.
        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        """
        condition, params = self.run_condition(experiment_ids, filter_string, view_type)
        source, source_params = run_search.count_source(parse_filter(filter_string), RUN_SCHEMA,
                                                         self.cx.dialect)
        return int(self.cx.query(f"SELECT count(*) {source}{condition}",
                                 [*source_params, *params])[0][0])

    def _newest_first_streams(self, experiment_ids: Sequence[str], filter_string: str | None,
                              view_type: int) -> list[tuple[str, list[Any]]]:
        """One condition per experiment and lifecycle stage: each is newest first in an index."""
        where = compile_filter(parse_filter(filter_string), RUN_SCHEMA, filter_string or "",
                               self.cx.dialect)
        return [("r.experiment_id = ? AND r.lifecycle_stage = ? AND " + where.sql,
                 [experiment_int(e), stage, *where.params])
                for e in experiment_ids for stage in view_stages(view_type)]

    def run_condition(self, experiment_ids: Sequence[str], filter_string: str | None,
                      view_type: int) -> tuple[str, list[Any]]:
        """The SQL condition on runs ``r`` of a search, and its parameters.

        :param experiment_ids: the experiments.
        :param filter_string: the search grammar.
        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        """
        where = compile_filter(parse_filter(filter_string), RUN_SCHEMA, filter_string or "",
                               self.cx.dialect)
        stages = view_stages(view_type)
        eids = [experiment_int(e) for e in experiment_ids]
        return (f"r.experiment_id IN ({marks(eids)}) AND r.lifecycle_stage IN ({marks(stages)}) "
                f"AND {where.sql}", [*eids, *stages, *where.params])

    def child_run_ids(self, parent_run_id: str) -> list[str]:
        """The ids of a run's child runs, oldest first.

        :param parent_run_id: the parent run.
        """
        rows = self.cx.query(
            "SELECT run_id FROM runs WHERE parent_run_id = ? ORDER BY start_time", [parent_run_id]
        )
        return [row[0] for row in rows]

    # --- liveness ---------------------------------------------------------------------------

    def reap_dead_runs(self) -> list[str]:
        """Mark KILLED every RUNNING run whose process has died; return their ids.

        A run of this machine is dead when its process is gone; on a team store, a run of any
        machine is dead when its heartbeat stopped (:mod:`mlnb.store.heartbeat`: no heartbeat
        for four intervals, two minutes by default), unless it is this machine's and its process
        still lives. A user who may only read the store (a reader role) leaves that to those who
        may write: its searches and the sidebar must work, not fail on a write it was never
        allowed.
        """
        if not self.can_write():
            return []
        host = liveness.this_host()
        running = self.cx.query(
            "SELECT run_id, pid, pid_start FROM runs WHERE status = 'RUNNING' AND host = ?", [host]
        )
        # One check per process, not per run: a sweep's thousands of runs share a few processes.
        checked: dict[tuple[int, str | None], bool] = {}

        def alive(run_id: str, pid: object, start: object) -> bool:
            try:
                process = records.process(pid, start)
            except records.MalformedRow as problem:  # left alone (never KILLED on a guess)
                records.skip(f"the liveness check of run {run_id!r}", problem)
                return True
            if process not in checked:
                checked[process] = liveness.is_alive(*process)
            return checked[process]

        dead = [run_id for run_id, pid, start in running
                if pid is not None and not alive(run_id, pid, start)]
        if self.heartbeats is not None:
            silent = self.cx.query(
                "SELECT run_id, host, pid, pid_start FROM runs WHERE status = 'RUNNING' AND "
                f"heartbeat < {self.cx.dialect.server_clock_ms} - ?", [heartbeat.dead_after_ms()])
            dead += [run_id for run_id, run_host, pid, start in silent if run_id not in dead and (
                run_host != host or pid is None or not alive(run_id, pid, start))]
        if dead:
            t = now_ms()
            with self.cx.write() as conn:
                for run_id in dead:
                    killed = conn.execute(  # never an end before the start (another clock)
                        "UPDATE runs SET status = 'KILLED', end_time = "
                        f"{self.cx.dialect.greatest('?', 'start_time')} "
                        "WHERE run_id = ? AND status = 'RUNNING'", [t, run_id],
                    ).rowcount
                    if not killed:
                        continue  # another reaper (or the run's own end) got there first
                    conn.execute(
                        "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                        "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                        [run_id, "mlnb.end_reason",
                         "its process ended without finishing the run (killed or crashed)"],
                    )
                    self.fold_run_tails(conn, run_id)
        return dead

    def beat(self, run_ids: list[str]) -> None:
        """Stamp the heartbeat of running runs with the database's clock (team stores).

        :param run_ids: runs this process runs.
        """
        with self.cx.write() as conn:
            for chunk in chunks(sorted(run_ids)):
                conn.execute(
                    f"UPDATE runs SET heartbeat = {self.cx.dialect.server_clock_ms} "
                    f"WHERE run_id IN ({marks(chunk)}) AND status = 'RUNNING'", list(chunk))

