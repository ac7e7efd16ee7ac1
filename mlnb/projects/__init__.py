"""Notebook -> reproducible project: export it, run it anywhere, prove that it reproduces.

* :func:`export_notebook` writes an MLflow-format project folder from a notebook (``mlnb export``);
* :func:`run_project` runs a project folder as a tracked run, locally or in a fresh virtualenv
  (``mlnb run``);
* :func:`reproduce_run` / :func:`verify_project` re-run and compare metrics within a tolerance
  (``mlnb reproduce``, ``mlnb run --verify``).

Part of the core: nothing here imports IPython; progress is printed to ``sys.stdout``.
"""

from __future__ import annotations

from mlnb.projects.export import export_notebook
from mlnb.projects.reproduce import Reproduction, reproduce_run, verify_project
from mlnb.projects.run import ProjectRunFailedError, ProjectRunResult, run_project

__all__ = ["ProjectRunFailedError", "ProjectRunResult", "Reproduction", "export_notebook",
           "reproduce_run", "run_project", "verify_project"]
