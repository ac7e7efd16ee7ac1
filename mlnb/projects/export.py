"""``mlnb export``: a notebook (and optionally one of its runs) -> a self-contained project folder.

The folder holds ``MLproject``, ``python_env.yaml``, ``requirements.txt``, ``main.py`` (the script),
the notebook without outputs, its data files (or ``data.lock.json`` references), local modules it
imports, ``.mlnb-wheel/`` (mlnb itself), ``provenance.json`` and a ``README.md``. It is written
into a temporary folder beside the destination and moved into place only once complete and
scanned: an export that would leak a secret or an absolute path of this machine is refused and
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from mlnb.capture.git import git_head
from mlnb.entities import Run, ViewType, json_safe_float
from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError
from mlnb.projects import convert, data, file_use, mlproject, origin, parameters, requirements
from mlnb.projects.origin import run_tree
from mlnb.projects.progress import Writer, print_line
from mlnb.projects.readme import readme_text
from mlnb.projects.runtime import PROVENANCE, SCRIPT
from mlnb.projects.scan import credential_reason, refuse_credentials, scan_project
from mlnb.tracking.client import current_client, existing_store

SKIP_TAG = "skip-export"
_NOTEBOOK_TAG = "mlnb.notebook.path"


def export_notebook(notebook_path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                    run_id: str | None = None, *, max_copy_bytes: int = data.DEFAULT_MAX_COPY_BYTES,
                    overwrite: bool = False, write: Writer | None = print_line,
                    reference_secrets: bool = False) -> Path:
    """Write the project folder for ``notebook_path`` into ``out_dir`` and return its path.

    ``run_id`` picks the source run (its params give the defaults when the notebook has no
    ``parameters`` cell; its metrics are what ``mlnb run --verify`` compares against); without
    it, the latest run recorded from this notebook is used, if any. Files up to
    ``max_copy_bytes`` are copied, larger data files are referenced by sha256.

    :param notebook_path: the ``.ipynb`` file.
    :param out_dir: the project folder to write.
    :param run_id: the source run; default the latest run recorded from this notebook.
    :param max_copy_bytes: the largest data file copied.
    :param overwrite: replace an existing project folder.
    :param write: where progress lines go (None: nowhere).
    :raises NotFoundError: when there is no notebook at ``notebook_path``.
    :param reference_secrets: the credential files the notebook reads (``.env``, keys,
        service-account files; see :func:`mlnb.projects.scan.credential_reason`) refuse the
        export by default; with True they are left out and referenced: the project reads each,
        at run time, from the path in its environment variable (:func:`data.secret_env`) or
        from the same path inside the project folder.
    """
    say = write or (lambda _text: None)
    notebook_file = Path(notebook_path).expanduser().resolve()
    if not notebook_file.is_file():
        raise NotFoundError(f"No notebook at {notebook_path}.")
    folder = notebook_file.parent
    out = _check_destination(Path(out_dir).expanduser().resolve(), folder, overwrite)
    notebook = _read_notebook(notebook_file)
    run = _source_run(run_id, notebook_file)
    if run is not None and run_id is not None:
        sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
        origin.check_run_origin(run, notebook_file, sources, project_name(notebook_file.stem), say)
    created = _make_parents(out, os.fspath(out_dir))
    staging: Path | None = None
    try:
        staging = _staging_folder(out, os.fspath(out_dir))
        summary = _write_project(notebook, notebook_file, staging, run, max_copy_bytes,
                                 reference_secrets)
        scan_project(staging, [folder, notebook_file.parent.absolute()])
        if out.exists():
            shutil.rmtree(out) if overwrite else out.rmdir()
        staging.rename(out)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for made in reversed(created):  # the parent folders this export made: nothing left behind
            with contextlib.suppress(OSError):
                made.rmdir()
        raise
    say(f"[mlnb] Exported {notebook_file.name} to {out}: {summary}")
    say(f"[mlnb] Run it with: mlnb run {out}" + ("  (add --verify to check it reproduces run "
                                                 f"{run.info.run_id})" if run else ""))
    return out


def _check_destination(out: Path, folder: Path, overwrite: bool) -> Path:
    if out == folder or folder.is_relative_to(out):
        raise InvalidParameterError(
            f"The project folder {out} would contain or replace the notebook's own folder; "
            "choose a new folder, e.g. --out exported/")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise AlreadyExistsError(f"{out} already exists and is not empty; choose another folder "
                                 "or pass overwrite=True (--force).")
    return out


def _unwritable(given: str, reason: str) -> InvalidParameterError:
    return InvalidParameterError(f"--out {given} cannot be written: {reason}. Choose a folder you "
                                 "can write to. Nothing was written.")


def _why(exc: OSError, folder: Path) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return f"{exc.filename or folder} is not a folder"
    if isinstance(exc, PermissionError):
        return f"no permission to create files in {folder}"
    if exc.errno == errno.EROFS:
        return f"{folder} is on a read-only file system"
    return f"{folder} does not accept new files ({exc.strerror or exc})"


def _make_parents(out: Path, given: str) -> list[Path]:
    """Create the missing folders above ``out``; returns them, outermost first."""
    missing = [p for p in reversed(out.parents) if not p.exists()]
    existing = next((p for p in out.parents if p.exists()), Path("/"))
    if not existing.is_dir():
        raise _unwritable(given, f"{existing} is not a folder")
    created: list[Path] = []
    for folder in missing:
        try:
            folder.mkdir()
        except OSError as exc:
            for made in reversed(created):
                with contextlib.suppress(OSError):
                    made.rmdir()
            raise _unwritable(given, _why(exc, folder.parent)) from None
        created.append(folder)
    return created


def _staging_folder(out: Path, given: str) -> Path:
    """The temporary folder beside ``out`` that the project is written into, then renamed."""
    try:
        return Path(tempfile.mkdtemp(prefix=".mlnb-export-", dir=out.parent))
    except OSError as exc:
        raise _unwritable(given, _why(exc, out.parent)) from None


def _read_notebook(path: Path) -> Any:
    import nbformat  # nbformat: loaded on first use, not by import mlnb

    try:
        return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises several kinds; all mean "not a readable notebook"
        raise InvalidParameterError(f"{path.name} is not a readable notebook: {exc}") from None


# --- the source run ----------------------------------------------------------------------------


def _source_run(run_id: str | None, notebook_file: Path) -> Run | None:
    if run_id is not None:
        run: Run = current_client().get_run(run_id)
        return run
    if existing_store() is None:
        return None  # no store yet: nothing ran, and exporting must not create one
    found: Run | None = latest_notebook_run(notebook_file)
    return found


def latest_notebook_run(notebook_file: Path) -> Run | None:
    """The newest finished run whose ``mlnb.notebook.path`` tag names this notebook.

    :param notebook_file: the notebook.
    """
    client = current_client()
    experiments = client.all_experiment_ids(ViewType.ACTIVE_ONLY)
    pattern = "%" + notebook_file.name.replace("'", "''")
    runs = client.search_runs(experiments, f"tags.`{_NOTEBOOK_TAG}` LIKE '{pattern}'",
                              ViewType.ACTIVE_ONLY, 200, ["attributes.start_time DESC"])
    for run in runs:
        recorded = Path(run.data.tags.get(_NOTEBOOK_TAG, ""))
        candidates = [recorded] if recorded.is_absolute() else [Path.cwd() / recorded,
                                                                  notebook_file.parent / recorded.name]
        if run.info.status == "FINISHED" and any(_same_file(c, notebook_file) for c in candidates):
            chosen: Run = run
            return chosen
    return None


def _same_file(candidate: Path, target: Path) -> bool:
    try:
        return candidate.resolve() == target
    except OSError:
        return False


# --- writing the project -----------------------------------------------------------------------


def _write_project(notebook: Any, notebook_file: Path, out: Path, run: Run | None,
                   max_copy_bytes: int, reference_secrets: bool = False) -> str:
    folder = notebook_file.parent
    _relativize_sources(notebook, folder)
    cells = [convert.translate_cell(cell.source, number, list(cell.metadata.get("tags", [])))
             for number, cell in enumerate(notebook.cells, 1)
             if cell.cell_type == "code" and SKIP_TAG not in cell.metadata.get("tags", [])]
    trees = {cell.number: cell.tree() for cell in cells}
    use = file_use.file_use(trees.values(), folder)
    specs, notes = _parameters(cells, trees, run, folder, frozenset(use.outputs))
    name = project_name(notebook_file.stem)
    version = requirements.mlnb_version()
    script = convert.build_script(cells, specs, name, notebook_file.name, version)
    convert.parse_cell(script, 0)  # the assembled script must parse
    (out / SCRIPT).write_text(script, encoding="utf-8")

    modules = requirements.imported_modules(trees.values())
    local = requirements.local_modules(modules, folder)
    _copy_local_modules(local, folder, out)
    local_files = [p.relative_to(folder).as_posix() for p in local.values()]
    found = data.find_data_files(trees.values(), folder, [notebook_file.name, *local_files])
    credentials = credential_files(folder, [p for p in found if p not in use.outputs], max_copy_bytes)
    if credentials and not reference_secrets:
        raise refuse_credentials(credentials)
    files = data.collect(folder, found, out, max_copy_bytes, use, credentials)
    data.write_lock(out, files, max_copy_bytes)
    # Never committed: what a run of this copy left (its own), and the credential files, so that a
    # user who puts one into the project does not commit it.
    ignored = [data.RUN_STATE_NAME, *sorted(credentials)]
    (out / ".gitignore").write_text("".join(f"/{p}\n" for p in ignored), encoding="utf-8")

    (out / "requirements.txt").write_text(requirements.requirements_text(set(modules) - set(local)),
                                          encoding="utf-8")
    (out / "python_env.yaml").write_text(requirements.python_env_yaml(), encoding="utf-8")
    requirements.build_mlnb_wheel(out / requirements.WHEEL_DIR)
    (out / mlproject.MLPROJECT).write_text(mlproject.mlproject_text(name, specs, SCRIPT),
                                           encoding="utf-8")
    _write_clean_notebook(notebook, out / notebook_file.name)
    experiment = origin.notebook_experiment(
        (trees[cell.number], convert.parse_track_line(cell.magic_line, cell.number).experiment
         if cell.magic == "track" else None) for cell in cells)
    provenance = provenance_record(notebook_file, run, version, experiment)
    (out / PROVENANCE).write_text(json.dumps(provenance, indent=2, default=str) + "\n", encoding="utf-8")
    translated = [note for cell in cells for note in cell.notes]
    (out / "README.md").write_text(readme_text(name, notebook_file.name, specs, files, provenance,
                                               notes, translated), encoding="utf-8")
    copied = sum(f.copied for f in files)
    outputs = sum(f.role == data.OUTPUT for f in files)
    return (f"{len(specs)} parameter(s), {copied} data file(s) copied, "
            f"{len(files) - copied - outputs} referenced by sha256, {outputs} output(s) of the "
            f"notebook left out, {len(translated)} IPython line(s) translated")


def credential_files(folder: Path, paths: list[str], max_copy_bytes: int) -> dict[str, str]:
    """``{path: why}`` for the data files that are credential files, by name or by content (the
    content of the files small enough to be copied; a larger one is never in the project).

    :param folder: the notebook's folder.
    :param paths: the data files, relative to it.
    :param max_copy_bytes: the largest file read for its content.
    """
    found = {}
    for relative in paths:
        source = folder / relative
        content = source.read_bytes() if source.stat().st_size <= max_copy_bytes else None
        why = credential_reason(relative, content)
        if why is not None:
            found[relative] = why
    return found


def project_name(stem: str) -> str:
    """A project name made of the notebook's file stem (``notebook`` when nothing usable is left).

    :param stem: the notebook's file name without its extension.
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._-")
    return name or "notebook"


