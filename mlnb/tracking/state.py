"""What this process remembers between tracking calls: the store asked for, the active
experiment and the stack of active runs (a stack, so that ``nested=True`` works).

:mod:`mlnb.tracking.fluent` changes it; :mod:`mlnb.tracking.client` reads the URI from it.
Nothing outside ``mlnb.tracking`` touches it: every other layer reaches the current store
through :func:`mlnb.tracking.client.current_client`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlnb.store import location

if TYPE_CHECKING:
    from mlnb.tracking.fluent import ActiveRun


@dataclass
class State:
    """The process state of the fluent API.

    :param tracking_uri: the store given to ``set_tracking_uri``, if any.
    :param experiment_id: the experiment made active by ``set_experiment``, if any.
    :param active: the handles of the active runs, innermost last.
    :param last_run_id: the run most recently started or ended in this process.
    :param pid: the process this state belongs to (a forked child starts afresh).
    """

    tracking_uri: str | None = None
    experiment_id: str | None = None
    active: list[ActiveRun] = field(default_factory=list)
    last_run_id: str | None = None
    pid: int = field(default_factory=os.getpid)


state = State()


def explicit_uri() -> str | None:
    """The store asked for: ``set_tracking_uri(...)`` if called, else ``MLNB_TRACKING_URI``, else
    ``MLFLOW_TRACKING_URI`` (:func:`mlnb.store.location.env_uri`), else None (then the location
    rules find or create ``.mlnb/``).

    :raises InvalidParameterError: when ``MLFLOW_TRACKING_URI`` names a server mlnb cannot use.
    """
    return state.tracking_uri or location.env_uri()


def forget_parent_runs() -> None:
    """In a forked child, drop the parent's active runs: the child does not own them."""
    if state.pid != os.getpid():
        state.active.clear()
        state.pid = os.getpid()


def reset() -> None:
    """Forget the URI, the experiment and every run (for tests, and for a fresh start)."""
    state.tracking_uri = None
    state.experiment_id = None
    state.active.clear()
    state.last_run_id = None
    state.pid = os.getpid()
