"""Two runs compared: params, tags, metrics, the cell that made them, the cells run before, packages.

:func:`diff_runs` returns a :class:`RunDiff`, plain data (``to_dict()`` is JSON-ready) that the
inline view (``mlnb.diff``) and the server's ``GET runs/<a>/diff/<b>`` both show. "a" is the
run compared against, "b" the other: *added* means in b only, *removed* in a only, and every
delta is b minus a. The runs may belong to different experiments.

Tags are split in two: the user's, and the system's (``mlflow.*`` and ``mlnb.*``); the system
tags shown elsewhere in the diff (the cell's source, the kernel history, the packages) or always
different (the run's name is in the header) are left out of the tag lists.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlnb.entities import Metric, Run
from mlnb.errors import InvalidParameterError
from mlnb.store import Store
from mlnb.tracking.client import MlnbClient, current_client
from mlnb.tracking.run_record import (
    HASH_CHARS,
    CellSource,
    Environment,
    HistoryEntry,
    RunRecord,
    fill_sources,
    notebook_sources,
    read_record,
    source_hash,
)

SYSTEM_TAG_PREFIXES = ("mlflow.", "mlnb.")
SHOWN_ELSEWHERE = frozenset({
    "mlflow.runName", "mlnb.cell.source", "mlnb.cell.sha256", "mlnb.kernel.history",
    "mlnb.kernel.history_sha256", "mlnb.packages", "mlnb.python_version",
})
SYSTEM_METRIC_PREFIX = "system/"
STATS = ("last", "min", "max")


@dataclass(frozen=True)
class RunSummary:
    """Who a compared run is.

    :param run_id: its id.
    :param run_name: its name.
    :param experiment_id: its experiment's id.
    :param experiment_name: its experiment's name.
    :param status: its status.
    :param start_time: when it started (ms since the epoch).
    :param end_time: when it ended, or None.
    """

    run_id: str
    run_name: str
    experiment_id: str
    experiment_name: str
    status: str
    start_time: int
    end_time: int | None

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class MappingDiff:
    """Two ``{key: value}`` mappings compared (params or tags).

    :param added: the keys only run b has, with b's values.
    :param removed: the keys only run a has, with a's values.
    :param changed: the keys both have with different values: ``(a's, b's)``.
    :param unchanged: the keys both have with the same value.
    """

    added: dict[str, str]
    removed: dict[str, str]
    changed: dict[str, tuple[str, str]]
    unchanged: dict[str, str]

    @property
    def differs(self) -> bool:
        """Whether anything was added, removed or changed."""
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return {"added": dict(self.added), "removed": dict(self.removed),
                "changed": {k: {"a": a, "b": b} for k, (a, b) in self.changed.items()},
                "unchanged": dict(self.unchanged)}


@dataclass(frozen=True)
class MetricStats:
    """One run's summary of a metric.

    :param last: the latest value (MLflow's rule: highest step, then latest time).
    :param min: the smallest value, NaN left out (None when every value is NaN).
    :param max: the largest value, NaN left out (None when every value is NaN).
    :param points: how many points the history holds.
    """

    last: float
    min: float | None
    max: float | None
    points: int

    def value(self, stat: str) -> float | None:
        """``last``, ``min`` or ``max``.

        :param stat: which.
        """
        found: float | None = getattr(self, _stat(stat))
        return found

    def to_dict(self) -> dict[str, Any]:
        """The stats as JSON-ready data (NaN stays a float; the server writes it as "NaN")."""
        return {"last": self.last, "min": self.min, "max": self.max, "points": self.points}


@dataclass(frozen=True)
class MetricDiff:
    """One metric in both runs.

    :param key: the metric's name.
    :param a: its summary in run a, None when a did not log it.
    :param b: its summary in run b, None when b did not log it.
    """

    key: str
    a: MetricStats | None
    b: MetricStats | None

    @property
    def status(self) -> str:
        """``added`` (b only), ``removed`` (a only), ``changed`` or ``same`` (last, min, max)."""
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        same = all(_same_number(self.a.value(s), self.b.value(s)) for s in STATS)
        return "same" if same else "changed"

    @property
    def system(self) -> bool:
        """Whether it is a system metric (``system/...``: CPU, memory, GPU)."""
        return self.key.startswith(SYSTEM_METRIC_PREFIX)

    def delta(self, stat: str = "last") -> float | None:
        """b's value minus a's (None when either is missing or not a number).

        :param stat: ``last``, ``min`` or ``max``.
        """
        if self.a is None or self.b is None:
            return None
        old, new = self.a.value(stat), self.b.value(stat)
        if old is None or new is None or math.isnan(old) or math.isnan(new):
            return None
        if math.isinf(old) or math.isinf(new):
            return 0.0 if old == new else None
        return new - old

    def relative(self, stat: str = "last") -> float | None:
        """The delta as a fraction of a's value (None when a's value is 0 or the delta is None).

        :param stat: ``last``, ``min`` or ``max``.
        """
        change = self.delta(stat)
        old = self.a.value(stat) if self.a is not None else None
        if change is None or old is None or old == 0 or math.isinf(old):
            return None
        return change / abs(old)

    def to_dict(self) -> dict[str, Any]:
        """The metric's comparison as JSON-ready data."""
        return {"key": self.key, "status": self.status, "system": self.system,
                "a": self.a.to_dict() if self.a else None,
                "b": self.b.to_dict() if self.b else None,
                "delta": {s: self.delta(s) for s in STATS},
                "relative": {s: self.relative(s) for s in STATS}}


