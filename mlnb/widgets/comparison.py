"""The comparison view: params side by side, metric summaries and charts of several runs.

All metric histories of the compared runs are read in one bulk query (per 500 runs); the charts
are drawn by the pure builders of :mod:`mlnb.widgets.charts` into ``Output`` widgets as static
Plotly figures, each only when its tab is first opened (or a control changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from mlnb.entities import Metric, Run
from mlnb.store import Store
from mlnb.widgets import charts, data, static
from mlnb.widgets.base import StaticFallback
from mlnb.widgets.escape import escape_html

_TABS = ("Overview", "History", "Parallel coordinates", "Scatter", "Final metrics")


def params_rows(runs: list[Run], show_all: bool) -> tuple[list[list[str]], list[bool]]:
    """Rows ``[param, value per run...]`` and whether each differs between the runs.

    :param runs: the runs.
    :param show_all: every param; else only the differing ones.
    """
    differing = set(data.differing_params(runs))
    keys = sorted({k for r in runs for k in r.data.params}) if show_all else sorted(differing)
    rows = [[k, *(r.data.params.get(k, "") for r in runs)] for k in keys]
    return rows, [k in differing for k in keys]


def summary_rows(runs: list[Run], labels: list[str],
                 histories: dict[str, dict[str, list[Metric]]],
                 counts: dict[str, dict[str, int]] | None = None) -> list[list[str]]:
    """``[run, metric, last, min, max, best step, points]`` for every run and metric it has.

    :param runs: the runs.
    :param labels: their labels.
    :param histories: run id -> metric -> points (or a chart's sample of them).
    :param counts: run id -> metric -> points in the whole history; default the points given.
    """
    rows = []
    for run, label in zip(runs, labels, strict=True):
        run_counts = (counts or {}).get(run.info.run_id, {})
        for key, points in sorted(histories.get(run.info.run_id, {}).items()):
            s = data.summarize(points, key, run_counts.get(key))
            if s is None:
                continue
            rows.append([label, key, data.format_value(s.last), data.format_value(s.min),
                         data.format_value(s.max), str(s.best_step), str(s.count)])
    return rows


class Comparison(StaticFallback, widgets.VBox):
    """Several runs compared: differing params, metric summaries, and five kinds of chart.

    :param runs: run ids, ``Run`` or ``ActiveRun`` objects, or a ``search_runs`` DataFrame.
    :param store: the store to read; default the current one.
    """

    def __init__(self, runs: Any, *, store: Store | None = None) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.store = store if store is not None else data.tracking_store()
        self.runs = data.resolve_runs(self.store, runs)
        self.labels = data.run_labels(self.runs)
        ids = [r.info.run_id for r in self.runs]
        self.histories = self.store.metric_histories(ids, max_points=data.CHART_POINTS)
        self.point_counts = self.store.point_counts(ids)
        self.metric_keys = sorted({k for h in self.histories.values() for k in h})
        self.param_keys = sorted({k for r in self.runs for k in r.data.params})
        self._drawn: set[int] = set()
        self._build()

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        first_metric = self.metric_keys[0] if self.metric_keys else None
        self.show_all = widgets.ToggleButton(value=False, description="Show all params",
                                             icon="list")
        self.show_all.observe(lambda _: self._draw_params(), "value")
        self.params_html = widgets.HTML()
        self.summary_html = widgets.HTML()
        self.metric_choice = widgets.Dropdown(options=self.metric_keys, value=first_metric,
                                              description="Metric")
        self.x_choice = widgets.ToggleButtons(
            options=[("Step", "step"), ("Time", "time"), ("Relative time", "relative")],
            value="step", style={"button_width": "110px"})
        self.smoothing = widgets.FloatSlider(value=0.0, min=0.0, max=0.99, step=0.01,
                                             description="Smoothing", continuous_update=False)
        self.log_scale = widgets.Checkbox(value=False, description="Log scale", indent=False)
        self.history_out = widgets.Output()
        for control in (self.metric_choice, self.x_choice, self.smoothing, self.log_scale):
            control.observe(lambda _: self.draw_history(), "value")
        self.parallel_metric = widgets.Dropdown(options=self.metric_keys, value=first_metric,
                                                description="Metric")
        self.parallel_metric.observe(lambda _: self.draw_parallel(), "value")
        self.parallel_out = widgets.Output()
        self.scatter_param = widgets.Dropdown(
            options=self.param_keys, value=self.param_keys[0] if self.param_keys else None,
            description="Param")
        self.scatter_metric = widgets.Dropdown(options=self.metric_keys, value=first_metric,
                                               description="Metric")
        for control in (self.scatter_param, self.scatter_metric):
            control.observe(lambda _: self.draw_scatter(), "value")
        self.scatter_out = widgets.Output()
        self.bar_out = widgets.Output()
        self.tabs = widgets.Tab(children=[
            widgets.VBox([widgets.HTML("<b>Params</b>"), self.show_all, self.params_html,
                          widgets.HTML("<b>Metrics</b>"), self.summary_html]),
            widgets.VBox([widgets.HBox([self.metric_choice, self.log_scale]),
                          widgets.HBox([self.x_choice, self.smoothing]), self.history_out]),
            widgets.VBox([self.parallel_metric, self.parallel_out]),
            widgets.VBox([widgets.HBox([self.scatter_param, self.scatter_metric]),
                          self.scatter_out]),
            widgets.VBox([self.bar_out]),
        ], titles=_TABS)
        self.tabs.observe(lambda change: self._draw_tab(change["new"]), "selected_index")
        names = ", ".join(self.labels)
        self.children = (widgets.HTML(static.plain(f"<b>Comparing {len(self.runs)} runs</b>: "
                                                   f"{escape_html(names)}")), self.tabs)
        self._draw_params()
        self.summary_html.value = static.STYLE + static.html_table(
            ["Run", "Metric", "Last", "Min", "Max", "Best step", "Points"],
            summary_rows(self.runs, self.labels, self.histories, self.point_counts))
        self._draw_tab(0)

    def _draw_params(self) -> None:
        rows, differs = params_rows(self.runs, bool(self.show_all.value))
        note = "" if self.show_all.value or rows else "<p><i>All params are the same.</i></p>"
        self.params_html.value = static.STYLE + note + (static.html_table(
            ["Param", *self.labels], rows, highlight=differs) if rows else "")

    def _draw_tab(self, index: int | None) -> None:
        drawers: list[Callable[[], None]] = [lambda: None, self.draw_history, self.draw_parallel,
                                             self.draw_scatter, self.draw_bars]
        if index is not None and index not in self._drawn:
            self._drawn.add(index)
            drawers[index]()

    def draw_all(self) -> None:
        """Draw every chart now (they are otherwise drawn when their tab is first opened)."""
        for index in range(len(_TABS)):
            self._draw_tab(index)

    # --- charts -----------------------------------------------------------------------------

    def history_figure(self) -> Any:
        """The history chart of the chosen metric, with the chosen axis, smoothing and scale."""
        key = self.metric_choice.value
        series = [(label, self.histories.get(r.info.run_id, {}).get(key, []))
                  for r, label in zip(self.runs, self.labels, strict=True)]
        return charts.metric_history_figure(
            [s for s in series if s[1]], key or "", x_axis=self.x_choice.value,
            smoothing=float(self.smoothing.value), log_y=bool(self.log_scale.value))

    def draw_history(self) -> None:
        """Draw the History tab."""
        _show(self.history_out, self.history_figure() if self.metric_keys else None)

    def draw_parallel(self) -> None:
        """Draw the Parallel coordinates tab."""
        fig = charts.parallel_coordinates_figure(self.runs, self.parallel_metric.value) \
            if self.metric_keys else None
        _show(self.parallel_out, fig)

    def draw_scatter(self) -> None:
        """Draw the Scatter tab."""
        ok = self.metric_keys and self.param_keys
        fig = charts.param_scatter_figure(self.runs, self.scatter_param.value,
                                          self.scatter_metric.value, self.labels) if ok else None
        _show(self.scatter_out, fig)

    def draw_bars(self) -> None:
        """Draw the Final metrics tab."""
        fig = charts.final_metrics_figure(self.runs, self.metric_keys, self.labels) \
            if self.metric_keys else None
        _show(self.bar_out, fig)

    # --- static fallback --------------------------------------------------------------------

    def static_html(self) -> str:
        """Params, metric summaries and the history chart as static HTML."""
        rows, differs = params_rows(self.runs, True)
        parts = [
            "<h5>Params (differing ones highlighted)</h5>",
            static.html_table(["Param", *self.labels], rows, highlight=differs),
            "<h5>Metrics</h5>",
            static.html_table(["Run", "Metric", "Last", "Min", "Max", "Best step", "Points"],
                              summary_rows(self.runs, self.labels, self.histories, self.point_counts)),
        ]
        if self.metric_keys:
            parts.append(static.figure_html(self.history_figure()))
        return static.page(f"Comparing {len(self.runs)} runs", *parts)


def _show(out: widgets.Output, fig: Any) -> None:
    """Put a figure (or a short note when there is nothing to draw) into an Output widget."""
    if fig is None:
        out.outputs = ({"output_type": "display_data", "metadata": {},
                        "data": {"text/plain": "No metrics to chart."}},)
        return
    out.outputs = (charts.figure_output(fig),)
