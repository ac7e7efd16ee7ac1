"""The notebook as it was when a ``%%track`` cell ran, kept as the run's ``notebook/<name>.ipynb``.

Nothing saves a notebook when a cell runs, so the file on disk can be older than the cell that
made the run (the user edited the cell and ran it without saving). The snapshot is the file as
it is when the cell ends, with one correction: the tracked cell, found by the id the frontend
sent, gets the source that actually ran, and is marked so (``metadata.mlnb.executed_source``).
Its outputs on disk come from an earlier execution, so they are left out. When the cell's id is
not in the file (nor, without an id, a cell with the exact executed source), nothing is changed
or added: the snapshot says so in its metadata instead of guessing.

The notebook's metadata gets ``mlnb.snapshot``: ``saved_at``, ``cell_id``, ``cell_found``,
``source_matched`` (true: the file already held the executed source; false: it held another,
replaced; null: the cell was not found), ``from_disk_mtime`` (the file's modification time) and,
when the notebook was over the size cap, ``outputs_dropped`` saying so.

The path comes from the user's environment (the kernel's session name), so only a regular
``.ipynb`` file is read, never a symbolic link to another file, and never more than :data:`READ_LIMIT`
bytes; the artifact is written through the store, inside the run's folder.

Core: no IPython here (the magic hands in the cell's id and source).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlnb.capture.provenance import source_hash

ENABLE_ENV = "MLNB_ENABLE_NOTEBOOK_SNAPSHOT"  # named as MLflow names its switches
DEFAULT_MAX_BYTES = 20_000_000
READ_LIMIT = 200_000_000  # a notebook file larger than this is not read at all
FOLDER = "notebook"


class SnapshotError(Exception):
    """Why no snapshot was written (said to the user as a warning, never raised to the cell)."""


class NotebookNotOnDisk(SnapshotError):
    """The notebook was never saved where the kernel looks (a notebook run in memory by nbclient or
    papermill, a kernel without a file): no snapshot, and nothing to warn about."""


def is_enabled() -> bool:
    """Whether the environment allows snapshots: ``MLNB_ENABLE_NOTEBOOK_SNAPSHOT=false`` (or
    ``0``, ``no``, ``off``) turns them off; unset or anything else keeps them."""
    return os.environ.get(ENABLE_ENV, "").strip().lower() not in ("false", "0", "no", "off")


@dataclass(frozen=True)
class SnapshotRequest:
    """What the cell knew when it ended: the notebook path and the executed cell.

    :param notebook_path: the notebook's path as the kernel's session names it.
    :param cwd: the kernel's working folder (a relative path is looked up from it).
    :param cell_id: the executed cell's id, if the frontend sent one.
    :param source: the source that actually ran (the whole cell, ``%%track`` line included).
    :param execution_count: the cell's execution count, if known.
    :param max_bytes: the snapshot's size cap; outputs are dropped to fit under it.
    """

    notebook_path: str
    cwd: Path
    cell_id: str | None
    source: str
    execution_count: int | None
    max_bytes: int = DEFAULT_MAX_BYTES


def find_notebook(path: str, cwd: Path) -> Path:
    """The notebook file a session path names: absolute, else from ``cwd``, else its name in
    ``cwd`` (Jupyter names the path from its root and starts the kernel in the notebook's folder).

    :param path: the path as recorded.
    :param cwd: the kernel's working folder.
    :raises SnapshotError: when it is not a ``.ipynb`` path or no such file exists.
    """
    if not path.endswith(".ipynb"):
        raise SnapshotError(f"{path!r} is not a .ipynb notebook")
    given = Path(path)
    candidates = [given] if given.is_absolute() else [cwd / given, cwd / given.name]
    for candidate in candidates:
        if os.path.lexists(candidate):
            return candidate
    raise NotebookNotOnDisk(f"the notebook {path!r} is not on disk (looked in {cwd})")


def read_notebook(file: Path) -> tuple[bytes, float]:
    """The bytes and modification time of a regular notebook file: a symbolic link (which could
    point anywhere, and would copy that file into the run), a device or a FIFO is refused.

    :param file: the notebook file.
    :raises SnapshotError: for anything but a regular file of at most :data:`READ_LIMIT` bytes.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(file, flags)
    except OSError as exc:
        raise SnapshotError(f"{file} could not be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SnapshotError(f"{file} is not a regular file; not read")
        if info.st_size > READ_LIMIT:
            raise SnapshotError(f"{file} is {info.st_size} bytes, over {READ_LIMIT}; not read")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(READ_LIMIT + 1)
    finally:
        os.close(fd)
    return data, info.st_mtime


def build_snapshot(request: SnapshotRequest, data: bytes, mtime: float,
                   saved_at: datetime | None = None) -> tuple[bytes, dict[str, Any]]:
    """The snapshot's bytes and its ``mlnb.snapshot`` metadata, from the file's bytes.

    :param request: the executed cell and the cap.
    :param data: the notebook file's bytes.
    :param mtime: the file's modification time (seconds since the epoch).
    :param saved_at: when the snapshot is taken (default now, UTC).
    :raises SnapshotError: when the file is not a notebook, or is over the cap without outputs.
    """
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(f"the notebook is not valid JSON ({exc})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SnapshotError("the file is not a Jupyter notebook (no cells)")
    cells = [c for c in notebook["cells"] if isinstance(c, dict)]
    meta: dict[str, Any] = {
        "saved_at": (saved_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "cell_id": request.cell_id,
        "cell_found": False,
        "source_matched": None,
        "from_disk_mtime": datetime.fromtimestamp(mtime, timezone.utc).isoformat(
            timespec="seconds"),
    }
    cell = _find_cell(cells, request)
    if cell is not None:
        meta["cell_found"] = True
        matched = _joined(cell.get("source")) == request.source
        meta["source_matched"] = matched
        cell["source"] = request.source.splitlines(keepends=True)
        cell["outputs"] = []  # the file's outputs are an earlier execution's
        cell["execution_count"] = request.execution_count
        metadata = cell.setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata["mlnb"] = {"executed_source": True, "source_matched": matched}
    notebook_meta = notebook.setdefault("metadata", {})
    if not isinstance(notebook_meta, dict):
        notebook["metadata"] = notebook_meta = {}
    text = _dump(notebook, notebook_meta, meta)
    if len(text) > request.max_bytes:
        size = len(text)
        for each in cells:
            if "outputs" in each:
                each["outputs"] = []
        meta["outputs_dropped"] = (f"the notebook was {size} bytes, over the {request.max_bytes}"
                                   "-byte cap: every output was left out")
        text = _dump(notebook, notebook_meta, meta)
        if len(text) > request.max_bytes:
            raise SnapshotError(f"the notebook is {len(text)} bytes without its outputs, over "
                                f"the {request.max_bytes}-byte cap; no snapshot kept")
    return text, meta


def artifact_path(notebook_path: str) -> str:
    """The snapshot's artifact path: ``notebook/<the notebook's file name>``.

    :param notebook_path: the notebook's path.
    """
    name = Path(notebook_path.replace("\\", "/")).name
    return f"{FOLDER}/{name}"


def take_snapshot(request: SnapshotRequest) -> tuple[str, bytes, dict[str, Any]]:
    """Read the notebook and build its snapshot: ``(artifact path, bytes, metadata)``.

    :param request: the executed cell, the notebook path and the cap.
    :raises SnapshotError: whenever no snapshot can be made, saying why.
    """
    file = find_notebook(request.notebook_path, request.cwd)
    data, mtime = read_notebook(file)
    text, meta = build_snapshot(request, data, mtime)
    return artifact_path(request.notebook_path), text, meta


def _find_cell(cells: list[dict[str, Any]], request: SnapshotRequest) -> dict[str, Any] | None:
    if request.cell_id:
        return next((c for c in cells if c.get("id") == request.cell_id
                     and c.get("cell_type") == "code"), None)
    # No id (nbclient, an old frontend): only a cell holding exactly the executed source.
    wanted = source_hash(request.source)
    return next((c for c in cells if c.get("cell_type") == "code"
                 and source_hash(_joined(c.get("source"))) == wanted), None)


def _joined(source: Any) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _dump(notebook: dict[str, Any], notebook_meta: dict[str, Any], meta: dict[str, Any]) -> bytes:
    mlnb_meta = notebook_meta.get("mlnb")
    notebook_meta["mlnb"] = {**(mlnb_meta if isinstance(mlnb_meta, dict) else {}),
                             "snapshot": meta}
    return json.dumps(notebook, ensure_ascii=False, indent=1).encode("utf-8")
