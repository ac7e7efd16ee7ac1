"""Escaping every user string where it becomes HTML or Plotly text.

Run names, params, tags and artifact names are user data: in a live notebook JupyterLab renders
HTML output unsanitised, and Plotly renders a pseudo-HTML subset (and MathJax between ``$``) in
trace names, titles and hover text. Everything user-supplied goes through one of these.
"""

from __future__ import annotations

import html
from typing import Any


def escape_html(value: Any) -> str:
    """Text for an HTML sink: ``&``, ``<``, ``>``, ``"`` and ``'`` escaped (None becomes "").

    :param value: any value, converted with ``str``.
    """
    return html.escape("" if value is None else str(value), quote=True)


def escape_plotly(value: Any) -> str:
    """Text for a Plotly label, legend, title or hover text.

    Plotly decodes HTML entities when it draws, so the escaped text still reads correctly, but tags
    such as ``<a href=javascript:...>`` and MathJax (``$\\href{...}$``) are never interpreted.

    :param value: any value, converted with ``str`` (None becomes "").
    """
    # Quotes stay as they are: Plotly does not decode &quot; (it would show the entity), and
    # with '<' escaped no tag or attribute can form in its text.
    text = html.escape("" if value is None else str(value), quote=False)
    return text.replace("$", "&#36;")
