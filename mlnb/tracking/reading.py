"""Reading runs back by id or by search, and registering a logged model: MLflow's fluent read
functions over the current store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import (
    FileInfo,
    Metric,
    ModelVersion,
    Run,
    ViewType,
)
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.registry import model_source
from mlnb.tracking.client import MlnbClient, current_client
from mlnb.tracking.experiment import active_experiment_id

if TYPE_CHECKING:
    import pandas

SEARCH_MAX_RESULTS_PANDAS = 100_000


# --- reading ----------------------------------------------------------------------------------


def get_run(run_id: str) -> Run:
    """A run with its info and data (params, latest metrics, tags).

    :param run_id: the run's id.
    :raises NotFoundError: for a run the store does not have.
    """
    return current_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every point of one metric of a run, in step order.

    :param run_id: the run's id.
    :param key: the metric's name.
    """
    return current_client().get_metric_history(run_id, key)


def list_artifacts(run_id: str, path: str | None = None) -> list[FileInfo]:
    """The files and folders directly inside a run's artifacts (or inside ``path``).

    :param run_id: the run's id.
    :param path: a folder inside the run's artifacts; default the top.
    """
    return current_client().list_artifacts(run_id, path)


def delete_run(run_id: str) -> None:
    """Delete a run (it stays in the store, restorable with :func:`restore_run`).

    :param run_id: the run's id.
    """
    current_client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Restore a deleted run.

    :param run_id: the run's id.
    """
    current_client().restore_run(run_id)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pandas.DataFrame | list[Run]:
    """Runs matching a filter, as a DataFrame with MLflow's columns or as a list of Runs.

    :param experiment_ids: the experiments to search; default the active experiment.
    :param filter_string: MLflow's grammar (``metrics.acc > 0.9 and params.lr = '0.01'``) plus
        ``or``, ``not`` and parentheses, which MLflow lacks.
    :param run_view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
    :param max_results: at most this many runs.
    :param order_by: e.g. ``["metrics.acc DESC", "start_time"]``; default newest first.
    :param output_format: ``"pandas"`` (default) or ``"list"``.
    :param search_all_experiments: search every experiment when none is named.
    :param experiment_names: or name the experiments to search (not with ``experiment_ids``).
    """
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(f"max_results must be a positive integer, not {max_results!r}.")
    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(f"output_format must be 'pandas' or 'list', not "
                                    f"{output_format!r}.")
    client = current_client()
    ids = _experiment_ids(client, experiment_ids, experiment_names, search_all_experiments)
    if output_format == "pandas":
        from mlnb.tracking.frames import table_to_frame  # pandas: only for a DataFrame

        client.writer.flush()
        client.store.reap_dead_runs()
        return table_to_frame(client.store.run_table(ids, filter_string, run_view_type,
                                                     max_results, order_by))
    runs: list[Run] = []
    token: str | None = None
    while len(runs) < max_results:
        page = client.search_runs(ids, filter_string, run_view_type,
                                  min(10_000, max_results - len(runs)), order_by, token)
        runs.extend(page)
        token = page.token
        if token is None:
            break
    return runs


def _experiment_ids(client: MlnbClient, ids: Sequence[str] | None,
                    names: Sequence[str] | None, search_all: bool) -> list[str]:
    if ids is not None and names is not None:
        raise InvalidParameterError("Give experiment_ids or experiment_names, not both.")
    if isinstance(ids, (str, int)):
        ids = [str(ids)]
    if names is not None:
        found = []
        for name in names:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise NotFoundError(f"No experiment named {name!r}.")
            found.append(experiment.experiment_id)
        return found
    if ids:
        return [str(i) for i in ids]
    if search_all:
        return client.all_experiment_ids()
    return [active_experiment_id()]


# --- the registry, by the current store -------------------------------------------------------


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None,
                   await_registration_for: int | None = None) -> ModelVersion:
    """Register the model at ``model_uri`` as the next version of ``name`` (created if needed).

    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version>`` or a folder
        inside the store's artifact root; it must be a model mlnb's ``log_model`` wrote.
    :param name: the registered model's name.
    :param tags: tags of the new version.
    :param await_registration_for: accepted for MLflow compatibility; registration is
        immediate in mlnb.
    """
    client = current_client()
    client.writer.flush()
    source = model_source(client.store, model_uri)
    return client.create_model_version(name, source, tags=tags, create_model=True)


