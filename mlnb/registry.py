"""The model registry API: registered models, versions, stages, aliases and their history.

:class:`RegistryClientMixin` holds MLflow's ``MlflowClient`` registry methods; it is mixed into
:class:`mlnb.tracking.client.MlnbClient`, so ``MlnbClient().transition_model_version_stage(...)``
works as in MLflow. The module-level functions (``register_model``) use the current store.

A version's ``source`` is always a ``runs:/<run_id>/<path>`` URI of a model logged in this store:
a local path is accepted only when it lies inside the store's artifact root, and is rewritten to
its ``runs:/`` form (MLflow's CVE-2023-1177 let a source name any file on the server).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from mlnb.entities import ModelVersion, RegisteredModel, RegistryEvent
from mlnb.errors import InvalidParameterError, NotFoundError

if TYPE_CHECKING:
    from mlnb.store import Store

__all__ = ["RegistryClientMixin", "register_model"]


def _user(user_id: str | None = None) -> str:
    """Who makes a registry change: ``user_id`` when given (the REST API passes the logged-in
    Jupyter user), else the user running this process."""
    if user_id is not None:
        if not isinstance(user_id, str):
            raise InvalidParameterError(f"user_id must be text, not {user_id!r}.")
        return user_id
    name = os.environ.get("USER") or os.environ.get("USERNAME")
    if name:
        return name
    try:
        # LOGNAME, then the password database: root in a container has no $USER but is 'root'.
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no such uid (a container's arbitrary --user)
        return ""


def model_source(store: Store, model_uri: str) -> str:
    """The ``runs:/`` source for a model URI, checked to name a logged model in ``store``.

    ``runs:/<id>/<path>`` is checked as is; ``models:/...`` gives its version's source; a local
    path (or ``file://`` URI) must lie inside the store's artifact root.
    """
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise InvalidParameterError(f"A model URI must be non-empty text, not {model_uri!r}.")
    if model_uri.startswith("models:"):
        from mlnb.models.uri import resolve_registry_uri

        return resolve_registry_uri(store, model_uri).source
    if model_uri.startswith("runs:"):
        source = model_uri
    else:
        source = _local_source(store, model_uri)
    from mlnb.store.registry import check_source

    run_id, path = check_source(source)
    try:
        store.artifact_record(run_id, f"{path}/MLmodel")
    except NotFoundError:
        raise NotFoundError(
            f"{model_uri!r} is not a logged model: run {run_id} has no {path}/MLmodel. "
            "Log one with mlnb.sklearn.log_model(...) or mlnb.pyfunc.log_model(...)."
        ) from None
    from mlnb.models.format import require_model_writer

    # A folder copied in with log_artifacts (or an edited MLmodel) is not a model mlnb wrote:
    # registering it would put a foreign pickle one models:/ URI away from being loaded.
    require_model_writer(store, run_id, path)
    return f"runs:/{run_id}/{path}"


def _local_source(store: Store, uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme and len(parsed.scheme) > 1:
        raise InvalidParameterError(
            f"Model URI {uri!r} has the scheme {parsed.scheme!r}; use runs:/<run_id>/<path>, "
            "models:/<name>/<version> or a folder inside this store's artifact root.")
    else:
        path = Path(uri)
    root = store.location.artifact_root.resolve()
    real = path.resolve()
    if not real.is_relative_to(root) or real == root:
        raise InvalidParameterError(
            f"Model source {uri!r} is refused: it is outside this store's artifact root. Log the "
            "model to a run (mlnb.sklearn.log_model) and register its runs:/ URI."
        )
    parts = real.relative_to(root).parts
    if len(parts) < 2:
        raise InvalidParameterError(f"Model source {uri!r} does not name a model inside a run.")
    return f"runs:/{parts[0]}/{'/'.join(parts[1:])}"


class RegistryClientMixin:
    """Registry methods of :class:`~mlnb.tracking.client.MlnbClient` (they use ``self.store``)."""

    store: Store

    # --- registered models ------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create an empty registered model; its name must not be taken in any letter case."""
        return self.store.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(name)

    def search_registered_models(self, filter_string: str | None = None, max_results: int = 100,
                                 order_by: Sequence[str] | None = None,
                                 page_token: str | None = None) -> list[RegisteredModel]:
        """Registered models matching a filter (``name LIKE 'churn%'``, ``tags.team = 'x'``);
        ``result.token`` is the ``page_token`` of the next page (None on the last)."""
        offset = _offset(page_token)
        found = self.store.search_registered_models(filter_string, max_results, order_by, offset)
        return _page(found, offset, max_results)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self.store.update_registered_model(name, description)

    def rename_registered_model(self, name: str, new_name: str, *,
                                user_id: str | None = None) -> RegisteredModel:
        """Rename a model (its versions, aliases and history follow); ``user_id`` as in
        :meth:`transition_model_version_stage`."""
        return self.store.rename_registered_model(name, new_name, _user(user_id))

    def delete_registered_model(self, name: str, *, user_id: str | None = None) -> None:
        self.store.delete_registered_model(name, _user(user_id))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.store.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.store.delete_registered_model_tag(name, key)

    # --- versions ---------------------------------------------------------------------------

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None, run_link: str | None = None,
                             description: str | None = None,
                             await_creation_for: int | None = None, *,
                             user_id: str | None = None) -> ModelVersion:
        """Add a version of an existing registered model from a model logged in this store."""
        return self.store.create_model_version(
            name, model_source(self.store, source), run_id, tags, description, _user(user_id))

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.store.get_model_version(name, version)

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 10_000,
                              order_by: Sequence[str] | None = None,
                              page_token: str | None = None) -> list[ModelVersion]:
        """Versions matching a filter (``name = 'churn' and current_stage = 'Production'``);
        ``result.token`` is the ``page_token`` of the next page (None on the last)."""
        offset = _offset(page_token)
        found = self.store.search_model_versions(filter_string, max_results, order_by, offset)
        return _page(found, offset, max_results)

    def update_model_version(self, name: str, version: str | int,
                             description: str | None = None) -> ModelVersion:
        return self.store.update_model_version(name, version, description)

    def delete_model_version(self, name: str, version: str | int, *,
                             user_id: str | None = None) -> None:
        self.store.delete_model_version(name, version, _user(user_id))

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self.store.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self.store.delete_model_version_tag(name, version, key)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self.store.get_model_version(name, version).source

    # --- stages, aliases, history -----------------------------------------------------------

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False, *,
                                       user_id: str | None = None) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived (any letter case).

        The change is recorded in the history with ``user_id`` as who made it (default: the
        user running this process); the same keyword is on every method that records history.
        """
        return self.store.transition_model_version_stage(
            name, version, stage, archive_existing_versions, _user(user_id))

    def set_registered_model_alias(self, name: str, alias: str, version: str | int, *,
                                   user_id: str | None = None) -> None:
        self.store.set_registered_model_alias(name, alias, version, _user(user_id))

    def delete_registered_model_alias(self, name: str, alias: str, *,
                                      user_id: str | None = None) -> None:
        self.store.delete_registered_model_alias(name, alias, _user(user_id))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_model_version_by_alias(name, alias)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        return self.store.get_latest_versions(name, stages)

    def get_model_version_history(self, name: str,
                                  version: str | int | None = None) -> list[RegistryEvent]:
        """Every stage, alias and version change of a model (or one version), oldest first.

        Raises NotFoundError for a model never registered, or a version that neither exists nor
        ever existed (a deleted version keeps its history)."""
        return self.store.get_model_version_history(name, version)


def _page(items: list[Any], offset: int, max_results: int) -> list[Any]:
    from mlnb.tracking.client import PagedList

    return PagedList(items, str(offset + len(items)) if len(items) == max_results else None)


def _offset(page_token: str | None) -> int:
    if not page_token:
        return 0
    if not str(page_token).isdigit():
        raise InvalidParameterError(f"page_token {page_token!r} is not one this client returned.")
    return int(page_token)


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None,
                   await_registration_for: int | None = None) -> ModelVersion:
    """Register the model at ``model_uri`` as the next version of ``name`` (created if needed).

    ``model_uri`` is ``runs:/<run_id>/<path>``, ``models:/<name>/<version>`` or a folder inside
    the store's artifact root.
    """
    from mlnb.tracking.fluent import _client

    client = _client()
    client.writer.flush()
    source = model_source(client.store, model_uri)
    return client.store.create_model_version(name, source, None, tags, None, _user(),
                                             create_model=True)
