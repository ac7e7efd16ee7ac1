"""The inline trace view: a span tree with timelines, shown under the cell that traced, every
user string escaped (names, inputs, outputs, attribute keys and values, events, tags)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from magic_shell import TestingShell

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.tracing import Trace
from mlnb.widgets.trace_view import render_trace_html

pytest_plugins = ("magic_shell",)

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"


def _hostile_trace() -> Trace:
    @mlnb.trace(name="outer " + XSS, span_type=XSS)
    def outer(text: str) -> str:
        mlnb.update_current_trace(tags={"who" + XSS: XSS})
        with mlnb.start_span("inner " + XSS) as span:
            span.set_attribute("key " + XSS, {"nested": XSS})
            span.add_event("event " + XSS, {"attr": XSS})
            span.set_outputs(XSS)
        raise ValueError(XSS)

    with pytest.raises(ValueError):
        outer(XSS)
    return mlnb.get_trace(mlnb.get_last_active_trace_id() or "")


def assert_safe(html: str) -> None:
    assert not re.search(r"<\s*script", html, re.I)
    assert not re.search(r"<\s*img", html, re.I)
    assert "onerror=alert" not in html.replace(ESCAPED, "").replace(
        "onerror=alert(2)&gt;", "")  # only ever inside escaped text


def test_every_user_string_is_escaped(tracking: Path) -> None:
    trace = _hostile_trace()
    html = render_trace_html(trace)
    assert_safe(html)
    assert f"outer {ESCAPED}" in html and f"inner {ESCAPED}" in html  # span names
    assert f"<small style='color:var(--jp-ui-font-color2,#777)'>{ESCAPED}</small>" in html  # span type
    assert f"key {ESCAPED}" in html  # attribute key
    assert "&quot;nested&quot;: &quot;&lt;script&gt;" in html  # attribute value, pretty JSON
    assert f"Event event {ESCAPED}" in html and "exception" in html
    assert f"who{ESCAPED}={ESCAPED}" in html  # tags
    assert f"ValueError: {ESCAPED}" in html  # the error, highlighted
    assert "color:#c00" in html and "<details" in html and "http" not in html  # no network


def test_timeline_bars_and_inputs_outputs(tracking: Path) -> None:
    @mlnb.trace
    def root(n: int) -> list[int]:
        return [child(i) for i in range(n)]

    @mlnb.trace
    def child(i: int) -> int:
        return i * i

    root(3)
    trace = mlnb.get_trace(mlnb.get_last_active_trace_id() or "")
    html = render_trace_html(trace)
    assert html.count("<details") == 4
    assert len(re.findall(r"position:absolute;left:[0-9.]+%;width:[0-9.]+%", html)) == 4
    assert "&quot;n&quot;: 3" in html and "[\n  0,\n  1,\n  4\n]" in html
    assert trace._repr_html_() == html  # the view module is loaded: a Trace shows as HTML
    assert mlnb.show_trace()._repr_html_() == html
    assert mlnb.show_trace(trace.trace_id)._repr_html_() == html


def test_show_trace_without_any_trace_says_what_to_do(tracking: Path) -> None:
    from mlnb.tracing import span

    span._last_trace_id.clear()
    with pytest.raises(InvalidParameterError, match="pass a trace id to show_trace"):
        mlnb.show_trace()


def test_a_cell_that_traces_shows_its_traces_under_it(ip: TestingShell,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[dict[str, Any]] = []
    original = ip.display_pub.publish

    def publish(data: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        shown.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(ip.display_pub, "publish", publish)
    ip.run_cell("import mlnb\n@mlnb.trace\ndef hello(x):\n    return x\nvalue = 1")
    assert shown == []  # no trace, nothing shown
    ip.run_cell(f"hello({XSS!r})\nhello(2)")
    htmls = [d["text/html"] for d in shown if "text/html" in d]
    assert len(htmls) == 2 and all("hello" in h for h in htmls)
    assert ESCAPED in htmls[0]
    for html in htmls:
        assert_safe(html)
    assert [re.sub(r"tr-\w+", "ID", re.sub(r"\d+ ms", "T", d["text/plain"])) for d in shown] == [
        "Trace ID: OK, T, 1 spans"] * 2
    shown.clear()
    ip.run_cell("value = 2")
    assert shown == []
