"""XSS payloads in run names, params, tags and artifact names stay text in every view.

Every HTML string a view produces (HTML widget values and the static ``text/html`` fallback) is
parsed: it may hold only our own tags and no event handler, link or source attribute. Every string
in every Plotly figure must be free of tags and ``$`` (MathJax).
"""

from __future__ import annotations

import html.parser
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest

import mlnb
from mlnb.errors import MlnbError
from mlnb.widgets import charts
from mlnb.widgets.escape import escape_html

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</script><script>alert(1)</script>",
    "$\\href{javascript:alert(1)}{x}$",
    "{{7*7}}",
    '<button data-commandlinker-command="console:create">x</button>',
]
ALLOWED_TAGS = {"style", "div", "table", "caption", "thead", "tbody", "tr", "th", "td", "span",
                "h4", "h5", "p", "i", "b", "code", "pre", "small", "br", "script"}


class _TagAudit(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("href", "src", "srcdoc") or name.startswith("data-"):
                if not (tag == "script" and name == "src" and (value or "").startswith("https://cdn")):
                    self.problems.append(f"attribute {name}={value!r} on <{tag}>")


def audit_html(text: str) -> list[str]:
    parser = _TagAudit()
    parser.feed(text)
    return parser.problems


def _strings(node: Any) -> list[str]:
    return charts.figure_text_fields(node)


def _make_runs(tmp: Path) -> list[str]:
    mlnb.set_experiment("xss")
    ids = []
    for i, payload in enumerate(PAYLOADS):
        with mlnb.start_run(run_name=payload) as run:
            mlnb.log_params({"p": payload, "C": str(i)})
            mlnb.set_tag("t", payload)
            mlnb.log_metric("acc", 0.1 * i, step=0)
            mlnb.log_metric("acc", 0.2 * i, step=1)
            mlnb.log_table({"col": [payload]}, "table.json")
            mlnb.log_text(payload, "notes.txt")
            try:
                mlnb.log_text(payload, f"{payload}.txt")
            except MlnbError:
                pass  # a name the artifact store refuses cannot reach a view
            ids.append(run.run_id)
    return ids


def _collect(widget: Any, htmls: list[str], figures: list[Any]) -> None:
    if isinstance(widget, (widgets.HTML, widgets.HTMLMath)):
        htmls.append(widget.value)
    if getattr(widget, "description_allow_html", False):
        htmls.append("<description_allow_html>")
    if isinstance(widget, widgets.Output):
        for output in widget.outputs:
            data = output.get("data", {})
            if charts.PLOTLY_MIME in data:
                figures.append(data[charts.PLOTLY_MIME])
            if "text/html" in data:
                htmls.append(data["text/html"])
    for child in getattr(widget, "children", ()):
        _collect(child, htmls, figures)
    if hasattr(widget, "_repr_mimebundle_") and hasattr(widget, "static_html"):
        htmls.append(widget._repr_mimebundle_()["text/html"])


def _check(view: Any) -> tuple[list[str], list[Any]]:
    htmls: list[str] = []
    figures: list[Any] = []
    _collect(view, htmls, figures)
    for text in htmls:
        assert [] == audit_html(text), text[:2000]
        for payload in PAYLOADS:
            assert "<" not in payload or payload not in text  # not even inside a <script>
    for spec in figures:
        for s in _strings(spec):
            assert "<img" not in s and "<svg" not in s and "<script" not in s.lower(), s
            assert "$" not in s, s
    return htmls, figures


MATH_IGNORE = {"mathjax_ignore", "tex2jax_ignore"}


def _all_widgets(widget: Any) -> list[Any]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(_all_widgets(child))
    return found


def assert_no_math(view: Any) -> None:
    """No user ``$`` reaches a MathJax typeset step of ipywidgets 8 (see its LabelView,
    DescriptionView and CheckboxView): Labels with a ``$`` carry the ignore classes, and no
    description typeset on its own element holds a ``$``."""
    for widget in _all_widgets(view):
        if isinstance(widget, widgets.Label) and "$" in widget.value:
            assert MATH_IGNORE <= set(widget._dom_classes), (widget.value, widget._dom_classes)
        description = getattr(widget, "description", "")
        if not isinstance(widget, widgets.Button) and isinstance(description, str):
            assert "$" not in description, description


@pytest.fixture
def xss_runs(tracking: Path) -> list[str]:
    return _make_runs(tracking)


def test_run_table_keeps_payloads_as_text(xss_runs: list[str]) -> None:
    table = mlnb.show_runs()
    _check(table)
    static_html = table._repr_mimebundle_()["text/html"]
    for payload in PAYLOADS:
        assert escape_html(payload) in static_html
    labels = [c.value for c in table.grid.children if isinstance(c, widgets.Label)]
    assert set(PAYLOADS) <= set(labels)
    # A Label sets textContent, then ipywidgets 8 runs MathJax over it: "$\\href{...}$" would
    # render as math (a live link) unless the widget carries MathJax's ignore classes.
    assert_no_math(table)


def test_comparison_keeps_payloads_as_text(xss_runs: list[str]) -> None:
    view = mlnb.compare(xss_runs)
    view.show_all.value = True
    view.draw_all()
    htmls, figures = _check(view)
    assert_no_math(view)
    assert 4 == len(figures)  # history, parallel coordinates, scatter, bars
    joined = "".join(htmls)
    for payload in PAYLOADS:
        assert escape_html(payload) in joined
    names = [t.get("name") for f in figures for t in f["data"] if t.get("name")]
    assert "&lt;img src=x onerror=alert(1)&gt;" in names
    assert "&#36;\\href{javascript:alert(1)}{x}&#36;" in names


@pytest.mark.parametrize("index", range(len(PAYLOADS)))
def test_run_detail_keeps_payloads_as_text(xss_runs: list[str], index: int) -> None:
    view = mlnb.show_run(xss_runs[index])
    htmls, _ = _check(view)
    assert_no_math(view)
    joined = "".join(htmls)
    assert joined.count(escape_html(PAYLOADS[index])) >= 4  # name, param, tag, artifacts


def test_charts_escape_every_user_field() -> None:
    from mlnb.entities import Metric, Run, RunData, RunInfo

    runs = [Run(RunInfo(f"id{i}", "0", p, "FINISHED", 0, 1, ""),
                RunData(metrics={p: 1.0 + i}, params={p: p, "n": str(i)})) for i, p in enumerate(PAYLOADS)]
    figures = [
        charts.metric_history_figure([(p, [Metric(p, 1.0, 0, 0)]) for p in PAYLOADS], PAYLOADS[0]),
        charts.parallel_coordinates_figure(runs, PAYLOADS[1]),
        charts.param_scatter_figure(runs, PAYLOADS[2], PAYLOADS[2]),
        charts.final_metrics_figure(runs),
        charts.sparkline_figure([Metric(PAYLOADS[3], 1.0, 0, 0)], PAYLOADS[3]),
    ]
    for fig in figures:
        spec = fig.to_plotly_json()
        for s in _strings(spec):
            assert "<img" not in s and "<svg" not in s and "<script" not in s.lower(), s
            assert "$" not in s, s


def test_widgets_package_names_stay_functions() -> None:
    import mlnb.widgets
    import mlnb.widgets.comparison  # importing the module must not shadow compare()

    assert callable(mlnb.widgets.compare) and mlnb.compare is mlnb.widgets.compare
    assert callable(mlnb.show_runs) and callable(mlnb.show_run)


def test_plotly_artifact_preview_escapes_every_text_field() -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from mlnb.widgets import previews

    bad = "<img src=x onerror=alert(1)>"
    math = "$\\href{javascript:alert(1)}{x}$"
    fig = make_subplots(rows=1, cols=2, specs=[[{"secondary_y": True}, {"type": "table"}]])
    fig.add_trace(go.Bar(x=[bad, math], y=[1, 2], name=bad, marker_color="#ff0000",
                         hovertemplate=bad + " %{x}", texttemplate=math + "%{y}"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[bad], y=[3], mode="lines+markers", name="ok"), row=1, col=1,
                  secondary_y=True)
    fig.add_trace(go.Table(header={"values": [bad, math]}, cells={"values": [[bad], [math]]}),
                  row=1, col=2)
    fig.update_layout(legend_title_text=bad, yaxis2_title_text=math,
                      xaxis={"tickvals": [0, 1], "ticktext": [bad, math], "tickformat": "$,.2f"},
                      font_family="Open Sans, verdana")
    out = previews._figure_widget(fig.to_plotly_json())
    spec = out.outputs[0]["data"][charts.PLOTLY_MIME]
    for s in _strings(spec):
        assert "<img" not in s and "$\\href" not in s, s
    bar, scatter, table = spec["data"]
    assert (bar["type"], scatter["type"], table["type"]) == ("bar", "scatter", "table")
    assert scatter["mode"] == "lines+markers" and bar["marker"]["color"] == "#ff0000"
    assert bar["x"][0] == "&lt;img src=x onerror=alert(1)&gt;"
    assert "hovertemplate" not in bar and "texttemplate" not in bar  # never user format strings
    assert table["header"]["values"][0] == "&lt;img src=x onerror=alert(1)&gt;"
    layout = spec["layout"]
    assert layout["xaxis"]["tickformat"] == "$,.2f"  # a d3 format, not text: left as it is
    assert layout["font"]["family"] == "Open Sans, verdana"
    assert layout["legend"]["title"]["text"].startswith("&lt;img")
    assert layout["yaxis2"]["title"]["text"].startswith("&#36;")
