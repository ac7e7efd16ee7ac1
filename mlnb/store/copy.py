"""Copying one store into another (``mlnb store copy SRC DST``): experiments, runs, their full
metric histories, artifacts, logged models, the registry, traces (:mod:`~mlnb.store.copy_traces`)
and the prediction log (:mod:`~mlnb.store.copy_predictions`), from a local store to the team store
or back, on either engine.

What is matched, and how:

* Experiments by name (ids differ between stores). An experiment DST lacks keeps its id where DST
  has no experiment with that id, else takes the next free one; a PostgreSQL identity sequence is
  then moved past the ids written (:func:`advance_identity`), so later inserts cannot collide.
  An experiment DST has keeps DST's fields; SRC's tags that DST lacks are added.
* Runs by id (kept). A metric's points are copied as the packed chunks and tail rows SRC holds
  (both engines store the same :mod:`~mlnb.store.point_codec` blobs), never point by point; every
  artifact file is copied and its sha256 and size checked against SRC's record, and DST's record
  carries the same size, sha256, origin and time.
* Datasets by experiment, name and digest (a dataset DST lacks keeps its id); a run's dataset
  and model inputs DST lacks are added after DST's own, with the tags of the use.
* Registered models by name; a version DST has with the same source (same run, same folder) is
  the same version. Another version keeps its number where free, else takes the next one.

A run already in DST (copied before) is compared, never duplicated:

* What SRC has and DST lacks is added: params, tags, metrics, the points logged after DST's copy
  was taken (when DST's history of a metric is the start of SRC's), artifact files.
* DST's run fields (status, end time, name, lifecycle) and tag values are replaced by SRC's only
  while DST still shows the run RUNNING, or KILLED (what a reaper records for a live run whose
  process it cannot see) when SRC shows it FINISHED or FAILED. Otherwise DST's are kept: they may
  be the team's own edits.
* A run whose content disagrees with DST's (a param with another value, a metric with points DST
  has that SRC lacks, an artifact path with another sha256) is a *conflict*: nothing of it is
  written, and the summary names it and why. Nothing in DST is ever overwritten or deleted.
* Copying again changes nothing: an unchanged run is not written (a metric is append-only, so the
  same number of points and the same latest point is the same history).

Each run (its row, params, tags, metrics, artifact records) is written in one DST transaction,
after its files are in place; each registered model in another. A failure midway leaves DST with
whole runs only, and running the copy again completes it.

Trust (:mod:`mlnb.store.trust`): an artifact record whose MAC verifies in SRC (this user's mlnb
wrote it) is signed again for DST's store id; any other record is copied unsigned, so a foreign
model stays foreign in DST. Trust given to SRC with ``mlnb trust`` is bound to SRC's place and is
not carried over either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlnb.entities import RunStatus
from mlnb.errors import InvalidParameterError, MlnbError, StoreError
from mlnb.store import point_codec
from mlnb.store.artifacts import StoredFile
from mlnb.store.copy_predictions import copy_prediction_log
from mlnb.store.copy_traces import copy_traces
from mlnb.store.dialect import StoreConnection, Writer
from mlnb.store.logged_models import DELETED
from mlnb.store.records import MalformedRow
from mlnb.store.sql import chunks, marks
from mlnb.store.trust import artifact_mac, mac_verifies

if TYPE_CHECKING:
    from mlnb.store import Store

Columns = tuple[list[int], list[int], list[float]]

_RUN_FIELDS = ("name, status, start_time, end_time, lifecycle_stage, user_id, parent_run_id, "
               "host, pid, pid_start, deleted_time")
_CHUNK_FIELDS = ("points, min_step, max_step, in_step_order, summary, steps, timestamps, vals, "
                 "min_value, max_value")
_VERSION_FIELDS = ("version, creation_time, last_updated_time, description, source, run_id, "
                   "status, current_stage, user_id, model_id")
_EVENT_FIELDS = "version, kind, from_value, to_value, time, user_id"


@dataclass(frozen=True)
class Progress:
    """Where a copy is: the stage (``experiments``, ``runs``, ``models``, ``registry``,
    ``traces``, ``predictions``), items
    done of the stage's total, and the artifact bytes copied so far."""

    stage: str
    done: int
    total: int
    artifact_bytes: int


