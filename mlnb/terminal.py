"""Text for a terminal: every control character a value could carry, shown as an escape.

A run name, a param, a tag or a line of data printed to a terminal can carry escape sequences
that set the window title, clear the screen, forge a hyperlink or write to the clipboard (OSC
52). Everything mlnb prints for a human goes through :func:`visible`, which shows them as
``\\x1b``-style escapes instead. JSON output needs nothing more: ``json.dumps`` escapes them.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL and C1 controls (ESC, BEL, CSI = U+009B, OSC = U+009D...), and the Unicode
# bidirectional controls, which reorder what the terminal shows.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(value: Any, keep_newlines: bool = False) -> str:
    """``value`` as text with every control character shown as an escape (``\\x1b``).

    :param value: anything printed for a human (None prints as nothing).
    :param keep_newlines: keep line breaks (for a whole multi-line message of our own).
    """
    text = "" if value is None else str(value)
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
