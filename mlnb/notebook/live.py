"""A live chart of the metrics a ``%%track`` cell logs with steps, drawn in the cell's output.

The chart is a Plotly mimebundle shown with an ``IPython.display`` handle and updated in place,
at most every :data:`MIN_REDRAW_S` seconds, from the thread that logs (the cell's own thread, so
the output lands in the right cell). Observing costs one extra function call per ``log_metric``;
nothing is drawn until some metric has two steps. Frontends that cannot render Plotly (nbclient,
a terminal) just keep the text fallback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlnb.widgets.escape import escape_plotly

MIN_REDRAW_S = 0.5
MAX_POINTS_PER_KEY = 5_000
PLOTLY_MIME = "application/vnd.plotly.v1+json"


class LiveChart:
    """Collects (step, value) points per metric key for one run and redraws a chart.

    :param run_id: the run whose points are drawn.
    :param min_redraw_s: the least time between two redraws.
    """

    def __init__(self, run_id: str, min_redraw_s: float = MIN_REDRAW_S) -> None:
        self.run_id = run_id
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.redraws = 0
        self._min_redraw_s = min_redraw_s
        self._last_draw = float("-inf")
        self._handle: Any = None
        self._thread = threading.get_ident()
        self._drawable = False

    def add(self, key: str, value: float, step: int) -> None:
        """Add one point (replacing the last one at the same step) and redraw if it is time.

        Redraws happen only on the thread that created the chart, so the output lands in its cell.

        :param key: the metric's name.
        :param value: the value.
        :param step: the step.
        """
        steps, values = self.series.setdefault(key, ([], []))
        if steps and steps[-1] == step:
            values[-1] = value
        else:
            steps.append(step)
            values.append(value)
            if len(steps) > MAX_POINTS_PER_KEY:  # keep every other old point: bounded memory
                del steps[: MAX_POINTS_PER_KEY // 2 : 2], values[: MAX_POINTS_PER_KEY // 2 : 2]
            if len(steps) >= 2:
                self._drawable = True
        now = time.monotonic()
        if self._drawable and now - self._last_draw >= self._min_redraw_s \
                and threading.get_ident() == self._thread:
            self._last_draw = now
            self.draw()

    def bundle(self) -> dict[str, Any]:
        """The chart's Plotly mimebundle, with a text line of the latest values as the fallback."""
        traces = [{"type": "scatter", "mode": "lines+markers" if len(s) < 50 else "lines",
                   "name": escape_plotly(key), "x": list(s), "y": list(v)}
                  for key, (s, v) in self.series.items() if len(s) >= 2]
        last = ", ".join(f"{key}={v[-1]:.4g} (step {s[-1]})" for key, (s, v) in self.series.items()
                         if len(s) >= 2)
        layout = {"title": {"text": "live metrics"}, "xaxis": {"title": {"text": "step"}},
                  "height": 320, "margin": {"l": 50, "r": 20, "t": 40, "b": 40}}
        return {PLOTLY_MIME: {"data": traces, "layout": layout},
                "text/plain": f"<mlnb live chart: {last}>"}

    def draw(self) -> None:
        """Show or update the chart; a drawing failure never reaches the training loop."""
        try:
            from IPython.display import display  # edge module: IPython is there

            data = self.bundle()
            if self._handle is None:
                self._handle = display(data, raw=True, display_id=True)
            else:
                self._handle.update(data, raw=True)
            self.redraws += 1
        except Exception:
            self._drawable = False  # stop trying for this cell

    def finish(self) -> None:
        """Draw the final state once (if anything was drawable)."""
        if self._drawable:
            self.draw()


@contextmanager
def observing(writer: Any, chart: LiveChart) -> Iterator[LiveChart]:
    """Feed ``chart`` with every point ``writer.add`` receives for its run, while inside.

    :param writer: the store's metric writer.
    :param chart: the chart of the cell's run.
    """
    original = writer.add

    def add(run_id: str, key: str, value: object, timestamp: int, step: int) -> None:
        original(run_id, key, value, timestamp, step)
        if run_id == chart.run_id:
            try:
                chart.add(key, float(value), int(step))  # type: ignore[arg-type]
            except Exception:
                pass

    writer.add = add  # an instance attribute: shadows the method for this cell only
    try:
        yield chart
    finally:
        if writer.__dict__.get("add") is add:
            del writer.add
