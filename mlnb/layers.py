"""mlnb's layers, bottom to top: a module may import its own package and the layers below it.

This table is the architecture, in code: ``tests/test_layers.py`` reads every module's imports
from the source (imports inside functions included, ``if TYPE_CHECKING:`` blocks excluded) and
fails on an import of a higher layer, on an import between two packages of the same layer, and
on any import cycle. ARCHITECTURE.md explains each layer.
"""

from __future__ import annotations

LAYERS: tuple[tuple[str, ...], ...] = (
    ("mlnb._version", "mlnb.entities", "mlnb.errors", "mlnb.layers", "mlnb.terminal",
     "mlnb.mlflow_compat"),  # records, errors; the mlflow import hook (stdlib only)
    ("mlnb.store",),  # all SQL, migrations, the filter grammar, the artifact root
    ("mlnb.capture",),  # pure: what a run records about its cell, process and repository
    ("mlnb.registry",),  # registered models, versions, stages, aliases (no current state)
    ("mlnb.tracking",),  # the client, the fluent API and the one process state
    ("mlnb.models", "mlnb.tracing", "mlnb.data"),  # model folders, flavors, signatures,
    # serving; GenAI traces (spans by call context, a background trace writer); datasets with
    # MLflow's digest (public as mlnb.data; here so autolog can record the training data)
    ("mlnb.autolog",),  # autologging integrations
    ("mlnb.projects", "mlnb.monitor", "mlnb.mlflow_server"),  # project export, run, reproduce;
    # drift reports; MLflow's REST API over the store (served by mlnb.server and mlnb.cli)
    ("mlnb.widgets",),  # ipywidgets views and pure Plotly chart builders
    ("mlnb.genai",),  # prompts, GenAI evaluation and its comparison (its HTML escaped by widgets)
    ("mlnb.notebook", "mlnb.server", "mlnb.cli"),  # the edges: IPython, Jupyter Server, shell
    ("mlnb", "mlnb.__main__", "mlnb.artifacts", "mlnb.exceptions", "mlnb.keras", "mlnb.lightgbm",
     "mlnb.optuna", "mlnb.pyfunc", "mlnb.pytorch", "mlnb.sklearn", "mlnb.xgboost",
     "mlnb.openai"),  # public names
)
"""Each entry is a layer; each name in it is a module or a package (with everything inside)."""

EDGE_LIBRARIES: tuple[str, ...] = ("IPython", "ipywidgets", "jupyter_server", "tornado")
"""Libraries only the edge layers (``widgets`` and above) may import."""


def layer_of(module: str) -> tuple[int, str]:
    """The layer index and the owning entry of a module name (the longest matching entry).

    :param module: a dotted module name inside mlnb.
    :raises KeyError: for a module no entry covers.
    """
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        for entry in layer:
            covers = module == entry or (entry != "mlnb" and module.startswith(entry + "."))
            if covers and (best is None or len(entry) > len(best[1])):
                best = (index, entry)
    if best is None:
        raise KeyError(f"{module} is in no layer of mlnb.layers.LAYERS; add it to one.")
    return best
