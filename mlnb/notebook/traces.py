"""The inline trace view: when a cell that produced traces finishes, each is shown under it.

``%load_ext mlnb`` turns it on; so does the first use of the tracing API (``mlnb.trace``,
``mlnb.start_span``, ``mlnb.openai``...) in a Jupyter kernel (:func:`watch_kernel`), so a notebook
that only does ``import mlnb`` sees its traces too. ``%unload_ext mlnb`` turns it off.

Traces finish in any thread (a root span's end); the ids are collected as they finish and shown
by IPython's ``post_run_cell``, as a self-contained HTML span tree
(:func:`mlnb.widgets.trace_view.render_trace_html`) with a one-line text form for terminals.
Showing a trace never fails the cell: a store error is one line on stderr.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from IPython import get_ipython
from IPython.display import display

from mlnb.tracing.fluent import flush_trace_async_logging, get_trace
from mlnb.tracing.span import on_trace_finished, remove_trace_hook
from mlnb.widgets.trace_view import render_trace_html

MAX_SHOWN = 5


class TraceDisplay:
    """Collects the traces a cell finishes and shows them when it ends.

    :param shell: the IPython shell.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.finished: list[str] = []
        self.lock = threading.Lock()

    def note(self, trace_id: str) -> None:
        """A trace finished (called by the tracing layer, from any thread).

        :param trace_id: its id.
        """
        with self.lock:
            self.finished.append(trace_id)

    def before_cell(self, *args: Any) -> None:
        """Forget traces finished between cells (a background thread's): only the cell's show.

        :param args: IPython's ``ExecutionInfo``.
        """
        with self.lock:
            self.finished.clear()

    def after_cell(self, *args: Any) -> None:
        """Show the traces the cell finished (the last :data:`MAX_SHOWN`).

        :param args: IPython's ``ExecutionResult``.
        """
        with self.lock:
            ids, self.finished = self.finished, []
        if not ids:
            return
        try:
            flush_trace_async_logging()
            for trace_id in ids[-MAX_SHOWN:]:
                trace = get_trace(trace_id)
                text = (f"Trace {trace_id}: {trace.info.state}, {trace.info.execution_duration} ms, "
                        f"{len(trace.data.spans)} spans")
                display({"text/html": render_trace_html(trace), "text/plain": text}, raw=True)
            if len(ids) > MAX_SHOWN:
                display({"text/plain": f"... and {len(ids) - MAX_SHOWN} more traces: "
                                       "mlnb.search_traces() lists them."}, raw=True)
        except Exception as exc:  # the view must never fail the cell
            print(f"mlnb: could not show the cell's traces ({exc})", file=sys.stderr)


_displays: dict[int, TraceDisplay] = {}


def watch(shell: Any) -> None:
    """Show each cell's traces under it (``%load_ext mlnb``).

    :param shell: the IPython shell.
    """
    if id(shell) in _displays:
        return
    view = _displays[id(shell)] = TraceDisplay(shell)
    on_trace_finished(view.note)
    shell.events.register("pre_run_cell", view.before_cell)
    shell.events.register("post_run_cell", view.after_cell)


def watch_kernel() -> bool:
    """Show each cell's traces under it when this process is a Jupyter kernel (what the first
    use of mlnb's tracing API calls); nothing happens in a plain Python or terminal IPython.

    Returns whether the kernel's cells are watched.
    """
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    watch(shell)
    return True


def unwatch(shell: Any) -> None:
    """Stop showing traces under cells (``%unload_ext mlnb``).

    :param shell: the IPython shell.
    """
    view = _displays.pop(id(shell), None)
    if view is None:
        return
    remove_trace_hook(view.note)
    shell.events.unregister("pre_run_cell", view.before_cell)
    shell.events.unregister("post_run_cell", view.after_cell)
