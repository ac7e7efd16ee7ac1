"""Live spans: what ``@trace`` and ``start_span`` open and close, and the trace they build.

The current span is a :class:`contextvars.ContextVar`: nested calls see their caller's span as
parent, an asyncio task sees the span of the code that created it, and a new thread starts with
no span (as in MLflow and OpenTelemetry; copy the context with ``contextvars.copy_context()``
to carry it over). A span costs a few attribute writes while it is open: inputs, outputs and
attributes are turned into JSON text once, when it ends, and the finished trace is handed to the
background writer when its root span ends (no store round-trip per span).
"""

from __future__ import annotations

import threading
import time
import traceback
from contextvars import ContextVar, Token
from random import getrandbits
from typing import Any

from mlnb.tracing import encode, writer
from mlnb.tracing.keys import (  # noqa: F401  (re-exported)
    CHAT_USAGE,
    LLM_COST,
    PREVIEW_CHARS,
    SOURCE_RUN,
    SPAN_FUNCTION_NAME,
    SPAN_INPUTS,
    SPAN_OUTPUTS,
    SPAN_TYPE,
    TRACE_COST,
    TRACE_INPUTS,
    TRACE_NAME_TAG,
    TRACE_OUTPUTS,
    TRACE_REQUEST_ID,
    TRACE_TOKEN_USAGE,
)


class SpanType:
    """MLflow's span types (the value of the ``mlflow.spanType`` attribute)."""

    LLM = "LLM"
    CHAIN = "CHAIN"
    AGENT = "AGENT"
    TOOL = "TOOL"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    PARSER = "PARSER"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    MEMORY = "MEMORY"
    UNKNOWN = "UNKNOWN"
    WORKFLOW = "WORKFLOW"
    TASK = "TASK"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"


class SpanStatusCode:
    """A span's status: OK, ERROR, or UNSET while it runs."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


_current: ContextVar[LiveSpan | None] = ContextVar("mlnb_current_span", default=None)


class TraceBuffer:
    """A trace being recorded: its id, where it goes, tags, metadata and its finished spans.

    :param trace_id: ``tr-`` and 32 hex digits.
    :param store: the store it is written to.
    :param experiment_id: its experiment, or None to take the run's.
    :param run_id: the run active when it started, or None.
    """

    __slots__ = (
        "done",
        "experiment_id",
        "lock",
        "metadata",
        "run_id",
        "spans",
        "store",
        "tags",
        "trace_id",
    )

    def __init__(self, trace_id: str, store: Any, experiment_id: str | None,
                 run_id: str | None) -> None:
        self.trace_id = trace_id
        self.store = store
        self.experiment_id = experiment_id
        self.run_id = run_id
        self.tags: dict[str, str] = {}
        self.metadata: dict[str, str] = {}
        self.spans: list[LiveSpan] = []
        self.lock = threading.Lock()
        self.done = False


class LiveSpan:
    """An open span: set its inputs, outputs, attributes, events and status; it ends when its
    ``with`` block (or the decorated call) does.

    :param trace: the trace it belongs to.
    :param parent: its parent span, or None for the root.
    :param name: its name.
    :param span_type: one of :class:`SpanType` (any text is kept).
    """

    __slots__ = (
        "_attributes",
        "_frozen",
        "_inputs",
        "_outputs",
        "_token",
        "_trace",
        "end_time_ns",
        "events",
        "name",
        "parent_id",
        "span_id",
        "span_type",
        "start_time_ns",
        "status_code",
        "status_message",
    )

    def __init__(self, trace: TraceBuffer, parent: LiveSpan | None, name: str,
                 span_type: str) -> None:
        self._trace = trace
        self.span_id = f"{getrandbits(64):016x}"
        self.parent_id = None if parent is None else parent.span_id
        self.name = name
        self.span_type = span_type
        self.start_time_ns = time.time_ns()
        self.end_time_ns: int | None = None
        self._inputs: Any = None
        self._outputs: Any = None
        self._attributes: dict[str, Any] | None = None
        self.events: list[tuple[str, int, dict[str, Any]]] = []
        self.status_code = SpanStatusCode.UNSET
        self.status_message = ""
        self._token: Token[LiveSpan | None] | None = None
        self._frozen: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"<LiveSpan {self.name!r} {self.span_type} span_id={self.span_id}>"

    @property
    def trace_id(self) -> str:
        """The id of the span's trace (``tr-`` and 32 hex digits)."""
        return self._trace.trace_id

    @property
    def request_id(self) -> str:
        """MLflow 2's name for :attr:`trace_id`."""
        return self._trace.trace_id

    @property
    def inputs(self) -> Any:
        """What :meth:`set_inputs` was given."""
        return self._inputs

    @property
    def outputs(self) -> Any:
        """What :meth:`set_outputs` was given."""
        return self._outputs

    @property
    def attributes(self) -> dict[str, Any]:
        """The attributes set so far (values as given)."""
        return dict(self._attributes or {})

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's inputs (turned into JSON when the span ends).

        :param inputs: any value; a dict of argument names to values is usual.
        """
        self._inputs = inputs

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's outputs (turned into JSON when the span ends).

        :param outputs: any value.
        """
        self._outputs = outputs

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute.

        :param key: its name.
        :param value: any value (stored as JSON text, as MLflow stores it).
        """
        if self._attributes is None:
            self._attributes = {}
        self._attributes[str(key)] = value

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Set several attributes.

        :param attributes: names to values.
        """
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def get_attribute(self, key: str) -> Any:
        """An attribute's value, or None.

        :param key: its name.
        """
        return (self._attributes or {}).get(key)

    def add_event(self, name: Any, attributes: dict[str, Any] | None = None,
                  timestamp_ns: int | None = None) -> None:
        """Record an event at a point in the span (a ``SpanEvent``-like object works too).

        :param name: the event's name, or an object with ``name``, ``timestamp`` and
            ``attributes``.
        :param attributes: its attributes.
        :param timestamp_ns: when it happened, in nanoseconds since the epoch (default now).
        """
        if not isinstance(name, str) and hasattr(name, "name"):
            attributes = dict(getattr(name, "attributes", None) or {})
            timestamp_ns = getattr(name, "timestamp", None)
            name = name.name
        self.events.append((str(name), int(timestamp_ns or time.time_ns()),
                            dict(attributes or {})))

    def set_status(self, status: str, message: str = "") -> None:
        """Set the status: ``"OK"`` or ``"ERROR"`` (a ``SpanStatus``-like object works too).

        :param status: the status code.
        :param message: a description (for an error).
        """
        code = getattr(status, "status_code", status)
        code = getattr(code, "value", code)
        message = getattr(status, "description", None) or message
        text = str(code).upper().removeprefix("STATUS_CODE_")
        if text not in (SpanStatusCode.OK, SpanStatusCode.ERROR, SpanStatusCode.UNSET):
            raise ValueError(f"A span's status is OK or ERROR, not {status!r}.")
        self.status_code = text
        self.status_message = str(message or "")

    def record_exception(self, error: BaseException) -> None:
        """Mark the span ERROR with an ``exception`` event (type, message and stack trace),
        as OpenTelemetry and MLflow record one.

        :param error: the exception.
        """
        self.status_code = SpanStatusCode.ERROR
        self.status_message = f"{type(error).__name__}: {error}"
        try:
            stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        except Exception:
            stack = ""
        self.events.append(("exception", time.time_ns(), {
            "exception.type": type(error).__name__, "exception.message": str(error),
            "exception.stacktrace": stack, "exception.escaped": "False"}))

    def end(self) -> None:
        """End the span now (``with`` and ``@trace`` call this)."""
        if self.end_time_ns is not None:
            return
        self.end_time_ns = time.time_ns()
        if self.status_code == SpanStatusCode.UNSET:
            self.status_code = SpanStatusCode.OK
        self._frozen = self._freeze()
        trace = self._trace
        with trace.lock:
            if trace.done:  # a span that outlived its root: the trace was already written
                return
            trace.spans.append(self)
            if self.parent_id is not None:
                return
            trace.done = True
        _finish_trace(trace, self)

    def _freeze(self) -> dict[str, str]:
        # JSON text of every attribute, as MLflow keeps them; done once, at the end, so that a
        # value changed by the caller afterwards does not change the record.
        frozen = {TRACE_REQUEST_ID: '"' + self._trace.trace_id + '"',
                  SPAN_TYPE: encode.dumps(self.span_type)}
        if self._inputs is not None:
            frozen[SPAN_INPUTS] = encode.dumps(self._inputs)
        if self._outputs is not None:
            frozen[SPAN_OUTPUTS] = encode.dumps(self._outputs)
        if self._attributes:
            for key, value in self._attributes.items():
                frozen[key] = encode.dumps(value)
        return frozen

    @property
    def frozen_attributes(self) -> dict[str, str]:
        """The attributes as JSON text (after the span ended)."""
        return self._frozen if self._frozen is not None else self._freeze()

    def __enter__(self) -> LiveSpan:
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> None:
        if exc is not None:
            self.record_exception(exc)
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # left in another context than it was entered in
                _current.set(None)
            self._token = None
        self.end()


