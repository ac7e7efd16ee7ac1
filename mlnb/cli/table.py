"""Readable plain-text tables for the terminal (and ``--json`` for scripts)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from typing import Any


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 40) -> str:
    """Columns padded to their widest cell (cut at ``max_width`` with an ellipsis).

    :param headers: the column headings.
    :param rows: the cells, row by row.
    :param max_width: the widest a cell may be.
    """
    def cell(value: Any) -> str:
        text = "" if value is None else str(value).replace("\n", " ")
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
