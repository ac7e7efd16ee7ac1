"""A drift report as HTML for the notebook: the dataset verdict, the rule, and one row per column
with a verdict badge and the reference and current histograms overlaid (inline SVG, drawn from
the counts; no script).

Column names and category values are user data: every one goes through ``html.escape`` here,
and the whole block is marked so MathJax never typesets it.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlnb.monitor.drift import ColumnDrift, DriftReport
    from mlnb.monitor.watch import MonitorResult, WindowResult

NO_MATH = "tex2jax_ignore mathjax_ignore"
REF_COLOUR, CUR_COLOUR = "#8c959f", "#0969da"
STYLE = """<style>
.mlnb-drift{border-collapse:collapse;font-size:12px}
.mlnb-drift th,.mlnb-drift td{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:middle}
.mlnb-drift th{background:#f6f8fa}
.mlnb-badge{border-radius:8px;padding:1px 6px;color:#fff;font-weight:600}
</style>"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def badge(drifted: bool) -> str:
    """A coloured verdict badge.

    :param drifted: the verdict.
    """
    colour, text = ("#cf222e", "drift") if drifted else ("#1a7f37", "no drift")
    return f'<span class="mlnb-badge" style="background:{colour}">{text}</span>'


def histogram_svg(hist: dict[str, Any], width: int = 180, height: int = 40) -> str:
    """The reference (grey) and current (blue) shares per bin, overlaid, as a small SVG.

    :param hist: a column's ``histogram``.
    :param width: pixels.
    :param height: pixels.
    """
    ref, cur = hist.get("reference") or [], hist.get("current") or []
    if not ref:
        return ""
    rt, ct = max(sum(ref), 1), max(sum(cur), 1)
    shares = [(r / rt, c / ct) for r, c in zip(ref, cur, strict=True)]
    top = max(max(a, b) for a, b in shares) or 1.0
    w = width / len(shares)
    bars = []
    for i, (a, b) in enumerate(shares):
        for share, colour, opacity in ((a, REF_COLOUR, 0.6), (b, CUR_COLOUR, 0.45)):
            h = height * share / top
            bars.append(f'<rect x="{i * w:.1f}" y="{height - h:.1f}" width="{max(w - 1, 1):.1f}" '
                        f'height="{h:.1f}" fill="{colour}" fill-opacity="{opacity}"/>')
    return (f'<svg width="{width}" height="{height}" role="img" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>')


def _row(c: ColumnDrift) -> str:
    categories = c.histogram.get("categories")
    hover = ""
    if categories:  # category names as a tooltip (escaped), in bar order
        hover = f' title="{_e(", ".join(categories))}"'
    new = ""
    if c.new_category_count:
        shown = ", ".join(c.new_categories)
        more = f" (+{c.new_category_count - len(c.new_categories)} more)" if (
            c.new_category_count > len(c.new_categories)) else ""
        new = f"{_e(shown)}{_e(more)}"
    notes = "<br>".join(_e(w) for w in c.warnings)
    cells = [
        f"<b>{_e(c.column)}</b>" + (f" <i>({_e(c.role)})</i>" if c.role != "feature" else ""),
        _e(c.column_type), _e(c.stattest), _e(_num(c.statistic)), _e(_num(c.threshold)),
        badge(c.drifted), f"{c.reference_count:,} / {c.current_count:,}",
        f"{c.reference_missing_share:.1%} / {c.current_missing_share:.1%}", new,
        f"<span{hover}>{histogram_svg(c.histogram)}</span>", notes,
    ]
    return "<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>"


def report_html(report: DriftReport, title: str = "Drift report") -> str:
    """The whole report as escaped HTML.

    :param report: the drift report.
    :param title: its heading.
    """
    n = len(report.columns)
    verdict = (f"{badge(report.dataset_drift)} Dataset drift: {len(report.drifted_columns)} of "
               f"{n} columns drifted ({report.share_drifted:.0%}; the dataset drifts at "
               f"{report.drift_share:.0%}). Reference {report.reference_rows:,} rows, current "
               f"{report.current_rows:,} rows.")
    headers = ["Column", "Type", "Test", "Statistic", "Threshold", "Verdict",
               "Values (ref / cur)", "Missing (ref / cur)", "New categories",
               "Histogram (grey: reference, blue: current)", "Warnings"]
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(_row(c) for c in report.columns)
    return (f'{STYLE}<div class="{NO_MATH}"><h4>{_e(title)}</h4><p>{verdict}</p>'
            f"<p><small>{_e(report.rule)}</small></p>"
            f'<table class="mlnb-drift"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def _output_cell(drifted: bool | None, report: DriftReport | None) -> str:
    if drifted is None or report is None:
        return "<i>not tested</i>"
    detail = ", ".join(f"{_e(c.column)} {_e(c.stattest)} {_e(_num(c.statistic))}"
                       for c in report.columns)
    return f"{badge(drifted)} <small>{detail}</small>"


def _window_row(w: WindowResult) -> str:
    start = datetime.fromtimestamp(w.start_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")
    metrics = ", ".join(f"{_e(k)} {_e(_num(v))}" for k, v in w.model_metrics.items())
    cells = [str(w.index), _e(start), f"{w.rows:,}",
             f"{badge(w.dataset_drift)} {w.share_drifted:.0%}",
             _output_cell(w.prediction_drift, w.prediction_report),
             _output_cell(w.target_drift, w.target_report), metrics]
    return "<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>"


def monitor_html(result: MonitorResult) -> str:
    """What ``mlnb monitor`` reported, as escaped HTML: one row per window (feature drift share,
    prediction drift, target drift, the model's metrics), why an output was not tested, and the
    newest window's reports.

    :param result: the monitor's result.
    """
    head = "".join(f"<th>{_e(h)}</th>" for h in (
        "Window", "Start (UTC)", "Rows", "Input drift", "Prediction drift", "Target drift",
        "Model metrics"))
    rows = "".join(_window_row(w) for w in result.windows)
    notes = "".join(f"<p>{_e(n)}</p>" for n in result.notes)
    summary = (f"<p>Run {_e(result.run_id)} in {_e(result.experiment_name)}: "
               f"{len(result.windows)} new window(s); {result.already_reported:,} rows in windows "
               f"already reported, {result.open_rows:,} in a window still open.</p>")
    latest = ""
    if result.windows:
        last = result.windows[-1]
        latest = "".join(report_html(r, f"Window {last.index}: {title}") for r, title in (
            (last.report, "input drift"), (last.prediction_report, "prediction drift"),
            (last.target_report, "target drift")) if r is not None)
    return (f'{STYLE}<div class="{NO_MATH}"><h4>Monitoring</h4>{summary}{notes}'
            f'<table class="mlnb-drift"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
            f"</table>{latest}</div>")