@dataclass
class CopySummary:
    """What a copy did. ``conflicts``: ``(run id, why)`` of runs left as DST has them;
    ``renumbered``: ``(model, SRC version, DST version)`` of versions whose number was taken."""

    experiments_new: int = 0
    experiments_matched: int = 0
    runs_new: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    artifacts_copied: int = 0
    artifact_bytes: int = 0
    logged_models_new: int = 0
    inputs_new: int = 0
    models_new: int = 0
    versions_new: int = 0
    versions_unchanged: int = 0
    versions_skipped: list[tuple[str, int, str]] = field(default_factory=list)
    renumbered: list[tuple[str, int, int]] = field(default_factory=list)
    traces_copied: int = 0
    predictions_copied: int = 0
    ground_truth_copied: int = 0


ProgressHook = Callable[[Progress], None]


def check_distinct(src: Store, dst: Store) -> None:
    """Refuse to copy a store into itself (the same database, or a copy of its file).

    :param src: the source store.
    :param dst: the destination store.
    :raises InvalidParameterError: naming both.
    """
    if src.location.key == dst.location.key or src.store_id == dst.store_id:
        raise InvalidParameterError(
            f"SRC {src.location.display} and DST {dst.location.display} are the same store "
            f"(store id {src.store_id}); there is nothing to copy. Give the store to copy to as "
            "DST, e.g. mlnb store copy .mlnb postgresql://user@host/mlnb.")


def copy_store(src: Store, dst: Store, progress: ProgressHook | None = None) -> CopySummary:
    """Copy everything of ``src`` into ``dst`` (see the module's docstring for the rules).

    :param src: the store to read.
    :param dst: the store to write; it may be new or hold runs of its own.
    :param progress: called as the copy moves on (at least once per run).
    :raises InvalidParameterError: when both are the same store.
    :raises StoreError: when a store fails midway; what was written before is whole, and
        copying again completes it.
    """
    check_distinct(src, dst)
    summary = CopySummary()
    report = progress or (lambda _: None)
    experiments = _copy_experiments(src, dst, summary)
    report(Progress("experiments", len(experiments), len(experiments), 0))
    conflicted = _copy_runs(src, dst, experiments, summary, report)
    _copy_inputs(src, dst, experiments, conflicted, summary)
    _copy_logged_models(src, dst, experiments, conflicted, summary, report)
    _copy_registry(src, dst, conflicted, summary, report)
    summary.traces_copied = copy_traces(src, dst, experiments, lambda done, total: report(
        Progress("traces", done, total, summary.artifact_bytes)))
    copied = copy_prediction_log(src, dst, lambda done, total: report(
        Progress("predictions", done, total, summary.artifact_bytes)))
    summary.predictions_copied, summary.ground_truth_copied = copied.rows, copied.ground_truth
    return summary


# --- experiments ----------------------------------------------------------------------------


def _copy_experiments(src: Store, dst: Store, summary: CopySummary) -> dict[int, int]:
    """Match SRC's experiments to DST's by name, create the missing ones; SRC id -> DST id."""
    wanted = src.cx.query("SELECT experiment_id, name, lifecycle_stage, creation_time, "
                          "last_update_time FROM experiments ORDER BY experiment_id")
    src_tags: dict[int, list[tuple[str, str]]] = {}
    for eid, key, value in src.cx.query("SELECT experiment_id, key, value FROM experiment_tags "
                                        "ORDER BY experiment_id, key"):
        src_tags.setdefault(int(eid), []).append((str(key), str(value)))
    found = {str(name): int(eid) for eid, name in dst.cx.query(
        "SELECT experiment_id, name FROM experiments")}
    mapping: dict[int, int] = {}
    missing = []
    for row in wanted:
        if str(row[1]) in found:
            mapping[int(row[0])] = found[str(row[1])]
            summary.experiments_matched += 1
        else:
            missing.append(row)
    have = {(mapping[e], k) for e, tags in src_tags.items() if e in mapping for k, _ in tags}
    dst_keys = {(int(e), str(k)) for e, k in dst.cx.query(
        "SELECT experiment_id, key FROM experiment_tags")} if have else set()
    new_tags = [(mapping[e], k, v) for e, tags in src_tags.items() if e in mapping
                for k, v in tags if (mapping[e], k) not in dst_keys]
    if not missing and not new_tags:
        return mapping  # nothing to write: a second copy opens no transaction
    with dst.cx.write(serial=True) as tx:  # serial: create_experiment's lock, so ids are ours
        taken = {int(r[0]) for r in tx.execute("SELECT experiment_id FROM experiments").fetchall()}
        for eid, name, stage, created, updated in missing:
            new_id = int(eid) if int(eid) not in taken else max(taken) + 1
            taken.add(new_id)
            tx.execute("INSERT INTO experiments (experiment_id, name, lifecycle_stage, "
                       "creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)",
                       [new_id, name, stage, created, updated])
            mapping[int(eid)] = new_id
            new_tags += [(new_id, k, v) for k, v in src_tags.get(int(eid), [])]
            summary.experiments_new += 1
        tx.executemany("INSERT OR IGNORE INTO experiment_tags (experiment_id, key, value) "
                       "VALUES (?, ?, ?)", new_tags)
        if missing:
            advance_identity(dst.cx, tx, "experiments", "experiment_id")
    return mapping


