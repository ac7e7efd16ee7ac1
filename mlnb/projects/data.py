"""The data files a notebook reads from its folder: found, copied or locked by sha256, verified.

A data file is a string literal in a code cell that names an existing file inside the notebook's
folder (``pd.read_csv("data/iris_small.csv")``). Files up to the size cap are copied into the
project; larger ones are only referenced. Every one is listed with its size and sha256 in
``data.lock.json``, and :func:`verify_lock` checks them before the project runs, so a missing or
changed file is a clear error instead of a wrong result.

Only inputs are checked. A file the notebook writes (:mod:`mlnb.projects.file_use`) is an
output: listed, never copied nor checked, so that a run is never blocked by what an earlier run
wrote. A file it reads and then writes (``updated``) is copied for the first run, not checked.
A credential file the export was told to reference (``secret``) is left out: at run time it is
found at its path inside the project, or at the path in its environment variable
(:func:`secret_env`), which :func:`secret_links` links in for the run.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.projects.file_use import FileUse
from mlnb.projects.parameters import names_file_inside

LOCK_NAME = "data.lock.json"
DEFAULT_MAX_COPY_BYTES = 10 * 1024 * 1024
_SKIPPED_PARTS = frozenset({".git", ".mlnb", ".ipynb_checkpoints", "__pycache__", ".venv"})
INPUT, UPDATED, OUTPUT, SECRET = "input", "updated", "output", "secret"


@dataclass(frozen=True)
class DataFile:
    """A data file of the project: its path relative to the project, size, sha256, copied or not,
    and its role: an ``input`` (checked before a run), ``updated`` (read, then written by the
    notebook) or ``output`` (written by it); only inputs are checked."""

    path: str
    size: int
    sha256: str
    copied: bool
    role: str = INPUT


class DataFileError(NotFoundError):
    """A data file the project needs is missing or is not the file it was exported with."""


def sha256_of(path: Path) -> str:
    """The sha256 of a file, as hex.

    :param path: the file.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_data_files(trees: Iterable[ast.Module], folder: Path, exclude: Iterable[str] = ()) -> list[str]:
    """Relative paths of the existing files inside ``folder`` that the code names in strings.

    :param trees: the cells' syntax trees.
    :param folder: the notebook's folder.
    :param exclude: relative paths to leave out.
    """
    found: dict[str, None] = {}
    root = folder.resolve()
    skipped = {Path(p).as_posix() for p in exclude}
    for tree in trees:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = node.value.strip()
            if not text or not names_file_inside(text, folder):
                continue
            target = (folder / text).resolve()
            if not target.is_file():
                continue
            relative = target.relative_to(root)
            if set(relative.parts) & _SKIPPED_PARTS or relative.as_posix() in skipped:
                continue
            found[relative.as_posix()] = None
    return sorted(found)


def secret_env(path: str) -> str:
    """The environment variable that holds the path of the left-out credential file ``path``:
    ``service-account.json`` -> ``MLNB_SECRET_SERVICE_ACCOUNT_JSON``.

    :param path: the file's path inside the project.
    """
    return "MLNB_SECRET_" + (re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_").upper() or "FILE")


def collect(folder: Path, paths: Iterable[str], out_dir: Path, max_copy_bytes: int,
            use: FileUse | None = None, secrets: Iterable[str] = ()) -> list[DataFile]:
    """Copy the files up to ``max_copy_bytes`` into ``out_dir`` (same relative paths); lock all.

    :param folder: the notebook's folder, which ``paths`` are relative to.
    :param paths: the data files the notebook names.
    :param out_dir: the project folder.
    :param max_copy_bytes: larger files are referenced by sha256, not copied.
    :param use: which of them the notebook writes: outputs are listed only, neither copied nor
        hashed; files it updates are copied, and not checked before a run.
    :param secrets: credential files to leave out (neither copied nor hashed), for the user to
        supply at run time.
    """
    use = use or FileUse()
    secret = set(secrets)
    files = []
    for relative in paths:
        source = folder / relative
        size = source.stat().st_size
        if relative in use.outputs or relative in secret:
            files.append(DataFile(relative, size, "", False, SECRET if relative in secret else OUTPUT))
            continue
        copied = size <= max_copy_bytes
        if copied:
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)  # the content, never a symlink
        files.append(DataFile(relative, size, sha256_of(source), copied,
                              UPDATED if relative in use.updated else INPUT))
    return files


