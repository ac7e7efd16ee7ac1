"""The logged-model methods of :class:`~mlnb.tracking.client.MlnbClient` (MLflow 3's
``create_logged_model``, ``finalize_logged_model``, ``log_model_params``, tags, artifacts and
search).

A logged model created with a run keeps its files in the run's artifacts (``models/<model_id>``);
one without a run keeps them in its own folder, ``models/<model_id>`` under the artifact root.
Either way every file goes through the store, with its sha256 and origin, and no path escapes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlnb.entities import FileInfo, LoggedModel
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import Store
from mlnb.store.artifacts import iter_source_files, safe_relpath
from mlnb.store.logged_models import check_model_id, new_model_id
from mlnb.store.paging import PagedList, page, token_offset
from mlnb.store.runs import random_run_name

#: MLflow's tag on a model whose files live outside MLflow (``create_external_model``).
EXTERNAL_MODEL_TAG = "mlflow.model.isExternal"
_STATUS_NAMES = {"READY": "READY", "FAILED": "FAILED", "PENDING": "PENDING",
                 "LOGGED_MODEL_READY": "READY", "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
                 "LOGGED_MODEL_PENDING": "PENDING"}


def status_name(status: Any) -> str:
    """A logged model's status from text or MLflow's ``LoggedModelStatus`` (its name or value).

    :param status: ``"READY"``, ``"FAILED"``, ``LoggedModelStatus.READY``, ...
    :raises InvalidParameterError: for anything else.
    """
    text = str(getattr(status, "value", status)).upper().rsplit(".", 1)[-1]
    if text not in _STATUS_NAMES:
        raise InvalidParameterError(
            f"{status!r} is not a logged model status; use 'READY' or 'FAILED'.")
    return _STATUS_NAMES[text]


class LoggedModelClientMixin:
    """Logged-model methods of :class:`~mlnb.tracking.client.MlnbClient` (they use
    ``self.store``)."""

    store: Store

    def create_logged_model(
        self, experiment_id: str, name: str | None = None, source_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A new logged model, ``PENDING`` until :meth:`finalize_logged_model`.

        With ``source_run_id`` its files go into that run's artifacts under
        ``models/<model_id>``; without, into the model's own folder.

        :param experiment_id: its experiment (the run's, when a run is given).
        :param name: its name; default a random one.
        :param source_run_id: the run it belongs to, or None for a model without a run.
        :param tags: its tags.
        :param params: its params.
        :param model_type: a free-form type (e.g. ``"agent"``), for searches.
        """
        model_id = new_model_id()
        path = None if source_run_id is None else f"models/{model_id}"
        if source_run_id is not None:
            self.store.check_writable(source_run_id)
        return self.store.create_logged_model(
            str(experiment_id), name or f"model-{random_run_name()}", source_run_id, path,
            model_type, params, tags, model_id=model_id, status="PENDING")

    def finalize_logged_model(self, model_id: str, status: Any) -> LoggedModel:
        """Set a model's final status: ``READY`` once its files are complete, or ``FAILED``.

        :param model_id: the model.
        :param status: ``"READY"``/``"FAILED"`` or MLflow's ``LoggedModelStatus``.
        """
        return self.store.set_logged_model_status(check_model_id(model_id), status_name(status))

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """A logged model by id.

        :param model_id: ``m-`` and 32 hex digits.
        """
        return self.store.get_logged_model(model_id)

    def delete_logged_model(self, model_id: str) -> None:
        """Delete a logged model (MLflow 3's soft delete): it is no longer found by id, searched,
        loaded or registered. Its files stay in the store.

        :param model_id: ``m-`` and 32 hex digits.
        :raises NotFoundError: when the store has no such model.
        """
        self.store.delete_logged_model(check_model_id(model_id))

    def log_model_params(self, model_id: str, params: Mapping[str, Any]) -> None:
        """Add params to a logged model (a param once set keeps its value).

        :param model_id: the model.
        :param params: the params.
        """
        self.store.log_logged_model_params(check_model_id(model_id), _mapping(params, "params"))

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags of a logged model.

        :param model_id: the model.
        :param tags: the tags.
        """
        self.store.set_logged_model_tags(check_model_id(model_id), _mapping(tags, "tags"))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove a tag of a logged model.

        :param model_id: the model.
        :param key: the tag.
        """
        self.store.delete_logged_model_tag(check_model_id(model_id), key)

    def log_model_artifact(self, model_id: str, local_path: str | os.PathLike[str],
                           artifact_path: str | None = None) -> None:
        """Copy one file into a ``PENDING`` logged model's files.

        :param model_id: the model.
        :param local_path: the file.
        :param artifact_path: a folder inside the model's files; default the top.
        :raises NotFoundError: when ``local_path`` is not a file.
        """
        source = Path(local_path)
        if not source.is_file():
            raise NotFoundError(f"log_model_artifact: {str(source)!r} is not a file.")
        owner, prefix = self._model_files(model_id)
        self.store.put_artifact_file(owner, source, _join(prefix, artifact_path, source.name))

    def log_model_artifacts(self, model_id: str, local_dir: str | os.PathLike[str],
                            artifact_path: str | None = None) -> None:
        """Copy every file below a folder into a ``PENDING`` logged model's files.

        :param model_id: the model.
        :param local_dir: the folder.
        :param artifact_path: a folder inside the model's files; default the top.
        :raises NotFoundError: when ``local_dir`` is not a folder.
        """
        folder = Path(local_dir)
        if not folder.is_dir():
            raise NotFoundError(f"log_model_artifacts: {str(folder)!r} is not a folder.")
        owner, prefix = self._model_files(model_id)
        for source, rel in iter_source_files(folder):
            self.store.put_artifact_file(owner, source, _join(prefix, artifact_path, rel))

    def list_logged_model_artifacts(self, model_id: str, path: str | None = None
                                    ) -> list[FileInfo]:
        """The files and folders directly inside a logged model's files (or inside ``path``),
        with paths relative to the model's folder.

        :param model_id: the model.
        :param path: a folder inside the model's files; default the top.
        """
        owner, prefix = self._model_files(model_id, writing=False)
        inner = safe_relpath(path, allow_empty=True) if path else ""
        found = self.store.list_artifacts(owner, _join(prefix, None, inner) if inner else prefix)
        cut = len(prefix) + 1 if prefix else 0
        return [FileInfo(f.path[cut:], f.is_dir, f.file_size, f.sha256) for f in found]

    def search_logged_models(
        self, experiment_ids: Sequence[str], filter_string: str | None = None,
        datasets: Sequence[Any] | None = None, max_results: int | None = None,
        order_by: Sequence[Any] | None = None, page_token: str | None = None,
    ) -> PagedList:
        """A page of logged models of these experiments matching a filter, newest first; pass
        ``result.token`` as ``page_token`` for the next page.

        :param experiment_ids: the experiments.
        :param filter_string: the search grammar (``name``, ``status``, ``params.*``, ...).
        :param datasets: only None (mlnb records no metric datasets).
        :param max_results: at most this many (default 100).
        :param order_by: ``"field ASC"`` texts or MLflow's ``{"field_name", "ascending"}``.
        :param page_token: the ``token`` of the previous page.
        """
        if datasets:
            raise InvalidParameterError(
                "search_logged_models(datasets=...) is not supported: mlnb does not record "
                "which dataset a model's metrics were computed on.")
        offset = token_offset(page_token)
        limit = max_results or 100
        clauses = [order_clause(o) for o in order_by or ()]
        found = self.store.search_logged_models(
            [str(e) for e in experiment_ids], filter_string, limit, clauses, offset)
        return page(found, offset, limit)

    def _model_files(self, model_id: str, writing: bool = True) -> tuple[str, str]:
        """``(artifact owner, folder inside it)`` of a model's files: its run and its folder
        there, or the model itself (its own folder)."""
        model = self.store.get_logged_model(check_model_id(model_id))
        if model.source_run_id is not None and model.artifact_path is not None:
            if writing and model.status != "PENDING":
                raise InvalidParameterError(
                    f"Logged model {model_id} is {model.status}: its files cannot change once it "
                    "is finalized.")
            return model.source_run_id, model.artifact_path
        return model.model_id, ""


def order_clause(item: Any) -> str:
    """An order-by clause from text or MLflow 3's ``{"field_name": ..., "ascending": ...}``.

    :param item: the clause.
    :raises InvalidParameterError: for anything else.
    """
    if isinstance(item, dict):
        field = item.get("field_name")
        if not isinstance(field, str):
            raise InvalidParameterError(f"order_by entry {item!r} has no field_name.")
        return f"{field} {'ASC' if item.get('ascending', True) else 'DESC'}"
    if isinstance(item, str):
        return item
    raise InvalidParameterError(f"order_by entries are text or dicts, not {item!r}.")


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidParameterError(f"{what} must be a dict, not {type(value).__name__}.")
    return dict(value)


def _join(prefix: str, folder: str | None, name: str) -> str:
    inner = safe_relpath(folder, allow_empty=True) if folder else ""
    return "/".join(p for p in (prefix, inner, name) if p)
