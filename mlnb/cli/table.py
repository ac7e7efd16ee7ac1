"""Readable plain-text tables for the terminal (and ``--json`` for scripts).

Every value a user (or whoever wrote the store) chose reaches the terminal through
:func:`visible`: an escape sequence in a run name could otherwise set the window title, clear the
screen, forge a hyperlink or write to the clipboard. JSON output needs nothing more, since
``json.dumps`` writes control characters as ``\\u001b``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from typing import Any

from mlnb.terminal import visible

__all__ = ["dump_json", "render", "visible"]

def render(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 40) -> str:
    """Columns padded to their widest cell (cut at ``max_width`` with an ellipsis); control
    characters in a cell are shown escaped (:func:`visible`).

    :param headers: the column headings.
    :param rows: the cells, row by row.
    :param max_width: the widest a cell may be.
    """
    def cell(value: Any) -> str:
        text = visible(value)
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    width = shutil.get_terminal_size((200, 20)).columns
    return "\n".join(line[: max(width, 80)] for line in lines)


def dump_json(data: Any) -> str:
    """Data as indented JSON (other objects as text; NaN and infinities are an error).

    :param data: JSON-ready data.
    """
    return json.dumps(data, indent=2, default=str, allow_nan=False)
