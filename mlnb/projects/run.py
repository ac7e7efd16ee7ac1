"""``mlnb run DIR``: validate parameters and data, prepare the environment, run the entry point.

The run is created here, tagged with the project (``mlnb.project.name``, ``mlnb.project.dir``,
``mlnb.project.entry_point``, ``mlnb.project.env_manager``), and handed to the script through
``MLNB_RUN_ID`` (with ``MLNB_TRACKING_URI``, so the script writes to this store even though it runs
in the project's folder). Its experiment is ``--experiment``, else the one the export recorded in
``provenance.json``, so that it and the notebook's runs (its children) share one. The script
logs its parameters; the child's output is streamed through ``sys.stdout``, so it shows in a
terminal and in a notebook cell alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mlnb.entities import Param, RunStatus
from mlnb.errors import InvalidParameterError, RunStateError
from mlnb.projects import data, mlproject, parameters, venv
from mlnb.projects.progress import Progress, Writer, print_line, silent
from mlnb.projects.runtime import PROVENANCE, RUN_ID_ENV, TAG_DIR, TAG_ENTRY_POINT, TAG_NAME
from mlnb.tracking.client import current_client
from mlnb.tracking.experiment import tracking_uri_for_child

ENV_MANAGERS = ("local", "virtualenv")


class ProjectRunFailedError(RunStateError):
    """The project's entry point exited with an error; the run is marked FAILED."""


@dataclass(frozen=True)
class ProjectRunResult:
    """What :func:`run_project` returns: the run, its status, the project, the parameters and the
    Python used.
    """
    run_id: str
    status: str
    project_dir: Path
    parameters: dict[str, str]
    python: str


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["lr=0.1", "epochs=3"]`` -> ``{"lr": "0.1", "epochs": "3"}`` (the ``-P`` options).

    A name given twice is an error: silently keeping one of the values would run with a
    parameter the user may not have meant.

    :param pairs: ``NAME=VALUE`` strings.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidParameterError(f"-P expects name=value, got {pair!r}.")
        if name in values:
            raise InvalidParameterError(
                f"Parameter {name!r} is given more than once (-P {name}={values[name]} and "
                f"-P {name}={value}); give it once.")
        values[name] = value
    return values


def run_project(project_dir: str | os.PathLike[str], parameters_given: dict[str, str] | None = None,
                *, env_manager: str = "local", entry_point: str = "main",
                experiment_name: str | None = None, offline: bool = False,
                env_root: Path | None = None, write: Writer | None = print_line,
                paths_relative_to: Path | None = None) -> ProjectRunResult:
    """Run a project's entry point as a tracked run and return it (raises if the script fails).

    Relative ``path`` parameter values are read from the current folder, or from
    ``paths_relative_to`` (a reproduction passes the project folder: recorded values are relative
    to the notebook's folder, which the project mirrors).

    :param project_dir: the project folder.
    :param parameters_given: parameter values as text; the others take their defaults.
    :param env_manager: ``local`` (this interpreter) or ``virtualenv``.
    :param entry_point: the ``MLproject`` entry point.
    :param experiment_name: the run's experiment; default the one the export recorded.
    :param offline: build the environment without a package index (see :mod:`mlnb.projects.venv`).
    :param env_root: where environments are kept; default ``MLNB_ENV_ROOT`` or ``~/.mlnb/envs``.
    :param write: where progress lines go (None: nowhere).
    :param paths_relative_to: the folder relative ``path`` values are read from; default the current
        one.
    """
    if env_manager not in ENV_MANAGERS:
        raise InvalidParameterError(f"--env-manager must be one of {', '.join(ENV_MANAGERS)}, "
                                    f"not {env_manager!r}.")
    folder = Path(project_dir).expanduser().resolve()
    progress = Progress(3, write or silent)
    with ExitStack() as stack:
        with progress.stage("Checking the project, its parameters and data files"):
            project = mlproject.load_project(folder)
            entry = project.entry_point(entry_point)
            cwd = paths_relative_to or Path.cwd()
            # The -P values first, on their own: a typo is named before anything about the data.
            parameters.check_given(entry.parameters, parameters_given or {}, entry_point, cwd)
            files = data.verify_lock(folder)  # then the data: it names a missing file most precisely
            # Credential files the export left out, linked in for the run (a path parameter may
            # name one): removed when the run ends.
            stack.enter_context(data.secret_links(folder))
            values = parameters.validate(entry.parameters, parameters_given or {}, entry_point,
                                         folder, cwd)
            progress.detail(f"{len(values)} parameter(s), {len(files)} data file(s) verified by sha256"
                            + _by_last_run(files))
        with progress.stage(f"Preparing the environment ({env_manager})"):
            python = sys.executable if env_manager == "local" else str(
                venv.prepare(folder, progress, offline=offline, root=env_root))
        argv = entry.argv(values)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = python
        with progress.stage(f"Running entry point {entry_point!r} of {project.name}"):
            run_id = _create_run(project, entry_point, env_manager, experiment_name)
            progress.detail(f"run {run_id}")
            # Also here, not only in main.py: a script killed or crashing hard has not recorded
            # the inputs it rewrote, and the next run must still accept them.
            with data.recording_run_writes(folder):
                status, code, tail = _execute(argv, folder, run_id, progress)
            _settle(run_id, values, status, code)
    result = ProjectRunResult(run_id, _status(run_id), folder, values, python)
    if result.status != RunStatus.FINISHED:
        raise ProjectRunFailedError(
            f"The entry point {entry_point!r} failed (exit {code}); run {run_id} is "
            f"{result.status}. Last output:\n" + "\n".join(tail))
    progress.finish(f"Run {run_id} FINISHED")
    return result


