"""What the views read and how they word it: runs from the library API, formatted cells, summaries.

Everything here is plain Python over :mod:`mlnb.entities` (no widgets, no Plotly), so the table
rows, comparison summaries and labels can be tested directly. Reads go through the store's bulk
methods (a bounded number of queries whatever the number of runs), never SQL of our own.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mlnb.entities import Experiment, Metric, Run, RunStatus, ViewType
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import Store
from mlnb.tracking import fluent
from mlnb.tracking.client import current_client

STATUS_COLOURS = {
    RunStatus.RUNNING: "#1f6feb",
    RunStatus.SCHEDULED: "#8250df",
    RunStatus.FINISHED: "#1a7f37",
    RunStatus.FAILED: "#cf222e",
    RunStatus.KILLED: "#9a6700",
}
PROVENANCE_PREFIXES = ("mlnb.", "mlflow.source.")
# Metric names that are better when smaller: their "best" step is the minimum.
_LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|rmse|perplexity|cost|time|latency", re.I)


def tracking_store() -> Store:
    """The store the fluent API uses now, with this process's buffered metrics written first."""
    client = current_client()
    client.writer.flush(raise_errors=False)
    return client.store


def experiment_ids(store: Store, experiment: Any) -> list[str]:
    """Experiment ids for ``experiment``.

    :param store: the store to look in.
    :param experiment: None (the active one), a name, an id, an Experiment, ``"*"`` (all active), or
        a list of those.
    :raises NotFoundError: for a name or id that does not exist.
    """
    if experiment is None:
        return [fluent.active_experiment_id()]
    if isinstance(experiment, Experiment):
        return [experiment.experiment_id]
    if isinstance(experiment, (list, tuple)):
        return [eid for item in experiment for eid in experiment_ids(store, item)]
    text = str(experiment)
    if text == "*":
        return store.experiment_ids(ViewType.ACTIVE_ONLY)
    found = store.get_experiment_by_name(text)
    if found is not None:
        return [found.experiment_id]
    if text.isdigit():
        return [store.get_experiment(text).experiment_id]
    raise NotFoundError(f"No experiment named {text!r}; pass a name or id that exists "
                        "(mlnb.search_experiments() lists them).")


def resolve_runs(store: Store, runs: Any) -> list[Run]:
    """Runs from ids, Run objects, ActiveRun handles or a ``search_runs`` DataFrame, in order, without
    duplicates.

    :param store: the store to read.
    :param runs: one of those, or a list of them.
    :raises InvalidParameterError: for anything else, or no runs.
    """
    if hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):
        runs = list(runs["run_id"])
    elif isinstance(runs, (str, Run)) or hasattr(runs, "run_id"):
        runs = [runs]
    ids: list[str] = []
    for item in runs:
        run_id = item.info.run_id if isinstance(item, Run) else getattr(item, "run_id", item)
        if not isinstance(run_id, str):
            raise InvalidParameterError(
                f"Cannot compare {type(item).__name__} objects: pass run ids, Runs or a DataFrame "
                "from mlnb.search_runs()."
            )
        if run_id not in ids:
            ids.append(run_id)
    if not ids:
        raise InvalidParameterError("No runs to show: pass at least one run id or Run.")
    return store.get_runs(ids)  # bulk; a clear NotFoundError names a wrong id


