"""The team store's connection: PostgreSQL through psycopg 3, behind the same interface as
:class:`mlnb.store.connection.Connection`, so the query modules above do not know which engine
they talk to.

The store's SQL is written once, in SQLite's spelling with ``?`` placeholders; :func:`to_postgres`
turns each statement into PostgreSQL's (``%s`` placeholders, ``INSERT OR IGNORE`` as ``ON
CONFLICT DO NOTHING``) once per process and caches it. What the two engines spell differently
and no mechanical rewrite can cover is asked of :class:`mlnb.store.dialect.Dialect`.

Transactions: reads run in autocommit (each sees the latest commits); every write runs inside
:meth:`PgConnection.write`, one transaction, at READ COMMITTED (``BEGIN`` goes with its first
write: see :class:`Transaction`). Writes that must run alone, as SQLite's single writer does
(the registry's, experiment creation: ``serial`` or ``durable``), take one transaction-level
advisory lock first.

Durability, as on SQLite (``synchronous=NORMAL``): mlnb's sessions commit with PostgreSQL's
``synchronous_commit = off``, so a commit does not wait for the disk (it cost three quarters of
a run's life). A crash of the database server (not of the user's process, and not a restart or
shutdown) can lose the commits of its last fraction of a second (at most three
``wal_writer_delay``, 0.6 s by default); it never corrupts the store or splits a transaction.
Registry changes (``durable=True``) wait for the disk. ``MLNB_PG_DURABLE=1`` makes every
commit wait. A lost connection is opened again with backoff
for up to :data:`RECONNECT_S` seconds before a clear :class:`StoreError`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mlnb.errors import ReadOnlyStoreError, StoreError
from mlnb.store.dialect import POSTGRESQL, Dialect
from mlnb.store.location import mask_password
from mlnb.store.pg_schema import apply_migrations

if TYPE_CHECKING:
    import psycopg

#: How long a lost connection is retried (with backoff) before an error; MLNB_PG_RECONNECT_S.
RECONNECT_S = 30.0
CONNECT_TIMEOUT_S = 10
#: pg_advisory_xact_lock keys: migrations, and writes that must serialise (the registry).
MIGRATION_LOCK = 0x6D6C6E62_0001
SERIAL_LOCK = 0x6D6C6E62_0002
#: SQLSTATEs a write transaction is retried for: serialization failure and deadlock.
RETRY_STATES = ("40001", "40P01")

_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def to_postgres(sql: str) -> str:
    """One statement of the store, in SQLite's spelling, as PostgreSQL's.

    ``?`` becomes ``%s`` (a literal ``%`` is doubled for psycopg), ``INSERT OR IGNORE INTO``
    becomes ``INSERT INTO ... ON CONFLICT DO NOTHING``. The store's statements never hold a
    ``?`` inside a string literal (tests/test_pg_dialect.py checks every module).

    :param sql: the statement.
    """
    out = sql.replace("%", "%%").replace("?", "%s")
    if _INSERT_OR_IGNORE.match(out):
        out = _INSERT_OR_IGNORE.sub("INSERT INTO", out, count=1) + " ON CONFLICT DO NOTHING"
    return out


class Cursor:
    """What a statement returned: rows (tuples) and the count of rows it changed.

    :param rows: the rows, or None for a statement that returns none.
    :param rowcount: how many rows it changed.
    """

    def __init__(self, rows: list[Any] | None, rowcount: int) -> None:
        self._rows = rows or []
        self.rowcount = rowcount

    def fetchall(self) -> list[Any]:
        """Every row."""
        return self._rows

    def fetchone(self) -> Any:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class Transaction:
    """The handle a write transaction yields: ``execute`` and ``executemany`` as on sqlite3.

    ``BEGIN`` is sent with the first statement that writes, not before: at READ COMMITTED a read
    sees the same rows inside a transaction as outside it (the latest commits; a plain read
    takes no lock), so the reads a write transaction starts with run as they are. A transaction
    whose only write is one statement sends it alone, which PostgreSQL applies atomically:
    ``log_param`` costs its reads and one statement, not also a ``BEGIN`` and a ``COMMIT``
    round trip (a run's life of 10 params took 73 round trips, ~0.09 ms each on loopback).

    :param conn: psycopg's connection (autocommit: this object sends BEGIN and COMMIT).
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self.begun = False
        self._held: tuple[str, Sequence[Any]] | None = None  # the first write, not yet sent
        self._held_cursor: _HeldCursor | None = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (a first single write is held until the next statement or the
        commit, unless its result is asked for).

        :param sql: the statement, with ``?`` placeholders.
        :param params: the bound values.
        """
        if not self.begun and self._held is None:
            if _is_read(sql):
                return self._run(sql, params)
            self._held = (sql, _values(params))
            self._held_cursor = _HeldCursor(self)
            return self._held_cursor
        self.begin()
        return self._run(sql, params)

    def executemany(self, sql: str, rows: Any) -> Cursor:
        """Run one statement for each row of bound values (pipelined: one round trip).

        :param sql: the statement, with ``?`` placeholders.
        :param rows: the bound values of each run.
        """
        batch = [_values(row) for row in rows]
        if not batch:
            return Cursor(None, 0)
        if len(batch) == 1:
            return self.execute(sql, batch[0])
        self.begin()
        with self._conn.cursor() as cur:
            cur.executemany(to_postgres(sql), batch)
            return Cursor(None, cur.rowcount)

    @property
    def holds_write(self) -> bool:
        """Whether a write is held back (a read inside the transaction must send it first)."""
        return self._held is not None

    def begin(self) -> Cursor | None:
        """Open the transaction now (and send the held write); returns the held write's result.
        Called before a read that must see this transaction's writes, and before anything that
        needs a transaction (a lock, ``SET LOCAL``)."""
        if self.begun:
            return None
        self._conn.execute("BEGIN")
        self.begun = True
        return self._send_held()

    def _send_held(self) -> Cursor | None:
        held, self._held = self._held, None
        if held is None:
            return None
        result = self._run(*held)
        if self._held_cursor is not None:
            self._held_cursor.sent = result
        return result

    def commit(self) -> None:
        """Commit: the held write alone (atomic by itself), or COMMIT."""
        if self.begun:
            self._conn.execute("COMMIT")
        else:
            self._send_held()

    def rollback(self) -> None:
        """Roll back: a held write is never sent."""
        self._held = None
        if self._held_cursor is not None and self._held_cursor.sent is None:
            self._held_cursor.sent = Cursor(None, 0)  # never sent: it changed nothing
        if self.begun and not self._conn.closed and not self._conn.broken:
            self._conn.execute("ROLLBACK")

    def _run(self, sql: str, params: Sequence[Any]) -> Cursor:
        cur = self._conn.execute(to_postgres(sql), _values(params))
        rows = cur.fetchall() if cur.description else None
        return Cursor(rows, cur.rowcount)


class _HeldCursor(Cursor):
    """The result of a held write: asking for it opens the transaction and sends the write."""

    def __init__(self, tx: Transaction) -> None:
        super().__init__(None, 0)
        self._tx = tx
        self.sent: Cursor | None = None

    def _result(self) -> Cursor:
        if self.sent is None:  # still held: open the transaction and send it now
            self._tx.begin()
        assert self.sent is not None
        return self.sent

    @property
    def rowcount(self) -> int:
        """How many rows the write changed."""
        return self._result().rowcount

    @rowcount.setter
    def rowcount(self, value: int) -> None:
        pass  # set by Cursor.__init__; the real count is the sent write's

    def fetchall(self) -> list[Any]:
        """Every row the write returned."""
        return self._result().fetchall()

    def fetchone(self) -> Any:
        """The first row the write returned, or None."""
        return self._result().fetchone()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


_READ = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)


def _is_read(sql: str) -> bool:
    """A plain read (SELECT, or a WITH that does not write), which needs no transaction yet."""
    if not _READ.match(sql):
        return False
    upper = sql.upper()
    return not any(word in upper for word in ("INSERT ", "UPDATE ", "DELETE ", "PG_ADVISORY",
                                              "FOR UPDATE", "FOR SHARE", "NEXTVAL", "SETVAL"))


def _values(params: Sequence[Any]) -> Sequence[Any]:
    # SQLite stores booleans as 0/1 in INTEGER columns; PostgreSQL refuses a boolean there.
    if any(type(p) is bool for p in params):
        return [int(p) if type(p) is bool else p for p in params]
    return params


class PgConnection:
    """A connection to a PostgreSQL store, usable from several threads (one at a time).

    :param url: the ``postgresql://`` URL (libpq's environment, ``PGPASSWORD`` and ``~/.pgpass``
        apply as in ``psql``).
    :param migrate: bring the schema up to date on open (the default).
    """

    dialect: Dialect = POSTGRESQL

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.shown = mask_password(url)
        self._lock = threading.RLock()
        self._depth = 0
        self._serial = False
        self._tx: Transaction | None = None
        self._reconnect_s = float(os.environ.get("MLNB_PG_RECONNECT_S", RECONNECT_S))
        self._down_since: float | None = None
        self._all_durable = os.environ.get("MLNB_PG_DURABLE", "") not in ("", "0")
        self._conn = self._connect(first=True)
        self._pid = os.getpid()
        if migrate:
            with self.write() as tx:
                tx.begin()  # the lock is held until this transaction ends
                tx.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
                apply_migrations(tx, self.shown)

    # --- connecting -----------------------------------------------------------------------

    def _connect(self, *, first: bool = False) -> psycopg.Connection[Any]:
        """Open the connection. The first open fails at once; after a lost connection, tries
        with backoff until :data:`RECONNECT_S` after the loss, then once per call (fast: the
        store is known to be down) until the database answers again."""
        import psycopg  # the team store's driver: loaded only when a postgresql:// store opens

        now = time.monotonic()
        if not first and self._down_since is None:
            self._down_since = now
        deadline = now if first or self._down_since is None else self._down_since + self._reconnect_s
        delay = 0.2
        while True:
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                       application_name="mlnb")
                _register_adapters(conn)
                if not self._all_durable:
                    conn.execute("SET synchronous_commit = off")
                self._down_since = None
                return conn
            except psycopg.OperationalError as exc:
                if first or time.monotonic() + delay > deadline or not _transient(exc):
                    error = connect_error(exc, self.url)
                    if not first:
                        error.retryable = True  # type: ignore[attr-defined]
                    raise error from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _alive(self) -> psycopg.Connection[Any]:
        """The connection, opened again (with backoff) if it was lost or this is a forked child."""
        if os.getpid() != self._pid:  # a connection must not cross fork()
            self._pid = os.getpid()
            self._depth = 0
            self._conn = self._connect()
        elif self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    # --- the sqlite Connection's interface -------------------------------------------------

    @contextmanager
    def write(self, *, durable: bool = False, serial: bool = False) -> Iterator[Transaction]:
        """One write transaction; nested calls join the outer one (a nested ``serial`` or
        ``durable`` one takes the lock then, if the outer did not).

        :param durable: registry changes: the commit waits for the disk (SQLite's
            ``synchronous=FULL``), and they run alone, as two promotions at once must not
            both win.
        :param serial: run alone: take the one transaction-level advisory lock that such writes
            share, held until commit.
        """
        import psycopg  # the driver, loaded with the first team store (not by import mlnb)

        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    tx = self._tx
                    assert tx is not None
                    if (durable or serial) and not self._serial:
                        tx.begin()
                        tx.execute("SELECT pg_advisory_xact_lock(?)", [SERIAL_LOCK])
                        self._serial = True
                    yield tx
                finally:
                    self._depth -= 1
                return
            conn = self._alive()
            self._depth = 1
            tx = self._tx = Transaction(conn)
            try:
                if durable or serial:
                    tx.begin()
                    if durable and not self._all_durable:  # this commit waits for the disk
                        tx.execute("SET LOCAL synchronous_commit = on")
                    tx.execute("SELECT pg_advisory_xact_lock(?)", [SERIAL_LOCK])
                    self._serial = True
                try:
                    yield tx
                except BaseException:
                    tx.rollback()
                    raise
                tx.commit()
            except psycopg.Error as exc:
                if _lost(exc):
                    conn.close()  # the next use opens a new one
                else:
                    try:
                        tx.rollback()
                    except psycopg.Error:
                        conn.close()
                raise query_error(exc, self.shown) from None
            finally:
                self._depth = 0
                self._serial = False
                self._tx = None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read and return all its rows (as tuples); a lost connection is retried.

        :param sql: the statement, with ``?`` placeholders.
        :param params: the bound values.
        """
        import psycopg  # the driver, loaded with the first team store (not by import mlnb)

        with self._lock:
            if self._tx is not None and self._tx.holds_write:
                self._tx.begin()  # the read must see this transaction's held write
            for attempt in range(2):
                conn = self._alive()
                try:
                    cur = conn.execute(to_postgres(sql), _values(params))
                    return cur.fetchall() if cur.description else []
                except psycopg.OperationalError as exc:
                    lost = conn.closed or conn.broken or _lost(exc)
                    if lost:
                        conn.close()  # the next use (a retry here, or the caller's) opens anew
                    if self._depth or attempt or not lost:
                        raise query_error(exc, self.shown) from None
                except psycopg.Error as exc:
                    raise query_error(exc, self.shown) from None
            raise AssertionError("unreachable")

    def retrying(self, work: Callable[[], Any], attempts: int = 5) -> Any:
        """Run ``work`` (which opens its own write transaction) again when PostgreSQL aborted it
        as a deadlock or serialization failure, or lost the connection; other errors at once.

        :param work: the function to run.
        :param attempts: how many tries in all.
        """
        if self._depth:
            return work()  # inside an outer transaction: only the outermost may retry
        for attempt in range(attempts):
            try:
                return work()
            except StoreError as exc:
                if attempt == attempts - 1 or not getattr(exc, "retryable", False):
                    raise
                time.sleep(0.01 * (2 ** attempt))
        raise AssertionError("unreachable")

    def change_counter(self) -> tuple[int, int]:
        """The server's WAL insert position: it moves on every commit that wrote anything
        (anyone's), and rarely otherwise; for caches of reads."""
        lsn = str(self.query("SELECT pg_current_wal_insert_lsn()")[0][0])
        high, _, low = lsn.partition("/")
        return int(high, 16), int(low, 16)

    def wait_idle(self) -> None:
        """Return once no other thread of this process is inside a transaction here."""
        with self._lock:
            pass

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def _register_adapters(conn: psycopg.Connection[Any]) -> None:
    """Values as SQLite hands them to the store: ``bytea`` as ``bytes`` (psycopg's default),
    ``numeric`` (a sum of integers) as ``int``/``float`` rather than ``Decimal``."""
    from psycopg.types.numeric import FloatLoader  # the driver: only with a team store

    conn.adapters.register_loader("numeric", FloatLoader)