def _parameters(cells: list[convert.CellCode], trees: dict[int, Any], run: Run | None,
                folder: Path, outputs: frozenset[str]) -> tuple[list[parameters.ParameterSpec], list[str]]:
    marked = [cell for cell in cells if cell.is_parameters]
    if marked:
        cell = marked[0]
        return parameters.from_parameters_cell(cell.body, trees[cell.number], cell.number, folder,
                                               outputs)
    if run is not None:
        return parameters.from_run_params(run.data.params, trees, folder, outputs)
    return [], ["no cell is tagged 'parameters' and no run was chosen: the project has no parameters"]


def _relativize_sources(notebook: Any, folder: Path) -> None:
    """Rewrite the notebook folder's absolute path in cell sources to a relative one."""
    prefixes = sorted({str(folder), str(folder.absolute())}, key=len, reverse=True)
    for cell in notebook.cells:
        source = cell.source
        for prefix in prefixes:
            source = source.replace(prefix + os.sep, "")
            source = re.sub(re.escape(prefix) + r"(?=[\"'\s)]|$)", ".", source)
        cell.source = source


def _copy_local_modules(local: dict[str, Path], folder: Path, out: Path) -> None:
    for path in local.values():
        target = out / path.relative_to(folder)
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                            symlinks=False)
        else:
            shutil.copyfile(path, target)


