"""Compiling a parsed filter or order-by to SQL, with every value bound as a parameter: nothing
the user typed is ever interpolated into SQL text. Each entity (runs, experiments, registered
models, versions) describes its columns and key/value tables with an :class:`EntitySchema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlnb.errors import FilterSyntaxError
from mlnb.store.dialect import SQLITE, Dialect
from mlnb.store.search.parse import (
    MAX_NESTING,
    MAX_ORDER_TERMS,
    BoolOp,
    Comparison,
    Field,
    Node,
    Not,
    OrderTerm,
)


@dataclass(frozen=True)
class KeyValueSource:
    """A table of (key, value) rows that belong to the searched entity."""

    table: str
    join: tuple[tuple[str, str], ...]  # (column in table, column of the base row)
    numeric: bool  # metrics compare as numbers, params and tags as text


@dataclass(frozen=True)
class EntitySchema:
    """How one searchable entity maps fields to SQL: attribute columns and key/value tables."""

    name: str
    attributes: dict[str, tuple[str, str]]  # name -> (SQL column, 'str' | 'num')
    sources: dict[str, KeyValueSource] = field(default_factory=dict)


@dataclass
class CompiledSQL:
    """A SQL fragment, its bound parameters, and the LEFT JOINs an ORDER BY needs (with their own
    parameters).
    """
    sql: str
    params: list[Any]
    # LEFT JOINs an ORDER BY needs (one per key-value field), to go after the FROM table; their
    # parameters come before every other parameter of the statement.
    joins: str = ""
    join_params: list[Any] = field(default_factory=list)


_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">="}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN"}


def compile_filter(node: Node | None, schema: EntitySchema, text: str = "",
                   dialect: Dialect = SQLITE) -> CompiledSQL:
    """A SQL boolean expression (``1 = 1`` when there is no filter) and its bound parameters.

    :param node: the parsed filter, or None.
    :param schema: the searched entity's fields and their columns.
    :param text: the filter text, for error messages.
    :param dialect: the engine the SQL is for (LIKE and text-as-number differ).
    """
    params: list[Any] = []
    try:
        sql = "1 = 1" if node is None else _compile(node, schema, params, text, dialect)
    except RecursionError:  # only a tree built by hand gets past parse_filter's limits
        raise FilterSyntaxError(f"The filter is too deeply nested (at most {MAX_NESTING} levels)") from None
    return CompiledSQL(sql, params)


def _compile(node: Node, schema: EntitySchema, params: list[Any], text: str,
             dialect: Dialect) -> str:
    # The SQL is shaped for SQLite's parser stack (100 entries), which holds whatever is still
    # open to the left of the innermost term: the deepest operand of AND/OR goes first (their
    # operands commute), NOT NOT x is x (also under SQL NULLs), and NOT takes no parentheses of
    # its own (it binds tighter than AND/OR and looser than comparisons).
    if isinstance(node, BoolOp):
        children = sorted(node.children, key=_height, reverse=True)
        parts = [_compile(child, schema, params, text, dialect) for child in children]
        return "(" + f" {node.op} ".join(parts) + ")"
    if isinstance(node, Not):
        if isinstance(node.child, Not):
            return _compile(node.child.child, schema, params, text, dialect)
        return f"NOT {_compile(node.child, schema, params, text, dialect)}"
    return _compile_comparison(node, schema, params, text, dialect)


def _height(node: Node) -> int:
    """How deeply the SQL of ``node`` nests (a comparison is 0)."""
    if isinstance(node, BoolOp):
        return 1 + max(_height(child) for child in node.children)
    if isinstance(node, Not):
        return _height(node.child)
    return 0


def _field_error(fld: Field, message: str, text: str) -> FilterSyntaxError:
    return FilterSyntaxError(f"{message} (field {fld.text!r} at position {fld.pos})", text, fld.pos)


def _compile_comparison(cmp: Comparison, schema: EntitySchema, params: list[Any], text: str,
                        dialect: Dialect) -> str:
    fld = cmp.field
    if fld.entity == "attributes":
        attr = schema.attributes.get(fld.key) or schema.attributes.get(fld.key.lower())
        if attr is None:
            names = ", ".join(sorted(schema.attributes))
            raise _field_error(fld, f"Unknown attribute {fld.key!r}; {schema.name} has {names}", text)
        column, kind = attr
        return _predicate(column, "num" if kind == "num" else "str", cmp, params, text, dialect)
    source = schema.sources.get(fld.entity)
    if source is None:
        raise _field_error(fld, f"{schema.name} cannot be searched by {fld.entity}", text)
    join = " AND ".join(f"kv.{inner} = {outer}" for inner, outer in source.join)
    exists = f"SELECT 1 FROM {source.table} kv WHERE {join} AND kv.key = ?"
    if cmp.op in ("IS NULL", "IS NOT NULL"):
        params.append(fld.key)
        return f"{'NOT ' if cmp.op == 'IS NULL' else ''}EXISTS ({exists})"
    params.append(fld.key)
    if source.numeric:
        mode = "num"
    elif cmp.value_is_number and cmp.op in ("<", "<=", ">", ">="):
        mode = "text-as-num"  # beyond MLflow: params.lr > 0.001 compares the params as numbers
    else:
        mode = "str"
    predicate = _predicate("kv.value", mode, cmp, params, text, dialect)
    if source.numeric and cmp.op == "!=":
        # NaN is stored as NULL, so no comparison holds; but NaN differs from every number
        # (IEEE, and MLflow's search): it satisfies != only.
        predicate = f"({predicate} OR kv.is_nan = 1)"
    return f"EXISTS ({exists} AND {predicate})"


def _predicate(column: str, mode: str, cmp: Comparison, params: list[Any], text: str,
               dialect: Dialect) -> str:
    op, value, fld = cmp.op, cmp.value, cmp.field
    if op in ("IS NULL", "IS NOT NULL"):
        return f"{column} {op}"
    if mode == "text-as-num":
        params.append(value)
        # Only values that read as numbers take part; 'abc' is not smaller than 0.1.
        return dialect.text_as_number(column, op)
    if mode == "num":
        if op not in _NUMERIC_OPS:
            raise _field_error(fld, f"{op} does not apply to numbers; use =, !=, <, <=, > or >=", text)
        if not cmp.value_is_number:
            raise _field_error(fld, f"Expected a number to compare with, not {value!r}", text)
        params.append(value)
        return f"{column} {op} ?"
    if op not in _STRING_OPS:
        raise _field_error(
            fld, f"{op} does not apply to text; use =, !=, LIKE, ILIKE, IN or NOT IN "
            "(compare a number with metrics.* or a numeric attribute)", text
        )
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        params.extend(str(v) for v in value)
        return f"{column} {op} ({', '.join('?' * len(value))})"
    literal = str(value)
    if op.endswith("LIKE"):
        ignore_case = op.endswith("ILIKE")
        params.append(dialect.like_pattern(literal, ignore_case=ignore_case))
        return dialect.like(column, negate=op.startswith("NOT"), ignore_case=ignore_case)
    params.append(literal)
    return f"{column} {op} ?"


def compile_order_by(terms: list[OrderTerm], schema: EntitySchema, text: str = "") -> CompiledSQL:
    """ORDER BY expressions: missing values last whatever the direction, NaN just before them.

    A key-value field (``metrics.acc``) becomes a LEFT JOIN on its table, looked up once per row
    rather than by two correlated subqueries (a third faster on 10,000 runs). A field ordered by
    twice is joined once: its second term cannot change the order. More than
    :data:`~mlnb.store.search.parse.MAX_ORDER_TERMS` joins is refused, since too many crash
    SQLite (``parse_order_by`` already refuses that many terms; this guards hand-built lists).

    :param terms: the parsed clauses.
    :param schema: the searched entity's fields and their columns.
    :param text: the order-by text, for error messages.
    """
    parts: list[str] = []
    joins: list[str] = []
    join_params: list[Any] = []
    seen: set[tuple[str, str]] = set()
    for index, term in enumerate(terms):
        direction = "ASC" if term.ascending else "DESC"
        fld = term.field
        if (fld.entity, fld.key) in seen:
            continue
        seen.add((fld.entity, fld.key))
        if fld.entity == "attributes":
            attr = schema.attributes.get(fld.key) or schema.attributes.get(fld.key.lower())
            if attr is None:
                raise _field_error(fld, f"Unknown attribute {fld.key!r} to order by",
                                   text or term.clause)
            parts.append(f"{attr[0]} IS NULL, {attr[0]} {direction}")
            continue
        source = schema.sources.get(fld.entity)
        if source is None:
            raise _field_error(fld, f"{schema.name} cannot be ordered by {fld.entity}",
                               text or term.clause)
        if len(joins) >= MAX_ORDER_TERMS:
            raise _field_error(fld, f"Too many fields to order by: at most {MAX_ORDER_TERMS}",
                               text or term.clause)
        alias = f"ob{index}"
        on = " AND ".join(f"{alias}.{inner} = {outer}" for inner, outer in source.join)
        joins.append(f"LEFT JOIN {source.table} {alias} ON {on} AND {alias}.key = ?")
        join_params.append(fld.key)
        rank = f"COALESCE({alias}.is_nan, 2)" if source.numeric else f"{alias}.key IS NULL"
        parts.append(f"{rank}, {alias}.value {direction}")
    return CompiledSQL(", ".join(parts), [], " ".join(joins), join_params)
