"""The prediction log (migration ``0009_prediction_log``): append, ground truth, retention, reads.

Rows are only ever appended (one per predicted row, inputs and outputs as JSON text the caller
encoded) and removed only by the retention rule the writer passes along; ground truth arriving
later is kept apart, keyed by request id, and joined on read. What sampling left out and what
retention removed is counted per model URI in ``prediction_log_counts``, in the same
transaction as the rows, so the counts always match the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from mlnb.errors import InvalidParameterError
from mlnb.store.dialect import StoreConnection, Writer
from mlnb.store.sql import chunks, marks, now_ms

MAX_REQUEST_ID_CHARS = 256
MAX_PREDICTION_READ = 5_000_000  # rows one read returns at most


class PredictionRow(NamedTuple):
    """One predicted row to append: when, its request id, inputs and outputs (JSON text) and
    the latency of the request it came in (None for batch scoring)."""

    timestamp: int
    request_id: str
    inputs: str
    outputs: str
    latency_ms: float | None


LoggedRow = tuple[int, str, str | None, str | None, str, str, str, float | None, str | None]


@dataclass(frozen=True)
class PredictionCounts:
    """What the prediction log of one model URI holds and what it dropped.

    ``logged``: rows ever appended; ``sampled_out``: rows the sampling rate left out;
    ``pruned``: rows the retention rule removed; ``kept``: rows in the log now.
    """

    model_uri: str
    logged: int
    sampled_out: int
    pruned: int
    kept: int


@dataclass(frozen=True)
class Retention:
    """How much of a model URI's log to keep: at most ``max_rows`` rows, none older than
    ``max_age_ms`` milliseconds (None: no bound)."""

    max_rows: int | None = None
    max_age_ms: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_rows", "max_age_ms"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidParameterError(
                    f"Prediction log retention {name} must be a positive whole number or None, "
                    f"not {value!r}.")


def check_request_id(request_id: object) -> str:
    """A request id: a non-empty string of at most 256 characters.

    :param request_id: the id as given.
    :raises InvalidParameterError: for anything else.
    """
    if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_REQUEST_ID_CHARS:
        raise InvalidParameterError(
            f"A request id must be a non-empty string of at most {MAX_REQUEST_ID_CHARS} "
            f"characters, not {str(request_id)[:40]!r}.")
    return request_id


def _check_model_uri(model_uri: object) -> str:
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise InvalidParameterError(f"A model URI must be a non-empty string, not {model_uri!r}.")
    return model_uri


class PredictionQueries:
    """Prediction-log methods of :class:`~mlnb.store.Store`."""

    cx: StoreConnection

    def append_predictions(
        self, model_uri: str, model_name: str | None, model_version: str | None,
        rows: Sequence[PredictionRow], *, sampled_out: int = 0, retention: Retention | None = None,
    ) -> int:
        """Append rows to a model URI's prediction log, count them, and apply the retention rule,
        all in one transaction. Returns how many rows the retention rule removed.

        :param model_uri: the model the predictions came from, as it was asked for.
        :param model_name: its registered name, when it is a registered version.
        :param model_version: that version's number.
        :param rows: the rows to append.
        :param sampled_out: rows the sampling rate left out since the last append (counted only).
        :param retention: what to keep of this URI's log; default everything.
        """
        _check_model_uri(model_uri)
        for row in rows:
            check_request_id(row.request_id)
        with self.cx.write() as conn:
            conn.executemany(
                "INSERT INTO predictions (model_uri, model_name, model_version, timestamp, "
                "request_id, inputs, outputs, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(model_uri, model_name, model_version, *row) for row in rows],
            )
            pruned = _prune(conn, model_uri, retention) if retention else 0
            conn.execute(
                "INSERT INTO prediction_log_counts (model_uri, logged, sampled_out, pruned) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (model_uri) DO UPDATE SET "
                "logged = prediction_log_counts.logged + excluded.logged, "
                "sampled_out = prediction_log_counts.sampled_out + excluded.sampled_out, "
                "pruned = prediction_log_counts.pruned + excluded.pruned",
                [model_uri, len(rows), sampled_out, pruned],
            )
        return pruned

    def log_ground_truth(self, request_ids: Sequence[str], targets: Sequence[str]) -> int:
        """Record the true outcome (JSON text) of logged requests; a later call for the same
        request id replaces the earlier one. Returns how many of the ids have logged predictions.

        :param request_ids: the requests' ids, as they were logged.
        :param targets: one JSON-encoded target per id.
        """
        if len(request_ids) != len(targets):
            raise InvalidParameterError(
                f"log_ground_truth got {len(request_ids)} request ids and {len(targets)} targets; "
                "give one target per request id.")
        ids = [check_request_id(r) for r in request_ids]
        stamp = now_ms()
        with self.cx.write() as conn:
            conn.executemany(
                "INSERT INTO prediction_ground_truth (request_id, target, timestamp) VALUES (?, ?, ?) "
                "ON CONFLICT (request_id) DO UPDATE SET target = excluded.target, "
                "timestamp = excluded.timestamp",
                [(r, t, stamp) for r, t in zip(ids, targets, strict=True)],
            )
            matched = 0
            for part in chunks(sorted(set(ids))):
                matched += conn.execute(
                    f"SELECT COUNT(DISTINCT request_id) FROM predictions WHERE request_id IN ({marks(part)})",
                    list(part)).fetchone()[0]
        return int(matched)

    def read_predictions(self, model_uri: str, since_ms: int | None = None) -> list[LoggedRow]:
        """A model URI's logged rows, oldest first, each with its ground truth (JSON, or None):
        ``(timestamp, request_id, model_name, model_version, inputs, outputs, model_uri,
        latency_ms, target)``.

        :param model_uri: the model URI the rows were logged under.
        :param since_ms: only rows logged at or after this time (milliseconds since the epoch).
        """
        _check_model_uri(model_uri)
        rows = self.cx.query(
            "SELECT p.timestamp, p.request_id, p.model_name, p.model_version, p.inputs, p.outputs, "
            "p.model_uri, p.latency_ms, g.target FROM predictions p "
            "LEFT JOIN prediction_ground_truth g ON g.request_id = p.request_id "
            "WHERE p.model_uri = ? AND p.timestamp >= ? ORDER BY p.prediction_id LIMIT ?",
            [model_uri, since_ms if since_ms is not None else 0, MAX_PREDICTION_READ],
        )
        return [tuple(r) for r in rows]

    def prediction_counts(self, model_uri: str) -> PredictionCounts:
        """How many rows of a model URI were logged, sampled out, pruned, and are kept.

        :param model_uri: the model URI the rows were logged under.
        """
        _check_model_uri(model_uri)
        counts = self.cx.query(
            "SELECT logged, sampled_out, pruned FROM prediction_log_counts WHERE model_uri = ?",
            [model_uri])
        kept = self.cx.query("SELECT COUNT(*) FROM predictions WHERE model_uri = ?", [model_uri])
        logged, sampled_out, pruned = counts[0] if counts else (0, 0, 0)
        return PredictionCounts(model_uri, int(logged), int(sampled_out), int(pruned), int(kept[0][0]))


_ALL_ROWS = 2**62


def _prune(conn: Writer, model_uri: str, retention: Retention) -> int:
    """Delete the URI's rows the retention rule no longer keeps (oldest first), and the ground
    truth of requests left with no row. Returns how many prediction rows went."""
    doomed: list[tuple[int, str]] = []
    if retention.max_age_ms is not None:
        doomed += conn.execute(
            "SELECT prediction_id, request_id FROM predictions WHERE model_uri = ? AND timestamp < ?",
            [model_uri, now_ms() - retention.max_age_ms]).fetchall()
    if retention.max_rows is not None:
        doomed += conn.execute(
            "SELECT prediction_id, request_id FROM predictions WHERE model_uri = ? "
            "ORDER BY prediction_id DESC LIMIT ? OFFSET ?",  # no LIMIT: not portable
            [model_uri, _ALL_ROWS, retention.max_rows]).fetchall()
    if not doomed:
        return 0
    ids = sorted({str(pid) for pid, _ in doomed})
    removed = 0
    for part in chunks(ids):
        removed += conn.execute(f"DELETE FROM predictions WHERE prediction_id IN ({marks(part)})",
                                [int(p) for p in part]).rowcount
    for part in chunks(sorted({rid for _, rid in doomed})):
        conn.execute(
            f"DELETE FROM prediction_ground_truth WHERE request_id IN ({marks(part)}) AND NOT EXISTS "
            "(SELECT 1 FROM predictions p WHERE p.request_id = prediction_ground_truth.request_id)",
            list(part))
    return removed
