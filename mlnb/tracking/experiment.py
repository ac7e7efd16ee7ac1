"""Where runs go: the store (``set_tracking_uri``) and the active experiment
(``set_experiment``), with MLflow's experiment functions over the current store."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlnb.entities import (
    Experiment,
    LifecycleStage,
    ViewType,
)
from mlnb.errors import InvalidParameterError, RunStateError
from mlnb.store import location as store_location
from mlnb.tracking.client import current_client
from mlnb.tracking.state import explicit_uri, state

if TYPE_CHECKING:
    pass

SEARCH_MAX_RESULTS_PANDAS = 100_000


# --- where, and which experiment --------------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Use this store from now on.

    :param uri: a folder (``.mlnb``), a ``.db`` file, a ``sqlite:///`` URI or a PostgreSQL
        database (``postgresql://user@host:5432/dbname``; the password from ``PGPASSWORD`` or
        ``~/.pgpass``, or in the URL). Unlike MLflow, ``http(s)://`` tracking servers are not
        accepted.
    :raises InvalidParameterError: for a URI mlnb cannot use (nothing changes then).
    """
    text = os.fspath(uri)
    store_location.from_uri(text, Path.cwd())  # fail now on a bad URI
    state.tracking_uri = text
    state.experiment_id = None


def get_tracking_uri() -> str:
    """The store in use, as a folder path, ``sqlite:///`` URI or ``postgresql://`` URL with any
    password masked (resolved by the store rules: ``set_tracking_uri``, else
    ``MLNB_TRACKING_URI``, else the nearest ``.mlnb/``)."""
    return store_location.resolve(explicit_uri()).display


def tracking_uri_for_child() -> str:
    """The store in use as a URI another process of this user opens (a PostgreSQL password
    included, if the URL has one): for a child's environment, never to show."""
    return store_location.resolve(explicit_uri()).uri


def set_experiment(experiment_name: str | None = None,
                   experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it (by name) if it does not exist yet.

    :param experiment_name: the experiment's name; created when missing (race-free across
        processes).
    :param experiment_id: or the id of an existing experiment. Give exactly one of the two.
    :returns: the active experiment.
    :raises RunStateError: for a deleted experiment (restore it first).
    """
    client = current_client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterError("set_experiment needs exactly one of experiment_name or "
                                    "experiment_id.")
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        experiment = client.get_or_create_experiment(str(experiment_name))
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise RunStateError(
            f"Experiment {experiment.name!r} is deleted. Restore it (mlnb.MlnbClient()."
            f"restore_experiment({experiment.experiment_id!r})) or choose another name."
        )
    state.experiment_id = experiment.experiment_id
    return experiment


def active_experiment_id() -> str:
    """The experiment new runs go to: the one ``set_experiment`` chose, else the one named by
    ``MLNB_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_NAME`` (created if needed), else the one whose
    id is in ``MLNB_EXPERIMENT_ID``/``MLFLOW_EXPERIMENT_ID``, else ``"0"`` (Default)."""
    if state.experiment_id is not None:
        return state.experiment_id
    name = os.environ.get("MLNB_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if name:
        return set_experiment(name).experiment_id
    env_id = os.environ.get("MLNB_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")
    return env_id or "0"


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: dict[str, Any] | None = None) -> str:
    """Create an experiment and return its id.

    :param name: a name no other experiment has.
    :param artifact_location: not supported (artifacts stay inside the store); must be None.
    :param tags: experiment tags.
    """
    return current_client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id.

    :param experiment_id: the experiment's id.
    :raises NotFoundError: when there is none.
    """
    return current_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment with this name, or None.

    :param name: the experiment's name.
    """
    return current_client().get_experiment_by_name(name)


def search_experiments(view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                       filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    """Experiments matching a filter.

    :param view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
    :param max_results: at most this many.
    :param filter_string: e.g. ``"name LIKE 'churn%' and tags.team = 'ml'"``.
    :param order_by: e.g. ``["name ASC"]``; default oldest first.
    """
    return current_client().search_experiments(view_type, max_results, filter_string, order_by)


def delete_experiment(experiment_id: str) -> None:
    """Delete an experiment and its runs (restorable with ``MlnbClient().restore_experiment``).

    :param experiment_id: the experiment's id; the Default experiment cannot be deleted.
    """
    current_client().delete_experiment(experiment_id)


