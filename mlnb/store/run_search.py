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

from mlnb.store.connection import Connection
from mlnb.store.search import EntitySchema, OrderTerm, compile_order_by


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


def driven_page(cx: Connection, columns: str, terms: Sequence[OrderTerm], schema: EntitySchema,
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
    for part in _parts(terms, schema, where, list(where_params)):
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


def _parts(terms: Sequence[OrderTerm], schema: EntitySchema, where: str,
           where_params: list[Any]) -> list[_Part]:
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
    # CROSS JOIN: SQLite keeps the written order, so the (key, value) index drives the page.
    keyed = f"FROM {source.table} d CROSS JOIN runs r ON {on} {tail.joins} WHERE d.key = ? AND "
    parts = [_Part(f"{keyed}d.value IS NOT NULL AND {where}", f"d.value {direction}, {tie}",
                   [*head, *where_params])]
    if source.numeric:  # NaN is kept as NULL: after every number, before the runs without it
        parts.append(_Part(f"{keyed}d.value IS NULL AND {where}", tie, [*head, *where_params]))
    missing = f"NOT EXISTS (SELECT 1 FROM {source.table} d WHERE {on} AND d.key = ?)"
    parts.append(_Part(f"FROM runs r {tail.joins} WHERE {missing} AND {where}", tie,
                       [*tail.join_params, key, *where_params]))
    return parts
