"""Static HTML for the views: the tables inside the widgets, and the fallbacks shown where no
widget can render (nbconvert, nbclient output, a static viewer).

Every cell goes through :func:`escape_html` here, at the sink; callers pass raw text. Class names
and colours come from our own constants, never from user data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlnb.widgets.data import STATUS_COLOURS
from mlnb.widgets.escape import escape_html

if TYPE_CHECKING:
    import plotly.graph_objects as go

# MathJax must never typeset user text ("$\\href{javascript:...}$"): these classes tell it to skip.
NO_MATH = "tex2jax_ignore mathjax_ignore"
TABLE_CLASS = f"mlnb-table {NO_MATH}"
STYLE = """<style>
.mlnb-table{border-collapse:collapse;font-size:12px;margin:4px 0}
.mlnb-table th,.mlnb-table td{border:1px solid #d0d7de;padding:2px 8px;text-align:left;
vertical-align:top;max-width:420px;overflow-wrap:anywhere}
.mlnb-table th{background:#f6f8fa}
.mlnb-table tr.mlnb-diff td{background:#fff8c5}
.mlnb-table td.mlnb-num{text-align:right;font-variant-numeric:tabular-nums}
.mlnb-code{font-size:12px;max-height:320px;overflow:auto;background:#f6f8fa;padding:6px}
.mlnb-error{color:#cf222e;white-space:pre-wrap;font-family:monospace;font-size:12px}
</style>"""


def status_html(status: str) -> str:
    """A run status as coloured, escaped HTML.

    :param status: the status.
    """
    colour = STATUS_COLOURS.get(status, "#57606a")
    return f'<span style="color:{colour};font-weight:600">{escape_html(status)}</span>'


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    highlight: Sequence[bool] | None = None,
    status_column: int | None = None,
    caption: str | None = None,
) -> str:
    """A ``<table>`` of escaped text; ``highlight`` marks rows, ``status_column`` gets colour.

    :param headers: the column headings.
    :param rows: the cells' raw text, row by row.
    :param highlight: per row, whether to highlight it.
    :param status_column: the index of a column holding run statuses.
    :param caption: a caption.
    """
    head = "".join(f"<th>{escape_html(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            inner = status_html(cell) if j == status_column else escape_html(cell)
            cells.append(f"<td>{inner}</td>")
        mark = ' class="mlnb-diff"' if highlight and highlight[i] else ""
        body.append(f"<tr{mark}>{''.join(cells)}</tr>")
    cap = f"<caption>{escape_html(caption)}</caption>" if caption else ""
    return (f'<table class="{TABLE_CLASS}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def key_value_table(items: Sequence[tuple[str, str]], headers: Sequence[str] = ("Key", "Value")
                    ) -> str:
    """A two-column table of pairs, or "None." when there are none.

    :param items: ``(key, value)`` pairs of raw text.
    :param headers: the two headings.
    """
    if not items:
        return "<p><i>None.</i></p>"
    return html_table(headers, [[k, v] for k, v in items])


def plain(html: str) -> str:
    """Wrap HTML holding user text in a block MathJax skips.

    :param html: the HTML.
    """
    return f'<div class="{NO_MATH}">{html}</div>'


def error_html(message: str) -> str:
    """An error message as escaped red text ("" for no message).

    :param message: the message.
    """
    return f'<div class="mlnb-error {NO_MATH}">{escape_html(message)}</div>' if message else ""


def code_html(source: str, language: str = "python") -> str:
    """Source code with syntax highlighting (Pygments escapes the text), or plain escaped.

    :param source: the code.
    :param language: a Pygments lexer name.
    """
    try:
        from pygments import highlight  # pygments: loaded on first use, not by import mlnb
        from pygments.formatters import HtmlFormatter  # pygments: loaded on first use, not by import mlnb
        from pygments.lexers import get_lexer_by_name  # pygments: loaded on first use, not by import mlnb
    except ImportError:  # pragma: no cover - Pygments comes with IPython
        return plain(f'<pre class="mlnb-code">{escape_html(source)}</pre>')
    formatter = HtmlFormatter(noclasses=True, nowrap=False, cssclass="mlnb-code")
    return plain(str(highlight(source, get_lexer_by_name(language), formatter)))


def figure_html(fig: go.Figure) -> str:
    """A figure as HTML for a static page (plotly.js from its CDN, loaded where there is one).

    :param fig: a Plotly figure.
    """
    return str(fig.to_html(full_html=False, include_plotlyjs="cdn",
                           config={"displaylogo": False}))


def page(title: str, *parts: str) -> str:
    """A fallback block: our style, a heading and the parts, in one ``<div>``.

    :param title: the heading (escaped).
    :param parts: HTML blocks, already escaped.
    """
    return f'{STYLE}<div class="mlnb-static {NO_MATH}"><h4>{escape_html(title)}</h4>{"".join(parts)}</div>'
