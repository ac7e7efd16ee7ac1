"""Inline views of runs in a notebook: the run table, the comparison and a run's details.

``mlnb.show_runs()``, ``mlnb.compare(runs)`` and ``mlnb.show_run(run)`` return ipywidgets that a
notebook displays as the cell's result; outside a live frontend they fall back to static HTML.
Chart builders (pure functions returning Plotly figures) are in :mod:`mlnb.widgets.charts`.
ipywidgets is imported by the view modules on first use, not by this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlnb.widgets.comparison import Comparison
    from mlnb.widgets.run_detail import RunDetail
    from mlnb.widgets.run_table import RunTable

__all__ = ["compare", "show_evaluation", "show_registry", "show_run", "show_runs", "show_sweep"]


def show_runs(experiment: Any = None, filter: str | None = None, *, page_size: int = 50
              ) -> RunTable:
    """The run table of an experiment, as a widget: paged, sortable, filterable, with actions on the
    selected runs.

    ``filter`` uses the search grammar (``metrics.acc > 0.9 and params.lr = '0.01'``); a bad filter
    is shown above the table rather than raised. While runs are RUNNING the table refreshes itself.

    :param experiment: an experiment name, id or ``Experiment``, ``"*"`` for all, or a list of
        those; default the active experiment.
    :param filter: the initial filter.
    :param page_size: runs per page.
    :raises NotFoundError: for an experiment that does not exist.
    """
    from mlnb.widgets.run_table import RunTable  # ipywidgets: loaded on first use, not by import mlnb

    return RunTable(experiment, filter, page_size=page_size)


def compare(runs: Any) -> Comparison:
    """Compare runs: differing params, metric summaries, and history, parallel-coordinates, scatter and
    bar charts.

    :param runs: run ids, ``Run`` or ``ActiveRun`` objects, or a DataFrame from
        ``mlnb.search_runs()``.
    :raises NotFoundError: for a run id the store does not have.
    """
    from mlnb.widgets.comparison import Comparison  # ipywidgets: loaded on first use, not by import mlnb

    return Comparison(runs)


def show_run(run: Any) -> RunDetail:
    """Details of one run: params, metrics with small charts, tags, provenance and artifact previews.

    :param run: a run id, a ``Run`` or an ``ActiveRun``.
    """
    from mlnb.widgets.run_detail import RunDetail  # ipywidgets: loaded on first use, not by import mlnb

    return RunDetail(run)


def __getattr__(name: str) -> Any:
    # The registry panel lives in its own module, written separately; import it on first use.
    if name == "show_registry":
        return importlib.import_module("mlnb.widgets.registry_panel").show_registry
    if name == "show_evaluation":  # its own module too (mlnb.models.evaluate's view)
        return importlib.import_module("mlnb.widgets.evaluation").show_evaluation
    if name == "show_sweep":  # the sweep view, in its own module (ipywidgets on first use)
        return importlib.import_module("mlnb.widgets.sweep_view").show_sweep
    raise AttributeError(f"module 'mlnb.widgets' has no attribute {name!r}")
