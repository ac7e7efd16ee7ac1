"""GenAI traces (migration ``0011_traces``): trace info, tags, request metadata and spans.

A trace is written once, whole, when its root span ends (the tracing layer's background writer
hands over a batch of finished traces, written in one transaction). Listing and searching read
``trace_info`` and its tags and metadata only; spans are read for the traces asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import validation
from mlnb.store.dialect import StoreConnection
from mlnb.store.search import (
    EntitySchema,
    KeyValueSource,
    compile_filter,
    compile_order_by,
    parse_filter,
    parse_order_by,
)
from mlnb.store.sql import chunks, experiment_int, marks, page_offset

TRACE_ID = re.compile(r"tr-[0-9a-f]{32}")
TRACE_STATES = ("OK", "ERROR", "IN_PROGRESS")
MAX_TRACE_RESULTS = 10_000

TRACE_SCHEMA = EntitySchema(
    name="a trace",
    attributes={
        "trace_id": ("t.trace_id", "str"),
        "request_id": ("t.trace_id", "str"),
        "timestamp_ms": ("t.request_time", "num"),
        "timestamp": ("t.request_time", "num"),
        "execution_time_ms": ("t.execution_duration", "num"),
        "execution_time": ("t.execution_duration", "num"),
        "status": ("t.state", "str"),
        "state": ("t.state", "str"),
        "name": ("t.name", "str"),
        "run_id": ("t.run_id", "str"),
    },
    sources={
        "tags": KeyValueSource("trace_tags", (("trace_id", "t.trace_id"),), False),
        "metadata": KeyValueSource("trace_request_metadata", (("trace_id", "t.trace_id"),),
                                   False),
    },
)

TRACES_SQL = """
CREATE TABLE trace_info (
    trace_id {T} PRIMARY KEY,
    experiment_id {I} NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
    run_id {T} REFERENCES runs(run_id) ON DELETE SET NULL,
    name {T},
    request_time {I} NOT NULL,
    execution_duration {I},
    state {T} NOT NULL,
    request_preview {T},
    response_preview {T}
);
CREATE INDEX trace_info_by_experiment ON trace_info(experiment_id, request_time);
CREATE INDEX trace_info_by_run ON trace_info(run_id, request_time) WHERE run_id IS NOT NULL;
CREATE TABLE trace_tags (
    trace_id {T} NOT NULL REFERENCES trace_info(trace_id) ON DELETE CASCADE,
    key {T} NOT NULL,
    value {T} NOT NULL,
    PRIMARY KEY (trace_id, key)
);
CREATE TABLE trace_request_metadata (
    trace_id {T} NOT NULL REFERENCES trace_info(trace_id) ON DELETE CASCADE,
    key {T} NOT NULL,
    value {T} NOT NULL,
    PRIMARY KEY (trace_id, key)
);
CREATE TABLE spans (
    trace_id {T} NOT NULL REFERENCES trace_info(trace_id) ON DELETE CASCADE,
    span_id {T} NOT NULL,
    parent_span_id {T},
    name {T} NOT NULL,
    span_type {T} NOT NULL,
    start_time_ns {I} NOT NULL,
    end_time_ns {I},
    status_code {T} NOT NULL,
    status_message {T} NOT NULL,
    attributes {T} NOT NULL,
    events {T} NOT NULL,
    PRIMARY KEY (trace_id, span_id)
)
"""
"""The tables of migration ``0011_traces`` on both engines (``{T}``/``{I}``: the engine's text
and integer types). Shipped: never edit it; a change of these tables is a new migration."""

_COLUMNS = ("t.trace_id, t.experiment_id, t.run_id, t.name, t.request_time, "
            "t.execution_duration, t.state, t.request_preview, t.response_preview")


@dataclass(frozen=True)
class StoredSpan:
    """One span as stored: ids in hex, times in nanoseconds, attributes and events as JSON text
    (attribute values are themselves JSON-encoded, as MLflow stores them)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    start_time_ns: int
    end_time_ns: int | None
    status_code: str
    status_message: str
    attributes: str
    events: str


@dataclass(frozen=True)
class StoredTrace:
    """A trace's info as stored, with its tags and request metadata (and spans when read)."""

    trace_id: str
    experiment_id: str
    run_id: str | None
    name: str | None
    request_time: int
    execution_duration: int | None
    state: str
    request_preview: str | None
    response_preview: str | None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    spans: list[StoredSpan] | None = None


