"""Where a run came from inside a notebook kernel: notebook, cell, kernel history, git, packages.

This module is part of the core: it never imports IPython. It looks for a running shell only
through ``sys.modules`` (if IPython is not imported, this is not a kernel and there is nothing to
record). Everything here is cheap after the first call and never raises: unknown facts are left
out, not guessed.

Tags written on every run started inside a kernel (:func:`kernel_tags`):

``mlflow.source.name`` / ``mlnb.notebook.path``
    The notebook, from the kernel's session (``__session__`` / ``JPY_SESSION_NAME``, set by
    Jupyter Server) or VS Code's ``__vsc_ipynb_file__``.
``mlnb.cell.id``, ``mlnb.cell.execution_count``, ``mlnb.cell.sha256``, ``mlnb.cell.source``
    The cell being executed (the id is known once :func:`watch_shell` has seen a cell start).
``mlnb.kernel.history``
    The cells executed before this one since the kernel started, as ``count:id:hash`` entries
    (hash = first 12 hex digits of the source's sha256), so a run's history can be replayed or
    its staleness shown; ``mlnb.kernel.history_sha256`` fingerprints the whole list.
``mlnb.packages``
    ``name==version`` of the installed distributions the kernel has imported (computed once and
    then only for newly imported modules).

:func:`full_record` adds the uncommitted git diff (``%%track`` only: it spawns ``git``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlnb.capture import environment
from mlnb.capture.git import find_git_dir, git_head
from mlnb.store.validation import MAX_TAG_VALUE_LENGTH

DIFF_MAX_BYTES = 200_000
DIFF_TIMEOUT_S = 2.0


@dataclass
class _KernelState:
    cell_ids: dict[int, str] = field(default_factory=dict)  # execution count -> cell id
    current_cell_id: str | None = None
    watched: set[int] = field(default_factory=set)  # id() of shells we listen to
    package_tops: frozenset[str] = frozenset()
    packages: dict[str, str] = field(default_factory=dict)


_kernel = _KernelState()


def shell() -> Any | None:
    """The running IPython shell, or None (without importing IPython)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    try:
        return get() if get is not None else None
    except Exception:
        return None


def source_hash(source: str) -> str:
    """The sha256 of a cell's source, as hex.

    :param source: the source.
    """
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


# --- following the kernel's cells ---------------------------------------------------------------


def watch_shell(ipython: Any) -> None:
    """Listen to ``pre_run_cell`` so each cell's id (sent by the frontend) is known.

    :param ipython: the shell.
    """
    if id(ipython) in _kernel.watched:
        return
    try:
        ipython.events.register("pre_run_cell", _on_pre_run_cell)
        _kernel.watched.add(id(ipython))
    except Exception:  # a shell without events: ids stay unknown, hashes still work
        pass


def unwatch_shell(ipython: Any) -> None:
    """Stop listening to ``pre_run_cell`` (the reverse of :func:`watch_shell`).

    :param ipython: the shell.
    """
    if id(ipython) in _kernel.watched:
        _kernel.watched.discard(id(ipython))
        try:
            ipython.events.unregister("pre_run_cell", _on_pre_run_cell)
        except Exception:
            pass


def _on_pre_run_cell(info: Any = None) -> None:
    cell_id = getattr(info, "cell_id", None)
    _kernel.current_cell_id = str(cell_id) if cell_id else None
    # pre_run_cell fires before the cell's source is stored: it will get the next index.
    raw = getattr(getattr(shell(), "history_manager", None), "input_hist_raw", None)
    if cell_id and isinstance(raw, list):
        _kernel.cell_ids[len(raw)] = str(cell_id)


def current_cell(ipython: Any) -> dict[str, Any]:
    """The executing cell: ``id`` (or None), ``execution_count``, ``source``, ``sha256``.

    :param ipython: the shell.
    """
    inputs = _inputs(ipython)
    # The executing cell is the last input stored (IPython stores it before running it).
    count = len(inputs) - 1 if inputs else getattr(ipython, "execution_count", None)
    source = str(inputs[-1]) if inputs else ""
    cell_id = _kernel.current_cell_id or _frontend_cell_id(ipython)
    return {"id": cell_id, "execution_count": count, "source": source,
            "sha256": source_hash(source)}


def _frontend_cell_id(ipython: Any) -> str | None:
    """The cell id JupyterLab and VS Code send in the execute request's metadata (``cellId``).

    ipykernel hands it to ``pre_run_cell`` too, but that listener exists only once a run has
    been started in this kernel; the request itself knows the id of the very first cell.
    """
    parent = getattr(ipython, "parent_header", None)
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
    return str(cell_id) if cell_id else None


def _inputs(ipython: Any) -> list[Any]:
    inputs = getattr(getattr(ipython, "history_manager", None), "input_hist_raw", None)
    return list(inputs) if isinstance(inputs, list) and len(inputs) > 1 else []


def kernel_history(ipython: Any) -> list[dict[str, Any]]:
    """Cells executed in this kernel before the current one: count, id (if known), sha256.

    :param ipython: the shell.
    """
    inputs = _inputs(ipython)
    return [{"execution_count": number, "id": _kernel.cell_ids.get(number),
             "sha256": source_hash(str(inputs[number]))} for number in range(1, len(inputs) - 1)]


