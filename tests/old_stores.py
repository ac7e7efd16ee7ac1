"""Stores as older mlnb versions left them, built with the real migrations up to a point.

A test that checks an upgrade makes its store with :func:`store_before`, which applies every
migration before the one named (the schema that version shipped) and nothing after, then fills
it with plain SQL as that version wrote it.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from mlnb.store.schema import migrations


def store_before(folder: Path, migration: str) -> sqlite3.Connection:
    """A new store in ``folder`` with the schema of every migration before ``migration``.

    :param folder: the store's folder (created).
    :param migration: the first migration not applied, e.g. ``0007_metric_series``.
    """
    (folder / "artifacts").mkdir(parents=True)
    cx = sqlite3.connect(folder / "mlnb.db", isolation_level=None)
    cx.execute("PRAGMA journal_mode = WAL")
    migrations.apply(Database(cx), stop_before=migration)
    return cx


def add_run(cx: sqlite3.Connection, experiment_id: int = 0, status: str = "FINISHED") -> str:
    """A run row as mlnb 0.1 wrote it; returns its id.

    :param cx: the old store.
    :param experiment_id: its experiment.
    :param status: its status.
    """
    run_id = secrets.token_hex(16)
    cx.execute("INSERT INTO runs (run_id, experiment_id, name, status, start_time, end_time) "
               "VALUES (?, ?, ?, ?, 1000, 2000)", [run_id, experiment_id, f"run-{run_id[:4]}", status])
    return run_id


def add_points_v01(cx: sqlite3.Connection, run_id: str, key: str,
                   points: list[tuple[int, int, float]]) -> None:
    """Points ``(step, timestamp, value)`` in mlnb 0.1's ``metrics`` table, and the latest value
    by the rule of migration 0006 in ``latest_metrics``.

    :param cx: the old store (before ``0007_metric_series``).
    :param run_id: the run.
    :param key: the metric.
    :param points: the points in logging order.
    """
    cx.execute("BEGIN")  # one transaction, not one commit a row
    cx.executemany(
        "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
        [(run_id, key, None if v != v else v, int(v != v), s, t) for s, t, v in points])
    latest = max(points, key=lambda p: (p[0], p[1], p[2] == p[2], p[2] if p[2] == p[2] else 0.0))
    step, timestamp, value = latest
    cx.execute(
        "INSERT OR REPLACE INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [run_id, key, None if value != value else value, int(value != value), step, timestamp])
    cx.execute("COMMIT")
