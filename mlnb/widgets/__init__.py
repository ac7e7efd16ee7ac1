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

__all__ = ["compare", "show_registry", "show_run", "show_runs"]


def show_runs(experiment: Any = None, filter: str | None = None, *, page_size: int = 50
              ) -> RunTable:
    """The run table of an experiment (the active one by default; a name, id, list or ``"*"``).

    ``filter`` uses the search grammar (``metrics.acc > 0.9 and params.lr = '0.01'``); a bad
    filter is shown above the table rather than raised.
    """
    from mlnb.widgets.run_table import RunTable

    return RunTable(experiment, filter, page_size=page_size)


def compare(runs: Any) -> Comparison:
    """Compare runs: run ids, ``Run`` objects, or a DataFrame from ``mlnb.search_runs()``."""
    from mlnb.widgets.comparison import Comparison

    return Comparison(runs)


def show_run(run: Any) -> RunDetail:
    """Details of one run (an id, a ``Run`` or an ``ActiveRun``)."""
    from mlnb.widgets.run_detail import RunDetail

    return RunDetail(run)


def __getattr__(name: str) -> Any:
    # The registry panel lives in its own module, written separately; import it on first use.
    if name == "show_registry":
        return importlib.import_module("mlnb.widgets.registry_panel").show_registry
    raise AttributeError(f"module 'mlnb.widgets' has no attribute {name!r}")
