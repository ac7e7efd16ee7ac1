"""Metric histories: one series, many series at once (in index order), and the keys in use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import Metric, RunInfo
from mlnb.store import records
from mlnb.store.connection import Connection
from mlnb.store.sql import (
    chunks,
    marks,
)

_STEP_LIMIT = 2**63 - 1


def _point(run_id: str, key: str, value: Any, is_nan: Any, ts: Any, step: Any) -> Metric | None:
    """One checked point of a metric's history; None (with a warning) for a malformed row."""
    try:
        return Metric(key, records.metric_value(value, is_nan), records.integer(ts, "timestamp"),
                      records.integer(step, "step", low=-_STEP_LIMIT - 1, high=_STEP_LIMIT))
    except records.MalformedRow as problem:
        records.skip(f"a point of metric {key!r} of run {run_id}", problem)
        return None


class MetricQueries:
    """The metrics table's SQL. Mixed into :class:`mlnb.store.Store`."""

    cx: Connection

    if TYPE_CHECKING:  # from RunQueries, beside this class in Store

        def get_run_info(self, run_id: str) -> RunInfo: ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of a run, by step (equal steps in logging order).

        :param run_id: the run.
        :param key: the metric's name.
        :raises NotFoundError: for an unknown run.
        """
        self.get_run_info(run_id)
        found = self.cx.query(
            "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_id = ? AND key = ? "
            # (step, rowid) is the index's own order: no sort step. Equal steps keep log order.
            "ORDER BY step, rowid", [run_id, key],
        )
        points = (_point(run_id, key, v, n, ts, step) for v, n, ts, step in found)
        return [p for p in points if p is not None]

    def metric_histories(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, dict[str, list[Metric]]]:
        """Histories of many runs and keys in one query per 500 runs: run -> key -> points.

        :param run_ids: the runs.
        :param keys: only these metrics; default all.
        """
        out: dict[str, dict[str, list[Metric]]] = {r: {} for r in run_ids}
        key_filter = f" AND key IN ({marks(keys)})" if keys else ""
        for chunk in chunks(list(run_ids)):
            found = self.cx.query(
                f"SELECT run_id, key, value, is_nan, timestamp, step FROM metrics "
                f"WHERE run_id IN ({marks(chunk)}){key_filter} ORDER BY run_id, key, step, rowid",
                [*chunk, *(keys or [])],
            )
            series: list[Metric] = []
            current: tuple[str, str] | None = None
            for run_id, key, value, is_nan, ts, step in found:
                if (run_id, key) != current:  # rows arrive grouped: one dict lookup per series
                    current = (run_id, key)
                    series = out[run_id].setdefault(key, [])
                if type(ts) is int and type(step) is int and type(value) is float \
                        and is_nan == 0:  # the common, well-formed point: no call per point
                    series.append(Metric(key, value, ts, step))
                    continue
                point = _point(run_id, key, value, is_nan, ts, step)
                if point is not None:
                    series.append(point)
        return out

    def metric_keys(self, run_ids: Sequence[str]) -> list[str]:
        """The names of every metric of these runs, sorted.

        :param run_ids: the runs.
        """
        keys: set[str] = set()
        for chunk in chunks(list(run_ids)):
            keys.update(row[0] for row in self.cx.query(
                f"SELECT DISTINCT key FROM latest_metrics WHERE run_id IN ({marks(chunk)})", chunk))
        return sorted(keys)

