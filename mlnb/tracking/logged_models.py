"""MLflow 3's fluent functions for logged models: ``initialize_logged_model``,
``create_external_model``, ``finalize_logged_model``, ``log_model_params``, tags,
``set_active_model``/``get_active_model_id``, ``search_logged_models``, ``get_logged_model``.

Every ``log_model`` records a logged model (:mod:`mlnb.store.logged_models`): its id
(``ModelInfo.model_id``), its URI ``models:/<model_id>`` that loads and registers it, and the run
that logged it, if any (outside a run the model has none, and its files a folder of their own).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import LoggedModel
from mlnb.errors import InvalidParameterError
from mlnb.tracking.client import current_client
from mlnb.tracking.experiment import active_experiment_id
from mlnb.tracking.model_client import EXTERNAL_MODEL_TAG, order_clause
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
    clauses = [order_clause(o) for o in order_by or ()]
    models = client.store.search_logged_models(ids, filter_string, max_results or 1000, clauses)
    if output_format == "list":
        return models
    import pandas  # pandas: only when a DataFrame is asked for

    return pandas.DataFrame([dict(m) for m in models])


# --- models without a run, and their lifecycle -------------------------------------------------

class _PerThread(threading.local):
    """Per thread, as MLflow keeps its active model: a notebook's cells all run in the kernel's
    main thread, so a model set active in one cell stays active in the next."""

    def __init__(self) -> None:
        self.value: str | None = None

    def get(self) -> str | None:
        return self.value

    def set(self, value: str | None) -> None:
        self.value = value


_last_model_id = _PerThread()
_active_model_id = _PerThread()


def _home(source_run_id: str | None, experiment_id: str | None) -> tuple[str | None, str]:
    """MLflow's defaults: the active run (if any) is the model's run, and the experiment is the
    given one, else the run's, else the active experiment."""
    from mlnb.tracking import fluent  # fluent imports this module's neighbours: at call time

    active = fluent.active_run()
    if source_run_id is None and active is not None:
        source_run_id = active.run_id
    if experiment_id is None:
        client = current_client()
        experiment_id = (client.store.get_run_info(source_run_id).experiment_id
                         if source_run_id is not None else active_experiment_id())
    return source_run_id, str(experiment_id)


def initialize_logged_model(
    name: str | None = None, source_run_id: str | None = None,
    tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
    model_type: str | None = None, experiment_id: str | None = None,
) -> LoggedModel:
    """A new logged model, ``PENDING`` and without files (MLflow 3). Add its files with
    ``MlnbClient().log_model_artifacts(model.model_id, folder)`` and finalize it with
    :func:`finalize_logged_model`.

    :param name: its name; default a random one.
    :param source_run_id: its run; default the active run, else none (the model then keeps its
        files in a folder of its own).
    :param tags: its tags.
    :param params: its params.
    :param model_type: a free-form type, for searches.
    :param experiment_id: its experiment; default the run's, else the active experiment.
    """
    run_id, eid = _home(source_run_id, experiment_id)
    model = current_client().create_logged_model(eid, name, run_id, tags, params, model_type)
    _last_model_id.set(model.model_id)
    return model


def create_external_model(
    name: str | None = None, source_run_id: str | None = None,
    tags: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
    model_type: str | None = None, experiment_id: str | None = None,
) -> LoggedModel:
    """A ``READY`` logged model whose files live outside mlnb (an agent, a service, ...):
    params, tags and a name to attach results to. It is tagged ``mlflow.model.isExternal``.

    :param name: its name; default a random one.
    :param source_run_id: its run; default the active run, else none.
    :param tags: its tags.
    :param params: its params.
    :param model_type: a free-form type, for searches.
    :param experiment_id: its experiment; default the run's, else the active experiment.
    """
    run_id, eid = _home(source_run_id, experiment_id)
    client = current_client()
    model = client.create_logged_model(eid, name, run_id, {**(tags or {}), EXTERNAL_MODEL_TAG: "true"},
                                       params, model_type)
    model = client.finalize_logged_model(model.model_id, "READY")
    _last_model_id.set(model.model_id)
    return model


