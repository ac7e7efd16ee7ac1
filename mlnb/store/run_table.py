"""Many runs at once as columns, for a DataFrame: no object per run, a few queries in all.

:meth:`RunTableQueries.run_table` answers the same search as ``search_runs`` but returns the runs'
attributes as lists and their metrics, params and tags as one mapping per key (run id -> value),
read with one query per table joined to the runs the search matched, rather than 500 runs at a
time. ``mlnb.search_runs(...)`` builds its DataFrame from it, column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlnb.entities import ViewType
from mlnb.store import records
from mlnb.store.connection import Connection
from mlnb.store.sql import MAX_RESULTS_LIMIT, chunks, marks

if TYPE_CHECKING:
    from mlnb.entities import RunInfo


@dataclass
class RunTable:
    """Runs as columns: ``infos`` in the search's order, and per key a run id -> value map."""

    infos: list[RunInfo]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)


class RunTableQueries:
    """Mixed into :class:`mlnb.store.Store`."""

    cx: Connection

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
        wanted = {i.run_id for i in infos}
        if len(infos) < max_results or self.count_runs(experiment_ids, filter_string,
                                                       view_type) == len(infos):
            # Every matching run is in the table: join each table to the search, once.
            condition, params = self.run_condition(experiment_ids, filter_string, view_type)
            sources = [(f"FROM runs r JOIN {{table}} d ON d.run_id = r.run_id WHERE {condition}",
                        params)]
        else:  # a cut search: its runs by id, 500 at a time
            sources = [(f"FROM {{table}} d WHERE d.run_id IN ({marks(c)})", list(c))
                       for c in chunks(sorted(wanted))]
        for sql, params in sources:
            _text_columns(self.cx, sql.format(table="params"), params, "param", table.params,
                          wanted)
            _text_columns(self.cx, sql.format(table="tags"), params, "tag", table.tags, wanted)
            _metric_columns(self.cx, sql.format(table="metric_series"), params, table.metrics,
                            wanted)
        return table


def _text_columns(cx: Connection, source: str, params: list[Any], what: str,
                  into: dict[str, dict[str, str]], wanted: set[str]) -> None:
    for run_id, key, value in cx.query(f"SELECT d.run_id, d.key, d.value {source}", params):
        if run_id not in wanted:  # a run that began to match after the search
            continue
        if type(key) is str and type(value) is str:
            column = into.get(key)
            if column is None:
                column = into[key] = {}
            column[run_id] = value
        else:
            records.skip(f"{what} {key!r} of run {run_id}", records.MalformedRow(
                f"its key and value are {key!r} and {value!r}, not texts"))


def _metric_columns(cx: Connection, source: str, params: list[Any],
                    into: dict[str, dict[str, float]], wanted: set[str]) -> None:
    for run_id, key, value, is_nan in cx.query(
            f"SELECT d.run_id, d.key, d.value, d.is_nan {source}", params):
        if run_id not in wanted:
            continue
        if type(key) is not str or not (type(value) is float or is_nan == 1):
            try:
                value = records.metric_value(value, is_nan)
                records.text(key, "key")
            except records.MalformedRow as problem:
                records.skip(f"metric {key!r} of run {run_id}", problem)
                continue
        column = into.get(key)
        if column is None:
            column = into[key] = {}
        column[run_id] = float("nan") if is_nan == 1 else value
