"""Where an export's source run and experiment come from.

:func:`check_run_origin` compares a run chosen with ``--run`` against the notebook being exported,
using the provenance a kernel records on every run (``mlnb.notebook.path``, ``mlnb.cell.sha256``,
``mlnb.cell.source``) and the project name ``mlnb run`` records (``mlnb.project.name``). One
matching fact is enough (a renamed notebook still holds the run's cell; an edited cell is still in
the same notebook); a run whose every fact points elsewhere is refused, and a run with no such
fact is accepted with a warning.

:func:`notebook_experiment` finds the experiment a notebook sets, so that ``mlnb run`` can open the
project's run in the same experiment as the notebook's own runs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mlnb.capture.provenance import source_hash
from mlnb.entities import Run
from mlnb.errors import InvalidParameterError
from mlnb.tracking.client import MlnbClient

NOTEBOOK_TAG = "mlnb.notebook.path"
CELL_HASH_TAG = "mlnb.cell.sha256"
CELL_SOURCE_TAG = "mlnb.cell.source"
PROJECT_TAG = "mlnb.project.name"
_TRUNCATED = "\n... (truncated)"


class RunFromAnotherNotebookError(InvalidParameterError):
    """``--run`` names a run that was recorded from a different notebook."""


def _file_name(recorded: str) -> str:
    return re.split(r"[\\/]", recorded.rstrip("\\/"))[-1]


def _source_matches(recorded: str, sources: list[str]) -> bool:
    text = recorded.strip()
    if text.endswith(_TRUNCATED.strip()):  # the tag keeps the cell's beginning only
        prefix = text[: -len(_TRUNCATED.strip())].strip()
        return bool(prefix) and any(s.startswith(prefix) for s in sources)
    return bool(text) and text in sources


def origin_facts(run: Run, notebook_file: Path, cell_sources: list[str], project_name: str
                 ) -> list[tuple[bool, str]]:
    """``(matches this notebook, what the run records)`` for each provenance fact the run has.

    :param run: the run.
    :param notebook_file: the notebook being exported.
    :param cell_sources: its code cells' sources.
    :param project_name: the project's name.
    """
    tags = run.data.tags
    facts: list[tuple[bool, str]] = []
    recorded = tags.get(NOTEBOOK_TAG, "")
    if recorded:
        facts.append((_file_name(recorded) == notebook_file.name,
                      f"it was recorded from the notebook {_file_name(recorded)!r}"))
    stripped = [s.strip() for s in cell_sources]
    if tags.get(CELL_HASH_TAG) or tags.get(CELL_SOURCE_TAG):
        hashes = {source_hash(s) for s in cell_sources} | {source_hash(s) for s in stripped}
        same = tags.get(CELL_HASH_TAG, "") in hashes or _source_matches(tags.get(CELL_SOURCE_TAG, ""),
                                                                        stripped)
        facts.append((same, f"the cell that made it is not one of {notebook_file.name}'s cells"))
    if tags.get(PROJECT_TAG):
        facts.append((tags[PROJECT_TAG] == project_name,
                      f"it was run from the project {tags[PROJECT_TAG]!r}"))
    return facts


def check_run_origin(run: Run, notebook_file: Path, cell_sources: list[str], project_name: str,
                     warn: Callable[[str], None]) -> None:
    """Refuse a run that clearly comes from another notebook; warn when the run cannot tell.

    :param run: the run.
    :param notebook_file: the notebook being exported.
    :param cell_sources: its code cells' sources.
    :param project_name: the project's name.
    :param warn: where warnings go.
    """
    facts = origin_facts(run, notebook_file, cell_sources, project_name)
    run_id = run.info.run_id
    if not facts:
        warn(f"[mlnb] warning: run {run_id} records no notebook (no {NOTEBOOK_TAG} or cell tags), so "
             f"mlnb cannot check that it was made by {notebook_file.name}; its params and metrics "
             "are used as they are.")
        return
    if any(matched for matched, _ in facts):
        return
    reasons = "; ".join(reason for _, reason in facts)
    raise RunFromAnotherNotebookError(
        f"Run {run_id} was not made by {notebook_file.name}: {reasons}. Export the notebook that "
        f"made it, or choose a run of {notebook_file.name} (or leave out --run to use its latest "
        "run). Nothing was written.")


def notebook_experiment(cells: Iterable[tuple[ast.Module, str | None]]) -> str | None:
    """The first experiment name the notebook sets, cell by cell: a ``%%track --experiment NAME``
    or a ``mlnb.set_experiment("name")`` / ``mlflow.set_experiment("name")`` call with a literal.

    :param cells: each cell's syntax tree and its ``%%track --experiment`` value (or None).
    """
    for tree, track_experiment in cells:
        if track_experiment:
            return track_experiment
        calls = sorted((node.lineno, node.col_offset, name) for node in ast.walk(tree)
                       if isinstance(node, ast.Call) and (name := _set_experiment_literal(node)))
        if calls:
            return calls[0][2]
    return None


def _set_experiment_literal(node: Any) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if called != "set_experiment":
        return None
    arguments = [*node.args[:1], *[k.value for k in node.keywords if k.arg == "experiment_name"]]
    for argument in arguments:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str) and argument.value:
            return argument.value
    return None


def run_tree(client: MlnbClient, run_id: str) -> list[Run]:
    """The run, then its descendants (breadth first, each level by start time), at most 1,000.

    :param client: the client of the runs' store.
    :param run_id: the root run.
    """
    runs = [client.get_run(run_id)]
    index = 0
    while index < len(runs) and len(runs) < 1000:
        runs.extend(client.get_run(child) for child in client.store.child_run_ids(runs[index].info.run_id))
        index += 1
    return runs