def finalize_logged_model(model_id: str, status: Any) -> LoggedModel:
    """Set a logged model's final status: ``"READY"`` once its files are complete (its files
    cannot change after), or ``"FAILED"``.

    :param model_id: the model.
    :param status: ``"READY"``, ``"FAILED"`` or MLflow's ``LoggedModelStatus``.
    """
    return current_client().finalize_logged_model(model_id, status)


def last_logged_model() -> LoggedModel | None:
    """The model this context logged or initialized last, or None."""
    model_id = _last_model_id.get()
    return None if model_id is None else get_logged_model(model_id)


def note_logged_model(model_id: str) -> None:
    """Remember the model ``log_model`` just logged, for :func:`last_logged_model`.

    :param model_id: the model.
    """
    _last_model_id.set(model_id)


def log_model_params(params: dict[str, Any], model_id: str | None = None) -> None:
    """Add params to a logged model (a param once set keeps its value).

    :param params: the params.
    :param model_id: the model; default the active model (:func:`set_active_model`).
    :raises InvalidParameterError: when no model is named and none is active.
    """
    model_id = model_id or get_active_model_id()
    if model_id is None:
        raise InvalidParameterError(
            "log_model_params: no model_id given and no active model; pass model_id= or call "
            "mlnb.set_active_model(name=...) first.")
    current_client().log_model_params(model_id, params)


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    """Set tags of a logged model.

    :param model_id: the model.
    :param tags: the tags.
    """
    current_client().set_logged_model_tags(model_id, tags)


def delete_logged_model_tag(model_id: str, key: str) -> None:
    """Remove a tag of a logged model.

    :param model_id: the model.
    :param key: the tag.
    """
    current_client().delete_logged_model_tag(model_id, key)


class ActiveModel:
    """The model :func:`set_active_model` made active; a ``with`` block restores the one before.

    :param model: the logged model.
    :param previous: the active model id before.
    """

    def __init__(self, model: LoggedModel, previous: str | None) -> None:
        self.model = model
        self.model_id = model.model_id
        self.name = model.name
        self._previous = previous

    def __enter__(self) -> ActiveModel:
        return self

    def __exit__(self, *exc: object) -> None:
        _active_model_id.set(self._previous)

    def __repr__(self) -> str:
        return f"<ActiveModel {self.name!r} {self.model_id}>"


def set_active_model(*, name: str | None = None, model_id: str | None = None) -> ActiveModel:
    """Make a logged model the active one (MLflow 3): by id, or by name (the newest model of that
    name in the active experiment, created as an external model if there is none).

    :param name: the model's name.
    :param model_id: the model's id.
    :raises InvalidParameterError: with neither, or a name that is not the id's model's.
    """
    if name is None and model_id is None:
        raise InvalidParameterError("set_active_model: give name= or model_id=.")
    if model_id is not None:
        model = get_logged_model(model_id)
        if name is not None and model.name != name:
            raise InvalidParameterError(
                f"Logged model {model_id} is named {model.name!r}, not {name!r}.")
    else:
        client = current_client()
        found = client.store.search_logged_models(
            [active_experiment_id()], _name_filter(str(name)), 1)
        model = found[0] if found else create_external_model(name=name)
    previous = _active_model_id.get()
    _active_model_id.set(model.model_id)
    return ActiveModel(model, previous)


def _name_filter(name: str) -> str:
    # The filter grammar's quoting: a quote inside a quoted string is doubled.
    return "name = '" + name.replace("'", "''") + "'"


def get_active_model_id() -> str | None:
    """The active model's id: set by :func:`set_active_model`, else ``MLNB_ACTIVE_MODEL_ID`` or
    ``MLFLOW_ACTIVE_MODEL_ID`` from the environment, else None."""
    return (_active_model_id.get() or os.environ.get("MLNB_ACTIVE_MODEL_ID")
            or os.environ.get("MLFLOW_ACTIVE_MODEL_ID") or None)


def clear_active_model() -> None:
    """Forget the active model set by :func:`set_active_model`."""
    _active_model_id.set(None)