@dataclass(frozen=True)
class SourceDiff:
    """The cells that made the two runs.

    :param a: run a's cell, None when it recorded none (a script, an import).
    :param b: run b's cell, likewise.
    :param unified: a unified diff of a's source to b's ("" when equal or either is missing).
    """

    a: CellSource | None
    b: CellSource | None
    unified: str

    @property
    def identical(self) -> bool | None:
        """Whether both runs came from the same source (None when either has none recorded)."""
        if self.a is None or self.b is None:
            return None
        if self.a.sha256 and self.b.sha256:
            return self.a.sha256 == self.b.sha256
        return self.a.source == self.b.source

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return {"a": _cell_dict(self.a), "b": _cell_dict(self.b), "unified": self.unified,
                "identical": self.identical}


@dataclass(frozen=True)
class HistoryRow:
    """One line of the two kernel histories side by side.

    :param a: run a's entry on this line, or None.
    :param b: run b's entry on this line, or None.
    :param status: ``same`` (the same cell with the same source in both), ``edited`` (the same
        cell id, another source), ``only_a`` or ``only_b``.
    :param elsewhere: for a one-sided line, whether that cell ran in the other run at another
        place: ``same`` (this very source), ``edited`` (with other sources only), or None.
    """

    a: HistoryEntry | None
    b: HistoryEntry | None
    status: str
    elsewhere: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The line as JSON-ready data."""
        return {"a": self.a.to_dict() if self.a else None,
                "b": self.b.to_dict() if self.b else None,
                "status": self.status, "elsewhere": self.elsewhere}


@dataclass(frozen=True)
class HistoryDiff:
    """The cells executed in each kernel before each run, aligned by cell id (by source hash
    where the frontend sent no ids).

    :param rows: the aligned lines, in execution order.
    :param recorded_a: whether run a recorded a history.
    :param recorded_b: whether run b recorded a history.
    """

    rows: list[HistoryRow]
    recorded_a: bool
    recorded_b: bool

    @property
    def identical(self) -> bool:
        """Whether both histories hold the same cells with the same sources in the same order."""
        return all(row.status == "same" for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return {"rows": [r.to_dict() for r in self.rows], "recorded_a": self.recorded_a,
                "recorded_b": self.recorded_b, "identical": self.identical}


@dataclass(frozen=True)
class EnvironmentDiff:
    """The packages of the two runs compared.

    :param a: what run a recorded.
    :param b: what run b recorded.
    :param added: packages only b has: name -> version.
    :param removed: packages only a has: name -> version.
    :param changed: packages at another version: name -> ``(a's, b's)``.
    :param unchanged: how many packages have the same version in both.
    """

    @property
    def compared(self) -> bool:
        """Whether both runs recorded their packages (else nothing was compared)."""
        return bool(self.a.sources and self.b.sources)

    a: Environment
    b: Environment
    added: dict[str, str]
    removed: dict[str, str]
    changed: dict[str, tuple[str, str]]
    unchanged: int

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return {"a": self.a.to_dict(), "b": self.b.to_dict(), "added": dict(self.added),
                "removed": dict(self.removed),
                "changed": {k: {"a": a, "b": b} for k, (a, b) in self.changed.items()},
                "unchanged": self.unchanged, "compared": self.compared}


@dataclass(frozen=True)
class RunDiff:
    """Everything that differs between two runs; see :func:`diff_runs`.

    :param a: the run compared against.
    :param b: the other run.
    :param params: params compared.
    :param tags: the user's tags compared.
    :param system_tags: the ``mlflow.*`` and ``mlnb.*`` tags compared (minus those shown in the
        other sections).
    :param metrics: every metric of either run, the user's first, then system metrics, by name.
    :param cell: the cells that made the runs.
    :param history: the kernel histories side by side.
    :param environment: the packages compared.
    :param notes: what could not be read, and why.
    """

    a: RunSummary
    b: RunSummary
    params: MappingDiff
    tags: MappingDiff
    system_tags: MappingDiff
    metrics: list[MetricDiff]
    cell: SourceDiff
    history: HistoryDiff
    environment: EnvironmentDiff
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The whole diff as JSON-ready data (what ``GET runs/<a>/diff/<b>`` answers)."""
        return {"a": self.a.to_dict(), "b": self.b.to_dict(), "params": self.params.to_dict(),
                "tags": self.tags.to_dict(), "system_tags": self.system_tags.to_dict(),
                "metrics": [m.to_dict() for m in self.metrics], "cell": self.cell.to_dict(),
                "history": self.history.to_dict(), "environment": self.environment.to_dict(),
                "notes": list(self.notes)}