def advance_identity(cx: StoreConnection, tx: Writer, table: str, column: str) -> None:
    """After rows were inserted with explicit ids, move PostgreSQL's identity sequence of
    ``table.column`` past the greatest id, so the next insert that lets the database choose
    cannot collide with them (SQLite's integer keys take ``max + 1`` by themselves).

    :param cx: the store's connection (for its dialect).
    :param tx: the open write transaction.
    :param table: a table of the store (a constant of the caller, never user input).
    :param column: its identity column.
    """
    if cx.dialect.is_sqlite:
        return
    tx.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
               f"GREATEST((SELECT max({column}) FROM {table}), 1))")


# --- runs -----------------------------------------------------------------------------------


@dataclass
class _RunPlan:
    """What copying one run writes into DST."""

    run_id: str
    new: bool
    row: Sequence[Any]
    experiment_id: int
    update_fields: bool = False
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    new_series: list[Sequence[Any]] = field(default_factory=list)
    appends: list[tuple[str, Columns]] = field(default_factory=list)
    artifacts: list[Sequence[Any]] = field(default_factory=list)
    conflict: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.new or self.update_fields or self.params or self.tags or self.new_series
                    or self.appends or self.artifacts)


class _Conflict(Exception):
    """The run disagrees with DST's copy; the message says how."""


def _copy_runs(src: Store, dst: Store, experiments: dict[int, int], summary: CopySummary,
               report: ProgressHook) -> set[str]:
    """Copy every run of SRC; return the ids of the runs left in conflict."""
    run_ids = [str(r[0]) for r in src.cx.query(
        "SELECT run_id FROM runs ORDER BY start_time, run_id")]
    conflicted: set[str] = set()
    done = 0
    for group in chunks(run_ids):
        rows = {str(r[0]): r for r in src.cx.query(
            f"SELECT run_id, experiment_id, {_RUN_FIELDS} FROM runs WHERE run_id IN "
            f"({marks(group)})", group)}
        there = {str(r[0]): r for r in dst.cx.query(
            f"SELECT run_id, experiment_id, {_RUN_FIELDS} FROM runs WHERE run_id IN "
            f"({marks(group)})", group)}
        for run_id in group:
            row = rows[run_id]
            try:
                plan = _plan_run(src, dst, row, there.get(run_id), experiments[int(row[1])])
                if plan.empty:
                    summary.runs_unchanged += 1
                else:
                    _write_run(src, dst, plan, summary, report, done, len(run_ids))
                    if plan.new:
                        summary.runs_new += 1
                    else:
                        summary.runs_updated += 1
            except _Conflict as why:
                conflicted.add(run_id)
                summary.conflicts.append((run_id, str(why)))
            done += 1
            report(Progress("runs", done, len(run_ids), summary.artifact_bytes))
    return conflicted


def _plan_run(src: Store, dst: Store, row: Sequence[Any], there: Sequence[Any] | None,
              experiment_id: int) -> _RunPlan:
    run_id = str(row[0])
    plan = _RunPlan(run_id, there is None, row, experiment_id)
    if there is not None:
        # SRC's run fields replace DST's only where DST's are a live run's snapshot.
        dst_status, src_status = there[3], row[3]
        stale = dst_status == RunStatus.RUNNING or (
            dst_status == RunStatus.KILLED and src_status in (RunStatus.FINISHED, RunStatus.FAILED))
        plan.update_fields = stale and tuple(there[2:]) != tuple(row[2:])
    take_tag_values = plan.new or (there is not None and there[3] == RunStatus.RUNNING)
    plan.params = _missing_pairs(src, dst, "params", run_id, plan.new, overwrite=False)
    plan.tags = _missing_pairs(src, dst, "tags", run_id, plan.new, overwrite=take_tag_values)
    _plan_metrics(src, dst, plan)
    _plan_artifacts(src, dst, plan)
    return plan