def _transient(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(part in text for part in (
        "connection refused", "could not connect", "server closed", "terminating connection",
        "the database system is", "connection timed out", "timeout expired", "no route",
        "consuming input failed", "connection is lost", "ssl syscall"))


def _where(url: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or os.environ.get("PGHOST") or "localhost"
    port = parsed.port or os.environ.get("PGPORT") or 5432
    return f"{host}:{port}"


def connect_error(exc: Exception, url: str) -> StoreError:
    """A failed connection as one clear error naming what to fix (never the driver's traceback,
    never the password).

    :param exc: psycopg's error.
    :param url: the store's URL.
    """
    text = str(exc)
    low = text.lower()
    parsed = urlparse(url)
    user = parsed.username or os.environ.get("PGUSER") or "(your login name)"
    database = parsed.path.lstrip("/") or "?"
    where = _where(url)
    shown = mask_password(url)
    if "password authentication failed" in low or "no password supplied" in low:
        why = (f"PostgreSQL at {where} refused the password of user {user!r}; set the right one "
               "in PGPASSWORD, ~/.pgpass or the URL")
    elif "does not exist" in low and "database" in low:
        why = (f"there is no database {database!r} at {where}; create it (createdb {database}, "
               "or CREATE DATABASE) and mlnb makes its tables on first use")
    elif "role" in low and "does not exist" in low:
        why = f"PostgreSQL at {where} has no user {user!r}; ask its administrator for one"
    elif "permission denied" in low or "not permitted to log in" in low:
        why = f"user {user!r} may not connect to {database!r} at {where}: {_first_line(text)}"
    elif "refused" in low or "could not connect" in low or "timeout" in low or \
            "could not translate host" in low or "name or service not known" in low:
        why = (f"PostgreSQL at {where} cannot be reached ({_first_line(text)}); check that the "
               "server runs and the host and port are right")
    else:
        why = _first_line(text)
    return StoreError(f"Store {shown}: {why}.")


def query_error(exc: Exception, shown: str) -> StoreError:
    """A failed statement as a StoreError (``retryable`` for deadlocks, serialization failures
    and a lost connection; ``read_only`` when the role may not write).

    :param exc: psycopg's error.
    :param shown: the store's URL, password masked.
    """
    state = getattr(exc, "sqlstate", None) or ""
    text = _first_line(str(exc))
    lost = _lost(exc)
    if state == "42501":
        return ReadOnlyStoreError(
            f"Store {shown}: your database role may read but not change this store ({text}). "
            "Ask its owner for write access: mlnb db grant --writer ROLE.")
    if state == "53100":
        why = "the database server's disk is full; nothing already saved was lost"
    elif lost:
        why = f"the connection to the database was lost and could not be opened again ({text})"
    else:
        why = text
    error = StoreError(f"Store {shown}: {why}.")
    error.retryable = state in RETRY_STATES or lost  # type: ignore[attr-defined]
    return error


def _lost(exc: Exception) -> bool:
    """Whether an error means the connection is gone (the server restarted, shut down, or the
    network broke), so that opening it again and retrying is right."""
    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    return (state.startswith("08") or state in ("57P01", "57P02", "57P03")
            or "server closed the connection" in text or "terminating connection" in text
            or "connection is lost" in text or "consuming input failed" in text)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].rstrip(".") if text.strip() else "unknown error"
