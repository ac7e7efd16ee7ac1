"""Values written into generated Python (``main.py``, the offline layer's ``.pth``): always literals.

Every name, path, parameter value, tag, help text and the notebook's file name that mlnb writes
into code it generates goes through one of these three functions, so that no value can close a
string, a docstring or a comment and run as code:

* :func:`literal`: Python source that evaluates to the same value (``1e999`` for infinity, whose
  ``repr`` is the name ``inf``; ``float('nan')``, the one value without a literal);
* :func:`docstring`: a triple-quoted string in which every quote, backslash and control character
  is escaped, so it ends only where the generator ends it;
* :func:`comment`: one line of comment text in which every line break or control character is
  shown as an escape (Python ends a comment at ``\\r`` as well as at ``\\n``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypeAlias

# list and tuple are the sequences written (a str is a Sequence too, and is matched first).
LiteralValue: TypeAlias = str | int | float | bool | Sequence["LiteralValue"] \
    | Mapping[str, "LiteralValue"] | None


def literal(value: LiteralValue) -> str:
    """``value`` as Python source that evaluates to ``value`` (read back by
    :func:`ast.literal_eval` too, except a NaN).

    :param value: a str, int, float, bool or None, or a list, tuple or str-keyed mapping of them.
    :raises TypeError: for any other type (an object's ``repr`` is not a literal).
    """
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)  # a str's repr escapes quotes, backslashes and control characters
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        return repr(value) if math.isfinite(value) else ("-1e999" if value < 0 else "1e999")
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(literal(item) + ", " for item in value).rstrip(" ") + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"{type(value).__name__} is not written into generated code as a literal")


def _escaped(char: str, keep_newline: bool) -> str:
    if char == "\n" and keep_newline:
        return char
    if char in "\\\"'":
        return "\\" + char
    if char.isprintable() or char == " ":
        return char
    return repr(char)[1:-1]  # \x01, \r, \u2028, \udcff: the escape Python reads back


def docstring(text: str) -> str:
    """``text`` as a triple-quoted string literal whose value is exactly ``text``.

    :param text: any text, quotes, backslashes and control characters included.
    """
    return '"""' + "".join(_escaped(char, keep_newline=True) for char in text) + '"""'


def comment(text: str) -> str:
    """``text`` for the rest of a ``#`` comment: one line, control characters shown as escapes.

    :param text: any text; line breaks (``\\n``, ``\\r``, form feeds, ...) never end the comment.
    """
    return "".join(char if char.isprintable() or char == " " else repr(char)[1:-1] for char in text)