def _missing_pairs(src: Store, dst: Store, table: str, run_id: str, new: bool, *,
                   overwrite: bool) -> list[tuple[str, str]]:
    """The ``(key, value)`` rows of SRC's ``params`` or ``tags`` that DST lacks (or, with
    ``overwrite``, holds with another value). A param with another value is a conflict: params
    never change once logged."""
    sql = f"SELECT key, value FROM {table} WHERE run_id = ? ORDER BY key"
    theirs = dict(src.cx.query(sql, [run_id]))
    if new:
        return [(str(k), str(v)) for k, v in theirs.items()]
    ours = dict(dst.cx.query(sql, [run_id]))
    out = []
    for key, value in theirs.items():
        if key not in ours or (overwrite and ours[key] != value):
            out.append((str(key), str(value)))
        elif table == "params" and ours[key] != value:
            raise _Conflict(f"param {key!r} is {value!r} in SRC but {ours[key]!r} in DST")
    return out


def _series(store: Store, run_id: str) -> dict[str, tuple[int, tuple[Any, ...], int]]:
    """key -> (series id, latest point (value, is_nan, step, timestamp), point count)."""
    counts = store.point_counts([run_id]).get(run_id, {})
    return {str(r[1]): (int(r[0]), tuple(r[2:]), counts.get(str(r[1]), 0)) for r in store.cx.query(
        "SELECT series_id, key, value, is_nan, step, timestamp FROM metric_series "
        "WHERE run_id = ? ORDER BY key", [run_id])}


def _plan_metrics(src: Store, dst: Store, plan: _RunPlan) -> None:
    theirs = _series(src, plan.run_id)
    ours = {} if plan.new else _series(dst, plan.run_id)
    for key, (series_id, latest, count) in theirs.items():
        if key not in ours:
            plan.new_series.append((series_id, key, *latest))
            continue
        dst_id, dst_latest, dst_count = ours[key]
        if dst_count == count and _same_point(dst_latest, latest):
            continue  # histories are append-only: the same length and last point, the same
        if dst_count >= count:
            raise _Conflict(f"metric {key!r} has {dst_count} points in DST, {count} in SRC, "
                            "and they differ")
        mine, logged = _logged_points(dst, dst_id, key), _logged_points(src, series_id, key)
        if not _is_prefix(mine, logged):
            raise _Conflict(f"metric {key!r} in DST is not the start of SRC's history")
        n = len(mine[0])
        plan.appends.append((key, (logged[0][n:], logged[1][n:], logged[2][n:])))


def _same_point(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return tuple(a[1:]) == tuple(b[1:]) and (a[0] == b[0] or (a[0] is None and b[0] is None))


def _logged_points(store: Store, series_id: int, key: str) -> Columns:
    """A series' points in logging order: its chunks by id, then its tail rows by id."""
    steps: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    try:
        for points, s, t, v in store.cx.query(
                "SELECT points, steps, timestamps, vals FROM metric_chunks WHERE series_id = ? "
                "ORDER BY chunk_id", [series_id]):
            cs, ct, cv = point_codec.unpack(bytes(s), bytes(t), bytes(v), int(points))
            steps += cs
            stamps += ct
            values += cv
    except MalformedRow as problem:
        raise _Conflict(f"metric {key!r} has a damaged chunk in {store.location.display}: "
                        f"{problem}") from None
    for step, stamp, value, is_nan in store.cx.query(
            "SELECT step, timestamp, value, is_nan FROM metric_tail WHERE series_id = ? "
            "ORDER BY point_id", [series_id]):
        steps.append(int(step))
        stamps.append(int(stamp))
        values.append(math.nan if is_nan else float(value))
    return steps, stamps, values


def _is_prefix(head: Columns, whole: Columns) -> bool:
    n = len(head[0])
    if n > len(whole[0]) or head[0] != whole[0][:n] or head[1] != whole[1][:n]:
        return False
    return all(a == b or (a != a and b != b) for a, b in zip(head[2], whole[2][:n], strict=True))


def _plan_artifacts(src: Store, dst: Store, plan: _RunPlan) -> None:
    sql = ("SELECT path, size, sha256, created, origin, mac FROM artifacts WHERE run_id = ? "
           "ORDER BY path")
    theirs = src.cx.query(sql, [plan.run_id])
    ours = {} if plan.new else {str(r[0]): str(r[2]) for r in dst.cx.query(sql, [plan.run_id])}
    for record in theirs:
        path, sha = str(record[0]), str(record[2])
        if path not in ours:
            plan.artifacts.append(record)
        elif ours[path] != sha:
            raise _Conflict(f"artifact {path!r} has sha256 {sha[:12]}... in SRC but "
                            f"{ours[path][:12]}... in DST")


def _write_run(src: Store, dst: Store, plan: _RunPlan, summary: CopySummary,
               report: ProgressHook, done: int, total: int) -> None:
    """Put the run's new files in place, then write its rows in one transaction."""
    records = []
    for path, size, sha, created, origin, mac in plan.artifacts:
        stored = _copy_file(src, dst, plan.run_id, str(path), int(size), str(sha))
        signed = mac_verifies(mac, src.store_id, plan.run_id, stored.path, stored.sha256,
                              str(origin))
        records.append((plan.run_id, stored.path, stored.size, stored.sha256, created, origin,
                        _sign(dst, plan.run_id, stored, str(origin)) if signed else None))
        summary.artifacts_copied += 1
        summary.artifact_bytes += stored.size
        report(Progress("runs", done, total, summary.artifact_bytes))
    row = plan.row
    with dst.cx.write() as tx:
        if plan.new:
            tx.execute(f"INSERT INTO runs (run_id, experiment_id, {_RUN_FIELDS}) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [plan.run_id, plan.experiment_id, *row[2:]])
        elif plan.update_fields:
            sets = ", ".join(f"{name.strip()} = ?" for name in _RUN_FIELDS.split(","))
            tx.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*row[2:], plan.run_id])
        tx.executemany("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
                       [(plan.run_id, k, v) for k, v in plan.params])
        tx.executemany("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT "
                       "(run_id, key) DO UPDATE SET value = excluded.value",
                       [(plan.run_id, k, v) for k, v in plan.tags])
        for series in plan.new_series:
            _copy_series(src, tx, plan.run_id, series)
        for key, points in plan.appends:
            dst.append_points(tx, plan.run_id, key, points)
        tx.executemany("INSERT INTO artifacts (run_id, path, size, sha256, created, origin, mac) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", records)


