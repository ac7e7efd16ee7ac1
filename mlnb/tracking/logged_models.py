"""MLflow 3's fluent functions for logged models: ``search_logged_models``, ``get_logged_model``.

Every ``log_model`` records a logged model (:mod:`mlnb.store.logged_models`): its id
(``ModelInfo.model_id``), its URI ``models:/<model_id>`` that loads and registers it, and the run
that logged it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import LoggedModel
from mlnb.errors import InvalidParameterError
from mlnb.tracking.client import current_client
from mlnb.tracking.reading import _experiment_ids

if TYPE_CHECKING:
    import pandas


def get_logged_model(model_id: str) -> LoggedModel:
    """A logged model by its id (``ModelInfo.model_id``, ``m-`` and 32 hex digits).

    :param model_id: the model's id.
    :raises NotFoundError: when the store has no such model.
    """
    client = current_client()
    client.writer.flush()
    return client.store.get_logged_model(model_id)


def search_logged_models(
    experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
    datasets: Sequence[Any] | None = None, max_results: int | None = None,
    order_by: Sequence[Any] | None = None, output_format: str = "pandas",
) -> pandas.DataFrame | list[LoggedModel]:
    """Logged models matching a filter, newest first, as MLflow 3's function gives them.

    :param experiment_ids: the experiments to search; default the active experiment.
    :param filter_string: e.g. ``"name = 'model' and params.alpha = '0.5'"`` over ``name``,
        ``model_id``, ``source_run_id``, ``status``, ``creation_timestamp``, ``params.*`` and
        ``tags.*``.
    :param datasets: MLflow filters on the datasets metrics were computed on; mlnb records no
        metric datasets, so only None is accepted.
    :param max_results: at most this many (default 1,000).
    :param order_by: e.g. ``["creation_timestamp DESC"]`` (or MLflow's dicts
        ``{"field_name": ..., "ascending": ...}``).
    :param output_format: ``"pandas"`` (default) or ``"list"``.
    """
    if datasets:
        raise InvalidParameterError(
            "search_logged_models(datasets=...) is not supported: mlnb does not record which "
            "dataset a model's metrics were computed on. Filter with filter_string instead.")
    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(
            f"output_format must be 'pandas' or 'list', not {output_format!r}.")
    client = current_client()
    client.writer.flush()
    ids = _experiment_ids(client, experiment_ids, None, False)
    clauses = [_order_clause(o) for o in order_by or ()]
    models = client.store.search_logged_models(ids, filter_string, max_results or 1000, clauses)
    if output_format == "list":
        return models
    import pandas  # pandas: only when a DataFrame is asked for

    return pandas.DataFrame([dict(m) for m in models])


def _order_clause(item: Any) -> str:
    if isinstance(item, dict):  # MLflow 3: {"field_name": "creation_timestamp", "ascending": False}
        field = item.get("field_name")
        if not isinstance(field, str):
            raise InvalidParameterError(f"order_by entry {item!r} has no field_name.")
        return f"{field} {'ASC' if item.get('ascending', True) else 'DESC'}"
    if isinstance(item, str):
        return item
    raise InvalidParameterError(f"order_by entries are text or dicts, not {item!r}.")
