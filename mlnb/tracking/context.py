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

from mlnb.capture.git import git_head

ContextProvider = Callable[[], dict[str, str]]
_providers: list[ContextProvider] = []


def register_context_provider(provider: ContextProvider) -> None:
    """Add a function whose tags every new run gets (once; registering it again does nothing).

    :param provider: a fast function returning ``{tag: value}``; one that raises is skipped
        with a warning.
    """
    if provider not in _providers:
        _providers.append(provider)


def unregister_context_provider(provider: ContextProvider) -> None:
    """Remove a provider added by :func:`register_context_provider` (nothing if it is not there).

    :param provider: the function registered.
    """
    if provider in _providers:
        _providers.remove(provider)


def has_context_provider(provider: ContextProvider) -> bool:
    """Whether ``provider`` is registered.

    :param provider: the function.
    """
    return provider in _providers


def run_context_tags() -> dict[str, str]:
    """The tags every new run gets: source script, user, git commit, Python version, then the
    providers'.

    In a kernel the notebook's provenance is added even without ``%load_ext mlnb``. A provider that
    fails is skipped with a warning.
    """
    tags = _source_tags()
    providers = list(_providers)
    if "IPython" in sys.modules:
        # Inside a kernel every run gets the notebook's provenance, with or without %load_ext.
        # mlnb.capture.provenance never imports IPython itself; it only looks at the running shell.
        # Imported here: it loads subprocess and friends, which a plain `import mlnb` skips.
        from mlnb.capture.provenance import kernel_tags

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