def run_labels(runs: Sequence[Run]) -> list[str]:
    """Run names, with a short id added where two runs share a name (raw text, not escaped).

    :param runs: the runs.
    """
    names = [r.info.run_name or r.info.run_id[:8] for r in runs]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return [f"{n} ({r.info.run_id[:6]})" if counts[n] > 1 else n for n, r in zip(names, runs, strict=True)]


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch as local ``YYYY-mm-dd HH:MM:SS`` ("" for None).

    :param ms: the time.
    """
    if ms is None:
        return ""
    moment = _dt.datetime.fromtimestamp(ms / 1000)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def duration_ms(run: Run, now_ms: int | None = None) -> int | None:
    """A run's duration; a RUNNING run's lasts until ``now_ms``, another unfinished one has none.

    :param run: the run.
    :param now_ms: the current time, for RUNNING runs.
    """
    start, end = run.info.start_time, run.info.end_time
    if end is None:
        if run.info.status != RunStatus.RUNNING or now_ms is None:
            return None
        end = now_ms
    return max(0, end - start)


def format_duration(ms: int | None) -> str:
    """A duration as ``12.3s``, ``4m 05s`` or ``2h 03m`` ("" for None).

    :param ms: the duration in milliseconds.
    """
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_value(value: Any) -> str:
    """A param or metric value as short text (floats to 6 significant digits).

    :param value: the value.
    """
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class Column:
    """One table column: its id (a search field such as ``params.lr``) and heading."""

    id: str
    label: str
    order_field: str | None  # the order_by field; None when the store cannot sort by it


BASE_COLUMNS = (
    Column("name", "Run", "attributes.run_name"),
    Column("status", "Status", "attributes.status"),
    Column("start", "Start", "attributes.start_time"),
    Column("duration", "Duration", "attributes.duration"),
)


def table_columns(params: Iterable[str], metrics: Iterable[str]) -> list[Column]:
    """The base columns (run, status, start, duration), then one per param and metric.

    :param params: param keys.
    :param metrics: metric keys.
    """
    cols = list(BASE_COLUMNS)
    cols += [Column(f"params.{k}", k, f"params.`{k}`") for k in params]
    cols += [Column(f"metrics.{k}", k, f"metrics.`{k}`") for k in metrics]
    return cols


def cell_text(run: Run, column: Column, now_ms: int | None = None) -> str:
    """The text of one cell (raw, not escaped).

    :param run: the row's run.
    :param column: the column.
    :param now_ms: the current time, for durations of RUNNING runs.
    """
    if column.id == "name":
        return run.info.run_name
    if column.id == "status":
        return run.info.status
    if column.id == "start":
        return format_time(run.info.start_time)
    if column.id == "duration":
        return format_duration(duration_ms(run, now_ms))
    kind, _, key = column.id.partition(".")
    source = run.data.params if kind == "params" else run.data.metrics
    return format_value(source.get(key))


def table_rows(runs: Sequence[Run], columns: Sequence[Column], now_ms: int | None = None
               ) -> list[list[str]]:
    """The text of every cell of the table, row by row (raw text: escape it for HTML).

    :param runs: the rows' runs.
    :param columns: the columns.
    :param now_ms: the current time, for durations of RUNNING runs.
    """
    return [[cell_text(r, c, now_ms) for c in columns] for r in runs]


def default_keys(runs: Sequence[Run], kind: str, limit: int = 5) -> list[str]:
    """The ``limit`` most common param or metric keys of these runs, for the first view.

    :param runs: the runs.
    :param kind: ``params`` or ``metrics``.
    :param limit: at most this many keys.
    """
    counts: dict[str, int] = {}
    for run in runs:
        for key in (run.data.params if kind == "params" else run.data.metrics):
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))[:limit]


def lower_is_better(key: str) -> bool:
    """Whether a metric's name says smaller is better (loss, error, latency...).

    :param key: the metric's name.
    """
    return bool(_LOWER_IS_BETTER.search(key))


@dataclass(frozen=True)
class MetricSummary:
    """Last, min and max of a metric's history, the step of the best value, and the number of points."""
    last: float
    min: float
    max: float
    best_step: int
    count: int


# Points per metric the widgets read: a chart's worth, kept by the store's downsampled read
# (each stretch's first, lowest, highest and last point), whatever the length of the history.
CHART_POINTS = 2_000


def summarize(points: Sequence[Metric], key: str, count: int | None = None) -> MetricSummary | None:
    """Last, min, max and the step of the best value (min for losses, else max); NaN skipped.

    :param points: the metric's points, or a chart's sample of them that keeps the extremes and
        the last point (with none, the result is None).
    :param key: the metric's name, which says whether lower is better.
    :param count: how many points the whole history holds; default ``len(points)``.
    """
    if not points:
        return None
    total = len(points) if count is None else count
    finite = [p for p in points if not math.isnan(p.value)]
    last = points[-1].value
    if not finite:
        return MetricSummary(last, math.nan, math.nan, points[-1].step, total)
    low = min(finite, key=lambda p: p.value)
    high = max(finite, key=lambda p: p.value)
    best = low if lower_is_better(key) else high
    return MetricSummary(last, low.value, high.value, best.step, total)


def differing_params(runs: Sequence[Run]) -> list[str]:
    """Param keys whose value is not the same (or not present) in every run.

    :param runs: the runs.
    """
    keys = sorted({k for r in runs for k in r.data.params})
    return [k for k in keys if len({r.data.params.get(k) for r in runs}) > 1]


def provenance_tags(tags: dict[str, str]) -> dict[str, str]:
    """The ``mlnb.*`` and ``mlflow.source.*`` tags, sorted by key.

    :param tags: a run's tags.
    """
    return {k: v for k, v in sorted(tags.items()) if k.startswith(PROVENANCE_PREFIXES)}


_CELL_SOURCE_TAGS = ("mlnb.cell.source", "mlnb.cell_source", "mlnb.source.cell", "mlnb.cell.code",
                     "mlnb.code", "mlnb.source")


def cell_source_tag(tags: dict[str, str]) -> tuple[str, str] | None:
    """``(key, source)`` of the tag holding the cell's source code, if the provenance capture wrote
    one.

    :param tags: a run's tags.
    """
    for key in _CELL_SOURCE_TAGS:
        if tags.get(key):
            return key, tags[key]
    for key in sorted(tags):
        if key.startswith("mlnb.") and ("source" in key or "code" in key) and "\n" in tags[key]:
            return key, tags[key]
    return None
