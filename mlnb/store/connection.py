"""One SQLite connection per store object, and the one way to write through it.

Every write runs inside :meth:`Connection.write`, which opens ``BEGIN IMMEDIATE`` (taking the
write lock up front, so a transaction that reads before it writes can never hit SQLite's
lock-upgrade ``database is locked`` that the busy handler does not retry), commits on success and
rolls back on any exception. Nested calls join the outer transaction.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlnb.errors import ForeignStoreError, StoreError
from mlnb.store.dialect import SQLITE, Dialect

if TYPE_CHECKING:
    from sqlite_utils import Database

BUSY_TIMEOUT_S = 30.0
CACHE_KIB = 65_536


class Connection:
    """A connection to ``mlnb.db`` with the store's pragmas, usable from several threads.

    :param db_path: the SQLite file (created 0600 if new).
    :param functions: one-argument SQL functions to register (again after a fork).
    """

    dialect: Dialect = SQLITE

    def __init__(self, db_path: Path,
                 functions: dict[str, Callable[[Any], Any]] | None = None) -> None:
        """``functions``: one-argument SQL functions to register (again after a fork)."""
        self.db_path = db_path
        self._functions = dict(functions or {})
        self._lock = threading.RLock()
        self._depth = 0
        self._durable = False
        self._open()

    def _open(self) -> None:
        self._pid = os.getpid()
        self._depth = 0
        self._durable = False
        _create_private(self.db_path)
        try:
            conn = sqlite3.connect(
                str(self.db_path),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise _store_error(exc, self.db_path) from exc
        self.conn = conn
        for name, function in self._functions.items():
            conn.create_function(name, 1, function, deterministic=True)
        self.db = _database(conn)
        try:
            self._set_wal()
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Up to 64 MiB of pages in memory (SQLite's default is 2 MiB): a search of a store of
            # 100,000 runs walks indexes of a few hundred MB, and re-reading pages from the OS on
            # every lookup doubled its time (issue "Scale"). Memory is taken only as pages are read.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # sqlite-utils (with the schema): loaded when a store opens, not by import mlnb
            from mlnb.store.schema import apply_migrations

            with self.write():
                apply_migrations(self.db)
        except sqlite3.Error as exc:
            conn.close()
            raise _store_error(exc, self.db_path) from exc
        except BaseException:  # SchemaTooNewError, StoreError: do not leak the open file
            conn.close()
            raise

    def _set_wal(self) -> None:
        # Switching to WAL needs an exclusive lock for an instant; a second process creating the
        # same new store at the same moment can get SQLITE_BUSY without the busy handler, so retry.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise StoreError(
                f"The store {self.db_path} cannot use SQLite's WAL mode (journal mode is {mode}); "
                "it needs a local file system, not a network share."
            )

    def _check_fork(self) -> None:
        # A connection must not cross fork(); a child process opens its own.
        if os.getpid() != self._pid:
            self._lock = threading.RLock()
            self._open()

    @contextmanager
    def write(self, *, durable: bool = False, serial: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); nested calls share the outer one.

        Every SQLite write transaction runs alone (``BEGIN IMMEDIATE`` takes the one write
        lock), so ``serial`` holds whatever it is; the team store's connection takes a lock
        for it.

        ``durable=True`` commits with ``synchronous=FULL``: the commit survives power loss, not
        only a crash of the process (registry stage and alias changes ask for it; metrics do not
        pay for it).

        :param durable: commit with ``synchronous=FULL``.
        :param serial: run alone (always so here).
        """
        self._check_fork()
        with self._lock:
            if durable and not self._depth:  # (inside a transaction SQLite refuses the change;
                # a nested durable write commits with its outer transaction, as that one asked)
                self.conn.execute("PRAGMA synchronous = FULL")  # applies when this commits
                self._durable = True
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._restore_synchronous()
                raise _store_error(exc, self.db_path) from exc
            self._depth = 1
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _store_error(exc, self.db_path) from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0
                self._restore_synchronous()

    def _restore_synchronous(self) -> None:
        if self._durable:
            self._durable = False
            self.conn.execute("PRAGMA synchronous = NORMAL")

    def retrying(self, work: Callable[[], Any], attempts: int = 5) -> Any:
        """Run ``work``: SQLite's writers queue on its lock (the busy timeout) and never
        deadlock, so there is nothing to retry (PostgreSQL's connection retries deadlocks).

        :param work: the function to run.
        :param attempts: unused here (the team store's retry count).
        """
        return work()

    def change_counter(self) -> tuple[int, int]:
        """``(PRAGMA data_version, total_changes)``: moves on every commit, anyone's."""
        with self._lock:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0]), self.conn.total_changes

    def wait_idle(self) -> None:
        """Return once no other thread of this process is inside a transaction here."""
        with self._lock:
            pass

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read and return all its rows (as tuples).

        :param sql: the statement, with ``?`` placeholders.
        :param params: the bound values.
        """
        self._check_fork()
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _store_error(exc, self.db_path) from exc

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self.conn.close()


def refuse_foreign_database(db_path: Path) -> None:
    """Refuse a database file that holds tables but is not an mlnb store (an MLflow tracking
    database, typically, named by ``MLFLOW_TRACKING_URI``), before anything writes to it.

    A new (empty) file and an mlnb store pass; a file SQLite cannot read is left to the normal
    open, which reports it.

    :param db_path: the store's database file.
    :raises ForeignStoreError: naming what the file is and what to do.
    """
    try:
        probe = sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro", uri=True,
                                timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error:
        return
    try:
        tables = {row[0] for row in probe.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return
    finally:
        probe.close()
    if not tables or "_sqlite_migrations" in tables:
        return
    from mlnb.store.location import MLFLOW_DATA_HINT  # the hint lives beside the URI rules

    if "alembic_version" in tables and "experiments" in tables:
        raise ForeignStoreError(
            f"{db_path} is an MLflow tracking database, not an mlnb store; mlnb left it "
            f"untouched. {MLFLOW_DATA_HINT}")
    raise ForeignStoreError(
        f"{db_path} is an SQLite database of another program (tables "
        f"{', '.join(sorted(tables)[:5])}), not an mlnb store; mlnb left it untouched. Point mlnb "
        "at a folder or a new database file.")


def _create_private(db_path: Path) -> None:
    """Create a new ``mlnb.db`` as 0600 before SQLite opens it (reliability.md, CVE-2026-4137).

    SQLite gives the ``-wal`` and ``-shm`` files the permissions of the database file, so they
    are private too. An existing file is left as it is. ``O_EXCL`` makes a concurrent creator's
    file win without error; no process-wide ``umask`` change, which would race other threads.
    """
    try:
        fd = os.open(db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3.connect reports the real problem (read-only folder...) with our message
    os.close(fd)


def _database(conn: sqlite3.Connection) -> Database:
    """sqlite-utils' Database over our connection, imported without pandas and numpy.

    sqlite-utils imports pandas and numpy when they are installed, only to convert their values
    on insert, which mlnb never asks of it; that import would cost most of a second on the first
    use of the store. Mask them for this one import when the user has not loaded them already.
    """
    if "sqlite_utils" not in sys.modules:
        masked = [name for name in ("pandas", "numpy") if name not in sys.modules]
        for name in masked:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            import sqlite_utils  # noqa: F401
        finally:
            for name in masked:
                del sys.modules[name]
    from sqlite_utils import Database  # sqlite-utils: loaded on first use, not by import mlnb

    return Database(conn)


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        why = "the disk is full; free some space and try again (nothing already saved was lost)"
    elif "not a database" in text or "malformed" in text:
        why = "the file is not an intact SQLite database; restore it from a backup or point " \
              "MLNB_TRACKING_URI at another store (mlnb did not modify it)"
    elif "readonly" in text or "unable to open" in text:
        why = "it cannot be opened for writing; check the folder's permissions"
    else:
        why = text
    return StoreError(f"Store {path}: {why}.")
