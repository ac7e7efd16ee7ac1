"""Tags every new run gets about where it came from (MLflow's ``mlflow.source.*`` and more).

A context provider is a function returning tags; :func:`register_context_provider` adds one (the
notebook provenance does, for runs started inside a kernel). Providers must be fast — they run
on every ``start_run`` — and must never raise: a failing provider is skipped with a warning.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

ContextProvider = Callable[[], dict[str, str]]
_providers: list[ContextProvider] = []


def register_context_provider(provider: ContextProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def run_context_tags() -> dict[str, str]:
    tags = _source_tags()
    providers = list(_providers)
    if "IPython" in sys.modules:
        # Inside a kernel every run gets the notebook's provenance, with or without %load_ext.
        # mlnb.provenance never imports IPython itself; it only looks at the running shell.
        from mlnb.provenance import kernel_tags

        if kernel_tags not in providers:
            providers.insert(0, kernel_tags)
    provided: dict[str, str] = {}
    for provider in providers:
        try:
            provided.update(provider())
        except Exception as exc:
            warnings.warn(f"mlnb: run context {getattr(provider, '__name__', provider)} "
                          f"failed and was skipped: {exc}", RuntimeWarning, stacklevel=3)
    if provided.get("mlflow.source.type") == "NOTEBOOK" and "mlflow.source.name" not in provided:
        # A notebook whose path is unknown: the script (the kernel launcher) is not its source.
        tags.pop("mlflow.source.name", None)
    tags.update(provided)
    return tags


def _source_tags() -> dict[str, str]:
    script = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    tags = {
        "mlflow.source.name": script,
        "mlflow.source.type": "LOCAL",
        "mlnb.python_version": ".".join(map(str, sys.version_info[:3])),
    }
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if user:
        tags["mlflow.user"] = user
    git = git_head(Path.cwd())
    if git is not None:
        tags["mlflow.source.git.commit"] = git[0]
        if git[1]:
            tags["mlflow.source.git.branch"] = git[1]
    return tags


def find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = candidate.read_text(errors="replace").strip()
            if text.startswith("gitdir:"):
                return (folder / text.split(":", 1)[1].strip()).resolve()
    return None


def git_head(start: Path) -> tuple[str, str | None] | None:
    """(commit, branch) of the repository around ``start``, read from .git without running git.

    Reading two small files costs microseconds, where spawning ``git`` would cost milliseconds on
    every run. Returns None outside a repository or before the first commit.
    """
    git_dir = find_git_dir(start)
    if git_dir is None:
        return None
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head, None  # detached HEAD
        ref = head.split(":", 1)[1].strip()
        commit = _read_ref(git_dir, ref)
        return (commit, ref.removeprefix("refs/heads/")) if commit else None
    except OSError:
        return None


def _read_ref(git_dir: Path, ref: str) -> str | None:
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = (git_dir / commondir.read_text().strip()).resolve()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text().strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref:
                return parts[0]
    return None