def _write_clean_notebook(notebook: Any, target: Path) -> None:
    """The notebook without outputs, execution counts or metadata beyond tags and kernel, and
    without the values of secret ``%env NAME=value`` lines."""
    import nbformat  # nbformat: loaded on first use, not by import mlnb

    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = convert.redact_secret_env(cell.source)
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})  # type: ignore[no-untyped-call]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.pop("attachments", None)
    kept = {k: notebook.metadata[k] for k in ("kernelspec", "language_info") if k in notebook.metadata}
    notebook.metadata = nbformat.NotebookNode(kept)  # type: ignore[no-untyped-call]
    nbformat.write(notebook, str(target))  # type: ignore[no-untyped-call]


def provenance_record(notebook_file: Path, run: Run | None, version: str,
                      experiment: str | None = None) -> dict[str, Any]:
    """Where the project came from: notebook, git commit, source run with its metrics, and the
    experiment ``mlnb run`` opens the project's run in (the source run's, else the one the
    notebook sets), so that it and the notebook's own runs share one experiment.

    :param notebook_file: the notebook.
    :param run: the source run, or None.
    :param version: the mlnb version exporting it.
    :param experiment: the experiment the notebook sets, when there is no source run.
    """
    head = git_head(notebook_file.parent)
    record: dict[str, Any] = {
        "exported_by": f"mlnb {version}",
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notebook": notebook_file.name,
        "git": {"commit": head[0], "branch": head[1]} if head else None,
        "experiment": experiment,
        "run": None,
    }
    if run is not None:
        record["run"] = run_snapshot(run)
        record["experiment"] = record["run"]["experiment"]
        commit = run.data.tags.get("mlflow.source.git.commit")
        if commit:
            record["git"] = {"commit": commit, "branch": run.data.tags.get("mlflow.source.git.branch")}
    return record


def run_snapshot(run: Run) -> dict[str, Any]:
    """The run's id, name, experiment, params and metrics, and its children's metrics.

    :param run: the source run.
    """
    client = current_client()
    experiment = client.get_experiment(run.info.experiment_id)
    children = [{"run_id": r.info.run_id, "run_name": r.info.run_name,
                 "metrics": {k: json_safe_float(v) for k, v in r.data.metrics.items()}}
                for r in run_tree(client, run.info.run_id)[1:]]
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment": experiment.name,
        "status": run.info.status,
        "params": dict(run.data.params),
        "metrics": {k: json_safe_float(v) for k, v in run.data.metrics.items()},
        "children": children,
    }