def _copy_series(src: Store, tx: Writer, run_id: str, series: Sequence[Any]) -> None:
    """One metric of a run as SRC stores it: its series row, its packed chunks (the blobs as
    they are, in their order) and its tail rows."""
    series_id, key, value, is_nan, step, stamp = series
    new_id = tx.execute(
        "INSERT INTO metric_series (run_id, key, value, is_nan, step, timestamp) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING series_id",
        [run_id, key, value, is_nan, step, stamp]).fetchone()[0]
    tx.executemany(
        f"INSERT INTO metric_chunks (series_id, {_CHUNK_FIELDS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(new_id, *(bytes(c) if isinstance(c, memoryview) else c for c in row))
         for row in src.cx.query(f"SELECT {_CHUNK_FIELDS} FROM metric_chunks "
                                 "WHERE series_id = ? ORDER BY chunk_id", [series_id])])
    tx.executemany(
        "INSERT INTO metric_tail (series_id, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?)",
        [(new_id, *row) for row in src.cx.query(
            "SELECT step, timestamp, value, is_nan FROM metric_tail WHERE series_id = ? "
            "ORDER BY point_id", [series_id])])


def _copy_file(src: Store, dst: Store, run_id: str, path: str, size: int, sha: str) -> StoredFile:
    """Copy one artifact file; refuse (as a conflict) a SRC file that no longer matches its
    record, whose copy would carry a hash it does not have."""
    try:
        source = src.artifact_path(run_id, path)
    except MlnbError:
        raise _Conflict(f"artifact {path!r} is recorded in SRC but its file is missing") from None
    stored = dst.artifacts.put_file(run_id, source, path)
    if stored.sha256 != sha or stored.size != size:
        raise _Conflict(f"artifact {path!r} in SRC no longer matches its record (sha256 "
                        f"{stored.sha256[:12]}... instead of {sha[:12]}...)")
    return stored


def _sign(dst: Store, run_id: str, stored: StoredFile, origin: str) -> str | None:
    """DST's MAC for a record this user's mlnb wrote in SRC (None where no key can be had: the
    record is then foreign in DST, never the other way round)."""
    try:
        return artifact_mac(dst.store_id, run_id, stored.path, stored.sha256, origin)
    except StoreError:
        return None


# --- datasets and run inputs ----------------------------------------------------------------


