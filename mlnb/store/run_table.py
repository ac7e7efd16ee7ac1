"""Many runs at once as columns, for a DataFrame: no object per run, a few queries in all.

:meth:`RunTableQueries.run_table` answers the same search as ``search_runs`` but returns the runs'
attributes as lists and their metrics, params and tags as one mapping per key (run id -> value),
read with one query per table joined to the runs the search matched, rather than 500 runs at a
time. ``mlnb.search_runs(...)`` builds its DataFrame from it, column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from mlnb.entities import ViewType
from mlnb.store import records
from mlnb.store.dialect import StoreConnection
from mlnb.store.sql import MAX_RESULTS_LIMIT, chunks, marks

if TYPE_CHECKING:
    from mlnb.entities import RunInfo


@dataclass
class RunTable:
    """Runs as columns: ``infos`` in the search's order, and their values in long form,
    ``(run_id, key, value)`` rows (a metric's NaN as ``None``), possibly with rows of other runs
    (the reader keeps those of ``infos``); every row well-formed (malformed ones were skipped
    with a warning)."""

    infos: list[RunInfo]
    other_runs: bool = False  # the rows may hold values of runs that are not in infos
    metrics: list[tuple[str, str, float | None]] = field(default_factory=list)
    params: list[tuple[str, str, str]] = field(default_factory=list)
    tags: list[tuple[str, str, str]] = field(default_factory=list)


class RunTableQueries:
    """Mixed into :class:`mlnb.store.Store`."""

    cx: StoreConnection

    if TYPE_CHECKING:  # from RunQueries, beside this class in Store

        def search_run_infos(self, experiment_ids: Sequence[str], filter_string: str | None = None,
                             view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                             order_by: Sequence[str] | None = None,
                             offset: int = 0) -> list[RunInfo]: ...

        def count_runs(self, experiment_ids: Sequence[str], filter_string: str | None = None,
                       view_type: int = ViewType.ACTIVE_ONLY) -> int: ...

        def run_condition(self, experiment_ids: Sequence[str], filter_string: str | None,
                          view_type: int) -> tuple[str, list[Any]]: ...

    def run_table(
        self, experiment_ids: Sequence[str], filter_string: str | None = None,
        view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 100_000,
        order_by: Sequence[str] | None = None,
    ) -> RunTable:
        """The runs ``search_runs`` would return (up to ``max_results``), as columns.

        :param experiment_ids: the experiments to search.
        :param filter_string: the search grammar.
        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        :param max_results: at most this many runs.
        :param order_by: order-by clauses (the order of ``infos``).
        """
        infos: list[RunInfo] = []
        while len(infos) < max_results:  # pages of the most one query may return
            page = self.search_run_infos(experiment_ids, filter_string, view_type,
                                         min(MAX_RESULTS_LIMIT, max_results - len(infos)),
                                         order_by, len(infos))
            infos += page
            if len(page) < min(MAX_RESULTS_LIMIT, max_results - len(infos) + len(page)):
                break
        table = RunTable(infos)
        if not infos:
            return table
        in_store = self.cx.query("SELECT count(*) FROM runs")[0][0]
        if 2 * len(infos) >= in_store:
            # Most of the store: read each table straight through (the reader drops the rows of
            # other runs), which is faster than looking each run's rows up.
            sources: list[tuple[str, list[Any]]] = [("FROM {table} d WHERE", [])]
        elif len(infos) < max_results or self.count_runs(experiment_ids, filter_string,
                                                         view_type) == len(infos):
            # Every matching run is in the table: join each table to the search, once.
            condition, params = self.run_condition(experiment_ids, filter_string, view_type)
            sources = [("FROM runs r JOIN {table} d ON d.run_id = r.run_id WHERE "
                        f"{condition} AND", params)]
        else:  # a cut search: its runs by id, 500 at a time
            sources = [(f"FROM {{table}} d WHERE d.run_id IN ({marks(c)}) AND", list(c))
                       for c in chunks(sorted(i.run_id for i in infos))]
        table.other_runs = len(sources) == 1 and not sources[0][1] and len(infos) < in_store
        for sql, params in sources:
            for name, into in (("params", table.params), ("tags", table.tags)):
                found = self.cx.query(
                    f"SELECT d.run_id, d.key, d.value {sql.format(table=name)} 1 = 1", params)
                into += _well_formed(found, name[:-1], (str,))
            found = self.cx.query(  # NaN as NULL
                f"SELECT d.run_id, d.key, {self.cx.dialect.checked_metric_value('d')} "
                f"{sql.format(table='metric_series')} 1 = 1", params)
            table.metrics += _well_formed(found, "metric", (float, int, type(None)))
        return table


_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)


def _well_formed(rows: list[Any], what: str, value_types: tuple[type, ...]) -> list[Any]:
    """``rows`` without the malformed ones (each skipped with a warning naming it).

    The check runs over whole columns (``map`` in C), not a Python call per row: a million
    well-formed rows cost a few hundredths of a second.
    """
    if not rows:
        return rows
    texts = set(map(type, map(_FIRST, rows))) | set(map(type, map(_SECOND, rows)))
    if texts <= {str} and set(map(type, map(_THIRD, rows))) <= set(value_types):
        return rows
    kept = []
    for run_id, key, value in rows:
        if type(run_id) is str and type(key) is str and type(value) in value_types:
            kept.append((run_id, key, value))
        else:
            records.skip(f"{what} {key!r} of run {run_id}",
                         records.MalformedRow(f"its key and value are {key!r} and {value!r}"))
    return kept
