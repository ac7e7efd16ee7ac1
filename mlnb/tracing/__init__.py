"""GenAI tracing in MLflow's model: spans of LLM pipelines, stored as traces in the store.

``@mlnb.trace`` and ``with mlnb.start_span(...)`` record spans (parents by call context); a trace
is queued when its root span ends and written in batches by a background thread
(:mod:`mlnb.tracing.writer`). Attribute names and trace ids are MLflow's, so exports
(:mod:`mlnb.tracing.export`) read back in MLflow and OpenTelemetry tools.
"""

from mlnb.tracing.entities import Span, SpanEvent, SpanStatus, Trace, TraceData, TraceInfo
from mlnb.tracing.export import export_traces
from mlnb.tracing.fluent import (
    delete_traces,
    flush_trace_async_logging,
    get_active_trace_id,
    get_current_active_span,
    get_last_active_trace_id,
    get_trace,
    search_traces,
    set_trace_tag,
    start_span,
    trace,
    update_current_trace,
)
from mlnb.tracing.span import LiveSpan, SpanStatusCode, SpanType

__all__ = ["LiveSpan", "Span", "SpanEvent", "SpanStatus", "SpanStatusCode", "SpanType", "Trace",
           "TraceData", "TraceInfo", "delete_traces", "export_traces", "flush_trace_async_logging",
           "get_active_trace_id", "get_current_active_span", "get_last_active_trace_id",
           "get_trace", "search_traces", "set_trace_tag", "start_span", "trace",
           "update_current_trace"]
