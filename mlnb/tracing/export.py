"""Traces as JSON other tools read: OTLP JSON (OpenTelemetry's ``ExportTraceServiceRequest``) and
MLflow's form (a list of ``Trace.to_dict()``, each readable by ``mlflow.entities.Trace.from_dict``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from mlnb._version import __version__
from mlnb.errors import InvalidParameterError
from mlnb.tracing import writer
from mlnb.tracing.entities import Span, Trace, trace_of
from mlnb.tracking.client import current_client
from mlnb.tracking.experiment import active_experiment_id

FORMATS = ("otlp-json", "mlflow-json")
_PAGE = 1_000


def iter_traces(experiment_ids: Sequence[str] | None = None,
                run_id: str | None = None) -> Iterator[Trace]:
    """Every trace of these experiments (or of a run), oldest first, page by page.

    :param experiment_ids: the experiments; default the active one (the run's, with ``run_id``).
    :param run_id: only this run's traces.
    """
    writer.flush()
    store = current_client().store
    if not experiment_ids:
        experiment_ids = ([store.get_run(run_id).info.experiment_id] if run_id
                          else [active_experiment_id()])
    offset = 0
    while True:
        found = store.search_traces(list(experiment_ids), None, _PAGE, ["timestamp_ms ASC"],
                                    offset, run_id)
        for stored in found:
            yield trace_of(stored)
        if len(found) < _PAGE:
            return
        offset += len(found)


def export_traces(experiment_ids: Sequence[str] | None = None, run_id: str | None = None,
                  format: str = "otlp-json") -> str:
    """The traces of experiments (or of a run) as JSON text.

    :param experiment_ids: the experiments; default the active one.
    :param run_id: only this run's traces.
    :param format: ``"otlp-json"`` (OpenTelemetry's OTLP/JSON ``ExportTraceServiceRequest``) or
        ``"mlflow-json"`` (a list of MLflow ``Trace.to_dict()`` objects).
    :raises InvalidParameterError: for another format.
    """
    if format not in FORMATS:
        raise InvalidParameterError(
            f"Unknown trace export format {format!r}; use {' or '.join(FORMATS)}.")
    traces = list(iter_traces(experiment_ids, run_id))
    if format == "mlflow-json":
        return json.dumps([t.to_dict() for t in traces], indent=1)
    return json.dumps(to_otlp(traces), indent=1)


def to_otlp(traces: Sequence[Trace]) -> dict[str, Any]:
    """Traces as an OTLP/JSON ``ExportTraceServiceRequest``: ids in hex, times as decimal
    strings, attributes as typed ``AnyValue`` (MLflow's span attributes keep their JSON text,
    as MLflow sends them over OTLP).

    :param traces: the traces.
    """
    spans = [_otlp_span(s) for t in traces for s in t.data.spans]
    return {"resourceSpans": [{
        "resource": {"attributes": [_kv("service.name", "mlnb")]},
        "scopeSpans": [{"scope": {"name": "mlnb.tracing", "version": __version__},
                        "spans": spans}],
    }]} if spans else {"resourceSpans": []}


def _otlp_span(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id[3:],
        "spanId": span.span_id,
        "name": span.name,
        "kind": "SPAN_KIND_INTERNAL",
        "startTimeUnixNano": str(span.start_time_ns),
        "endTimeUnixNano": str(span.end_time_ns or span.start_time_ns),
        "attributes": [_kv(k, v) for k, v in span.raw_attributes.items()],
        "events": [{"timeUnixNano": str(e.timestamp), "name": e.name,
                    "attributes": [_kv(k, v) for k, v in e.attributes.items()]}
                   for e in span.events],
        "status": {"code": {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR"}.get(
            span.status.status_code, "STATUS_CODE_UNSET")},
    }
    if span.status.description:
        out["status"]["message"] = span.status.description
    if span.parent_id:
        out["parentSpanId"] = span.parent_id
    return out


def _kv(key: str, value: Any) -> dict[str, Any]:
    return {"key": str(key), "value": any_value(value)}


def any_value(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue`` for a JSON value (64-bit integers as decimal strings, per OTLP/JSON).

    :param value: a value made of JSON types.
    """
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int) and -2**63 <= value < 2**63:
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [_kv(k, v) for k, v in value.items()]}}
    return {"stringValue": "" if value is None else str(value)}
