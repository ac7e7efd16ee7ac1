"""The artifact root: one folder per run, files written atomically, paths that cannot escape.

Every path that names an artifact goes through :func:`safe_relpath` before it touches the disk,
and every final location is checked again after symlinks are resolved (:func:`resolve_inside`).
Files are written to a temporary name in the destination folder and renamed into place, so a
crash of the process or a full disk never leaves a partial file under the final name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from mlnb.errors import NotFoundError, StoreError, UnsafePathError

MAX_PATH_LENGTH = 1024
CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# '#', '?' and ';' end a path in a URL; MLflow's bypasses came through each of them (CVE-2024-*).
_FORBIDDEN_CHARS = set("\\#?;")


def safe_relpath(path: str | os.PathLike[str], *, allow_empty: bool = False) -> str:
    """Check an artifact path and return it normalised (forward slashes, no ``.`` parts).

    Refuses, with :class:`~mlnb.errors.UnsafePathError`, anything that could name a file outside
    the folder it is relative to: ``..`` parts, absolute paths, drive letters, backslashes, URL
    schemes, ``#``/``?``/``;``, control characters, and percent-encoded forms of any of these
    (decoded repeatedly until stable).

    :param path: the path as given.
    :param allow_empty: accept ``""`` (the top folder).
    """
    text = os.fspath(path)
    if not isinstance(text, str):
        raise UnsafePathError(f"Artifact path must be text, not {type(text).__name__}.")
    if len(text) > MAX_PATH_LENGTH:
        raise UnsafePathError(
            f"Artifact path is {len(text)} characters long; the limit is {MAX_PATH_LENGTH}."
        )
    decoded = _decode_until_stable(text)
    for candidate in (text, decoded):
        _refuse_unsafe(candidate, original=text)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts and not allow_empty:
        raise UnsafePathError(f"Artifact path {text!r} is empty; name a file inside the run.")
    return "/".join(parts)


def _decode_until_stable(text: str) -> str:
    for _ in range(10):
        decoded = unquote(text)
        if decoded == text:
            return decoded
        text = decoded
    raise UnsafePathError("Artifact path is percent-encoded too many times over.")


def _refuse_unsafe(text: str, *, original: str) -> None:
    def refuse(why: str) -> None:
        raise UnsafePathError(
            f"Artifact path {original!r} is refused: {why}. "
            "Use a relative path such as 'plots/loss.png' that stays inside the run's folder."
        )

    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        refuse("it contains a control or invisible formatting character")
    bad = sorted(_FORBIDDEN_CHARS.intersection(text))
    if bad:
        refuse(f"it contains {' '.join(repr(c) for c in bad)}")
    if text.startswith("/") or _DRIVE.match(text):
        refuse("it is absolute")
    if _SCHEME.match(text):
        refuse("it is a URI, not a path")
    if any(part == ".." for part in text.split("/")):
        refuse("it contains a '..' part")


def resolve_inside(base: Path, relpath: str) -> Path:
    """``base / relpath`` after symlinks are resolved, refused if it lands outside ``base``.

    :param base: the folder the path must stay in.
    :param relpath: a path already checked by :func:`safe_relpath`.
    """
    base_real = base.resolve()
    target = (base_real / relpath).resolve()
    if target != base_real and not target.is_relative_to(base_real):
        raise UnsafePathError(
            f"Artifact path {relpath!r} leads outside its run's folder (through a symlink)."
        )
    return target


def owner_folder(owner: str) -> str:
    """The folder of an artifact owner relative to the artifact root: a run's id, or
    ``models/<model_id>`` for a logged model without a run (MLflow 3's layout; no run id can
    be ``models``, so the two never meet).

    :param owner: a run id (32 hex digits) or a logged model id (``m-`` and 32 hex digits).
    :raises UnsafePathError: for anything else.
    """
    if isinstance(owner, str) and re.fullmatch(r"[0-9a-f]{32}", owner):
        return owner
    if isinstance(owner, str) and re.fullmatch(r"m-[0-9a-f]{32}", owner):
        return f"models/{owner}"
    raise UnsafePathError(f"{owner!r} is not a run id.")


def is_model_owner(owner: str) -> bool:
    """Whether an artifact owner is a logged model (``m-`` and 32 hex digits), not a run.

    :param owner: a run id or a logged model id.
    """
    return bool(re.fullmatch(r"m-[0-9a-f]{32}", owner))


@dataclass(frozen=True)
class StoredFile:
    """What was written: the artifact's path relative to the run, its size and sha256."""

    path: str
    size: int
    sha256: str