def current_span() -> LiveSpan | None:
    """The span of the running code, or None."""
    return _current.get()


_last_trace_id: list[str] = []
_finished_hooks: list[Any] = []


def new_span(name: str, span_type: str, parent: LiveSpan | None = None) -> LiveSpan:
    """Open a span under ``parent`` (default: the current span; with none, a new trace).

    :param name: its name.
    :param span_type: its type.
    :param parent: the parent span, or None for the current one.
    """
    if parent is None:
        parent = _current.get()
    if parent is not None:
        return LiveSpan(parent._trace, parent, name, span_type)
    return LiveSpan(_new_trace(), None, name, span_type)


def _new_trace() -> TraceBuffer:
    store, experiment_id, run_id = writer.trace_destination()
    return TraceBuffer(f"tr-{getrandbits(128):032x}", store, experiment_id, run_id)


def _finish_trace(trace: TraceBuffer, root: LiveSpan) -> None:
    if _last_trace_id:
        _last_trace_id[0] = trace.trace_id
    else:
        _last_trace_id.append(trace.trace_id)
    writer.enqueue(trace, root)
    for hook in list(_finished_hooks):
        try:
            hook(trace.trace_id)
        except Exception:
            pass


def last_trace_id() -> str | None:
    """The id of the trace most recently finished in this process, or None."""
    return _last_trace_id[0] if _last_trace_id else None


def on_trace_finished(hook: Any) -> None:
    """Call ``hook(trace_id)`` whenever a trace finishes (the notebook's inline view).

    :param hook: a callable taking the trace id; its errors are ignored.
    """
    if hook not in _finished_hooks:
        _finished_hooks.append(hook)


def remove_trace_hook(hook: Any) -> None:
    """Stop calling a hook given to :func:`on_trace_finished`.

    :param hook: the hook.
    """
    if hook in _finished_hooks:
        _finished_hooks.remove(hook)
