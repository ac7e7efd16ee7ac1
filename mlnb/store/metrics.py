"""Metric histories: how points are stored, and every way they are read.

A run's metric is a *series*: one ``metric_series`` row (an integer id, and the latest value by
MLflow's rule, which searches filter and order on). Its points live in two places:

* ``metric_chunks``: packed chunks of up to :data:`CHUNK_MAX` points (:mod:`mlnb.store.point_codec`),
  about 8 bytes a point, each with a summary of its first, last, lowest and highest points;
* ``metric_tail``: one row per point, for short series and for the most recent points of a long
  one. A batch of at least :data:`DIRECT_MIN` points of a key is packed at once; smaller ones go
  to the tail, which is packed into a chunk when it reaches :data:`TAIL_FOLD` points, and at the
  end of the run once it holds :data:`END_FOLD` or more (a series of a few points stays in rows,
  which are smaller than a chunk for so few).

The order of arrival is chunks by id, then tail rows by id: a chunk is only written after the
series' tail has been packed. A history is read in step order, equal steps in logging order (a
stable sort of that arrival order), as MLflow returns it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from mlnb.entities import Metric, RunInfo
from mlnb.store import point_codec, records
from mlnb.store.dialect import StoreConnection, Writer
from mlnb.store.runs import LATEST_RANK
from mlnb.store.sql import chunks, marks

if TYPE_CHECKING:
    from numpy.typing import NDArray

DIRECT_MIN = 100  # points of one key in one batch that are packed at once
TAIL_FOLD = 1_000  # tail points that are packed into a chunk
END_FOLD = 64  # tail points worth packing when the run ends
CHUNK_MAX = 4_000  # points in one chunk (32 KB of values: a handful of pages)

Columns = tuple[list[int], list[int], list[float]]  # steps, timestamps, values


@dataclass
class _Part:
    """Points of one series in logging order: a chunk or the tail."""

    steps: list[int]
    timestamps: list[int]
    values: list[float]
    in_order: bool


class MetricQueries:
    """The metric tables' SQL. Mixed into :class:`mlnb.store.Store`."""

    cx: StoreConnection

    if TYPE_CHECKING:  # from RunQueries, beside this class in Store

        def get_run_info(self, run_id: str) -> RunInfo: ...

    # --- writing ----------------------------------------------------------------------------

    def append_points(self, conn: Writer, run_id: str, key: str,
                      points: Columns) -> None:
        """Append points of one metric (inside the caller's write transaction).

        :param conn: the connection inside :meth:`Connection.write`.
        :param run_id: the run.
        :param key: the metric's name.
        :param points: steps, timestamps and values in logging order (checked by the caller).
        """
        steps, timestamps, values = points
        step, timestamp, value = latest_point(steps, timestamps, values)
        nan = math.isnan(value)
        conn.execute(
            "INSERT INTO metric_series (run_id, key, value, is_nan, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
            "value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, "
            "timestamp = excluded.timestamp WHERE "
            f"{LATEST_RANK.format(t='excluded')} > {LATEST_RANK.format(t='metric_series')}",
            [run_id, key, None if nan else value, int(nan), step, timestamp],
        )
        series_id = conn.execute("SELECT series_id FROM metric_series WHERE run_id = ? AND key = ?",
                                 [run_id, key]).fetchone()[0]
        if len(steps) >= DIRECT_MIN:
            self.fold_tail(conn, series_id)  # the tail's points were logged before these
            _insert_chunks(conn, series_id, steps, timestamps, values)
            return
        conn.executemany(
            "INSERT INTO metric_tail (series_id, step, timestamp, value, is_nan) "
            "VALUES (?, ?, ?, ?, ?)",
            [(series_id, s, t, None if v != v else v, int(v != v))
             for s, t, v in zip(steps, timestamps, values, strict=True)],
        )
        waiting = conn.execute("SELECT count(*) FROM metric_tail WHERE series_id = ?",
                               [series_id]).fetchone()[0]
        if waiting >= TAIL_FOLD:
            self.fold_tail(conn, series_id)

    def fold_tail(self, conn: Writer, series_id: int, at_least: int = 1) -> None:
        """Pack a series' tail into chunks when it holds ``at_least`` points.

        :param conn: the connection inside :meth:`Connection.write`.
        :param series_id: the series.
        :param at_least: leave a shorter tail as it is.
        """
        rows = conn.execute(
            "SELECT point_id, step, timestamp, value, is_nan FROM metric_tail WHERE series_id = ? "
            "ORDER BY point_id", [series_id]).fetchall()
        good = [(row[0], point) for row in rows
                if (point := _tail_point(series_id, row)) is not None]
        if not good or len(good) < at_least:
            return
        _insert_chunks(conn, series_id, [p[0] for _, p in good], [p[1] for _, p in good],
                       [p[2] for _, p in good])
        conn.executemany("DELETE FROM metric_tail WHERE point_id = ?", [(i,) for i, _ in good])

    def fold_run_tails(self, conn: Writer, run_id: str) -> None:
        """Pack the tails of a run's series that are worth packing (the run has ended).

        :param conn: the connection inside :meth:`Connection.write`.
        :param run_id: the run.
        """
        for (series_id,) in conn.execute(
            "SELECT t.series_id FROM metric_series s JOIN metric_tail t "
            "ON t.series_id = s.series_id WHERE s.run_id = ? GROUP BY t.series_id "
            "HAVING count(*) >= ?", [run_id, END_FOLD]).fetchall():
            self.fold_tail(conn, series_id)

    # --- reading ----------------------------------------------------------------------------

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of a run, by step (equal steps in logging order).

        :param run_id: the run.
        :param key: the metric's name.
        :raises NotFoundError: for an unknown run.
        """
        self.get_run_info(run_id)
        return self.metric_histories([run_id], [key]).get(run_id, {}).get(key, [])

    def metric_columns(self, run_id: str, key: str) -> Columns:
        """One metric's history as three lists (steps, timestamps, values), by step.

        The fast way to a whole long series (a DataFrame, a chart): no object per point.

        :param run_id: the run.
        :param key: the metric's name.
        :raises NotFoundError: for an unknown run.
        """
        self.get_run_info(run_id)
        found = self.cx.query("SELECT series_id FROM metric_series WHERE run_id = ? AND key = ?",
                              [run_id, key])
        if not found:
            return [], [], []
        return self._columns([found[0][0]]).get(found[0][0], ([], [], []))

    def metric_histories(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None,
        max_points: int | None = None,
    ) -> dict[str, dict[str, list[Metric]]]:
        """Histories of many runs and keys, a few queries per 500 runs: run -> key -> points.

        :param run_ids: the runs (an unknown one has no histories).
        :param keys: only these metrics; default all.
        :param max_points: at most this many points per history (at least 4), keeping each
            stretch's first, lowest, highest and last point (:meth:`sampled_history`); default
            every point.
        """
        return {run_id: {key: list(map(Metric, [key] * len(steps), values, timestamps, steps))
                         for key, (steps, timestamps, values) in by_key.items()}
                for run_id, by_key in self.metric_history_columns(run_ids, keys, max_points).items()}

    def metric_history_columns(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None,
        max_points: int | None = None,
    ) -> dict[str, dict[str, Columns]]:
        """:meth:`metric_histories` as columns: run -> key -> ``(steps, timestamps, values)``.

        What charts read: no object per point, so a grid of long histories is cheap to serve.

        :param run_ids: the runs (an unknown one has no histories).
        :param keys: only these metrics; default all.
        :param max_points: at most this many points per history (at least 4), as in
            :meth:`metric_histories`; default every point.
        """
        out: dict[str, dict[str, Columns]] = {r: {} for r in run_ids}
        found = self._series(run_ids, keys)
        if max_points is not None:
            for run_id, key, series_id in found:
                out[run_id][key] = self._sampled(series_id, max_points)[1]
            return out
        named = {series_id: (run_id, key) for run_id, key, series_id in found}
        for series_id, columns in self._columns(list(named)).items():
            run_id, key = named[series_id]
            out[run_id][key] = columns
        return out

    def sampled_history(self, run_id: str, key: str, max_points: int) -> tuple[int, list[Metric]]:
        """A chart's view of a long history: ``(points in the series, at most max_points of them)``.

        The series is cut into ``max_points // 4`` stretches of consecutive points and each keeps
        its first, lowest, highest and last point, so spikes and the global extremes stay visible.
        A series in step order is drawn from its chunks' summaries when they are fine enough,
        without unpacking a point; the full history is read only when they are not.

        :param run_id: the run.
        :param key: the metric's name.
        :param max_points: the most points to return (at least 4).
        :raises NotFoundError: for an unknown run.
        """
        self.get_run_info(run_id)
        found = self.cx.query("SELECT series_id FROM metric_series WHERE run_id = ? AND key = ?",
                              [run_id, key])
        if not found:
            return 0, []
        total, (steps, timestamps, values) = self._sampled(found[0][0], max_points)
        return total, list(map(Metric, [key] * len(steps), values, timestamps, steps))

    def count_points(self, run_id: str, key: str | None = None) -> int:
        """How many points the run's metrics hold (packed and not yet packed alike).

        :param run_id: the run.
        :param key: only this metric; default all.
        """
        key_filter = " AND s.key = ?" if key is not None else ""
        params = [run_id, *([key] if key is not None else [])]
        packed = self.cx.query(
            "SELECT coalesce(sum(c.points), 0) FROM metric_series s JOIN metric_chunks c "
            f"ON c.series_id = s.series_id WHERE s.run_id = ?{key_filter}", params)[0][0]
        waiting = self.cx.query(
            "SELECT count(*) FROM metric_series s JOIN metric_tail t "
            f"ON t.series_id = s.series_id WHERE s.run_id = ?{key_filter}", params)[0][0]
        return int(packed) + int(waiting)

    def point_counts(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """How many points each metric of these runs holds: run -> key -> count.

        :param run_ids: the runs.
        """
        out: dict[str, dict[str, int]] = {r: {} for r in run_ids}
        for chunk in chunks(list(run_ids)):
            for table, counted in (("metric_chunks", "sum(d.points)"), ("metric_tail", "count(*)")):
                for run_id, key, count in self.cx.query(
                    f"SELECT s.run_id, s.key, {counted} FROM metric_series s JOIN {table} d "
                    f"ON d.series_id = s.series_id WHERE s.run_id IN ({marks(chunk)}) "
                    "GROUP BY s.series_id", chunk):
                    out[run_id][key] = out[run_id].get(key, 0) + int(count)
        return out

    def metric_keys(self, run_ids: Sequence[str]) -> list[str]:
        """The names of every metric of these runs, sorted.

        :param run_ids: the runs.
        """
        keys: set[str] = set()
        for chunk in chunks(list(run_ids)):
            keys.update(row[0] for row in self.cx.query(
                f"SELECT DISTINCT key FROM metric_series WHERE run_id IN ({marks(chunk)})", chunk))
        return sorted(keys)

    def metric_extremes(self, run_ids: Sequence[str], keys: Sequence[str] | None = None,
                        ) -> dict[str, dict[str, tuple[float | None, float | None]]]:
        """The lowest and highest value of each metric of these runs, aggregated in SQL over the
        chunks' extremes and the tail rows (NaN ignored; a metric of NaN alone has ``None`` or
        is left out): run -> key -> ``(min, max)``.

        :param run_ids: the runs (an unknown one has none).
        :param keys: only these metrics; default all.
        """
        out: dict[str, dict[str, tuple[float | None, float | None]]] = {r: {} for r in run_ids}
        key_filter = f" AND key IN ({marks(keys)})" if keys else ""
        for chunk in chunks(list(run_ids)):
            series = (f"SELECT series_id FROM metric_series WHERE run_id IN ({marks(chunk)})"
                      f"{key_filter}")
            params = [*chunk, *(keys or [])]
            for run_id, key, low, high in self.cx.query(
                "SELECT s.run_id, s.key, min(x.lo), max(x.hi) FROM metric_series s JOIN ("
                "SELECT series_id, min_value AS lo, max_value AS hi FROM metric_chunks "
                f"WHERE series_id IN ({series}) UNION ALL "
                "SELECT series_id, value AS lo, value AS hi FROM metric_tail "
                f"WHERE is_nan = 0 AND series_id IN ({series})"
                ") x ON x.series_id = s.series_id GROUP BY s.series_id, s.run_id, s.key",
                [*params, *params]):
                out[run_id][key] = (None if low is None else float(low),
                                    None if high is None else float(high))
        return out

    # --- internals --------------------------------------------------------------------------

    def _series(self, run_ids: Sequence[str],
                keys: Sequence[str] | None) -> list[tuple[str, str, int]]:
        key_filter = f" AND key IN ({marks(keys)})" if keys else ""
        found: list[tuple[str, str, int]] = []
        for chunk in chunks(list(run_ids)):
            found += self.cx.query(
                f"SELECT run_id, key, series_id FROM metric_series WHERE run_id IN ({marks(chunk)})"
                f"{key_filter} ORDER BY run_id, key", [*chunk, *(keys or [])])
        return found

    def _columns(self, series_ids: Sequence[int]) -> dict[int, Columns]:
        """The points of each series, in step order (equal steps in logging order)."""
        parts: dict[int, list[_Part]] = {s: [] for s in series_ids}
        for chunk in chunks(list(series_ids)):  # type: ignore[arg-type]
            for series_id, points, in_order, steps, stamps, vals in self.cx.query(
                "SELECT series_id, points, in_step_order, steps, timestamps, vals "
                f"FROM metric_chunks WHERE series_id IN ({marks(chunk)}) "
                "ORDER BY series_id, chunk_id", chunk):
                try:
                    s, t, v = point_codec.unpack(steps, stamps, vals, points)
                except records.MalformedRow as problem:
                    records.skip(f"a chunk of metric series {series_id}", problem)
                    continue
                parts[series_id].append(_Part(s, t, v, bool(in_order)))
            tails: dict[int, list[tuple[int, int, float]]] = {}
            for row in self.cx.query(
                "SELECT series_id, point_id, step, timestamp, value, is_nan FROM metric_tail "
                f"WHERE series_id IN ({marks(chunk)}) ORDER BY series_id, point_id", chunk):
                point = _tail_point(row[0], row[1:])
                if point is not None:
                    tails.setdefault(row[0], []).append(point)
            for series_id, points_of in tails.items():
                s, t, v = (list(c) for c in zip(*points_of, strict=True))
                parts[series_id].append(_Part(s, t, v, _ascending(s)))
        return {series_id: _in_step_order(found) for series_id, found in parts.items()}

    def _sampled(self, series_id: int, max_points: int) -> tuple[int, Columns]:
        """``(points in the series, at most max_points of them as columns)``."""
        max_points = max(4, max_points)
        summaries = self.cx.query(
            "SELECT points, min_step, max_step, in_step_order, summary FROM metric_chunks "
            "WHERE series_id = ? ORDER BY chunk_id", [series_id])
        tail = [p for p in (_tail_point(series_id, row) for row in self.cx.query(
            "SELECT point_id, step, timestamp, value, is_nan FROM metric_tail "
            "WHERE series_id = ? ORDER BY point_id", [series_id])) if p is not None]
        total = sum(int(row[0]) for row in summaries) + len(tail)
        stretches = max_points // 4
        if total > max_points and _chunks_in_order(summaries, tail):
            try:
                blocks = [b for row in summaries for b in point_codec.summary_blocks(row[4])]
                if len(blocks) >= stretches // 2:  # fine enough to draw without unpacking
                    return total, _from_summaries(blocks, tail, stretches)
            except records.MalformedRow as problem:
                records.skip(f"the chunk summaries of metric series {series_id}", problem)
            thinned = self._thinned_in_order(series_id, tail, max_points)
            if thinned is not None:
                return thinned
        steps, timestamps, values = self._columns([series_id])[series_id]
        kept = thin(values, max_points)
        if len(kept) == len(steps):
            return len(steps), (steps, timestamps, values)
        return len(steps), ([steps[i] for i in kept], [timestamps[i] for i in kept],
                            [values[i] for i in kept])


    def _thinned_in_order(self, series_id: int, tail: list[tuple[int, int, float]],
                          max_points: int) -> tuple[int, Columns] | None:
        """A series in step order thinned as numpy arrays (no Python object per point); None
        when a chunk is damaged (the caller's point-by-point read skips it with a warning)."""
        import numpy as np  # only for long series: ``import mlnb`` stays light

        parts = []
        try:
            for points, steps, stamps, vals in self.cx.query(
                    "SELECT points, steps, timestamps, vals FROM metric_chunks WHERE series_id = ? "
                    "ORDER BY chunk_id", [series_id]):
                parts.append(point_codec.unpack_arrays(steps, stamps, vals, points))
        except records.MalformedRow:
            return None
        if tail:
            columns = list(zip(*tail, strict=True))
            parts.append((np.array(columns[0], dtype=np.int64), np.array(columns[1], dtype=np.int64),
                          np.array(columns[2], dtype=np.float64)))
        steps, timestamps, values = (np.concatenate([part[i] for part in parts]) for i in range(3))
        kept = thin(values, max_points)
        return len(steps), (steps[kept].tolist(), timestamps[kept].tolist(), values[kept].tolist())


def latest_point(steps: Sequence[int], timestamps: Sequence[int],
                 values: Sequence[float]) -> tuple[int, int, float]:
    """The latest of some points by :data:`LATEST_RANK`: greatest step, timestamp, then value.

    :param steps: the points' steps.
    :param timestamps: their timestamps.
    :param values: their values.
    """
    top = max(steps)
    best = -1
    for i, step in enumerate(steps):
        if step == top and (best < 0 or _rank(timestamps[i], values[i])
                            > _rank(timestamps[best], values[best])):
            best = i
    return steps[best], timestamps[best], values[best]


def _rank(timestamp: int, value: float) -> tuple[int, bool, float]:
    nan = value != value
    return timestamp, not nan, 0.0 if nan else value


def thin(values: Sequence[float] | NDArray[Any], max_points: int) -> list[int]:
    """Which points a chart keeps: per stretch the first, lowest, highest and last (by index).

    NaN is neither lowest nor highest; a stretch of NaN alone keeps its first and last point.

    :param values: the series' values in step order.
    :param max_points: at most this many (at least 4).
    """
    count = len(values)
    if count <= max_points:
        return list(range(count))
    import numpy as np  # only for long series: ``import mlnb`` stays light

    stretches = max(1, max(4, max_points) // 4)
    size = -(-count // stretches)
    rows = -(-count // size)
    padded = np.full(rows * size, np.nan)
    padded[:count] = np.asarray(values, dtype=float)
    grid = padded.reshape(rows, size)
    nan = np.isnan(grid)
    # argmin/argmax pick the first of equals, as min()/max() over indices did
    lows = np.where(nan, np.inf, grid).argmin(axis=1)
    highs = np.where(nan, -np.inf, grid).argmax(axis=1)
    picked_nan = nan[np.arange(rows), lows] | nan[np.arange(rows), highs]
    kept: list[int] = []
    for row in range(rows):
        start, end = row * size, min(count, row * size + size)
        low, high = start + int(lows[row]), start + int(highs[row])
        if picked_nan[row]:  # a stretch of NaN and infinities only: rare, decided point by point
            finite = [i for i in range(start, end) if values[i] == values[i]] or [start]
            low = min(finite, key=values.__getitem__)
            high = max(finite, key=values.__getitem__)
        kept.extend(sorted({start, low, high, end - 1}))
    return kept


def _insert_chunks(conn: Writer, series_id: int, steps: Sequence[int],
                   timestamps: Sequence[int], values: Sequence[float]) -> None:
    rows = []
    for start in range(0, len(steps), CHUNK_MAX):
        end = start + CHUNK_MAX
        packed = point_codec.pack(steps[start:end], timestamps[start:end], values[start:end])
        low, high = point_codec.chunk_extremes(packed.summary)
        rows.append((series_id, packed.points, packed.min_step, packed.max_step,
                     int(packed.in_step_order), packed.summary, packed.steps, packed.timestamps,
                     packed.values, low, high))
    conn.executemany(
        "INSERT INTO metric_chunks (series_id, points, min_step, max_step, in_step_order, summary, "
        "steps, timestamps, vals, min_value, max_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows)


_STEP_LIMIT = 2**63 - 1


def _tail_point(series_id: int, row: Sequence[Any]) -> tuple[int, int, float] | None:
    """A checked ``(step, timestamp, value)`` of a tail row ``(id, step, ts, value, is_nan)``;
    None (with a warning) for a malformed row."""
    _, step, timestamp, value, is_nan = row
    if type(step) is int and type(timestamp) is int and type(value) is float and is_nan == 0:
        return step, timestamp, value  # the common, well-formed point: no call per point
    try:
        return (records.integer(step, "step", low=-_STEP_LIMIT - 1, high=_STEP_LIMIT),
                records.integer(timestamp, "timestamp"), records.metric_value(value, is_nan))
    except records.MalformedRow as problem:
        records.skip(f"a point of metric series {series_id}", problem)
        return None


def _ascending(steps: Sequence[int]) -> bool:
    return all(a <= b for a, b in pairwise(steps))


def _in_step_order(parts: list[_Part]) -> Columns:
    """Concatenate parts in logging order; sort by step (stable) only when they are not."""
    if not parts:
        return [], [], []
    if len(parts) == 1 and parts[0].in_order:
        return parts[0].steps, parts[0].timestamps, parts[0].values
    steps = [s for p in parts for s in p.steps]
    timestamps = [t for p in parts for t in p.timestamps]
    values = [v for p in parts for v in p.values]
    ordered = all(p.in_order for p in parts) and all(
        a.steps[-1] <= b.steps[0] for a, b in pairwise(parts))
    if ordered:
        return steps, timestamps, values
    order = sorted(range(len(steps)), key=steps.__getitem__)  # stable: equal steps keep order
    return [steps[i] for i in order], [timestamps[i] for i in order], [values[i] for i in order]


def _chunks_in_order(summaries: Sequence[Sequence[Any]], tail: list[tuple[int, int, float]]) -> bool:
    """Whether chunks (and then the tail) follow one another in step order."""
    previous: int | None = None
    for _, min_step, max_step, in_order, _ in summaries:
        if not in_order or (previous is not None and min_step < previous):
            return False
        previous = max_step
    steps = [p[0] for p in tail]
    return _ascending(steps) and (not steps or previous is None or steps[0] >= previous)


def _from_summaries(blocks: list[list[tuple[int, int, float]]],
                    tail: list[tuple[int, int, float]], stretches: int) -> Columns:
    """Per group of the chunks' summarised stretches (the tail counts as one), its first, lowest,
    highest and last point."""
    if tail:
        values = [p[2] for p in tail]
        finite = [i for i, v in enumerate(values) if v == v] or [0]
        blocks.append([tail[0], tail[-1], tail[min(finite, key=values.__getitem__)],
                       tail[max(finite, key=values.__getitem__)]])
    size = -(-len(blocks) // stretches)
    kept: list[tuple[int, int, float]] = []
    for start in range(0, len(blocks), size):
        group = blocks[start:start + size]
        extremes = [p for block in group for p in block[2:] if p[2] == p[2]]
        chosen = {group[0][0], group[-1][1]}
        if extremes:
            chosen.add(min(extremes, key=lambda p: p[2]))
            chosen.add(max(extremes, key=lambda p: p[2]))
        kept.extend(sorted(chosen, key=_by_step_then_time))
    return [p[0] for p in kept], [p[1] for p in kept], [p[2] for p in kept]


def _by_step_then_time(point: tuple[int, int, float]) -> tuple[int, int]:
    return point[0], point[1]
