"""Notebook -> reproducible project: export it, run it anywhere, prove that it reproduces.

* :func:`export_notebook` writes an MLflow-format project folder from a notebook (``mlnb export``);
* :func:`run_project` runs a project folder as a tracked run, locally or in a fresh virtualenv
  (``mlnb run``);
* :func:`reproduce_run` / :func:`verify_project` re-run and compare metrics within a tolerance
  (``mlnb reproduce``, ``mlnb run --verify``).

Part of the core: nothing here imports IPython; progress is printed to ``sys.stdout``. The names
below are imported on first use, so that an exported script's ``import mlnb.projects.runtime``
loads the runtime alone.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "export_notebook": "mlnb.projects.export",
    "Reproduction": "mlnb.projects.reproduce",
    "reproduce_run": "mlnb.projects.reproduce",
    "verify_project": "mlnb.projects.reproduce",
    "ProjectRunFailedError": "mlnb.projects.run",
    "ProjectRunResult": "mlnb.projects.run",
    "run_project": "mlnb.projects.run",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.projects' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
