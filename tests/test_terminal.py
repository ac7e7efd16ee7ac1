"""What mlnb prints for a human never drives the terminal: control characters are shown escaped."""

from __future__ import annotations

import pytest

from mlnb.projects.progress import Progress, print_line
from mlnb.terminal import visible

HOSTILE = "run\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eend"


def test_visible_escapes_c0_c1_and_bidi_controls() -> None:
    assert visible(HOSTILE) == "run\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202eend"


def test_visible_keeps_line_breaks_only_when_asked() -> None:
    assert visible("a\nb\tc") == "a\\nb\\tc"
    assert visible("a\nb\tc", keep_newlines=True) == "a\nb\\tc"


def test_progress_lines_and_relayed_output_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    print_line(f"[mlnb] Exported {HOSTILE}.ipynb")
    progress = Progress(1)
    with progress.stage(f"Running {HOSTILE}"):
        progress.detail(f"a line the project printed from its data: {HOSTILE}")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\u202e" not in out
    assert out.count("run\\x1b]0;pwned\\x07") == 4
