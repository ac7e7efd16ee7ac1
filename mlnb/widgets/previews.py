"""Artifact previews: images, text, JSON, ``log_table`` tables and Plotly figures.

Files are read through the store's checked paths (:meth:`Store.artifact_path`), only up to
:data:`MAX_PREVIEW_BYTES`; everything shown as HTML is escaped. Images go to an ``Image`` widget
(an ``<img>`` of a blob, so an SVG's scripts never run).
"""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets

from mlnb.entities import FileInfo
from mlnb.errors import MlnbError
from mlnb.store import Store
from mlnb.widgets import charts, static
from mlnb.widgets.escape import escape_html, escape_plotly

MAX_PREVIEW_BYTES = 512 * 1024
MAX_FILES = 500
IMAGE_FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "webp": "webp",
                 "svg": "svg+xml"}
TEXT_SUFFIXES = {"txt", "log", "md", "py", "yaml", "yml", "csv", "tsv", "toml", "cfg", "ini",
                 "mlmodel", "mlproject", "sh", "r", "sql", "html", "htm", "xml", "ipynb"}


def walk_artifacts(store: Store, run_id: str, limit: int = MAX_FILES) -> list[FileInfo]:
    """Every artifact file of the run (folders walked), at most ``limit`` of them.

    :param store: the run's store.
    :param run_id: the run.
    :param limit: at most this many files.
    """
    files: list[FileInfo] = []
    pending = [""]
    while pending and len(files) < limit:
        for entry in store.list_artifacts(run_id, pending.pop(0)):
            if entry.is_dir:
                pending.append(entry.path)
            elif len(files) < limit:
                files.append(entry)
    return files


def kind_of(path: str) -> str:
    """``image``, ``json``, ``text`` or ``other``, from the file name.

    :param path: the artifact's path.
    """
    name = path.rsplit("/", 1)[-1].lower()
    suffix = name.rsplit(".", 1)[-1] if "." in name else name
    if suffix in IMAGE_FORMATS:
        return "image"
    if suffix == "json":
        return "json"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return "other"


def json_preview_html(value: Any) -> str:
    """A ``log_table`` table as an HTML table (first 200 rows), else the JSON pretty-printed (escaped).

    :param value: the parsed JSON.
    """
    if (isinstance(value, dict) and isinstance(value.get("columns"), list)
            and isinstance(value.get("data"), list)):
        rows = [[_cell(c) for c in row] for row in value["data"][:200] if isinstance(row, list)]
        more = len(value["data"]) - len(rows)
        note = f"<p><i>{more} more rows not shown.</i></p>" if more > 0 else ""
        return static.html_table([str(c) for c in value["columns"]], rows) + note
    text = json.dumps(value, indent=2)[:MAX_PREVIEW_BYTES]
    return static.plain(f'<pre class="mlnb-code">{escape_html(text)}</pre>')


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def is_plotly_json(value: Any) -> bool:
    """Whether parsed JSON looks like a Plotly figure (``data`` list and ``layout``).

    :param value: the parsed JSON.
    """
    return isinstance(value, dict) and isinstance(value.get("data"), list) and "layout" in value


def preview(store: Store, run_id: str, info: FileInfo) -> widgets.Widget:
    """A widget showing one artifact, or a note saying why it is not shown.

    :param store: the run's store.
    :param run_id: the run.
    :param info: the artifact file.
    """
    kind = kind_of(info.path)
    size = info.file_size or 0
    if kind == "other":
        return widgets.HTML(f"<i>No preview for this file type ({size:,} bytes).</i>")
    if size > MAX_PREVIEW_BYTES:
        return widgets.HTML(f"<i>Too large to preview ({size:,} bytes).</i>")
    try:
        raw = store.artifact_path(run_id, info.path).read_bytes()
    except (OSError, MlnbError) as exc:
        return widgets.HTML(static.error_html(f"Cannot read {info.path}: {exc}"))
    if kind == "image":
        suffix = info.path.rsplit(".", 1)[-1].lower()
        return widgets.Image(value=raw, format=IMAGE_FORMATS[suffix],
                             layout=widgets.Layout(max_width="480px"))
    text = raw.decode("utf-8", errors="replace")
    if kind == "json":
        try:
            value = json.loads(text)
        except ValueError:
            return widgets.HTML(static.plain(f'<pre class="mlnb-code">{escape_html(text)}</pre>'))
        if is_plotly_json(value):
            return _figure_widget(value)
        return widgets.HTML(static.STYLE + json_preview_html(value))
    return widgets.HTML(static.STYLE + static.plain(f'<pre class="mlnb-code">{escape_html(text)}</pre>'))


def _figure_widget(spec: dict[str, Any]) -> widgets.Widget:
    """A logged Plotly figure, redrawn from its JSON; text fields escaped like our own charts."""
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    try:
        fig = go.Figure(spec)
    except ValueError as exc:
        return widgets.HTML(static.error_html(f"Not a valid Plotly figure: {exc}"))
    sanitize_figure(fig)
    out = widgets.Output()
    out.outputs = (charts.figure_output(fig),)
    return out


# Strings plotly interprets rather than shows: enumerations, colours, fonts, ids and d3 formats
# ("$,.2f" is a currency format). They never hold '<', '>' or '&' meaningfully, and escaping '$'
# would break a format; every other string is text plotly draws and gets escaped.
_INTERPRETED_KEYS = frozenset({"type", "mode", "uid", "family", "hoverinfo", "textinfo",
                               "textposition", "orientation", "xaxis", "yaxis", "anchor",
                               "overlaying", "matches", "scaleanchor", "side", "layer"})
_INTERPRETED_SUFFIXES = ("color", "colorscale", "colorway", "format", "src", "calendar", "mode")


def sanitize_figure(fig: Any) -> None:
    """Escape every text string of a figure someone else built, in place.

    The whole figure JSON is walked: trace names, category values, ``ticktext``, legend and
    secondary-axis titles, table headers and cells... all go through ``escape_plotly``. Format
    templates (``hovertemplate``, ``texttemplate``...) are dropped: plotly would interpret user text
    inside them, and our previews show the values without them.

    :param fig: a Plotly figure.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    clean = sanitized_spec(fig.to_plotly_json())
    rebuilt = go.Figure(clean)
    fig.data = ()
    fig.add_traces(rebuilt.data)
    fig.layout = rebuilt.layout


def sanitized_spec(node: Any, key: str = "") -> Any:
    """A copy of plotly JSON with every drawn string escaped and every ``*template`` string dropped.

    :param node: the JSON (or a part of it).
    :param key: the key ``node`` sits under, which says whether a string is drawn or interpreted.
    """
    if isinstance(node, str):
        lowered = key.lower()
        if lowered in _INTERPRETED_KEYS or lowered.endswith(_INTERPRETED_SUFFIXES):
            return node
        return escape_plotly(node)
    if isinstance(node, dict):
        return {k: sanitized_spec(v, k) for k, v in node.items()
                if not (str(k).lower().endswith("template") and not isinstance(v, dict))}
    if isinstance(node, (list, tuple)):
        return [sanitized_spec(v, key) for v in node]
    if getattr(getattr(node, "dtype", None), "kind", "") in ("U", "S", "O"):  # numpy text arrays
        return sanitized_spec(node.tolist(), key)
    return node
