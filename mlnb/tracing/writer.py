"""The trace writer: finished traces are queued and written in batches, off the traced code's path.

A trace is queued when its root span ends and written, with every span, in one transaction
with the other traces queued by then, when

* the oldest queued trace has waited :data:`FLUSH_INTERVAL_S` (a background thread),
* :data:`MAX_QUEUED` traces are queued (the same thread, woken at once),
* :func:`flush` is called (``get_trace``, ``search_traces``, ``mlnb.flush()``, every read of
  the tracking API through :func:`mlnb.tracking.writer.register_background`, and exit).

Nothing here ever raises into traced code: a store that cannot be written keeps the traces for
the next attempt (up to :data:`MAX_KEPT_WHILE_DOWN`) and says so in one warning.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections import deque
from typing import TYPE_CHECKING, Any

from mlnb.errors import StoreError
from mlnb.store.traces import StoredSpan, StoredTrace
from mlnb.tracing import encode
from mlnb.tracing.keys import (
    CHAT_USAGE,
    LLM_COST,
    PREVIEW_CHARS,
    SOURCE_RUN,
    SPAN_INPUTS,
    SPAN_OUTPUTS,
    TRACE_COST,
    TRACE_INPUTS,
    TRACE_NAME_TAG,
    TRACE_OUTPUTS,
    TRACE_TOKEN_USAGE,
)
from mlnb.tracking import fluent
from mlnb.tracking.client import current_client
from mlnb.tracking.experiment import active_experiment_id
from mlnb.tracking.writer import register_background

if TYPE_CHECKING:  # span.py hands finished traces to this module: no import back at run time
    from mlnb.tracing.span import LiveSpan, TraceBuffer

FLUSH_INTERVAL_S = 0.5
MAX_QUEUED = 1_000
MAX_KEPT_WHILE_DOWN = 100_000

_queue: deque[tuple[TraceBuffer, LiveSpan]] = deque()
_oldest = [0.0]
_flush_lock = threading.Lock()
_wake = threading.Event()
_thread: list[threading.Thread] = []
_pid = [os.getpid()]
_warned: set[str] = set()
_run_experiments: dict[tuple[int, str], str] = {}


def trace_destination() -> tuple[Any, str | None, str | None]:
    """Where a trace starting now goes: the active run's store and run, else the current
    store and active experiment."""
    handle = fluent.active_run()
    if handle is not None:
        return handle.client.store, None, handle.run_id
    return current_client().store, active_experiment_id(), None


def enqueue(trace: TraceBuffer, root: LiveSpan) -> None:
    """Queue a finished trace for the writer thread.

    :param trace: the trace.
    :param root: its root span (ended).
    """
    if os.getpid() != _pid[0]:  # a forked child: the parent's queue is the parent's to write
        _pid[0] = os.getpid()
        _queue.clear()
        _thread.clear()
    if not _queue:
        _oldest[0] = time.monotonic()
    _queue.append((trace, root))
    if not _thread:
        _start_thread()
    elif len(_queue) >= MAX_QUEUED:
        _wake.set()


def _start_thread() -> None:
    with _flush_lock:
        if _thread:
            return
        thread = threading.Thread(target=_loop, name="mlnb-trace-writer", daemon=True)
        _thread.append(thread)
    thread.start()


def _loop() -> None:
    while True:
        _wake.wait(FLUSH_INTERVAL_S / 2)
        _wake.clear()
        if _queue and (len(_queue) >= MAX_QUEUED
                       or time.monotonic() - _oldest[0] >= FLUSH_INTERVAL_S):
            flush()


def flush() -> None:
    """Write every queued trace now; on return they are in the store (or, when the store cannot
    be written, kept for the next attempt with one warning). Never raises."""
    if not _queue:
        return
    with _flush_lock:
        batch: list[tuple[TraceBuffer, LiveSpan]] = []
        while _queue:
            batch.append(_queue.popleft())
        by_store: dict[int, tuple[Any, list[tuple[TraceBuffer, LiveSpan]]]] = {}
        for item in batch:
            by_store.setdefault(id(item[0].store), (item[0].store, []))[1].append(item)
        for store, items in by_store.values():
            _write(store, items)


def _write(store: Any, items: list[tuple[TraceBuffer, LiveSpan]]) -> None:
    try:
        records = [stored_trace(store, trace, root) for trace, root in items]
        skipped = store.write_traces(records)
    except StoreError as exc:
        if len(_queue) + len(items) <= MAX_KEPT_WHILE_DOWN:
            _queue.extendleft(reversed(items))
            _warn_once("store", f"mlnb could not write traces yet ({exc}); they are kept in "
                       "memory and retried.")
        else:
            _warn_once("dropped", f"mlnb dropped {len(items)} traces: the store cannot be "
                       f"written ({exc}) and {MAX_KEPT_WHILE_DOWN:,} are kept already.")
        return
    except Exception as exc:  # tracing never breaks the program: one warning, not an error
        _warn_once(type(exc).__name__, f"mlnb could not write {len(items)} traces: "
                   f"{type(exc).__name__}: {exc}")
        return
    _warned.discard("store")  # written again: a later outage is worth a new warning
    if skipped:
        _warn_once("gone", f"mlnb dropped {len(skipped)} traces whose experiment no longer "
                   "exists.")


def _warn_once(kind: str, message: str) -> None:
    if kind not in _warned:
        _warned.add(kind)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _experiment_of(store: Any, trace: TraceBuffer) -> str:
    if trace.experiment_id is not None:
        return trace.experiment_id
    key = (id(store), str(trace.run_id))
    found = _run_experiments.get(key)
    if found is None:
        found = _run_experiments[key] = str(store.get_run(trace.run_id).info.experiment_id)
    return found


def stored_trace(store: Any, trace: TraceBuffer, root: LiveSpan) -> StoredTrace:
    """The record of a finished trace: its info, tags, metadata and spans.

    :param store: the store it goes to.
    :param trace: the trace.
    :param root: its root span.
    """
    with trace.lock:
        spans = list(trace.spans)
    root_attrs = root.frozen_attributes
    request = root_attrs.get(SPAN_INPUTS)
    response = root_attrs.get(SPAN_OUTPUTS)
    metadata = {"mlflow.trace_schema.version": "3"}
    if request is not None:
        metadata[TRACE_INPUTS] = request[:PREVIEW_CHARS]
    if response is not None:
        metadata[TRACE_OUTPUTS] = response[:PREVIEW_CHARS]
    if trace.run_id:
        metadata[SOURCE_RUN] = trace.run_id
    usage, cost = rollups(spans)
    if usage:
        metadata[TRACE_TOKEN_USAGE] = json.dumps(usage)
    if cost:
        metadata[TRACE_COST] = json.dumps(cost)
    metadata.update(trace.metadata)
    end = root.end_time_ns or root.start_time_ns
    return StoredTrace(
        trace_id=trace.trace_id, experiment_id=_experiment_of(store, trace), run_id=trace.run_id,
        name=root.name, request_time=root.start_time_ns // 1_000_000,
        execution_duration=(end - root.start_time_ns) // 1_000_000,
        state="ERROR" if root.status_code == "ERROR" else "OK",
        request_preview=None if request is None else request[:PREVIEW_CHARS],
        response_preview=None if response is None else response[:PREVIEW_CHARS],
        tags={TRACE_NAME_TAG: root.name, **trace.tags}, metadata=metadata,
        spans=[_stored_span(trace.trace_id, s) for s in spans])


def _stored_span(trace_id: str, span: LiveSpan) -> StoredSpan:
    events = [{"name": name, "time_unix_nano": at,
               "attributes": encode.to_jsonable(attributes, 0)}
              for name, at, attributes in span.events]
    return StoredSpan(
        trace_id=trace_id, span_id=span.span_id, parent_span_id=span.parent_id, name=span.name,
        span_type=span.span_type, start_time_ns=span.start_time_ns, end_time_ns=span.end_time_ns,
        status_code=span.status_code, status_message=span.status_message,
        attributes=json.dumps(span.frozen_attributes), events=json.dumps(events))


def rollups(spans: list[LiveSpan]) -> tuple[dict[str, int], dict[str, float]]:
    """Token usage and cost of a trace: the sum over its spans that report them, a span's own
    figures left out when an ancestor reports them already (its total includes them).

    :param spans: the trace's spans.
    """
    by_id = {s.span_id: s for s in spans}

    def counted(span: LiveSpan, key: str) -> bool:
        parent = by_id.get(span.parent_id or "")
        while parent is not None:
            if isinstance(parent.get_attribute(key), dict):
                return False
            parent = by_id.get(parent.parent_id or "")
        return True

    usage: dict[str, int] = {}
    cost: dict[str, float] = {}
    for span in spans:
        found = span.get_attribute(CHAT_USAGE)
        if isinstance(found, dict) and counted(span, CHAT_USAGE):
            for key in ("input_tokens", "output_tokens", "total_tokens"):
                if isinstance(found.get(key), (int, float)):
                    usage[key] = usage.get(key, 0) + int(found[key])
        price = span.get_attribute(LLM_COST)
        if isinstance(price, dict) and counted(span, LLM_COST):
            for key in ("input_cost", "output_cost", "total_cost"):
                if isinstance(price.get(key), (int, float)):
                    cost[key] = cost.get(key, 0.0) + float(price[key])
    return usage, cost


def _wait_for_reads() -> None:
    # A read through the tracking API sees the traces finished before it (never raises).
    if threading.current_thread() not in _thread:
        flush()


register_background(_wait_for_reads)