def _copy_inputs(src: Store, dst: Store, experiments: dict[int, int], conflicted: set[str],
                 summary: CopySummary) -> None:
    """The datasets and the run inputs (datasets with their tags, logged models) DST lacks, for
    the runs DST holds that are not in conflict; in one transaction, none when nothing is new."""
    runs = {str(r[0]) for r in dst.cx.query("SELECT run_id FROM runs")} - conflicted
    inputs = [r for r in src.cx.query("SELECT run_id, dataset_id FROM run_inputs "
                                      "ORDER BY run_id, position") if str(r[0]) in runs]
    models = [r for r in src.cx.query("SELECT run_id, model_id FROM run_model_inputs "
                                      "ORDER BY run_id, position") if str(r[0]) in runs]
    if not inputs and not models:
        return
    have = {(int(e), str(n), str(d)): str(i) for i, e, n, d in dst.cx.query(
        "SELECT dataset_id, experiment_id, name, digest FROM datasets")}
    mapping: dict[str, str] = {}
    fresh = []
    for row in src.cx.query("SELECT dataset_id, experiment_id, name, digest, source_type, source, "
                            "schema, profile FROM datasets ORDER BY dataset_id"):
        key = (experiments[int(row[1])], str(row[2]), str(row[3]))
        if key not in have:
            fresh.append((row[0], key[0], *row[2:]))
            have[key] = str(row[0])
        mapping[str(row[0])] = have[key]
    linked = {(str(r), str(d)) for r, d in dst.cx.query("SELECT run_id, dataset_id FROM run_inputs")}
    new_inputs = [(str(r), str(d)) for r, d in inputs if (str(r), mapping[str(d)]) not in linked]
    used = {(str(r), str(m)) for r, m in dst.cx.query("SELECT run_id, model_id FROM run_model_inputs")}
    new_models = [(str(r), str(m)) for r, m in models if (str(r), str(m)) not in used]
    if not new_inputs and not new_models:
        return  # a second copy opens no transaction
    tags: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for run_id, dataset_id, key, value in src.cx.query(
            "SELECT run_id, dataset_id, key, value FROM run_input_tags ORDER BY key"):
        tags.setdefault((str(run_id), str(dataset_id)), []).append((str(key), str(value)))
    with dst.cx.write() as tx:
        tx.executemany("INSERT INTO datasets (dataset_id, experiment_id, name, digest, source_type, "
                       "source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", fresh)
        for run_id, dataset_id in new_inputs:
            target = mapping[dataset_id]
            tx.execute("INSERT INTO run_inputs (run_id, dataset_id, position) VALUES (?, ?, "
                       "(SELECT COALESCE(MAX(position), -1) + 1 FROM run_inputs WHERE run_id = ?))",
                       [run_id, target, run_id])
            tx.executemany("INSERT INTO run_input_tags (run_id, dataset_id, key, value) "
                           "VALUES (?, ?, ?, ?)",
                           [(run_id, target, k, v) for k, v in tags.get((run_id, dataset_id), [])])
        for run_id, model_id in new_models:
            tx.execute("INSERT INTO run_model_inputs (run_id, model_id, position) VALUES (?, ?, "
                       "(SELECT COALESCE(MAX(position), -1) + 1 FROM run_model_inputs "
                       "WHERE run_id = ?))", [run_id, model_id, run_id])
    summary.inputs_new += len(new_inputs) + len(new_models)


# --- logged models --------------------------------------------------------------------------


