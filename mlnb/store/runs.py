"""Experiments, runs, params, tags, metrics and artifact records: the tracking half of the store.

``log_batch`` is the one primitive that writes params, tags and metrics; every other logging call
is a batch of one. It validates everything before it writes anything, so a bad item leaves the
batch unwritten and the run as it was.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

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
    AlreadyExistsError,
    InvalidParameterError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
)
from mlnb.store import liveness, validation
from mlnb.store.connection import Connection
from mlnb.store.search import (
    EntitySchema,
    KeyValueSource,
    compile_filter,
    compile_order_by,
    parse_filter,
    parse_order_by,
)

RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"
MAX_RESULTS_LIMIT = 50_000
MAX_OFFSET = 1_000_000_000  # far past any real store, far below SQLite's 64-bit integers
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

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
        "metrics": KeyValueSource("latest_metrics", (("run_id", "r.run_id"),), numeric=True),
        "params": KeyValueSource("params", (("run_id", "r.run_id"),), numeric=False),
        "tags": KeyValueSource("tags", (("run_id", "r.run_id"),), numeric=False),
    },
)

EXPERIMENT_SCHEMA = EntitySchema(
    name="an experiment",
    attributes={
        "name": ("e.name", "str"),
        "experiment_id": ("CAST(e.experiment_id AS TEXT)", "str"),
        "creation_time": ("e.creation_time", "num"),
        "last_update_time": ("e.last_update_time", "num"),
        "lifecycle_stage": ("e.lifecycle_stage", "str"),
    },
    sources={
        "tags": KeyValueSource("experiment_tags", (("experiment_id", "e.experiment_id"),), False),
    },
)

_ADJECTIVES = ("amber", "bold", "brisk", "calm", "clever", "crisp", "deft", "eager", "fair",
               "gentle", "keen", "lucid", "merry", "nimble", "quiet", "rapid", "sage", "steady",
               "sunny", "swift", "tidy", "vivid", "warm", "wise")
_NOUNS = ("badger", "bee", "crane", "deer", "eel", "finch", "fox", "gull", "hare", "heron", "ibis",
          "lark", "lynx", "mole", "newt", "otter", "owl", "panda", "seal", "swan", "trout", "wren")


def now_ms() -> int:
    return int(time.time() * 1000)


def new_run_id() -> str:
    return secrets.token_hex(16)


def random_run_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"


def _float(value: float | None, is_nan: int) -> float:
    return math.nan if is_nan else float(value)  # type: ignore[arg-type]


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


class RunQueries:
    """The tracking tables' SQL. Mixed into :class:`mlnb.store.Store`."""

    cx: Connection
    artifact_root_uri: str

    # --- experiments ------------------------------------------------------------------------

    def create_experiment(self, name: str, tags: dict[str, Any] | None = None) -> str:
        validation.check_name(name, "Experiment")
        tags = {validation.check_key(k, "Tag"): validation.tag_value(k, v)
                for k, v in (tags or {}).items()}
        with self.cx.write() as conn:
            row = conn.execute(
                "SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ?", [name]
            ).fetchone()
            if row is not None:
                extra = " (it is deleted: restore it or pick another name)" \
                    if row[1] == LifecycleStage.DELETED else ""
                raise AlreadyExistsError(f"Experiment {name!r} already exists{extra}.")
            t = now_ms()
            cur = conn.execute(
                "INSERT INTO experiments (name, creation_time, last_update_time) VALUES (?, ?, ?)",
                [name, t, t],
            )
            experiment_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                [(experiment_id, k, v) for k, v in tags.items()],
            )
        return str(experiment_id)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment named ``name``, created if there is none, in one write transaction:
        processes calling ``set_experiment`` on a new name at the same moment all get it."""
        validation.check_name(name, "Experiment")
        with self.cx.write():
            found = self.get_experiment_by_name(name)
            if found is not None:
                return found
            return self.get_experiment(self.create_experiment(name))

    def _experiment_from_row(self, row: Sequence[Any]) -> Experiment:
        experiment_id = row[0]
        tags: dict[str, str] = {key: value for key, value in self.cx.query(
            "SELECT key, value FROM experiment_tags WHERE experiment_id = ?", [experiment_id]
        )}
        return Experiment(
            experiment_id=str(experiment_id), name=row[1],
            artifact_location=self.artifact_root_uri, lifecycle_stage=row[2],
            tags=tags, creation_time=row[3], last_update_time=row[4],
        )

    _EXPERIMENT_COLUMNS = ("e.experiment_id, e.name, e.lifecycle_stage, e.creation_time, "
                           "e.last_update_time")

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        rows = self.cx.query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments e WHERE e.experiment_id = ?",
            [_experiment_int(experiment_id)],
        )
        if not rows:
            raise NotFoundError(f"No experiment with id {experiment_id!r}.")
        return self._experiment_from_row(rows[0])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        rows = self.cx.query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments e WHERE e.name = ?", [name]
        )
        return self._experiment_from_row(rows[0]) if rows else None

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        where = compile_filter(parse_filter(filter_string), EXPERIMENT_SCHEMA, filter_string or "")
        order = compile_order_by(parse_order_by(order_by), EXPERIMENT_SCHEMA)
        stages = _stages(view_type)
        order_sql = (order.sql + ", " if order.sql else "") + "e.experiment_id"
        rows = self.cx.query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments e {order.joins} "
            f"WHERE e.lifecycle_stage IN ({_marks(stages)}) AND {where.sql} "
            f"ORDER BY {order_sql} LIMIT ?",
            [*order.join_params, *stages, *where.params, _limit(max_results)],
        )
        return [self._experiment_from_row(row) for row in rows]

    def experiment_ids(self, view_type: int = ViewType.ALL) -> list[str]:
        """The ids of every experiment in ``view_type``, oldest first."""
        stages = _stages(view_type)
        rows = self.cx.query(
            f"SELECT experiment_id FROM experiments WHERE lifecycle_stage IN ({_marks(stages)}) "
            "ORDER BY experiment_id", list(stages))
        return [str(row[0]) for row in rows]

    def set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        """Delete (``deleted``) or restore (``active``) an experiment and its runs."""
        eid = _experiment_int(experiment_id)
        if eid == 0 and stage == LifecycleStage.DELETED:
            raise InvalidParameterError("The Default experiment (id 0) cannot be deleted.")
        with self.cx.write() as conn:
            self.get_experiment(experiment_id)
            t = now_ms()
            conn.execute(
                "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                "WHERE experiment_id = ?", [stage, t, eid],
            )
            conn.execute(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?",
                [stage, t if stage == LifecycleStage.DELETED else None, eid],
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validation.check_name(new_name, "Experiment")
        with self.cx.write() as conn:
            self.get_experiment(experiment_id)
            if self.get_experiment_by_name(new_name) is not None:
                raise AlreadyExistsError(f"Experiment {new_name!r} already exists.")
            conn.execute(
                "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
                [new_name, now_ms(), _experiment_int(experiment_id)],
            )

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        validation.check_key(key, "Tag")
        text = validation.tag_value(key, value)
        with self.cx.write() as conn:
            self.get_experiment(experiment_id)
            conn.execute(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                [_experiment_int(experiment_id), key, text],
            )

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
        """Start a RUNNING run owned by this process; its tags are written in the same step."""
        name = validation.check_name(run_name, "Run") if run_name else random_run_name()
        run_id = new_run_id()
        start = start_time if start_time is not None else now_ms()
        host, pid, pid_start = liveness.current_process()
        all_tags = [RunTag(RUN_NAME_TAG, name)]
        if parent_run_id:
            all_tags.append(RunTag(PARENT_RUN_TAG, parent_run_id))
        all_tags += [RunTag(k, v) for k, v in (tags or {}).items() if k != RUN_NAME_TAG]
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
                "parent_run_id, host, pid, pid_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, int(experiment.experiment_id), name, RunStatus.RUNNING, start, user_id,
                 parent_run_id, host, pid, pid_start],
            )
            self.log_batch(run_id, tags=all_tags)
        return self.get_run_info(run_id)

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status (ending it sets its end time), or rename it."""
        if status is not None and status not in RunStatus.ALL:
            raise InvalidParameterError(
                f"{status!r} is not a run status; use one of {', '.join(RunStatus.ALL)}."
            )
        with self.cx.write() as conn:
            self.get_run_info(run_id)
            if status is not None:
                ended = end_time if end_time is not None else (
                    now_ms() if RunStatus.is_terminated(status) else None)
                conn.execute(
                    "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?",
                    [status, ended, run_id],
                )
            if run_name is not None:
                self.log_batch(run_id, tags=[RunTag(RUN_NAME_TAG, run_name)])
        return self.get_run_info(run_id)

    def resume_run(self, run_id: str) -> None:
        """Make an ended run RUNNING again, owned by this process."""
        host, pid, pid_start = liveness.current_process()
        with self.cx.write() as conn:
            self._check_writable(run_id)
            conn.execute(
                "UPDATE runs SET status = 'RUNNING', end_time = NULL, host = ?, pid = ?, "
                "pid_start = ? WHERE run_id = ?", [host, pid, pid_start, run_id],
            )

    def set_run_lifecycle(self, run_id: str, stage: str) -> None:
        """Delete (``deleted``) or restore (``active``) a run; its data is kept either way."""
        with self.cx.write() as conn:
            self.get_run_info(run_id)
            conn.execute(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_id = ?",
                [stage, now_ms() if stage == LifecycleStage.DELETED else None, run_id],
            )

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags of one run in one transaction, or nothing at all.

        Raises :class:`ParamConflictError` when a param already holds a different value.
        """
        validation.check_batch_sizes(len(metrics), len(params), len(tags))
        param_rows = _param_rows(params)
        tag_rows = [(run_id, validation.check_key(t.key, "Tag"), validation.tag_value(t.key, t.value))
                    for t in tags]
        metric_rows = [_metric_row(run_id, m) for m in metrics]
        with self.cx.write() as conn:
            self._check_writable(run_id)
            if param_rows:
                self._check_param_conflicts(run_id, param_rows)
                conn.executemany(
                    "INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                    [(run_id, k, v) for k, v in param_rows.items()],
                )
            if tag_rows:
                conn.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value", tag_rows,
                )
                for _, key, value in tag_rows:
                    if key == RUN_NAME_TAG:
                        conn.execute("UPDATE runs SET name = ? WHERE run_id = ?", [value, run_id])
            if metric_rows:
                conn.executemany(
                    "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) "
                    "VALUES (?, ?, ?, ?, ?, ?)", metric_rows,
                )
                conn.executemany(
                    "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
                    "value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, "
                    "timestamp = excluded.timestamp WHERE (excluded.step, excluded.timestamp) "
                    ">= (latest_metrics.step, latest_metrics.timestamp)",
                    _latest_rows(metric_rows),
                )

    def _check_writable(self, run_id: str) -> None:
        rows = self.cx.query("SELECT lifecycle_stage FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise NotFoundError(f"No run with id {run_id!r}.")
        if rows[0][0] != LifecycleStage.ACTIVE:
            raise RunStateError(f"Run {run_id} is deleted; restore it before logging to it.")

    def _check_param_conflicts(self, run_id: str, params: dict[str, str]) -> None:
        keys = list(params)
        for chunk in _chunks(keys):
            for key, old in self.cx.query(
                f"SELECT key, value FROM params WHERE run_id = ? AND key IN ({_marks(chunk)})",
                [run_id, *chunk],
            ):
                if old != params[key]:
                    raise ParamConflictError(
                        f"Param {key!r} of run {run_id} is already {old!r}; it cannot become "
                        f"{params[key]!r}. Params are fixed once logged: start a new run to try "
                        "another value."
                    )

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.cx.write() as conn:
            self._check_writable(run_id)
            cur = conn.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", [run_id, key])
            if cur.rowcount == 0:
                raise NotFoundError(f"Run {run_id} has no tag {key!r}.")

    _RUN_COLUMNS = ("r.run_id, r.experiment_id, r.name, r.status, r.start_time, r.end_time, "
                    "r.lifecycle_stage, r.user_id")

    def _info(self, row: Sequence[Any]) -> RunInfo:
        return RunInfo(
            run_id=row[0], experiment_id=str(row[1]), run_name=row[2], status=row[3],
            start_time=row[4], end_time=row[5], lifecycle_stage=row[6], user_id=row[7],
            artifact_uri=f"{self.artifact_root_uri}/{row[0]}",
        )

    def get_run_info(self, run_id: str) -> RunInfo:
        rows = self.cx.query(f"SELECT {self._RUN_COLUMNS} FROM runs r WHERE r.run_id = ?", [run_id])
        if not rows:
            raise NotFoundError(f"No run with id {run_id!r}.")
        return self._info(rows[0])

    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Several runs, in the order asked, in a bounded number of queries.

        Raises NotFoundError naming the first id that does not exist.
        """
        infos: dict[str, RunInfo] = {}
        for chunk in _chunks(list(dict.fromkeys(run_ids))):
            for row in self.cx.query(
                f"SELECT {self._RUN_COLUMNS} FROM runs r WHERE r.run_id IN ({_marks(chunk)})", chunk
            ):
                infos[row[0]] = self._info(row)
        missing = [r for r in run_ids if r not in infos]
        if missing:
            raise NotFoundError(f"No run with id {missing[0]!r}.")
        return self._with_data([infos[r] for r in run_ids])

    def get_run(self, run_id: str) -> Run:
        info = self.get_run_info(run_id)
        return self._with_data([info])[0]

    def _with_data(self, infos: list[RunInfo]) -> list[Run]:
        """Attach params, tags and latest metrics in three queries per 500 runs, not per run."""
        params: dict[str, dict[str, str]] = {i.run_id: {} for i in infos}
        tags: dict[str, dict[str, str]] = {i.run_id: {} for i in infos}
        metrics: dict[str, dict[str, float]] = {i.run_id: {} for i in infos}
        ids = [i.run_id for i in infos]
        for chunk in _chunks(ids):
            marks = _marks(chunk)
            for run_id, key, value in self.cx.query(
                f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks})", chunk
            ):
                params[run_id][key] = value
            for run_id, key, value in self.cx.query(
                f"SELECT run_id, key, value FROM tags WHERE run_id IN ({marks})", chunk
            ):
                tags[run_id][key] = value
            for run_id, key, value, is_nan in self.cx.query(
                f"SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN ({marks})",
                chunk,
            ):
                metrics[run_id][key] = _float(value, is_nan)
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
        """Runs of the experiments that match the filter, ordered (newest first by default)."""
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
        where = compile_filter(parse_filter(filter_string), RUN_SCHEMA, filter_string or "")
        order = compile_order_by(parse_order_by(order_by), RUN_SCHEMA)
        stages = _stages(view_type)
        eids = [_experiment_int(e) for e in experiment_ids]
        order_sql = (order.sql + ", " if order.sql else "") + "r.start_time DESC, r.run_id"
        rows = self.cx.query(
            f"SELECT {self._RUN_COLUMNS} FROM runs r {order.joins} "
            f"WHERE r.experiment_id IN ({_marks(eids)}) "
            f"AND r.lifecycle_stage IN ({_marks(stages)}) AND {where.sql} "
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?",
            [*order.join_params, *eids, *stages, *where.params, _limit(max_results),
             page_offset(offset)],
        )
        return [self._info(row) for row in rows]

    def count_runs(
        self, experiment_ids: Sequence[str], filter_string: str | None = None,
        view_type: int = ViewType.ACTIVE_ONLY,
    ) -> int:
        where = compile_filter(parse_filter(filter_string), RUN_SCHEMA, filter_string or "")
        stages = _stages(view_type)
        eids = [_experiment_int(e) for e in experiment_ids]
        rows = self.cx.query(
            f"SELECT count(*) FROM runs r WHERE r.experiment_id IN ({_marks(eids)}) "
            f"AND r.lifecycle_stage IN ({_marks(stages)}) AND {where.sql}",
            [*eids, *stages, *where.params],
        )
        return int(rows[0][0])

    def child_run_ids(self, parent_run_id: str) -> list[str]:
        rows = self.cx.query(
            "SELECT run_id FROM runs WHERE parent_run_id = ? ORDER BY start_time", [parent_run_id]
        )
        return [row[0] for row in rows]

    # --- metrics ----------------------------------------------------------------------------

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.get_run_info(run_id)
        rows = self.cx.query(
            "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_id = ? AND key = ? "
            # (step, rowid) is the index's own order: no sort step. Equal steps keep log order.
            "ORDER BY step, rowid", [run_id, key],
        )
        return [Metric(key, _float(v, n), ts, step) for v, n, ts, step in rows]

    def metric_histories(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, dict[str, list[Metric]]]:
        """Histories of many runs and keys in one query per 500 runs: run -> key -> points."""
        out: dict[str, dict[str, list[Metric]]] = {r: {} for r in run_ids}
        key_filter = f" AND key IN ({_marks(keys)})" if keys else ""
        for chunk in _chunks(list(run_ids)):
            rows = self.cx.query(
                f"SELECT run_id, key, value, is_nan, timestamp, step FROM metrics "
                f"WHERE run_id IN ({_marks(chunk)}){key_filter} ORDER BY run_id, key, step, rowid",
                [*chunk, *(keys or [])],
            )
            series: list[Metric] = []
            current: tuple[str, str] | None = None
            for run_id, key, value, is_nan, ts, step in rows:
                if (run_id, key) != current:  # rows arrive grouped: one dict lookup per series
                    current = (run_id, key)
                    series = out[run_id].setdefault(key, [])
                series.append(Metric(key, math.nan if is_nan else value, ts, step))
        return out

    def metric_keys(self, run_ids: Sequence[str]) -> list[str]:
        keys: set[str] = set()
        for chunk in _chunks(list(run_ids)):
            keys.update(row[0] for row in self.cx.query(
                f"SELECT DISTINCT key FROM latest_metrics WHERE run_id IN ({_marks(chunk)})", chunk))
        return sorted(keys)

    # --- liveness ---------------------------------------------------------------------------

    def reap_dead_runs(self) -> list[str]:
        """Mark KILLED every RUNNING run of this host whose process has died; return their ids."""
        host = liveness.this_host()
        rows = self.cx.query(
            "SELECT run_id, pid, pid_start FROM runs WHERE status = 'RUNNING' AND host = ?", [host]
        )
        dead = [run_id for run_id, pid, start in rows
                if pid is not None and not liveness.is_alive(pid, start)]
        if dead:
            t = now_ms()
            with self.cx.write() as conn:
                for run_id in dead:
                    conn.execute(
                        "UPDATE runs SET status = 'KILLED', end_time = ? "
                        "WHERE run_id = ? AND status = 'RUNNING'", [t, run_id],
                    )
                    conn.execute(
                        "INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                        [run_id, "mlnb.end_reason",
                         "its process ended without finishing the run (killed or crashed)"],
                    )
        return dead