def _by_last_run(files: list[data.CheckedFile]) -> str:
    """The inputs accepted as the project's own last run left them, named for the user."""
    rewritten = [f.path for f in files if f.by_last_run]
    return f"; written by the project's last run: {', '.join(rewritten)}" if rewritten else ""


def _create_run(project: mlproject.Project, entry_point: str, env_manager: str,
                experiment_name: str | None) -> str:
    client = current_client()
    experiment_id = "0"
    experiment_name = experiment_name or recorded_experiment(project.directory)
    if experiment_name:
        found = client.get_experiment_by_name(experiment_name)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment_name)
    tags = {TAG_NAME: project.name, TAG_DIR: str(project.directory), TAG_ENTRY_POINT: entry_point,
            "mlnb.project.env_manager": env_manager, "mlflow.source.type": "PROJECT",
            "mlflow.source.name": str(project.directory)}
    info = client.store.create_run(experiment_id, project.name, tags, None,
                                   os.environ.get("USER", ""), None)
    return str(info.run_id)


def recorded_experiment(folder: Path) -> str | None:
    """The experiment the export recorded in ``provenance.json`` (the source run's, else the one
    the notebook sets): the project's run defaults to it, so that the notebook's runs, which
    become its children, land in the same experiment.

    :param folder: the project folder.
    """
    try:
        record = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no provenance (a hand-written project): the default experiment
    if not isinstance(record, dict):
        return None
    run = record.get("run")
    name = record.get("experiment") or (run.get("experiment") if isinstance(run, dict) else None)
    return name if isinstance(name, str) and name else None


def _execute(argv: list[str], folder: Path, run_id: str, progress: Progress
             ) -> tuple[str, int, list[str]]:
    env = dict(os.environ)
    env.update({RUN_ID_ENV: run_id, "MLNB_TRACKING_URI": tracking_uri_for_child(),
                "PYTHONUNBUFFERED": "1"})
    tail: deque[str] = deque(maxlen=30)
    try:
        child = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as exc:
        raise InvalidParameterError(f"Cannot start {argv[0]!r}: {exc}.") from None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            tail.append(line.rstrip("\n"))
            progress.detail(line.rstrip("\n"))
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()
        child.wait()
        current_client().set_terminated(run_id, RunStatus.KILLED)
        raise
    return (RunStatus.FINISHED if code == 0 else RunStatus.FAILED), code, list(tail)


def _settle(run_id: str, values: dict[str, str], status: str, code: int) -> None:
    """End the run if the script did not (it crashed early), and log params it did not log."""
    client = current_client()
    run = client.get_run(run_id)
    if not run.data.params and values:
        client.store.log_batch(run_id, params=[_param(k, v) for k, v in values.items()])
    if code != 0 and "mlnb.error" not in run.data.tags:
        client.set_tag(run_id, "mlnb.error", f"the entry point exited with code {code}")
    if run.info.status == RunStatus.RUNNING or (code != 0 and run.info.status == RunStatus.FINISHED):
        client.set_terminated(run_id, status)


def _param(key: str, value: str) -> Param:
    return Param(key, value)


def _status(run_id: str) -> str:
    return str(current_client().store.get_run_info(run_id).status)