def _copy_logged_models(src: Store, dst: Store, experiments: dict[int, int], conflicted: set[str],
                        summary: CopySummary, report: ProgressHook) -> None:
    """MLflow 3's logged models DST lacks (by id), with their params, tags and lifecycle stage
    (a deleted model stays deleted), and the files of
    a model without a run (its own folder), signed for DST where this user signed them in SRC."""
    rows = src.cx.query("SELECT model_id, experiment_id, name, source_run_id, artifact_path, "
                        "model_type, status, creation_timestamp, last_updated_timestamp, "
                        "lifecycle_stage FROM logged_models ORDER BY creation_timestamp, model_id")
    have = {str(r[0]) for r in dst.cx.query("SELECT model_id FROM logged_models")}
    wanted = [r for r in rows if str(r[0]) not in have and r[3] not in conflicted]
    _carry_deletions(dst, [r for r in rows if str(r[0]) in have and r[9] == DELETED])
    for done, row in enumerate(wanted, 1):
        model_id = str(row[0])
        files = _model_files(src, dst, model_id, summary) if row[3] is None else []
        with dst.cx.write() as tx:
            tx.execute("INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, "
                       "artifact_path, model_type, status, creation_timestamp, "
                       "last_updated_timestamp, lifecycle_stage) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [model_id, experiments[int(row[1])], *row[2:]])
            for table in ("logged_model_params", "logged_model_tags"):
                tx.executemany(f"INSERT INTO {table} (model_id, key, value) VALUES (?, ?, ?)",
                               [(model_id, k, v) for k, v in src.cx.query(
                                   f"SELECT key, value FROM {table} WHERE model_id = ?",
                                   [model_id])])
            tx.executemany("INSERT INTO logged_model_artifacts (model_id, path, size, sha256, "
                           "created, origin, mac) VALUES (?, ?, ?, ?, ?, ?, ?)", files)
        summary.logged_models_new += 1
        report(Progress("models", done, len(wanted), summary.artifact_bytes))


def _carry_deletions(dst: Store, deleted: list[Any]) -> None:
    """A model DST has that SRC deleted since (a copy or import run again) is deleted in DST
    too, at SRC's time: MLflow's deletion is one way, there is no restore."""
    if not deleted:
        return
    with dst.cx.write() as tx:
        tx.executemany("UPDATE logged_models SET lifecycle_stage = ?, last_updated_timestamp = ? "
                       "WHERE model_id = ? AND lifecycle_stage <> ?",
                       [(DELETED, row[8], str(row[0]), DELETED) for row in deleted])


def _model_files(src: Store, dst: Store, model_id: str, summary: CopySummary
                 ) -> list[tuple[Any, ...]]:
    """Copy the files of a logged model without a run; return their DST records."""
    records = []
    for path, size, sha, created, origin, mac in src.cx.query(
            "SELECT path, size, sha256, created, origin, mac FROM logged_model_artifacts "
            "WHERE model_id = ? ORDER BY path", [model_id]):
        stored = _copy_file(src, dst, model_id, str(path), int(size), str(sha))
        signed = mac_verifies(mac, src.store_id, model_id, stored.path, stored.sha256, str(origin))
        records.append((model_id, stored.path, stored.size, stored.sha256, created, origin,
                        _sign(dst, model_id, stored, str(origin)) if signed else None))
        summary.artifacts_copied += 1
        summary.artifact_bytes += stored.size
    return records


# --- registry -------------------------------------------------------------------------------


def _copy_registry(src: Store, dst: Store, conflicted: set[str], summary: CopySummary,
                   report: ProgressHook) -> None:
    names = [str(r[0]) for r in src.cx.query("SELECT name FROM registered_models ORDER BY name")]
    for done, name in enumerate(names, 1):
        _copy_model(src, dst, name, conflicted, summary)
        report(Progress("registry", done, len(names), summary.artifact_bytes))


def _copy_model(src: Store, dst: Store, name: str, conflicted: set[str],
                summary: CopySummary) -> None:
    """One registered model: its row and tags, the versions DST lacks (with their tags, pinned
    file hashes and history), and the aliases DST lacks; in one transaction."""
    model = src.cx.query("SELECT creation_time, last_updated_time, description "
                         "FROM registered_models WHERE name = ?", [name])[0]
    is_new = not dst.cx.query("SELECT 1 FROM registered_models WHERE name = ?", [name])
    mapping, fresh = _map_versions(src, dst, name, conflicted, summary)
    tags = _pairs_missing(src, dst, "SELECT key, value FROM registered_model_tags WHERE name = ?",
                          [name])
    aliases, version_tags = _missing_links(src, dst, name, mapping)
    if not (is_new or fresh or tags or aliases or version_tags):
        return
    with dst.cx.write(durable=True) as tx:
        if is_new:
            tx.execute("INSERT INTO registered_models (name, creation_time, last_updated_time, "
                       "description) VALUES (?, ?, ?, ?)", [name, *model])
            summary.models_new += 1
        tx.executemany("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)",
                       [(name, k, v) for k, v in tags])
        for row, target in fresh:
            _copy_version(src, tx, name, row, target)
            summary.versions_new += 1
        tx.executemany("INSERT INTO model_version_tags (name, version, key, value) "
                       "VALUES (?, ?, ?, ?)", [(name, *t) for t in version_tags])
        tx.executemany("INSERT INTO registered_model_aliases (name, alias, version) "
                       "VALUES (?, ?, ?)", [(name, *a) for a in aliases])
        events = src.cx.query(f"SELECT {_EVENT_FIELDS} FROM model_registry_events WHERE name = ? "
                              "ORDER BY time, event_id", [name])
        copied = {target for _, target in fresh}
        # A new model brings its whole history (every number is free in DST, deleted versions'
        # included); a model DST has gains the history of the versions copied now.
        tx.executemany(
            f"INSERT INTO model_registry_events (name, {_EVENT_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(name, *_mapped_event(e, mapping)) for e in events
             if is_new or (e[0] is not None and mapping.get(int(e[0])) in copied)])


