"""What an exported project's ``main.py`` calls at run time (kept small: it is part of the contract).

:func:`project_run` checks the data files, then opens the project's run: the run ``mlnb run``
created (its id comes in ``MLNB_RUN_ID``), or a new one when the script is run by hand. The
notebook's own runs start inside it, as children. When it ends, the inputs the run rewrote are
recorded (:func:`mlnb.projects.data.recording_run_writes`), so that the next run accepts them.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from mlnb.capture import values as capture
from mlnb.errors import MlnbError
from mlnb.projects.data import recording_run_writes, secret_links, verify_lock
from mlnb.projects.parameters import as_bool
from mlnb.terminal import visible
from mlnb.tracking import fluent

SCRIPT = "main.py"  # the exported notebook, as a script
PROVENANCE = "provenance.json"  # where the exported project came from
RUN_ID_ENV = "MLNB_RUN_ID"
TAG_NAME = "mlnb.project.name"
TAG_DIR = "mlnb.project.dir"
TAG_ENTRY_POINT = "mlnb.project.entry_point"
TAG_PYTHON = "mlnb.project.python"

__all__ = ["as_bool", "log_cell_values", "project_run"]


@contextmanager
def project_run(script: str, project_name: str, params: dict[str, Any],
                entry_point: str = "main") -> Iterator[Any]:
    """Check the data files, start (or resume) the project's run and log its params.

    :param script: the project's script (``__file__``).
    :param project_name: the project's name.
    :param params: the parameters' values.
    :param entry_point: the entry point's name.
    """
    project_dir = Path(script).resolve().parent
    with ExitStack() as stack:
        try:
            verify_lock(project_dir)
            # The credential files the export left out, linked in from where the user keeps them.
            stack.enter_context(secret_links(project_dir))
            # However the run ends, the inputs it rewrote are recorded: the next run accepts them.
            stack.enter_context(recording_run_writes(project_dir))
        except MlnbError as exc:
            print(f"mlnb: error: {visible(str(exc), keep_newlines=True)}", file=sys.stderr)
            raise SystemExit(2) from None
        # Popped, so that code inside the run cannot resume it a second time.
        run_id = os.environ.pop(RUN_ID_ENV, None) or None
        tags = {TAG_NAME: project_name, TAG_DIR: str(project_dir), TAG_ENTRY_POINT: entry_point}
        with fluent.start_run(run_id=run_id, run_name=None if run_id else project_name,
                            tags=None if run_id else tags) as run:
            fluent.set_tag(TAG_PYTHON, sys.executable)
            # str(), as the notebook's own logging would write them (no conflict when both log).
            fluent.log_params({name: str(value) for name, value in params.items()})
            yield run


def log_cell_values(namespace: dict[str, Any], params: list[str], metrics: list[str]) -> None:
    """Log what ``%%track`` captures from a cell's variables, by the same rules (mlnb.capture).

    :param namespace: the variables after the cell's code ran.
    :param params: names captured as params.
    :param metrics: names captured as metrics.
    """
    found = capture.capture_values(ast.Module(body=[], type_ignores=[]), namespace,
                                   capture.CaptureRules(), only_params=params, only_metrics=metrics)
    if found.params:
        fluent.log_params(found.params)
    if found.metrics:
        fluent.log_metrics(found.metrics)
