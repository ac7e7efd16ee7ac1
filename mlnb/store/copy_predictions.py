"""Copying the prediction log (``mlnb store copy``): rows, ground truth and counts.

Prediction rows have no id that means anything outside their store, so a copy remembers, in
DST's ``store_meta`` under SRC's store id, the last SRC row it copied and how much of SRC's
counts it has added to DST's. Each chunk of rows is written with that mark in one transaction:
a copy stopped midway is resumed where it stopped, and copying again adds nothing twice.

DST's counts stay consistent with its rows (``logged - pruned`` is what it keeps): SRC's rows
that SRC's retention removed before they could be copied count as logged and pruned in DST.
Ground truth DST lacks is added; a request whose ground truth DST already holds keeps DST's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlnb.store.dialect import Writer
from mlnb.store.sql import chunks, marks

if TYPE_CHECKING:
    from mlnb.store import Store

ROWS_PER_TRANSACTION = 10_000
_FIELDS = "model_uri, model_name, model_version, timestamp, request_id, inputs, outputs, latency_ms"


@dataclass
class PredictionCopy:
    """What copying a prediction log did: rows and ground-truth records added to DST."""

    rows: int = 0
    ground_truth: int = 0


def copy_prediction_log(src: Store, dst: Store, report: Callable[[int, int], None]
                        ) -> PredictionCopy:
    """Copy the prediction rows SRC logged since the last copy into DST, then the ground truth
    DST lacks, then the counts.

    :param src: the store to read.
    :param dst: the store to write.
    :param report: called with (rows copied, rows to copy) after each chunk.
    """
    done = PredictionCopy()
    counts = {str(r[0]): (int(r[1]), int(r[2])) for r in src.cx.query(
        "SELECT model_uri, logged, sampled_out FROM prediction_log_counts")}
    mark_key, counts_key = _keys(src)
    after = int(_meta(dst, mark_key) or 0)
    total = int(src.cx.query("SELECT COUNT(*) FROM predictions WHERE prediction_id > ?",
                             [after])[0][0])
    while True:
        rows = src.cx.query(f"SELECT prediction_id, {_FIELDS} FROM predictions "
                            "WHERE prediction_id > ? ORDER BY prediction_id LIMIT ?",
                            [after, ROWS_PER_TRANSACTION])
        if not rows:
            break
        after = int(rows[-1][0])
        with dst.cx.write() as tx:
            tx.executemany(f"INSERT INTO predictions ({_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [tuple(r[1:]) for r in rows])
            added: dict[str, int] = {}
            for row in rows:
                added[str(row[1])] = added.get(str(row[1]), 0) + 1
            accounted = _accounted(tx, counts_key)
            for uri, n in added.items():
                _add_counts(tx, uri, logged=n, sampled_out=0, pruned=0)
                accounted[uri] = [accounted.get(uri, [0, 0])[0] + n, accounted.get(uri, [0, 0])[1]]
            _put(tx, counts_key, json.dumps(accounted, sort_keys=True))
            _put(tx, mark_key, str(after))
        done.rows += len(rows)
        report(done.rows, total)
    done.ground_truth = _copy_ground_truth(src, dst)
    _settle_counts(dst, counts_key, counts)
    return done


def _keys(src: Store) -> tuple[str, str]:
    return (f"copied_predictions:{src.store_id}", f"copied_prediction_counts:{src.store_id}")


def _meta(store: Store, key: str) -> str | None:
    rows = store.cx.query("SELECT value FROM store_meta WHERE key = ?", [key])
    return str(rows[0][0]) if rows else None


def _accounted(tx: Writer, key: str) -> dict[str, list[int]]:
    """SRC's (logged, sampled_out) per model URI already added to DST's counts."""
    row = tx.execute("SELECT value FROM store_meta WHERE key = ?", [key]).fetchone()
    return dict(json.loads(row[0])) if row else {}


def _put(tx: Writer, key: str, value: str) -> None:
    tx.execute("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
               "DO UPDATE SET value = excluded.value", [key, value])


def _add_counts(tx: Writer, uri: str, *, logged: int, sampled_out: int, pruned: int) -> None:
    tx.execute("INSERT INTO prediction_log_counts (model_uri, logged, sampled_out, pruned) "
               "VALUES (?, ?, ?, ?) ON CONFLICT (model_uri) DO UPDATE SET "
               "logged = prediction_log_counts.logged + excluded.logged, "
               "sampled_out = prediction_log_counts.sampled_out + excluded.sampled_out, "
               "pruned = prediction_log_counts.pruned + excluded.pruned",
               [uri, logged, sampled_out, pruned])


def _copy_ground_truth(src: Store, dst: Store) -> int:
    """The ground truth records DST lacks (by request id); DST's own are kept."""
    added = 0
    src_rows = {str(r[0]): tuple(r) for r in src.cx.query(
        "SELECT request_id, target, timestamp FROM prediction_ground_truth ORDER BY request_id")}
    for ids in chunks(list(src_rows)):
        part = [src_rows[i] for i in ids]
        have = {str(r[0]) for r in dst.cx.query(
            f"SELECT request_id FROM prediction_ground_truth WHERE request_id IN ({marks(ids)})",
            ids)}
        missing = [r for r in part if str(r[0]) not in have]
        if missing:
            with dst.cx.write() as tx:
                tx.executemany("INSERT OR IGNORE INTO prediction_ground_truth (request_id, target, "
                               "timestamp) VALUES (?, ?, ?)", missing)
            added += len(missing)
    return added


def _settle_counts(dst: Store, key: str, counts: dict[str, tuple[int, int]]) -> None:
    """Add what SRC counted and DST has not: rows SRC sampled out, and rows SRC logged but
    pruned before a copy could take them (logged and pruned in DST, so its counts match its
    rows). Writes nothing when there is nothing to add."""
    stored = _meta(dst, key)
    accounted: dict[str, list[int]] = dict(json.loads(stored)) if stored else {}
    additions = []
    for uri, (logged, sampled_out) in sorted(counts.items()):
        got_logged, got_sampled = accounted.get(uri, [0, 0])
        never_copied, more_sampled = max(0, logged - got_logged), max(0, sampled_out - got_sampled)
        if never_copied or more_sampled:
            additions.append((uri, never_copied, more_sampled))
            accounted[uri] = [got_logged + never_copied, got_sampled + more_sampled]
    if not additions:
        return
    with dst.cx.write() as tx:
        for uri, never_copied, more_sampled in additions:
            _add_counts(tx, uri, logged=never_copied, sampled_out=more_sampled, pruned=never_copied)
        _put(tx, key, json.dumps(accounted, sort_keys=True))
