"""What SQLite and PostgreSQL spell differently, for the few fragments of the store's SQL that no
mechanical rewrite covers (:func:`mlnb.store.pg.to_postgres` does placeholders and ``INSERT OR
IGNORE``). Every other statement of the store is written once and runs on both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


class Writer(Protocol):
    """A write transaction's handle: sqlite3's connection, or the team store's transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any:
        """Run one statement with bound values.

        :param sql: the statement, ``?`` placeholders.
        :param parameters: the bound values.
        """

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        """Run one statement for each row of bound values.

        :param sql: the statement, ``?`` placeholders.
        :param parameters: the rows of bound values.
        """


@dataclass(frozen=True)
class Dialect:
    """One engine's spelling of the fragments that differ."""

    name: str

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite."""
        return self.name == "sqlite"

    @property
    def server_clock_ms(self) -> str:
        """The database server's clock in milliseconds since the epoch, as SQL (one clock for
        every machine of a team store), or ``NULL`` on SQLite, whose runs are local."""
        return "NULL" if self.is_sqlite else "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT"

    @property
    def driving_join(self) -> str:
        """A join whose left table drives the plan: SQLite keeps a ``CROSS JOIN``'s written
        order (so the ``(key, value)`` index drives a page); PostgreSQL's planner picks the
        order itself and has no ``CROSS JOIN ... ON``."""
        return "CROSS JOIN" if self.is_sqlite else "JOIN"

    def greatest(self, first: str, second: str) -> str:
        """The larger of two SQL expressions (SQLite's two-argument ``max``).

        :param first: an SQL expression.
        :param second: an SQL expression.
        """
        name = "MAX" if self.is_sqlite else "GREATEST"
        return f"{name}({first}, {second})"

    def checked_metric_value(self, alias: str) -> str:
        """A metric row's value, NULL for NaN. On SQLite, whose columns take any type, a row
        that is neither NaN nor a number (written by another tool) reads as text describing
        it, which the reader skips with a warning; PostgreSQL's typed columns cannot hold one.

        :param alias: the metric table's alias in the query.
        """
        if self.is_sqlite:
            return (f"CASE WHEN {alias}.is_nan = 1 AND {alias}.value IS NULL THEN NULL "
                    f"WHEN {alias}.is_nan = 0 AND {alias}.value IS NOT NULL THEN {alias}.value "
                    f"ELSE 'is_nan ' || quote({alias}.is_nan) || ' with value ' || "
                    f"quote({alias}.value) END")
        return f"CASE WHEN {alias}.is_nan = 1 THEN NULL ELSE {alias}.value END"

    def like(self, column: str, *, negate: bool, ignore_case: bool) -> str:
        """A case-sensitive (or, with ``ignore_case``, case-insensitive) LIKE test of ``column``
        against one bound pattern made by :meth:`like_pattern`.

        :param column: the SQL expression tested.
        :param negate: NOT LIKE.
        :param ignore_case: ILIKE.
        """
        no = "NOT " if negate else ""
        if self.is_sqlite:  # SQLite's LIKE ignores ASCII case: GLOB is its case-sensitive match
            return f"lower({column}) {no}GLOB ?" if ignore_case else f"{column} {no}GLOB ?"
        return f"{column} {no}{'ILIKE' if ignore_case else 'LIKE'} ?"

    def like_pattern(self, pattern: str, *, ignore_case: bool) -> str:
        """The bound value for :meth:`like` from a SQL LIKE pattern.

        :param pattern: the LIKE pattern as the user wrote it.
        :param ignore_case: ILIKE.
        """
        if not self.is_sqlite:
            return pattern
        return like_to_glob(pattern.lower() if ignore_case else pattern)

    def text_as_number(self, column: str, op: str) -> str:
        """``column`` read as a number compared by ``op`` with one bound number; text that does
        not read as a number takes no part (``'abc'`` is not smaller than 0.1).

        :param column: a text column.
        :param op: ``<``, ``<=``, ``>`` or ``>=``.
        """
        if self.is_sqlite:
            return (f"(CAST({column} AS REAL) {op} ? AND trim({column}) GLOB '*[0-9]*' "
                    f"AND NOT trim({column}) GLOB '*[^0-9eE.+-]*')")
        # PostgreSQL's cast fails on text that is not a number (SQLite's reads a prefix): the
        # CASE tests first, so only numbers are cast.
        # (No question marks: the statement's ? are its placeholders.)
        number = r"^\s*[-+]{0,1}([0-9]+\.{0,1}[0-9]*|\.[0-9]+)([eE][-+]{0,1}[0-9]+){0,1}\s*$"
        return (f"(CASE WHEN {column} ~ '{number}' THEN CAST(trim({column}) AS DOUBLE PRECISION) "
                f"END {op} ?)")


def like_to_glob(pattern: str) -> str:
    """Translate a SQL LIKE pattern to a case-sensitive GLOB (SQLite's LIKE ignores case).

    :param pattern: the LIKE pattern.
    """
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")


class StoreConnection(Protocol):
    """What the query modules use of a connection: :class:`mlnb.store.connection.Connection`
    (SQLite) or :class:`mlnb.store.pg.PgConnection` (PostgreSQL)."""

    dialect: Dialect

    def write(self, *, durable: bool = False, serial: bool = False) -> AbstractContextManager[Any]:
        """One write transaction (nested calls join the outer one).

        :param durable: commit so that it survives power loss (registry changes).
        :param serial: run alone, as every SQLite write does (PostgreSQL takes a lock for it).
        """

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read and return its rows.

        :param sql: the statement, ``?`` placeholders.
        :param params: the bound values.
        """

    def retrying(self, work: Callable[[], Any], attempts: int = 5) -> Any:
        """Run ``work`` again when the engine aborted it as a deadlock (PostgreSQL).

        :param work: opens its own write transaction.
        :param attempts: tries in all.
        """

    def change_counter(self) -> tuple[int, int]:
        """A value that moves on every commit."""

    def wait_idle(self) -> None:
        """Return once no other thread is inside a transaction here."""

    def close(self) -> None:
        """Close the connection."""
