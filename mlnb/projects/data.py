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

A write the analysis of the code misses (``joblib.dump(model, path)``, a helper in a local module)
leaves an input that the run itself changed. :func:`recording_run_writes` wraps every run: when
it ends, however it ends, each input whose content the run changed is recorded with its new
sha256 in ``.mlnb-run-state.json`` (inside the project, ignored by git), and
:func:`verify_lock` accepts an input that matches the lock or what the project's last run left.
A file changed by anything else is still refused.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlnb.errors import InvalidParameterError, MlnbError, NotFoundError
from mlnb.projects.file_use import FileUse
from mlnb.projects.parameters import names_file_inside
from mlnb.store.artifacts import replace_atomically

LOCK_NAME = "data.lock.json"
RUN_STATE_NAME = ".mlnb-run-state.json"  # what the project's last run left (see module docstring)
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


@dataclass(frozen=True)
class CheckedFile:
    """An input file that :func:`verify_lock` checked: its lock entry, and whether its content is
    the one the project's last run left (it rewrote the file) rather than the exported one."""

    file: DataFile
    by_last_run: bool = False

    @property
    def path(self) -> str:
        """The file's path inside the project."""
        return self.file.path


def verify_lock(project_dir: Path) -> list[CheckedFile]:
    """Check every input data file exists with its recorded sha256; raise naming the first bad one.

    Files the notebook writes (outputs, and inputs it updates in place) are not checked: a run
    must never be blocked by what it wrote itself. For the same reason an input whose sha256 is
    the one the project's own last run left (:data:`RUN_STATE_NAME`) is accepted too. Returns
    the inputs checked.

    :param project_dir: the project folder, which holds ``data.lock.json``.
    """
    entries = read_lock(project_dir)
    for entry in entries:
        if entry.role == SECRET:
            locate_secret(project_dir, entry.path)
    left = read_run_state(project_dir)
    checked = []
    for entry in (entry for entry in entries if entry.role == INPUT):
        path = _inside(project_dir, entry.path)
        if not path.is_file():
            how = ("it was copied at export: restore it from the export" if entry.copied else
                   f"it was too large to copy ({entry.size} bytes)")
            raise DataFileError(
                f"Data file {entry.path!r} is missing from the project ({how}). Put the file with "
                f"sha256 {entry.sha256} at {entry.path} inside the project folder.")
        actual = sha256_of(path)
        if actual != entry.sha256 and actual != left.get(entry.path):
            also = (f" (or {left[entry.path]}, as the project's last run left it)"
                    if entry.path in left else "")
            raise DataFileError(
                f"Data file {entry.path!r} has changed since the export: its sha256 is {actual}, "
                f"expected {entry.sha256}{also}. Restore the original file (or re-export the "
                "notebook if the change is intended).")
        checked.append(CheckedFile(entry, by_last_run=actual != entry.sha256))
    return checked


def _inside(project_dir: Path, relative: str) -> Path:
    path = project_dir / relative
    if not path.resolve().is_relative_to(project_dir.resolve()):
        raise InvalidParameterError(f"{LOCK_NAME} names {relative!r}, outside the project.")
    return path


# --- what the project's own last run wrote -------------------------------------------------------

def _lock_digest(project_dir: Path) -> str:
    lock = project_dir / LOCK_NAME
    return sha256_of(lock) if lock.is_file() else ""


def read_run_state(project_dir: Path) -> dict[str, str]:
    """``{path: sha256}`` of the inputs the project's last run rewrote, as it left them.

    Recorded for this very lock only (a re-export starts afresh); an unreadable state file counts
    as empty: it can then only refuse a file, never accept one.

    :param project_dir: the project folder.
    """
    try:
        state = json.loads((project_dir / RUN_STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("lock") != _lock_digest(project_dir):
        return {}
    files = state.get("files")
    if not isinstance(files, dict):
        return {}
    return {str(path): digest for path, digest in files.items() if isinstance(digest, str)}


# A file's identity on disk: a write changes its size, mtime or ctime (a replacement, its inode).
_Stamp = tuple[int, int, int, int]
# Timestamps are as coarse as 2 s on some file systems: a file modified that close to the moment
# its stamp was taken could be written again with the same stamp, so it is hashed after the run.
_RACY_NS = 2_000_000_000


def _stamp(path: Path) -> _Stamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


@contextlib.contextmanager
def recording_run_writes(project_dir: Path) -> Iterator[None]:
    """Around a run of the project (entered after :func:`verify_lock` passed): when the run ends,
    by success, error or exit, record in :data:`RUN_STATE_NAME` the sha256 of every locked input
    it changed, so that the next run accepts what this one wrote. A file the run was writing
    when it crashed is recorded as the run left it.

    :param project_dir: the project folder.
    """
    inputs = [entry.path for entry in read_lock(project_dir) if entry.role == INPUT]
    taken = time.time_ns()
    before = {path: _stamp(project_dir / path) for path in inputs}
    try:
        yield
    finally:
        try:
            record_run_writes(project_dir, before, taken)
        except (OSError, MlnbError) as exc:  # never hide how the run itself ended
            warnings.warn(f"mlnb could not record the files this run wrote in {RUN_STATE_NAME}: "
                          f"{exc}. The next run may refuse an input this one rewrote.",
                          stacklevel=3)


def record_run_writes(project_dir: Path, before: dict[str, _Stamp | None], taken: int) -> None:
    """Record the inputs whose stamp changed since ``before`` (taken at ``taken``, ns since the
    epoch) and whose content is now neither the exported one nor the one already recorded.

    :param project_dir: the project folder.
    :param before: each input's stamp before the run (None: it did not exist).
    :param taken: when the stamps were taken.
    """
    lock = {entry.path: entry.sha256 for entry in read_lock(project_dir) if entry.role == INPUT}
    state = read_run_state(project_dir)
    recorded = dict(state)
    for path, stamp in before.items():
        if path not in lock:
            continue
        now = _stamp(project_dir / path)
        racy = stamp is not None and stamp[1] >= taken - _RACY_NS
        if now == stamp and not racy:
            continue  # not written during the run
        if now is None:
            recorded.pop(path, None)  # the run removed it: the next run says it is missing
            continue
        digest = sha256_of(project_dir / path)
        if digest == lock[path]:
            recorded.pop(path, None)
        else:
            recorded[path] = digest
    if recorded != state:
        state_text = json.dumps({"version": 1, "lock": _lock_digest(project_dir), "files": recorded},
                                indent=2, sort_keys=True) + "\n"
        replace_atomically(project_dir / RUN_STATE_NAME, state_text.encode(), durable=True)


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
