"""Migration ``0007_metric_series``: from one row per point to series of packed chunks.

mlnb 0.1 kept every point as a row of ``metrics`` (the run id and key repeated in each, about 120
bytes a point) and each metric's latest value in ``latest_metrics``. This migration creates the
series tables of :mod:`mlnb.store.metrics`, moves every point into them and drops the old tables.

It runs inside the one transaction that opens the store (:func:`mlnb.store.schema.apply_migrations`),
so a process killed in the middle leaves the old schema whole and the next open starts again;
the new schema appears complete or not at all. On a store of more than :data:`REPORT_FROM`
points it reports its progress on stderr. Its SQL is its own, not shared with the code that
writes today, because a shipped migration must not change when that code does.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from mlnb.store import point_codec

REPORT_FROM = 200_000  # points: below this the upgrade takes a moment, and says nothing
SMALL = 64  # a series of fewer points stays in rows (metric_tail), as new short series do
CHUNK = 4_000

SCHEMA = """
    CREATE TABLE metric_series (
        series_id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value REAL,
        is_nan INTEGER NOT NULL DEFAULT 0,
        step INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        UNIQUE (run_id, key)
    );
    CREATE INDEX metric_series_by_key ON metric_series(key, value);
    CREATE TABLE metric_chunks (
        chunk_id INTEGER PRIMARY KEY,
        series_id INTEGER NOT NULL REFERENCES metric_series(series_id) ON DELETE CASCADE,
        points INTEGER NOT NULL,
        min_step INTEGER NOT NULL,
        max_step INTEGER NOT NULL,
        in_step_order INTEGER NOT NULL,
        summary BLOB NOT NULL,
        steps BLOB NOT NULL,
        timestamps BLOB NOT NULL,
        vals BLOB NOT NULL
    );
    CREATE INDEX metric_chunks_by_series ON metric_chunks(series_id);
    CREATE TABLE metric_tail (
        point_id INTEGER PRIMARY KEY,
        series_id INTEGER NOT NULL REFERENCES metric_series(series_id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL,
        is_nan INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX metric_tail_by_series ON metric_tail(series_id)
"""

Report = Callable[[str], None]


def upgrade(conn: sqlite3.Connection, report: Report | None = None) -> None:
    """Create the series tables, move every point of ``metrics`` into them, drop the old tables.

    :param conn: the store's connection, inside the transaction of the migration.
    :param report: where progress lines go; default stderr.
    """
    for statement in SCHEMA.split(";"):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO metric_series (run_id, key, value, is_nan, step, timestamp) "
        "SELECT run_id, key, value, is_nan, step, timestamp FROM latest_metrics "
        "WHERE typeof(step) = 'integer' AND typeof(timestamp) = 'integer' "
        "AND run_id IN (SELECT run_id FROM runs)")
    total = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
    progress = _Progress(total, report or _stderr)
    skipped = 0
    for (run_id, key), points in _series(conn, progress):
        good = [p for p in points if p is not None]
        skipped += len(points) - len(good)
        if good:
            _write(conn, run_id, key, good)
    progress.done(skipped)
    conn.execute("DROP TABLE metrics")
    conn.execute("DROP TABLE latest_metrics")


def _series(conn: sqlite3.Connection,
            progress: _Progress) -> Iterator[tuple[tuple[str, str], list[Any]]]:
    """Each series' points, in step order and, for equal steps, in logging order (the old
    index's own order, so no sort of the whole table)."""
    current: tuple[str, str] | None = None
    points: list[Any] = []
    for run_id, key, step, timestamp, value, is_nan in conn.execute(
        "SELECT run_id, key, step, timestamp, value, is_nan FROM metrics "
        "ORDER BY run_id, key, step, rowid"):
        if (run_id, key) != current:
            if current is not None:
                yield current, points
            current, points = (run_id, key), []
        points.append(_point(step, timestamp, value, is_nan))
        progress.tick()
    if current is not None:
        yield current, points


def _point(step: Any, timestamp: Any, value: Any, is_nan: Any) -> tuple[int, int, float] | None:
    """A point as it can be kept, or None for a row no reader could use (mlnb 0.1 skipped it)."""
    if type(step) is not int or type(timestamp) is not int:
        return None
    if is_nan == 1:
        return step, timestamp, math.nan
    if is_nan != 0 or type(value) not in (int, float):
        return None
    return step, timestamp, float(value)


def _write(conn: sqlite3.Connection, run_id: Any, key: Any, points: list[tuple[int, int, float]]) -> None:
    if not isinstance(run_id, str) or not isinstance(key, str):
        return
    found = conn.execute("SELECT series_id FROM metric_series WHERE run_id = ? AND key = ?",
                         [run_id, key]).fetchone()
    if found is None:  # points without a latest value (a damaged 0.1 store): the last is latest
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone() is None:
            return  # points of a run that is gone
        step, timestamp, value = max(points, key=lambda p: (p[0], p[1]))
        nan = math.isnan(value)
        found = conn.execute(
            "INSERT INTO metric_series (run_id, key, value, is_nan, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING series_id",
            [run_id, key, None if nan else value, int(nan), step, timestamp]).fetchone()
    series_id = found[0]
    if len(points) < SMALL:
        conn.executemany(
            "INSERT INTO metric_tail (series_id, step, timestamp, value, is_nan) "
            "VALUES (?, ?, ?, ?, ?)",
            [(series_id, s, t, None if math.isnan(v) else v, int(math.isnan(v)))
             for s, t, v in points])
        return
    for start in range(0, len(points), CHUNK):
        part = points[start:start + CHUNK]
        packed = point_codec.pack([p[0] for p in part], [p[1] for p in part], [p[2] for p in part])
        conn.execute(
            "INSERT INTO metric_chunks (series_id, points, min_step, max_step, in_step_order, "
            "summary, steps, timestamps, vals) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [series_id, packed.points, packed.min_step, packed.max_step,
             int(packed.in_step_order), packed.summary, packed.steps, packed.timestamps,
             packed.values])


class _Progress:
    """Progress lines every tenth of the way (and at most every 2 s) on a large store."""

    def __init__(self, total: int, report: Report) -> None:
        self.total = total
        self.report = report if total >= REPORT_FROM else None
        self.seen = 0
        self.next_tenth = 1
        self.last = time.monotonic()
        if self.report:
            self.report(f"mlnb: upgrading the store's metric storage ({total:,} points); "
                        "the store opens when this is done. Interrupting it is safe: it starts "
                        "again next time.")

    def tick(self) -> None:
        self.seen += 1
        if self.report and self.seen * 10 >= self.next_tenth * self.total:
            self.next_tenth += 1
            if time.monotonic() - self.last >= 2 or self.seen == self.total:
                self.last = time.monotonic()
                self.report(f"mlnb: upgrading metrics: {100 * self.seen // self.total}% "
                            f"({self.seen:,} of {self.total:,} points)")

    def done(self, skipped: int) -> None:
        if skipped:
            (self.report or _stderr)(
                f"mlnb: {skipped:,} malformed metric point(s) of the old store could not be "
                "kept (mlnb 0.1 skipped them when reading, too).")
        if self.report:
            self.report("mlnb: metric storage upgraded.")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
