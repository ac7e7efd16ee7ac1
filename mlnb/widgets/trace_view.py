"""A trace as self-contained HTML: a collapsible span tree with a timeline bar per span.

No script and no network: ``<details>`` elements fold and unfold, styles are inline, in
JupyterLab's theme variables (light fallbacks elsewhere) so the dark theme reads well. Every
user string (span names, types, inputs, outputs, attribute keys and values, event texts, tags)
goes through :func:`~mlnb.widgets.escape.escape_html`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.tracing import encode
from mlnb.tracing.entities import Span, Trace, set_html_renderer
from mlnb.tracing.fluent import get_last_active_trace_id, get_trace
from mlnb.tracing.keys import SPAN_FUNCTION_NAME, SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE
from mlnb.widgets.escape import escape_html

_HIDDEN = {SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, SPAN_FUNCTION_NAME, "mlflow.traceRequestId"}
MAX_TEXT = 20_000
_MUTED = "var(--jp-ui-font-color2,#555)"
_CODE_BACK = "var(--jp-cell-editor-background,#fafafa)"
_STYLE = ("font-family:var(--jp-content-font-family,sans-serif);font-size:13px;"
          "border:1px solid var(--jp-border-color2,#ccc);border-radius:4px;padding:6px;max-width:100%")


def render_trace_html(trace: Trace) -> str:
    """The trace as one self-contained HTML fragment.

    :param trace: the trace.
    """
    info = trace.info
    spans = trace.data.spans
    start = min((s.start_time_ns for s in spans), default=0)
    end = max((s.end_time_ns or s.start_time_ns for s in spans), default=start)
    total = max(end - start, 1)
    children: dict[str | None, list[Span]] = defaultdict(list)
    ids = {s.span_id for s in spans}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children[parent].append(span)
    usage = info.token_usage
    head = (f"<b>Trace</b> <code>{escape_html(info.trace_id)}</code> · "
            f"{_state(info.state)} · {escape_html(info.execution_duration)} ms · "
            f"{len(spans)} span{'s' if len(spans) != 1 else ''}")
    if usage:
        head += " · tokens " + escape_html(
            f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out")
    if info.run_id:
        head += f" · run <code>{escape_html(info.run_id)}</code>"
    tags = {k: v for k, v in info.tags.items() if not k.startswith("mlflow.")}
    if tags:
        head += "<br>" + " ".join(
            f"<span style='background:var(--jp-layout-color2,#eef);padding:0 4px;border-radius:3px'>"
            f"{escape_html(k)}={escape_html(v)}</span>" for k, v in tags.items())
    body = "".join(_span_html(s, children, start, total, 0) for s in children[None])
    # MathJax must never typeset user text ("$\\href{javascript:...}$"): these classes tell it to skip.
    return (f"<div class='mlnb-trace tex2jax_ignore mathjax_ignore' style='{_STYLE}'>"
            f"<div style='margin-bottom:4px'>{head}"
            f"</div>{body}</div>")


def _state(state: str) -> str:
    color = "#c00" if state == "ERROR" else "#080"
    return f"<b style='color:{color}'>{escape_html(state)}</b>"


def _span_html(span: Span, children: dict[str | None, list[Span]], start: int, total: int,
               depth: int) -> str:
    end = span.end_time_ns or span.start_time_ns
    left = 100.0 * (span.start_time_ns - start) / total
    width = max(100.0 * (end - span.start_time_ns) / total, 0.5)
    error = span.status.status_code == "ERROR"
    bar_color = "#d33" if error else "#4a8"
    ms = (end - span.start_time_ns) / 1e6
    summary = (
        f"<summary style='cursor:pointer;display:flex;align-items:center;gap:6px'>"
        f"<span style='flex:0 0 40%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;"
        f"{'color:#c00;font-weight:bold' if error else ''}'>{escape_html(span.name)} "
        f"<small style='color:var(--jp-ui-font-color2,#777)'>{escape_html(span.span_type)}</small></span>"
        f"<span style='flex:1;position:relative;height:10px;background:var(--jp-layout-color2,#f3f3f3)'>"
        f"<span style='position:absolute;left:{left:.2f}%;width:{width:.2f}%;height:10px;"
        f"background:{bar_color}'></span></span>"
        f"<span style='flex:0 0 70px;text-align:right'>{ms:.1f} ms</span></summary>")
    parts = [summary, "<div style='margin-left:14px'>"]
    if error:
        parts.append(f"<div style='color:#c00'>{escape_html(span.status.description)}</div>")
    for label, key in (("Inputs", SPAN_INPUTS), ("Outputs", SPAN_OUTPUTS)):
        raw = span.raw_attributes.get(key)
        if raw is not None:
            parts.append(_block(label, _pretty(raw)))
    extra = {k: v for k, v in span.raw_attributes.items() if k not in _HIDDEN}
    if extra:
        rows = "".join(f"<tr><td style='vertical-align:top;color:{_MUTED}'>{escape_html(k)}</td>"
                       f"<td><pre style='margin:0;white-space:pre-wrap'>"
                       f"{escape_html(_clip(_pretty(v)))}</pre></td></tr>"
                       for k, v in extra.items())
        parts.append(f"<div><b>Attributes</b><table>{rows}</table></div>")
    for event in span.events:
        style = "color:#c00" if event.name == "exception" else ""
        text = json.dumps(event.attributes, indent=1, ensure_ascii=False)
        parts.append(f"<div style='{style}'><b>Event {escape_html(event.name)}</b>"
                     f"<pre style='margin:0;white-space:pre-wrap'>{escape_html(_clip(text))}"
                     "</pre></div>")
    parts.extend(_span_html(c, children, start, total, depth + 1) for c in children[span.span_id])
    parts.append("</div>")
    border = "#d33" if error else "var(--jp-border-color2,#ddd)"
    return (f"<details {'open' if depth < 2 or error else ''} style='border-left:2px solid "
            f"{border};padding-left:4px;margin:2px 0'>{''.join(parts)}</details>")


def _block(label: str, text: str) -> str:
    return (f"<div><b>{label}</b><pre style='margin:0;white-space:pre-wrap;background:{_CODE_BACK}'>"
            f"{escape_html(_clip(text))}</pre></div>")


def _pretty(raw: str) -> str:
    value = encode.loads(raw)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"… ({len(text):,} characters)"


class TraceView:
    """What :func:`show_trace` returns: the trace, shown as HTML by a notebook.

    :param trace: the trace.
    """

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def _repr_html_(self) -> str:
        return render_trace_html(self.trace)

    def __repr__(self) -> str:
        return repr(self.trace)


def show_trace(trace: Any = None) -> TraceView:
    """A trace's span tree and timeline, shown inline in a notebook.

    :param trace: a trace id, a :class:`~mlnb.tracing.Trace`, or None for the last trace
        finished in this process.
    :raises InvalidParameterError: when None is given and no trace has finished yet.
    """
    if trace is None:
        trace = get_last_active_trace_id()
        if trace is None:
            raise InvalidParameterError(
                "No trace has finished in this process yet; pass a trace id to show_trace().")
    if not isinstance(trace, Trace):
        trace = get_trace(str(trace))
    return TraceView(trace)


set_html_renderer(render_trace_html)