def diff_runs(run_a: Any, run_b: Any, client: MlnbClient | None = None,
              notebook_root: str | Path | None = None) -> RunDiff:
    """Compare two runs: params, tags, metrics (last, min, max), the cell that made each, the
    cells executed before each, and their packages.

    :param run_a: the run compared against: a run id, a ``Run`` or an ``ActiveRun``.
    :param run_b: the other run, likewise (it may be in another experiment).
    :param client: the client of the runs' store; default the current one.
    :param notebook_root: the folder a run's relative notebook path is read from, to recover
        the sources of cells run before it; default the current folder.
    :raises NotFoundError: for a run id the store does not have.
    :raises InvalidParameterError: for something that is not a run or a run id.
    """
    client = client if client is not None else current_client()
    first, second = client.get_run(_run_id(run_a)), client.get_run(_run_id(run_b))
    store = client.store
    records = read_record(store, first), read_record(store, second)
    user_a, system_a = _split_tags(first.data.tags)
    user_b, system_b = _split_tags(second.data.tags)
    root = Path(notebook_root) if notebook_root is not None else Path.cwd()
    return RunDiff(
        a=_summary(store, first), b=_summary(store, second),
        params=diff_mappings(first.data.params, second.data.params),
        tags=diff_mappings(user_a, user_b), system_tags=diff_mappings(system_a, system_b),
        metrics=_metric_diffs(store, first, second),
        cell=diff_sources(records[0].cell, records[1].cell, _label(first), _label(second)),
        history=_history_diff(records, root),
        environment=diff_environments(records[0].environment, records[1].environment),
        notes=tuple(f"run {side}: {note}" for side, record in zip("ab", records, strict=True)
                    for note in record.notes),
    )


def diff_mappings(a: Mapping[str, str], b: Mapping[str, str]) -> MappingDiff:
    """Compare two mappings key by key (keys sorted).

    :param a: run a's values.
    :param b: run b's values.
    """
    keys = sorted(set(a) | set(b))
    return MappingDiff(
        added={k: b[k] for k in keys if k not in a},
        removed={k: a[k] for k in keys if k not in b},
        changed={k: (a[k], b[k]) for k in keys if k in a and k in b and a[k] != b[k]},
        unchanged={k: a[k] for k in keys if k in a and k in b and a[k] == b[k]},
    )


def diff_sources(a: CellSource | None, b: CellSource | None, label_a: str = "a",
                 label_b: str = "b") -> SourceDiff:
    """Compare two cells' sources as a unified diff.

    :param a: run a's cell.
    :param b: run b's cell.
    :param label_a: the name of a's side in the diff's header.
    :param label_b: the name of b's side.
    """
    if a is None or b is None or a.source == b.source:
        return SourceDiff(a, b, "")
    lines = difflib.unified_diff(a.source.splitlines(keepends=True),
                                 b.source.splitlines(keepends=True), label_a, label_b, n=3)
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return SourceDiff(a, b, text)


def diff_environments(a: Environment, b: Environment) -> EnvironmentDiff:
    """Compare the packages two runs recorded (nothing is compared when either recorded none).

    :param a: run a's environment.
    :param b: run b's environment.
    """
    if not (a.sources and b.sources):  # one side recorded nothing: no package was "removed"
        return EnvironmentDiff(a, b, {}, {}, {}, 0)
    compared = diff_mappings(a.packages, b.packages)
    return EnvironmentDiff(a, b, compared.added, compared.removed, compared.changed,
                           len(compared.unchanged))


