"""The sweep view: ``mlnb.show_sweep(parent_run)``.

A header (the objective, its direction, the trial counts by state), a best-trial card with a
"Register this model" control (when the best trial logged a model), and four charts in tabs:
optimisation history with the best-so-far line, parallel coordinates coloured by the objective,
parameter importance and slices per parameter. Data and charts come from the pure
:mod:`mlnb.widgets.sweep`; every user string is escaped at its sink (HTML via
:mod:`mlnb.widgets.static`, Plotly text via ``escape_plotly``, Labels marked no-math).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import ipywidgets as widgets

from mlnb.errors import MlnbError
from mlnb.registry import model_source
from mlnb.store import Store
from mlnb.tracking.client import MlnbClient
from mlnb.widgets import charts, data, static
from mlnb.widgets.base import StaticFallback, disable_writes, no_math
from mlnb.widgets.escape import escape_html
from mlnb.widgets.sweep import (
    Sweep,
    Trial,
    history_figure,
    importance_figure,
    load_sweep,
    parallel_figure,
    param_importances,
    slice_figure,
)

_TABS = ("History", "Parallel coordinates", "Importance", "Slices")


def logged_model_path(store: Store, run_id: str) -> str | None:
    """The artifact path of the first model a run logged (a folder holding ``MLmodel``), or None.

    :param store: the store.
    :param run_id: the run.
    """
    try:
        top = store.list_artifacts(run_id)
    except MlnbError:
        return None
    for entry in top:
        if entry.is_dir and any(f.path == f"{entry.path}/MLmodel"
                                for f in store.list_artifacts(run_id, entry.path)):
            return entry.path
    return None


class SweepView(StaticFallback, widgets.VBox):
    """A sweep's charts and its best trial, with "register this model".

    :param parent_run: the parent run: an id, a ``Run`` or an ``ActiveRun``.
    :param metric: the objective metric; default as :mod:`mlnb.widgets.sweep` says.
    :param direction: ``minimize`` or ``maximize``; default likewise.
    :param store: the store to read; default the current one.
    """

    def __init__(self, parent_run: Any, metric: str | None = None, direction: str | None = None,
                 *, store: Store | None = None) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.store = store if store is not None else data.tracking_store()
        if isinstance(getattr(parent_run, "parent_run_id", None), str):
            parent_run = parent_run.parent_run_id  # an mlnb.optuna sweep
        run_id = data.resolve_runs(self.store, [parent_run])[0].info.run_id
        self.sweep: Sweep = load_sweep(self.store, run_id, metric, direction)
        self.importances, self.importance_method = param_importances(self.sweep)
        self.best: Trial | None = self.sweep.best
        self.model_path = (logged_model_path(self.store, self.best.run.info.run_id)
                           if self.best is not None else None)
        self._drawn: set[int] = set()
        self._build()

    # --- layout -----------------------------------------------------------------------------

    def header_html(self) -> str:
        """The sweep's title line, escaped."""
        s = self.sweep
        counts = Counter(t.state for t in s.trials)
        states = ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
        guessed = " (guessed from its name; pass direction= to change it)" if s.direction_guessed else ""
        return (f"<b>Sweep {escape_html(s.parent.info.run_name)}</b>: {len(s.trials)} trials "
                f"({escape_html(states)}); objective <code>{escape_html(s.metric)}</code>, "
                f"{escape_html(s.direction)}{escape_html(guessed)}")

    def card_html(self) -> str:
        """The best trial: name, value and params, escaped."""
        best = self.best
        if best is None:
            return "<p><i>No trial has completed with a value yet.</i></p>"
        params = [(k, v) for k, v in sorted(best.params.items())]
        model = (f"Model: <code>runs:/{escape_html(best.run.info.run_id)}/"
                 f"{escape_html(self.model_path)}</code>" if self.model_path
                 else "<i>This trial logged no model, so there is none to register.</i>")
        return (f"<div><b>Best trial</b>: {escape_html(best.run.info.run_name)} (trial {best.number}, "
                f"run <code>{escape_html(best.run.info.run_id)}</code>): "
                f"{escape_html(self.sweep.metric)} = {escape_html(data.format_value(best.value))}"
                f"<br>{model}</div>{static.key_value_table(params, ('Param', 'Value'))}")

    def _build(self) -> None:
        self.card = widgets.HTML(static.STYLE + static.plain(self.card_html()))
        self.model_name = widgets.Text(placeholder="registered model name",
                                       layout=widgets.Layout(width="260px"))
        self.register_button = widgets.Button(description="Register this model", icon="tag",
                                              disabled=self.model_path is None)
        self.register_button.on_click(lambda _b: self.register())
        disable_writes(self.store.read_only_reason(), self.model_name, self.register_button)
        self.status = no_math(widgets.Label())
        self.error = no_math(widgets.Label(style={"text_color": "#b00020"}))
        self.outputs = [widgets.Output() for _ in _TABS]
        self.tabs = widgets.Tab(children=self.outputs, titles=_TABS)
        self.tabs.observe(lambda change: self._draw_tab(change["new"]), "selected_index")
        self.children = (
            widgets.HTML(static.plain(self.header_html())), self.card,
            widgets.HBox([self.model_name, self.register_button]), self.error, self.status,
            self.tabs,
        )
        self._draw_tab(0)

    # --- actions ----------------------------------------------------------------------------

    def register(self) -> None:
        """Register the best trial's model under the name typed; the outcome is shown inline."""
        self.error.value = self.status.value = ""
        name = self.model_name.value.strip()
        if self.best is None or self.model_path is None:
            self.error.value = "The best trial logged no model: log one in the objective first."
            return
        if not name:
            self.error.value = "Type a name for the registered model first."
            return
        uri = f"runs:/{self.best.run.info.run_id}/{self.model_path}"
        try:
            client = MlnbClient(self.store.location.uri)
            version = client.create_model_version(name, model_source(self.store, uri),
                                                  run_id=self.best.run.info.run_id, create_model=True)
        except MlnbError as exc:
            self.error.value = exc.message
            return
        self.status.value = f"Registered {name!r} version {version.version} from trial {self.best.number}."

    # --- charts -----------------------------------------------------------------------------

    def figures(self) -> list[Any]:
        """The four charts, in tab order."""
        return [history_figure(self.sweep), parallel_figure(self.sweep),
                importance_figure(self.importances, self.importance_method), slice_figure(self.sweep)]

    def _draw_tab(self, index: int | None) -> None:
        if index is None or index in self._drawn:
            return
        self._drawn.add(index)
        makers = [lambda: history_figure(self.sweep), lambda: parallel_figure(self.sweep),
                  lambda: importance_figure(self.importances, self.importance_method),
                  lambda: slice_figure(self.sweep)]
        self.outputs[index].outputs = (charts.figure_output(makers[index]()),)

    def draw_all(self) -> None:
        """Draw every chart now (they are otherwise drawn when their tab is first opened)."""
        for index in range(len(_TABS)):
            self._draw_tab(index)

    # --- static fallback --------------------------------------------------------------------

    def static_html(self) -> str:
        """Header, best trial, importances and the history chart as static HTML."""
        rows = [(k, f"{v:.3f}") for k, v in self.importances.items()]
        return static.page(
            f"Sweep {self.sweep.parent.info.run_name}", static.plain(self.header_html()),
            self.card_html(), f"<h5>Parameter importance ({escape_html(self.importance_method)})</h5>",
            static.key_value_table(rows, ("Param", "Importance")),
            static.figure_html(history_figure(self.sweep)))


def show_sweep(parent_run: Any, metric: str | None = None, direction: str | None = None
               ) -> SweepView:
    """A sweep (a parent run whose children are its trials) as a widget.

    :param parent_run: the parent run: an id, a ``Run``, an ``ActiveRun`` or the sweep returned
        by ``mlnb.optuna.track``.
    :param metric: the objective metric; default as :mod:`mlnb.widgets.sweep` says.
    :param direction: ``minimize`` or ``maximize``; default likewise.
    :raises InvalidParameterError: when the run has no children, or the objective cannot be told.
    """
    return SweepView(parent_run, metric, direction)
