"""A page of runs ordered by a metric, param or tag, read from the index that holds that order.

Ordering by ``metrics.acc DESC`` the plain way joins every matching run to its value and sorts
them all before ``LIMIT`` keeps 50: the cost grows with the store. Here the page is read in the
order's own three parts, each from an index that is already in that order, so SQLite stops as soon
as the page is full:

1. runs that have the key, walking ``(key, value)`` in the asked direction;
2. runs whose value is NaN (metrics only), which sort after every number;
3. runs without the key, last whatever the direction.

Within each part, ties keep the rest of the order (further terms, then newest first, then run id),
exactly as :func:`mlnb.store.search.compile_order_by` orders the single query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlnb.store.dialect import SQLITE, Dialect, StoreConnection
from mlnb.store.search import BoolOp, Comparison, EntitySchema, Node, OrderTerm, compile_order_by

MAX_STREAMS = 64  # experiments x stages merged in Python; more is one query with a sort
MAX_MERGED_ROWS = 50_000  # rows read from all streams together for one page


@dataclass(frozen=True)
class _Part:
    sql: str  # FROM ... WHERE ..., without SELECT and ORDER BY
    order: str
    params: list[Any]


def is_driven(terms: Sequence[OrderTerm], schema: EntitySchema) -> bool:
    """Whether the first order-by term is a key-value field (a metric, param or tag).

    :param terms: the parsed order-by terms.
    :param schema: the searched entity.
    """
    return bool(terms) and terms[0].field.entity in schema.sources


def driven_page(cx: StoreConnection, columns: str, terms: Sequence[OrderTerm], schema: EntitySchema,
                where: str, where_params: Sequence[Any], limit: int, offset: int) -> list[Any]:
    """Rows ``SELECT columns`` of runs matching ``where``, ordered by ``terms``, one page.

    :param cx: the store's connection.
    :param columns: the run columns to select (alias ``r``).
    :param terms: the order-by terms; the first is a key-value field.
    :param schema: the run schema (its key-value sources).
    :param where: the SQL condition on ``r`` (experiments, lifecycle, filter).
    :param where_params: its parameters.
    :param limit: at most this many rows.
    :param offset: rows to skip.
    """
    found: list[Any] = []
    skip = offset
    for part in _parts(terms, schema, where, list(where_params), cx.dialect):
        rows = cx.query(f"SELECT {columns} {part.sql} ORDER BY {part.order} LIMIT ? OFFSET ?",
                        [*part.params, limit - len(found), skip])
        found += rows
        if len(found) >= limit:
            break
        if rows:
            skip = 0  # this part ran out after the skipped rows
        elif skip:  # the whole part was skipped: how much of the offset did it use?
            skip -= cx.query(f"SELECT count(*) {part.sql}", part.params)[0][0]
            skip = max(0, skip)
    return found


def newest_first(cx: StoreConnection, columns: str, streams: Sequence[tuple[str, list[Any]]],
                 limit: int, offset: int) -> list[Any] | None:
    """A newest-first page of several experiments (or stages): each read from its own index,
    newest first, as far as the page needs, then merged; None when that would read too much
    (a deep page), or a start time is not a number, for the caller's single sorted query.

    One query over ``experiment_id IN (...)`` sorts every run of those experiments before the
    ``LIMIT``; this reads ``offset + limit`` runs of each at most.

    :param cx: the store's connection.
    :param columns: the run columns to select (alias ``r``); the last two are added here.
    :param streams: (condition, parameters) of each experiment and stage.
    :param limit: at most this many rows.
    :param offset: rows to skip.
    """
    wanted = offset + limit
    if wanted * len(streams) > MAX_MERGED_ROWS:
        return None
    rows: list[Any] = []
    for condition, params in streams:
        rows += cx.query(f"SELECT {columns}, r.start_time, r.run_id FROM runs r WHERE {condition} "
                         "ORDER BY r.start_time DESC, r.run_id LIMIT ?", [*params, wanted])
    if any(type(row[-2]) is not int or type(row[-1]) is not str for row in rows):
        return None  # a malformed row: let SQLite order the mixed types as it always does
    rows.sort(key=lambda row: row[-1])
    rows.sort(key=lambda row: row[-2], reverse=True)  # stable: equal times keep run id order
    return [row[:-2] for row in rows[offset:wanted]]


def _parts(terms: Sequence[OrderTerm], schema: EntitySchema, where: str,
           where_params: list[Any], dialect: Dialect) -> list[_Part]:
    first = terms[0]
    source = schema.sources[first.field.entity]
    rest = [t for t in terms[1:] if (t.field.entity, t.field.key) != (first.field.entity,
                                                                      first.field.key)]
    tail = compile_order_by(rest, schema)
    tie = (tail.sql + ", " if tail.sql else "") + "r.start_time DESC, r.run_id"
    on = " AND ".join(f"d.{inner} = {outer}" for inner, outer in source.join)
    direction = "ASC" if first.ascending else "DESC"
    key = first.field.key
    head = [*tail.join_params, key]
    keyed = f"FROM {source.table} d {dialect.driving_join} runs r ON {on} {tail.joins} " \
        "WHERE d.key = ? AND "
    parts = [_Part(f"{keyed}d.value IS NOT NULL AND {where}", f"d.value {direction}, {tie}",
                   [*head, *where_params])]
    if source.numeric:  # NaN is kept as NULL: after every number, before the runs without it
        parts.append(_Part(f"{keyed}d.value IS NULL AND {where}", tie, [*head, *where_params]))
    missing = f"NOT EXISTS (SELECT 1 FROM {source.table} d WHERE {on} AND d.key = ?)"
    parts.append(_Part(f"FROM runs r {tail.joins} WHERE {missing} AND {where}", tie,
                       [*tail.join_params, key, *where_params]))
    return parts


def count_source(node: Node | None, schema: EntitySchema,
                 dialect: Dialect = SQLITE) -> tuple[str, list[Any]]:
    """The FROM clause (ending in ``WHERE ... AND``) a count of matching runs starts from.

    A count must visit every matching run, but not every run: when the filter is an AND with a
    comparison one index answers (``params.x = 'text'``, ``tags.x = 'text'``, or a metric
    compared with a number), the count walks that index's range and checks the rest of the
    filter on those runs only; each run has one value per key, so none is counted twice. An
    equality on text is preferred to a metric's range (it usually keeps fewer runs). Otherwise
    the count walks the runs of the experiments.

    :param node: the parsed filter, or None.
    :param schema: the run schema (its key-value sources).
    :param dialect: the engine the SQL is for.
    """
    terms = node.children if isinstance(node, BoolOp) and node.op == "AND" else (node,)
    best: tuple[int, str, list[Any]] | None = None
    for term in terms:
        if not isinstance(term, Comparison) or term.field.entity not in schema.sources:
            continue
        source = schema.sources[term.field.entity]
        on = " AND ".join(f"d.{inner} = {outer}" for inner, outer in source.join)
        head = f"FROM {source.table} d {dialect.driving_join} runs r ON {on} WHERE d.key = ? AND "
        found: tuple[int, str, list[Any]]
        if not source.numeric and term.op == "=" and isinstance(term.value, str):
            found = (0, f"{head}d.value = ? AND ", [term.field.key, term.value])
        elif source.numeric and term.value_is_number and term.op in ("=", "<", "<=", ">", ">="):
            found = (1, f"{head}d.value {term.op} ? AND ", [term.field.key, term.value])
        else:
            continue
        if best is None or found[0] < best[0]:
            best = found
    if best is None:
        return "FROM runs r WHERE ", []
    return best[1], best[2]