def _experiment_int(experiment_id: str | int) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise NotFoundError(f"No experiment with id {experiment_id!r}.") from None


def _stages(view_type: int) -> tuple[str, ...]:
    try:
        return ViewType.stages(view_type)
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"view_type must be ViewType.ACTIVE_ONLY (1), DELETED_ONLY (2) or ALL (3), "
            f"not {view_type!r}."
        ) from None


def page_offset(offset: int) -> int:
    """A search's row offset: a negative one counts as 0, a huge one is refused."""
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise InvalidParameterError(f"offset must be an integer, not {offset!r}.")
    if offset > MAX_OFFSET:
        raise InvalidParameterError(f"offset may be at most {MAX_OFFSET:,}, not {offset}.")
    return max(0, offset)


def _limit(max_results: int) -> int:
    return validation.result_limit(max_results, MAX_RESULTS_LIMIT)


def _param_rows(params: Sequence[Param]) -> dict[str, str]:
    rows: dict[str, str] = {}
    for p in params:
        key = validation.check_key(p.key, "Param")
        value = validation.param_value(key, p.value)
        if key in rows and rows[key] != value:
            raise ParamConflictError(
                f"Param {key!r} appears twice in one batch with different values "
                f"({rows[key]!r} and {value!r})."
            )
        rows[key] = value
    return rows


def _metric_row(run_id: str, m: Metric) -> tuple[str, str, float | None, int, int, int]:
    key = validation.check_key(m.key, "Metric")
    value = validation.metric_value(key, m.value)
    is_nan = math.isnan(value)
    try:
        step = validation.metric_int(key, m.step, "step")
        timestamp = validation.metric_int(key, m.timestamp, "timestamp")
    except TypeError as exc:
        raise InvalidParameterError(str(exc)) from None
    return (run_id, key, None if is_nan else value, int(is_nan), step, timestamp)


def _latest_rows(rows: list[tuple[str, str, float | None, int, int, int]]) -> list[tuple[Any, ...]]:
    """The newest point per key within the batch (by step, then timestamp, then order)."""
    latest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        best = latest.get(row[1])
        if best is None or (row[4], row[5]) >= (best[4], best[5]):
            latest[row[1]] = row
    return list(latest.values())