def _map_versions(src: Store, dst: Store, name: str, conflicted: set[str], summary: CopySummary
                  ) -> tuple[dict[int, int], list[tuple[Sequence[Any], int]]]:
    """SRC version -> DST version for a model, and the versions to copy with their DST numbers.

    The same source (run and folder) is the same version; a source registered several times
    pairs its versions in order (SRC's first with DST's first...). A version to copy keeps its
    number unless DST used it (for a version it has or had: the history remembers deleted ones).
    """
    same: dict[tuple[str, Any], list[int]] = {}
    for number, source, run_id in dst.cx.query(
            "SELECT version, source, run_id FROM model_versions WHERE name = ? ORDER BY version",
            [name]):
        same.setdefault((str(source), run_id), []).append(int(number))
    taken = {v for numbers in same.values() for v in numbers} | {int(r[0]) for r in dst.cx.query(
        "SELECT version FROM model_registry_events WHERE name = ? AND kind = 'create_version' "
        "AND version IS NOT NULL", [name])}
    mapping: dict[int, int] = {}
    fresh = []
    for row in src.cx.query(f"SELECT {_VERSION_FIELDS} FROM model_versions WHERE name = ? "
                            "ORDER BY version", [name]):
        number, source, run_id = int(row[0]), str(row[4]), row[5]
        if same.get((source, run_id)):
            mapping[number] = same[(source, run_id)].pop(0)
            summary.versions_unchanged += 1
        elif run_id in conflicted:
            summary.versions_skipped.append((name, number, f"its run {run_id} is in conflict"))
        else:
            target = number if number not in taken else max(taken) + 1
            taken.add(target)
            mapping[number] = target
            fresh.append((row, target))
            if target != number:
                summary.renumbered.append((name, number, target))
    return mapping, fresh


def _missing_links(src: Store, dst: Store, name: str, mapping: dict[int, int]
                   ) -> tuple[list[tuple[str, int]], list[tuple[int, str, str]]]:
    """The aliases ``(alias, DST version)`` and version tags ``(DST version, key, value)`` of SRC
    that DST lacks (an alias or tag DST has keeps DST's value)."""
    have_aliases = {str(r[0]) for r in dst.cx.query(
        "SELECT alias FROM registered_model_aliases WHERE name = ?", [name])}
    aliases = [(str(alias), mapping[int(v)]) for alias, v in src.cx.query(
        "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias",
        [name]) if int(v) in mapping and str(alias) not in have_aliases]
    have_tags = {(int(v), str(k)) for v, k in dst.cx.query(
        "SELECT version, key FROM model_version_tags WHERE name = ?", [name])}
    tags = [(mapping[int(v)], str(k), str(val)) for v, k, val in src.cx.query(
        "SELECT version, key, value FROM model_version_tags WHERE name = ? ORDER BY version, key",
        [name]) if int(v) in mapping and (mapping[int(v)], str(k)) not in have_tags]
    return aliases, tags


def _mapped_event(event: Sequence[Any], mapping: dict[int, int]) -> tuple[Any, ...]:
    """A history event with SRC's version numbers as DST's (an alias event's from and to values
    are version numbers too)."""
    version, kind, old, new, *rest = event
    if version is not None:
        version = mapping.get(int(version), version)
    if str(kind).startswith("alias:"):
        old, new = (str(mapping.get(int(v), v)) if v is not None and str(v).isdigit() else v
                    for v in (old, new))
    return (version, kind, old, new, *rest)


def _copy_version(src: Store, tx: Writer, name: str, row: Sequence[Any], target: int) -> None:
    tx.execute(f"INSERT INTO model_versions (name, {_VERSION_FIELDS}) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [name, target, *row[1:]])
    tx.executemany("INSERT INTO model_version_files (name, version, path, sha256) "
                   "VALUES (?, ?, ?, ?)",
                   [(name, target, p, h) for p, h in src.cx.query(
                       "SELECT path, sha256 FROM model_version_files WHERE name = ? "
                       "AND version = ?", [name, int(row[0])])])


def _pairs_missing(src: Store, dst: Store, sql: str, params: list[Any]) -> list[tuple[str, str]]:
    ours = {str(k) for k, _ in dst.cx.query(sql, params)}
    return [(str(k), str(v)) for k, v in src.cx.query(sql, params) if str(k) not in ours]