def align_histories(a: list[HistoryEntry], b: list[HistoryEntry]) -> list[HistoryRow]:
    """Line up two kernel histories: the same cell (by id, else by source hash) on one line.

    :param a: run a's history, in execution order.
    :param b: run b's history.
    """
    keys_a, keys_b = [_cell_key(e) for e in a], [_cell_key(e) for e in b]
    rows: list[HistoryRow] = []
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows += [HistoryRow(x, y, "same" if x.short_hash == y.short_hash else "edited")
                     for x, y in zip(a[i1:i2], b[j1:j2], strict=True)]
            continue
        rows += [HistoryRow(x, None, "only_a", _elsewhere(x, b)) for x in a[i1:i2]]
        rows += [HistoryRow(None, y, "only_b", _elsewhere(y, a)) for y in b[j1:j2]]
    return rows


# --- helpers -------------------------------------------------------------------------------------


def _run_id(run: Any) -> str:
    if isinstance(run, Run):
        return run.info.run_id
    if isinstance(run, str) and run.strip():
        return run.strip()
    found = getattr(run, "run_id", None) or getattr(getattr(run, "info", None), "run_id", None)
    if isinstance(found, str):
        return found
    raise InvalidParameterError(
        f"diff takes run ids, Runs or ActiveRuns, not {type(run).__name__} {str(run)[:60]!r}.")


def _summary(store: Store, run: Run) -> RunSummary:
    info = run.info
    try:
        experiment = store.get_experiment(info.experiment_id).name
    except Exception:  # a run whose experiment row is gone still compares
        experiment = ""
    return RunSummary(info.run_id, info.run_name, info.experiment_id, experiment, info.status,
                      info.start_time, info.end_time)


def _label(run: Run) -> str:
    return f"{run.info.run_name or run.info.run_id} ({run.info.run_id[:8]})"


def _split_tags(tags: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    user = {k: v for k, v in tags.items() if not k.startswith(SYSTEM_TAG_PREFIXES)}
    system = {k: v for k, v in tags.items()
              if k.startswith(SYSTEM_TAG_PREFIXES) and k not in SHOWN_ELSEWHERE}
    return user, system


def _metric_diffs(store: Store, a: Run, b: Run) -> list[MetricDiff]:
    ids = [a.info.run_id, b.info.run_id]
    # Four points a series: the store keeps the first, lowest, highest and last of it (from its
    # chunk summaries when it can), so min and max are exact without reading every point.
    sampled = store.metric_histories(ids, None, max_points=4)
    counts = store.point_counts(ids)
    stats = [{key: _stats(run.data.metrics[key], sampled[run.info.run_id].get(key, []),
                          counts[run.info.run_id].get(key, 0)) for key in run.data.metrics}
             for run in (a, b)]
    keys = sorted(set(stats[0]) | set(stats[1]),
                  key=lambda k: (k.startswith(SYSTEM_METRIC_PREFIX), k))
    return [MetricDiff(k, stats[0].get(k), stats[1].get(k)) for k in keys]


def _stats(last: float, points: list[Metric], count: int) -> MetricStats:
    finite = [p.value for p in points if not math.isnan(p.value)]
    if not math.isnan(last):
        finite.append(last)
    return MetricStats(last, min(finite) if finite else None, max(finite) if finite else None,
                       count or len(points))


def _history_diff(records: tuple[RunRecord, RunRecord], root: Path) -> HistoryDiff:
    known: dict[str, str] = {}
    for record in records:
        known.update(notebook_sources(record.notebook_path, root))
    for record in records:  # the runs' own cells are known for certain
        if record.cell is not None and not record.cell.truncated:
            known[source_hash(record.cell.source)[:HASH_CHARS]] = record.cell.source
    a = fill_sources(records[0].history or [], known)
    b = fill_sources(records[1].history or [], known)
    return HistoryDiff(align_histories(a, b), records[0].history is not None,
                       records[1].history is not None)


def _cell_key(entry: HistoryEntry) -> str:
    return f"id:{entry.cell_id}" if entry.cell_id else f"sha:{entry.short_hash}"


def _elsewhere(entry: HistoryEntry, other: list[HistoryEntry]) -> str | None:
    key = _cell_key(entry)
    hashes = {e.short_hash for e in other if _cell_key(e) == key or
              (entry.cell_id is None and e.short_hash == entry.short_hash)}
    if not hashes:
        return None
    return "same" if entry.short_hash in hashes else "edited"


def _cell_dict(cell: CellSource | None) -> dict[str, Any] | None:
    if cell is None:
        return None
    return {"source": cell.source, "sha256": cell.sha256, "cell_id": cell.cell_id,
            "execution_count": cell.execution_count, "truncated": cell.truncated,
            "origin": cell.origin}


def _stat(stat: str) -> str:
    if stat not in STATS:
        raise InvalidParameterError(f"stat must be one of {', '.join(STATS)}, not {stat!r}.")
    return stat


def _same_number(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return x == y or (math.isnan(x) and math.isnan(y))
