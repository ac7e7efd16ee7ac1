"""Read a test's store through a connection of its own: what another process sees right now."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def rows_seen_by_others(store_uri: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one read (SQLite spelling, ``?`` placeholders) on a new connection to the store.

    :param store_uri: the store's folder or ``postgresql://`` URL.
    """
    if store_uri.startswith("postgresql://"):
        import psycopg

        from mlnb.store.pg import to_postgres

        with psycopg.connect(store_uri, autocommit=True) as conn:
            return list(conn.execute(to_postgres(sql), params).fetchall())
    conn = sqlite3.connect(Path(store_uri) / "mlnb.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