def check_trace_id(trace_id: Any) -> str:
    """A trace id: ``tr-`` and 32 hex digits.

    :param trace_id: the id as given.
    :raises InvalidParameterError: for anything else.
    """
    if not isinstance(trace_id, str) or not TRACE_ID.fullmatch(trace_id):
        raise InvalidParameterError(
            f"{trace_id!r} is not a trace id: a trace id is 'tr-' and 32 hex digits, as "
            "mlnb.get_last_active_trace_id() gives it.")
    return trace_id


class TraceQueries:
    """Trace methods of :class:`~mlnb.store.Store`."""

    cx: StoreConnection

    def write_traces(self, traces: Sequence[StoredTrace]) -> list[str]:
        """Write finished traces with their spans, tags and metadata in one transaction.

        A trace whose experiment no longer exists is skipped (its id is returned); a run that no
        longer exists is not linked. A trace id already stored is left as it is.

        :param traces: the traces, each with ``spans`` set.
        :returns: the ids of the traces skipped because their experiment is gone.
        """
        if not traces:
            return []
        with self.cx.write() as conn:
            experiments = {t.experiment_id for t in traces}
            known = set()
            for part in chunks(sorted(experiments)):
                known |= {str(r[0]) for r in conn.execute(
                    f"SELECT experiment_id FROM experiments WHERE experiment_id IN ({marks(part)})",
                    [int(e) for e in part]).fetchall()}
            runs = sorted({t.run_id for t in traces if t.run_id})
            live_runs = set()
            for part in chunks(runs):
                live_runs |= {str(r[0]) for r in conn.execute(
                    f"SELECT run_id FROM runs WHERE run_id IN ({marks(part)})", list(part)
                ).fetchall()}
            kept = [t for t in traces if t.experiment_id in known]
            conn.executemany(
                "INSERT INTO trace_info (trace_id, experiment_id, run_id, name, request_time, "
                "execution_duration, state, request_preview, response_preview) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_id) DO NOTHING",
                [(t.trace_id, int(t.experiment_id), t.run_id if t.run_id in live_runs else None,
                  t.name, t.request_time, t.execution_duration, t.state, t.request_preview,
                  t.response_preview) for t in kept])
            for table, attr in (("trace_tags", "tags"), ("trace_request_metadata", "metadata")):
                conn.executemany(
                    f"INSERT INTO {table} (trace_id, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (trace_id, key) DO NOTHING",
                    [(t.trace_id, k, v) for t in kept for k, v in getattr(t, attr).items()])
            conn.executemany(
                "INSERT INTO spans (trace_id, span_id, parent_span_id, name, span_type, "
                "start_time_ns, end_time_ns, status_code, status_message, attributes, events) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_id, span_id) DO NOTHING",
                [(s.trace_id, s.span_id, s.parent_span_id, s.name, s.span_type, s.start_time_ns,
                  s.end_time_ns, s.status_code, s.status_message, s.attributes, s.events)
                 for t in kept for s in (t.spans or ())])
        return [t.trace_id for t in traces if t.experiment_id not in known]

    def get_trace(self, trace_id: str) -> StoredTrace:
        """A trace with its spans (in start order).

        :param trace_id: ``tr-`` and 32 hex digits.
        :raises NotFoundError: when the store has no such trace.
        """
        check_trace_id(trace_id)
        rows = self.cx.query(f"SELECT {_COLUMNS} FROM trace_info t WHERE t.trace_id = ?",
                             [trace_id])
        if not rows:
            raise NotFoundError(
                f"No trace with id {trace_id!r} in this store (a trace is written when its "
                "root span ends).")
        return self._traces(rows, with_spans=True)[0]

    def search_traces(
        self, experiment_ids: Sequence[str], filter_string: str | None = None,
        max_results: int = 100, order_by: Sequence[str] | None = None, offset: int = 0,
        run_id: str | None = None, include_spans: bool = True,
    ) -> list[StoredTrace]:
        """Traces of these experiments matching a filter (newest first by default).

        :param experiment_ids: the experiments to search.
        :param filter_string: the search grammar over ``trace_id`` (``request_id``),
            ``timestamp_ms``, ``execution_time_ms``, ``status``, ``name``, ``run_id``,
            ``tags.*`` and ``metadata.*``.
        :param max_results: at most this many.
        :param order_by: clauses such as ``["timestamp_ms DESC"]``.
        :param offset: rows to skip (paging).
        :param run_id: only the traces linked to this run.
        :param include_spans: also read each trace's spans.
        """
        ids = [experiment_int(e) for e in experiment_ids]
        if not ids:
            return []
        where = compile_filter(parse_filter(filter_string), TRACE_SCHEMA, filter_string or "",
                               self.cx.dialect)
        order = compile_order_by(parse_order_by(order_by), TRACE_SCHEMA)
        order_sql = (order.sql + ", " if order.sql else "") + "t.request_time DESC, t.trace_id"
        run_sql, run_params = ("AND t.run_id = ? ", [run_id]) if run_id else ("", [])
        rows = self.cx.query(
            f"SELECT {_COLUMNS} FROM trace_info t {order.joins} "
            f"WHERE t.experiment_id IN ({marks(ids)}) {run_sql}AND ({where.sql}) "
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?",
            [*order.join_params, *ids, *run_params, *where.params,
             validation.result_limit(max_results, MAX_TRACE_RESULTS), page_offset(offset)],
        )
        return self._traces(rows, with_spans=include_spans)

    def delete_traces(self, experiment_id: str, trace_ids: Sequence[str] | None = None,
                      max_timestamp_millis: int | None = None) -> int:
        """Delete traces of an experiment: these ids, or those older than a time.

        :param experiment_id: the experiment.
        :param trace_ids: the traces to delete.
        :param max_timestamp_millis: delete the traces that started at or before this time.
        :returns: how many traces were deleted.
        :raises InvalidParameterError: unless exactly one of ``trace_ids`` and
            ``max_timestamp_millis`` is given.
        """
        if (trace_ids is None) == (max_timestamp_millis is None):
            raise InvalidParameterError(
                "delete_traces takes exactly one of trace_ids and max_timestamp_millis.")
        exp = experiment_int(experiment_id)
        deleted = 0
        with self.cx.write() as conn:
            if trace_ids is not None:
                ids = [check_trace_id(t) for t in trace_ids]
                for part in chunks(ids):
                    deleted += conn.execute(
                        f"DELETE FROM trace_info WHERE experiment_id = ? AND trace_id IN "
                        f"({marks(part)})", [exp, *part]).rowcount
            else:
                deleted = conn.execute(
                    "DELETE FROM trace_info WHERE experiment_id = ? AND request_time <= ?",
                    [exp, int(max_timestamp_millis or 0)]).rowcount
        return int(deleted)

    def set_trace_tag(self, trace_id: str, key: str, value: Any) -> None:
        """Set (or overwrite) a tag of a stored trace.

        :param trace_id: the trace.
        :param key: the tag's name.
        :param value: its value (becomes text).
        :raises NotFoundError: when the store has no such trace.
        """
        check_trace_id(trace_id)
        key = validation.check_key(key, "Tag")
        with self.cx.write() as conn:
            if not conn.execute("SELECT 1 FROM trace_info WHERE trace_id = ?",
                                [trace_id]).fetchall():
                raise NotFoundError(f"No trace with id {trace_id!r} in this store.")
            conn.execute("INSERT INTO trace_tags (trace_id, key, value) VALUES (?, ?, ?) "
                         "ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value",
                         [trace_id, key, str(value)])

    def _traces(self, rows: list[Any], *, with_spans: bool) -> list[StoredTrace]:
        ids = [str(r[0]) for r in rows]
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metadata: dict[str, dict[str, str]] = {i: {} for i in ids}
        spans: dict[str, list[StoredSpan]] = {i: [] for i in ids}
        for part in chunks(ids):
            for table, into in (("trace_tags", tags), ("trace_request_metadata", metadata)):
                for trace_id, key, value in self.cx.query(
                        f"SELECT trace_id, key, value FROM {table} WHERE trace_id IN "
                        f"({marks(part)})", list(part)):
                    into[str(trace_id)][str(key)] = str(value)
            if with_spans:
                for r in self.cx.query(
                        "SELECT trace_id, span_id, parent_span_id, name, span_type, "
                        "start_time_ns, end_time_ns, status_code, status_message, attributes, "
                        f"events FROM spans WHERE trace_id IN ({marks(part)}) "
                        "ORDER BY start_time_ns, span_id", list(part)):
                    spans[str(r[0])].append(StoredSpan(
                        str(r[0]), str(r[1]), None if r[2] is None else str(r[2]), str(r[3]),
                        str(r[4]), int(r[5]), None if r[6] is None else int(r[6]), str(r[7]),
                        str(r[8]), str(r[9]), str(r[10])))
        return [StoredTrace(
            trace_id=str(r[0]), experiment_id=str(r[1]), run_id=None if r[2] is None else str(r[2]),
            name=None if r[3] is None else str(r[3]), request_time=int(r[4]),
            execution_duration=None if r[5] is None else int(r[5]), state=str(r[6]),
            request_preview=None if r[7] is None else str(r[7]),
            response_preview=None if r[8] is None else str(r[8]), tags=tags[str(r[0])],
            metadata=metadata[str(r[0])], spans=spans[str(r[0])] if with_spans else None)
            for r in rows]

