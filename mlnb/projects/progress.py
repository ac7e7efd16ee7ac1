"""Staged progress messages with elapsed time, for the terminal and for a notebook cell.

The core prints plain lines to ``sys.stdout`` (looked up at each write, so a kernel's captured
stdout shows them in the cell's output); nothing here imports IPython.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlnb.terminal import visible

Writer = Callable[[str], None]


def print_line(text: str) -> None:
    """Write one line to the current ``sys.stdout`` and flush it (so it shows at once).

    Control characters are shown escaped (:func:`mlnb.terminal.visible`): the line may carry a
    name, a path or a line a project printed from its data, and none of them may drive the
    terminal (retitle it, clear it, write to the clipboard).

    :param text: the line.
    """
    stream = sys.stdout
    stream.write(visible(text, keep_newlines=True) + "\n")
    stream.flush()


def silent(text: str) -> None:
    """A writer that drops every message.

    :param text: the message, ignored.
    """


class Progress:
    """Numbered stages: ``[mlnb 2/4] Building the environment...`` then ``... done in 3.2 s``.

    :param total: the number of stages (0: unknown).
    :param write: where lines go; default :func:`print_line`.
    """

    def __init__(self, total: int, write: Writer | None = None) -> None:
        self.total = total
        self.write = write or print_line
        self.started = time.monotonic()
        self._number = 0

    def elapsed(self) -> float:
        """Seconds since the progress started."""
        return time.monotonic() - self.started

    @contextmanager
    def stage(self, title: str) -> Iterator[None]:
        """Announce a stage, then report how long it took (or that it failed).

        :param title: what the stage does.
        """
        self._number += 1
        number = f"{self._number}/{self.total}" if self.total else str(self._number)
        self.write(f"[mlnb {number}] {title}...")
        begun = time.monotonic()
        try:
            yield
        except BaseException:
            self.write(f"[mlnb {number}] {title}: failed after {time.monotonic() - begun:.1f} s")
            raise
        self.write(f"[mlnb {number}] {title}: done in {time.monotonic() - begun:.1f} s")

    def detail(self, text: str) -> None:
        """An indented line inside the current stage (a child process's output, a note).

        :param text: the line.
        """
        self.write(f"    {text}")

    def finish(self, text: str) -> None:
        """The closing line, with the total time.

        :param text: what finished.
        """
        self.write(f"[mlnb] {text} (total {self.elapsed():.1f} s)")