class ArtifactRoot:
    """The folder holding every run's artifacts, one sub-folder per run id.

    :param root: the artifact root folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def run_dir(self, run_id: str) -> Path:
        """The folder of a run's artifacts, or of a logged model without a run (it may not exist
        yet).

        :param run_id: the run (32 hex digits) or the logged model (``m-`` and 32 hex digits);
            anything else is refused.
        """
        return self.root / owner_folder(run_id)

    def file_relpath(self, run_id: str, dest: str) -> str:
        """``dest`` checked as the path of a file of the run, normalised (as written).

        :param run_id: the run; anything but 32 hex digits is refused.
        :param dest: the artifact's path inside the run.
        :raises UnsafePathError: for a path that could leave the run's folder, or names a folder.
        """
        rel = safe_relpath(dest)  # an unsafe path is refused as such before anything else
        if str(dest).endswith(("/", "/.")):
            raise UnsafePathError(
                f"Artifact path {dest!r} names a folder; give the file's name, e.g. "
                f"'{rel}/notes.txt'.")
        self.run_dir(run_id)
        return rel

    def put_file(self, run_id: str, source: Path, dest: str) -> StoredFile:
        """Copy ``source`` to the run's artifact ``dest`` atomically; return its size and hash.

        :param run_id: the run.
        :param source: the local file.
        :param dest: the artifact's path inside the run.
        """
        with open(source, "rb") as handle:
            return self.put_stream(run_id, dest, iter(lambda: handle.read(CHUNK), b""))

    def put_bytes(self, run_id: str, dest: str, data: bytes) -> StoredFile:
        """Write ``data`` to the run's artifact ``dest`` atomically; return its size and hash.

        :param run_id: the run.
        :param dest: the artifact's path inside the run.
        :param data: the content.
        """
        return self.put_stream(run_id, dest, iter([data]))

    def put_stream(self, run_id: str, dest: str, chunks: Iterator[bytes]) -> StoredFile:
        """Write chunks to the run's artifact ``dest`` through a temporary file renamed into place;
        return its size and hash.

        :param run_id: the run.
        :param dest: the artifact's path inside the run (a file, not a folder).
        :param chunks: the content.
        :raises UnsafePathError: for a path that could leave the run's folder, or names a folder.
        """
        rel = self.file_relpath(run_id, dest)
        run_dir = self.run_dir(run_id)
        target = resolve_inside(run_dir, rel) if run_dir.exists() else run_dir / rel
        makedirs_private(target.parent)
        target = resolve_inside(run_dir, rel)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                # No fsync: the rename alone guarantees that a crash or kill -9 of this process
                # leaves either the whole file or none under its name (the page cache survives
                # the process). Like the store's synchronous=NORMAL, only an OS crash or power
                # loss can lose the newest artifacts; an fsync per file cost ~8 ms, more than
                # logging a small model takes otherwise.
            os.replace(tmp_name, target)
        except OSError as exc:
            unlink_quietly(tmp_name)
            raise StoreError(f"Could not write artifact {rel!r}: {exc.strerror or exc}.") from exc
        except BaseException:
            unlink_quietly(tmp_name)
            raise
        return StoredFile(rel, size, digest.hexdigest())

    def remove(self, run_id: str, paths: list[str]) -> None:
        """Remove files of a run (their records are gone already), and folders left empty;
        a file already missing is no error.

        :param run_id: the run.
        :param paths: the files' paths inside the run, as recorded.
        """
        run_dir = self.run_dir(run_id)
        for rel in paths:
            target = resolve_inside(run_dir, safe_relpath(rel))
            try:
                target.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"Could not remove artifact {rel!r} of run {run_id}: "
                                 f"{exc.strerror or exc}.") from None
            parent = target.parent
            while parent != run_dir and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent

    def local_path(self, run_id: str, path: str = "") -> Path:
        """The file or folder an artifact path names, checked to stay inside the run's folder.

        :param run_id: the run.
        :param path: a path inside the run's artifacts; default the run's folder.
        :raises NotFoundError: when it does not exist.
        """
        rel = safe_relpath(path, allow_empty=True)
        found = resolve_inside(self.run_dir(run_id), rel)
        if not found.exists():
            raise NotFoundError(f"Run {run_id} has no artifact {rel!r}.")
        return found


def iter_source_files(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file below ``folder`` with its path relative to it (symlinks followed to
    files, never into folders, so a link cannot loop or pull in a whole tree).

    :param folder: the folder to walk; linked sub-folders are skipped with a warning.
    """
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        linked = sorted(d for d in dirnames if (here / d).is_symlink())
        if linked:
            warnings.warn(f"log_artifacts skipped linked folders {linked} in {here}: a link to a "
                          "folder is not followed (it could loop or pull in a whole tree). Log "
                          "its target folder on its own if you want it.", UserWarning, stacklevel=3)
        dirnames[:] = sorted(d for d in dirnames if d not in linked)
        for name in sorted(filenames):
            full = here / name
            if full.is_file():
                yield full, full.relative_to(folder).as_posix()


def replace_atomically(target: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``target`` (mode 0600) through a temporary file beside it and a rename:
    a reader, or a crash, sees the old content or the new, never half of it.

    :param target: the file; its folder must exist.
    :param data: the whole new content.
    :param durable: also fsync before the rename (for small state that must survive power loss).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        unlink_quietly(tmp_name)
        raise


def sha256_of(path: Path) -> str:
    """The sha256 of a file, as hex.

    :param path: the file.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def makedirs_private(folder: Path) -> None:
    """Create ``folder`` and every missing parent as 0700 (``mkdir(parents=True)`` would give
    the parents the umask's mode, e.g. 0755, and leave a run's folder readable by others).

    :param folder: the folder to create.
    """
    missing: list[Path] = []
    here = folder
    while not here.exists() and here.parent != here:
        missing.append(here)
        here = here.parent
    try:
        for part in reversed(missing):
            part.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Could not create artifact folder {folder}: {exc.strerror}.") from exc


def unlink_quietly(name: str) -> None:
    """Remove a file if it is there (a temporary file being given up).

    :param name: its path.
    """
    try:
        os.unlink(name)
    except OSError:
        pass