def write_lock(out_dir: Path, files: list[DataFile], max_copy_bytes: int) -> None:
    """Write the data lock file (each file's path, size, sha256 and whether it was copied).

    :param out_dir: the project folder.
    :param files: the data files.
    :param max_copy_bytes: the copy limit the export used.
    """
    data: dict[str, Any] = {
        "version": 1,
        "max_copy_bytes": max_copy_bytes,
        "files": [asdict(f) for f in files],
    }
    (out_dir / LOCK_NAME).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def read_lock(project_dir: Path) -> list[DataFile]:
    """The data files the project's lock file lists (none without a lock file).

    :param project_dir: the project folder.
    :raises InvalidParameterError: when the lock file cannot be read.
    """
    lock = project_dir / LOCK_NAME
    if not lock.is_file():
        return []
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
        return [DataFile(str(f["path"]), int(f["size"]), str(f["sha256"]), bool(f["copied"]),
                         str(f.get("role", INPUT))) for f in data.get("files", [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameterError(f"{LOCK_NAME} in {project_dir} cannot be read: {exc}.") from None


def verify_lock(project_dir: Path) -> list[DataFile]:
    """Check every input data file exists with its recorded sha256; raise naming the first bad one.

    Files the notebook writes (outputs, and inputs it updates in place) are not checked: a run
    must never be blocked by what it wrote itself. Returns the inputs checked.

    :param project_dir: the project folder.
    """
    entries = read_lock(project_dir)
    for entry in entries:
        if entry.role == SECRET:
            locate_secret(project_dir, entry.path)
    files = [entry for entry in entries if entry.role == INPUT]
    for entry in files:
        path = project_dir / entry.path
        if not path.resolve().is_relative_to(project_dir.resolve()):
            raise InvalidParameterError(f"{LOCK_NAME} names {entry.path!r}, outside the project.")
        if not path.is_file():
            how = ("it was copied at export: restore it from the export" if entry.copied else
                   f"it was too large to copy ({entry.size} bytes)")
            raise DataFileError(
                f"Data file {entry.path!r} is missing from the project ({how}). Put the file with "
                f"sha256 {entry.sha256} at {entry.path} inside the project folder.")
        actual = sha256_of(path)
        if actual != entry.sha256:
            raise DataFileError(
                f"Data file {entry.path!r} has changed since the export: its sha256 is {actual}, "
                f"expected {entry.sha256}. Restore the original file (or re-export the notebook "
                "if the change is intended).")
    return files


def locate_secret(project_dir: Path, path: str) -> Path:
    """Where the left-out credential file ``path`` is: inside the project, else at the path in its
    environment variable. Raises :class:`DataFileError` saying how to supply it.

    :param project_dir: the project folder.
    :param path: the credential file's path inside the project, as the lock names it.
    """
    inside = project_dir / path
    # Lexically: the file itself may be a link to where the user keeps it (secret_links).
    if Path(path).is_absolute() or os.path.normpath(path).split(os.sep)[0] == "..":
        raise InvalidParameterError(f"{LOCK_NAME} names {path!r}, outside the project.")
    if inside.is_file():
        return inside
    variable = secret_env(path)
    given = os.environ.get(variable, "")
    if given and Path(given).expanduser().is_file():
        return Path(given).expanduser().resolve()
    problem = (f"{variable}={given!r} does not name a file" if given else
               f"{variable} is not set")
    raise DataFileError(
        f"The project needs the credential file {path!r}, which the export left out, and "
        f"{problem}. Set {variable} to the path of your copy of it (e.g. {variable}=/path/to/"
        f"{Path(path).name} mlnb run ...), or put it at {path} inside the project folder.")


@contextlib.contextmanager
def secret_links(project_dir: Path) -> Iterator[list[Path]]:
    """For the run: a symbolic link at each left-out credential file's path inside the project
    to the file its environment variable names (where no file is there already); removed after.

    :param project_dir: the project folder.
    """
    made: list[Path] = []
    folders: list[Path] = []
    try:
        for entry in read_lock(project_dir):
            if entry.role != SECRET:
                continue
            target = locate_secret(project_dir, entry.path)
            link = project_dir / entry.path
            if target == link:
                continue  # the user put it into the project
            missing = [p for p in reversed(link.parents) if not p.exists()]
            link.parent.mkdir(parents=True, exist_ok=True)
            folders += missing
            link.symlink_to(target)
            made.append(link)
        yield made
    finally:
        for link in made:
            with contextlib.suppress(OSError):
                link.unlink()
        for folder in reversed(folders):
            with contextlib.suppress(OSError):
                folder.rmdir()
