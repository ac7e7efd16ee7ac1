"""Traces as read back from the store: :class:`Trace` (``info`` and ``data.spans``), in MLflow's
shape, with ``to_dict``/``to_json`` in the form of MLflow's ``Trace.to_json()``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mlnb.store.traces import StoredSpan, StoredTrace
from mlnb.tracing import encode
from mlnb.tracing.keys import SPAN_INPUTS, SPAN_OUTPUTS, TRACE_COST, TRACE_TOKEN_USAGE

_html_renderer: list[Callable[[Trace], str]] = []


def set_html_renderer(render: Callable[[Trace], str]) -> None:
    """Install the function that draws a trace as HTML (the widgets layer's trace view).

    :param render: takes a :class:`Trace`, returns self-contained HTML.
    """
    _html_renderer[:] = [render]


@dataclass(frozen=True)
class SpanStatus:
    """A span's status: ``status_code`` OK, ERROR or UNSET, and a description."""

    status_code: str
    description: str = ""


@dataclass(frozen=True)
class SpanEvent:
    """Something that happened in a span (an exception, a stream chunk ...)."""

    name: str
    timestamp: int
    attributes: dict[str, Any] = field(default_factory=dict)


class Span:
    """A finished span as stored: ids, name, type, times, status, inputs, outputs, attributes.

    :param stored: the span's row.
    """

    __slots__ = ("_attributes", "_stored")

    def __init__(self, stored: StoredSpan) -> None:
        self._stored = stored
        self._attributes: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"Span(name={self.name!r}, span_type={self.span_type!r}, span_id={self.span_id!r})"

    @property
    def trace_id(self) -> str:
        """The trace's id (``tr-`` and 32 hex digits)."""
        return self._stored.trace_id

    @property
    def request_id(self) -> str:
        """MLflow 2's name for :attr:`trace_id`."""
        return self._stored.trace_id

    @property
    def span_id(self) -> str:
        """16 hex digits."""
        return self._stored.span_id

    @property
    def parent_id(self) -> str | None:
        """The parent span's id, None for the root."""
        return self._stored.parent_span_id

    @property
    def name(self) -> str:
        """The span's name."""
        return self._stored.name

    @property
    def span_type(self) -> str:
        """One of :class:`~mlnb.tracing.SpanType`."""
        return self._stored.span_type

    @property
    def start_time_ns(self) -> int:
        """Start, in nanoseconds since the epoch."""
        return self._stored.start_time_ns

    @property
    def end_time_ns(self) -> int | None:
        """End, in nanoseconds since the epoch."""
        return self._stored.end_time_ns

    @property
    def status(self) -> SpanStatus:
        """OK or ERROR, with the error's description."""
        return SpanStatus(self._stored.status_code, self._stored.status_message)

    @property
    def raw_attributes(self) -> dict[str, str]:
        """Attribute values as stored: JSON text."""
        if self._attributes is None:
            self._attributes = json.loads(self._stored.attributes)
        return self._attributes

    @property
    def attributes(self) -> dict[str, Any]:
        """Attribute values, decoded."""
        return {k: encode.loads(v) for k, v in self.raw_attributes.items()}

    def get_attribute(self, key: str) -> Any:
        """One attribute's value, decoded (None when unset).

        :param key: its name.
        """
        return encode.loads(self.raw_attributes.get(key))

    @property
    def inputs(self) -> Any:
        """The span's inputs."""
        return self.get_attribute(SPAN_INPUTS)

    @property
    def outputs(self) -> Any:
        """The span's outputs."""
        return self.get_attribute(SPAN_OUTPUTS)

    @property
    def events(self) -> list[SpanEvent]:
        """The span's events, oldest first."""
        return [SpanEvent(e["name"], int(e["time_unix_nano"]), e.get("attributes") or {})
                for e in json.loads(self._stored.events)]

    def to_dict(self) -> dict[str, Any]:
        """The span as MLflow's ``Span.to_dict()`` gives it (ids base64, attributes JSON text)."""
        return {
            "trace_id": _b64(self.trace_id[3:]),
            "span_id": _b64(self.span_id),
            "parent_span_id": None if self.parent_id is None else _b64(self.parent_id),
            "name": self.name,
            "start_time_unix_nano": self.start_time_ns,
            "end_time_unix_nano": self.end_time_ns,
            "events": [{"name": e.name, "time_unix_nano": e.timestamp,
                        "attributes": e.attributes} for e in self.events],
            "status": {"code": f"STATUS_CODE_{self._stored.status_code}",
                       "message": self._stored.status_message},
            "attributes": dict(self.raw_attributes),
            "links": [],
        }


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode("ascii")


@dataclass(frozen=True)
class TraceInfo:
    """A trace's summary: id, experiment, run, time, duration, state, previews, tags, metadata."""

    trace_id: str
    experiment_id: str
    run_id: str | None
    request_time: int
    execution_duration: int | None
    state: str
    request_preview: str | None
    response_preview: str | None
    tags: dict[str, str]
    trace_metadata: dict[str, str]

    @property
    def request_id(self) -> str:
        """MLflow 2's name for :attr:`trace_id`."""
        return self.trace_id

    @property
    def status(self) -> str:
        """MLflow 2's name for :attr:`state`."""
        return self.state

    @property
    def timestamp_ms(self) -> int:
        """MLflow 2's name for :attr:`request_time`."""
        return self.request_time

    @property
    def execution_time_ms(self) -> int | None:
        """MLflow 2's name for :attr:`execution_duration`."""
        return self.execution_duration

    @property
    def token_usage(self) -> dict[str, int] | None:
        """The trace's token usage (input, output, total), when its spans reported it."""
        text = self.trace_metadata.get(TRACE_TOKEN_USAGE)
        return None if text is None else dict(json.loads(text))

    @property
    def cost(self) -> dict[str, float] | None:
        """The trace's cost, when its spans reported it."""
        text = self.trace_metadata.get(TRACE_COST)
        return None if text is None else dict(json.loads(text))

    def to_dict(self) -> dict[str, Any]:
        """The info as MLflow's ``TraceInfo.to_dict()`` gives it."""
        when = datetime.fromtimestamp(self.request_time / 1000, tz=timezone.utc)
        out: dict[str, Any] = {
            "trace_id": self.trace_id,
            "trace_location": {"type": "MLFLOW_EXPERIMENT",
                               "mlflow_experiment": {"experiment_id": self.experiment_id}},
            "request_time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "state": self.state,
            "trace_metadata": dict(self.trace_metadata),
            "tags": dict(self.tags),
        }
        if self.request_preview is not None:
            out["request_preview"] = self.request_preview
        if self.response_preview is not None:
            out["response_preview"] = self.response_preview
        if self.execution_duration is not None:
            out["execution_duration_ms"] = self.execution_duration
        return out


@dataclass(frozen=True)
class TraceData:
    """A trace's spans, in start order (the root first)."""

    spans: list[Span]

    @property
    def request(self) -> str | None:
        """The root span's inputs as JSON text."""
        return self.spans[0].raw_attributes.get(SPAN_INPUTS) if self.spans else None

    @property
    def response(self) -> str | None:
        """The root span's outputs as JSON text."""
        return self.spans[0].raw_attributes.get(SPAN_OUTPUTS) if self.spans else None

    def to_dict(self) -> dict[str, Any]:
        """``{"spans": [...]}`` as MLflow's ``TraceData.to_dict()``."""
        return {"spans": [s.to_dict() for s in self.spans]}


@dataclass(frozen=True)
class Trace:
    """A trace: ``info`` (a :class:`TraceInfo`) and ``data`` (its spans)."""

    info: TraceInfo
    data: TraceData

    def __repr__(self) -> str:
        return f"Trace(trace_id={self.info.trace_id!r})"

    @property
    def trace_id(self) -> str:
        """The trace's id."""
        return self.info.trace_id

    def search_spans(self, span_type: str | None = None, name: str | None = None) -> list[Span]:
        """The spans of a type and/or a name.

        :param span_type: keep spans of this type.
        :param name: keep spans of this name.
        """
        return [s for s in self.data.spans if (span_type is None or s.span_type == span_type)
                and (name is None or s.name == name)]

    def to_dict(self) -> dict[str, Any]:
        """``{"info": ..., "data": {"spans": [...]}}``, as MLflow's ``Trace.to_dict()``."""
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}

    def to_json(self, pretty: bool = False) -> str:
        """The trace as MLflow's ``Trace.to_json()`` writes it (``mlflow.entities.Trace.from_json``
        reads it).

        :param pretty: indent the JSON.
        """
        return json.dumps(self.to_dict(), indent=2 if pretty else None)

    def _repr_html_(self) -> str | None:
        if not _html_renderer:
            return None
        return _html_renderer[0](self)


def trace_of(stored: StoredTrace) -> Trace:
    """The :class:`Trace` of a stored one.

    :param stored: the store's record (with spans).
    """
    info = TraceInfo(
        trace_id=stored.trace_id, experiment_id=stored.experiment_id, run_id=stored.run_id,
        request_time=stored.request_time, execution_duration=stored.execution_duration,
        state=stored.state, request_preview=stored.request_preview,
        response_preview=stored.response_preview, tags=dict(stored.tags),
        trace_metadata=dict(stored.metadata))
    spans = sorted((Span(s) for s in stored.spans or ()),
                   key=lambda s: (s.parent_id is not None, s.start_time_ns))
    return Trace(info, TraceData(spans))
