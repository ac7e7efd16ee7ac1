"""Downsampling of long metric histories for charts: per bucket keep the first, min, max and last.

Charts of a million points would freeze the browser; a curve of ``max_points`` points that keeps
every bucket's extremes looks the same (spikes and drops stay visible), and the first and last
points of the whole history are always kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from mlnb.entities import Metric

M = TypeVar("M", bound=Metric)


def _sort_value(m: Metric) -> float:
    # NaN has no order: treat it as neither min nor max (it is kept only as a first/last point).
    return m.value if not math.isnan(m.value) else 0.0


def downsample(points: Sequence[M], max_points: int) -> list[M]:
    """At most ``max_points`` (>= 4) points of ``points`` in step order, extremes kept per bucket.

    :param points: the metric's points in step order.
    :param max_points: the most points to keep (at least 4).
    """
    if max_points < 4:
        max_points = 4
    if len(points) <= max_points:
        return list(points)
    buckets = max(1, max_points // 4)
    size = math.ceil(len(points) / buckets)
    kept: list[M] = []
    for start in range(0, len(points), size):
        bucket = points[start:start + size]
        finite = [p for p in bucket if not math.isnan(p.value)] or list(bucket)
        chosen = {id(bucket[0]): bucket[0], id(bucket[-1]): bucket[-1]}
        low = min(finite, key=_sort_value)
        high = max(finite, key=_sort_value)
        chosen[id(low)] = low
        chosen[id(high)] = high
        kept.extend(p for p in bucket if id(p) in chosen)
    return kept