def notebook_path(ipython: Any | None = None) -> str | None:
    """The notebook's path from the kernel session, ``JPY_SESSION_NAME`` or VS Code, else None.

    :param ipython: the shell; default the running one.
    """
    ipython = ipython if ipython is not None else shell()
    namespace = getattr(ipython, "user_ns", None) or {}
    for candidate in (namespace.get("__vsc_ipynb_file__"), namespace.get("__session__"),
                      os.environ.get("JPY_SESSION_NAME")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


# --- environment ------------------------------------------------------------------------------


def imported_packages() -> dict[str, str]:
    """``{distribution: version}`` of what the kernel imported; recomputed only for new imports."""
    tops = frozenset(name.partition(".")[0] for name in list(sys.modules))
    if tops != _kernel.package_tops:
        new = tops - _kernel.package_tops
        if _kernel.package_tops and new:
            _kernel.packages = {**_kernel.packages, **environment.distributions_for(new)}
        else:
            _kernel.packages = environment.distributions_for(tops)
        _kernel.package_tops = tops
    return _kernel.packages


def git_info(folder: Path, with_diff: bool = False) -> dict[str, Any]:
    """Commit and branch (read from .git), and the uncommitted diff if asked (capped, timed).

    :param folder: a folder inside the repository.
    :param with_diff: also include ``git diff`` of uncommitted changes.
    """
    head = git_head(folder)
    if head is None:
        return {}
    info: dict[str, Any] = {"commit": head[0], "branch": head[1]}
    if with_diff:
        info["diff"] = _git_diff(folder)
        if info["diff"] is not None:
            info["dirty"] = bool(info["diff"])
    return info


def _git_diff(folder: Path) -> str | None:
    if find_git_dir(folder) is None:
        return None
    try:
        done = subprocess.run(["git", "diff", "HEAD", "--no-color", "--no-ext-diff"], cwd=folder,
                              capture_output=True, timeout=DIFF_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    text = done.stdout[:DIFF_MAX_BYTES].decode("utf-8", "replace")
    if len(done.stdout) > DIFF_MAX_BYTES:
        text += f"\n... (diff truncated at {DIFF_MAX_BYTES} bytes)\n"
    return text


# --- what runs get ------------------------------------------------------------------------------


def _clip(text: str, limit: int = MAX_TAG_VALUE_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n... (truncated)"


def kernel_tags() -> dict[str, str]:
    """Tags for a run started in a kernel (a context provider: fast, never raises); {} outside."""
    ipython = shell()
    if ipython is None or not hasattr(ipython, "user_ns"):
        return {}
    try:
        return _kernel_tags(ipython)
    except Exception as exc:
        return {"mlnb.provenance.error": f"{type(exc).__name__}: {exc}"[:500]}


def _kernel_tags(ipython: Any) -> dict[str, str]:
    watch_shell(ipython)
    tags: dict[str, str] = {"mlnb.kernel": "ipython",
                            "mlnb.python_version": environment.python_version()}
    # Inside a kernel the source is a notebook even when its path is unknown (nbclient, papermill
    # without a session name): then no mlflow.source.name at all, rather than a false guess such
    # as ipykernel_launcher.py (run_context_tags drops the script name for that case).
    tags["mlflow.source.type"] = "NOTEBOOK"
    path = notebook_path(ipython)
    if path:
        tags.update({"mlflow.source.name": path, "mlnb.notebook.path": path})
    cell = current_cell(ipython)
    if cell["id"]:
        tags["mlnb.cell.id"] = cell["id"]
    if cell["execution_count"] is not None:
        tags["mlnb.cell.execution_count"] = str(cell["execution_count"])
    tags["mlnb.cell.sha256"] = cell["sha256"]
    tags["mlnb.cell.source"] = _clip(cell["source"])
    history = kernel_history(ipython)
    entries = [f"{h['execution_count']}:{h['id'] or ''}:{h['sha256'][:12]}" for h in history]
    tags["mlnb.kernel.history"] = _clip(" ".join(entries))
    tags["mlnb.kernel.history_sha256"] = source_hash(" ".join(h["sha256"] for h in history))
    try:
        packages = imported_packages()
        tags["mlnb.packages"] = _clip(" ".join(f"{k}=={v}" for k, v in packages.items()))
    except Exception:  # versions are a bonus: never lose the rest for them
        pass
    return tags


def full_record(ipython: Any, folder: Path) -> dict[str, Any]:
    """Everything known about the executing cell, for the ``provenance.json`` artifact.

    :param ipython: the shell.
    :param folder: the notebook's folder (for git).
    """
    return {
        "notebook_path": notebook_path(ipython),
        "cell": current_cell(ipython),
        "history": kernel_history(ipython),
        "git": git_info(folder, with_diff=True),
        "python_version": environment.python_version(),
        "packages": imported_packages(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def notebook_folder(ipython: Any | None = None) -> Path:
    """The folder of the notebook (the kernel's cwd when the notebook path is unknown).

    :param ipython: the shell; default the running one.
    """
    path = notebook_path(ipython)
    if path:
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = Path.cwd() / candidate
        # JPY_SESSION_NAME is relative to the server root, the cwd is the notebook's folder.
        if candidate.parent.is_dir() and candidate.exists():
            return candidate.parent
    return Path.cwd()
