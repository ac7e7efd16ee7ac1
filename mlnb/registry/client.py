"""The registry methods of MLflow's ``MlflowClient``: registered models, versions, stages,
aliases and their history.

:class:`RegistryClientMixin` is mixed into :class:`mlnb.tracking.client.MlnbClient`, so
``MlnbClient().transition_model_version_stage(...)`` works as in MLflow. The fluent
``register_model`` lives with the other fluent functions in :mod:`mlnb.tracking.fluent`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.capture.environment import current_user
from mlnb.entities import GateCheck, ModelVersion, RegisteredModel, RegistryEvent, RegistryGate
from mlnb.errors import InvalidParameterError
from mlnb.registry.sources import model_source
from mlnb.store.paging import page, token_offset

if TYPE_CHECKING:
    from mlnb.store import Store

__all__ = ["RegistryClientMixin"]


class RegistryClientMixin:
    """Registry methods of :class:`~mlnb.tracking.client.MlnbClient` (they use ``self.store``).

    Where they differ from MLflow: a version's source must be a model mlnb's ``log_model`` wrote
    into this store; the methods that record history (rename, delete, versions, stages, aliases)
    take an mlnb-only keyword ``user_id``; there is no ``deployment_job_id``, ``model_id`` or
    ``stage=`` argument.
    """

    store: Store

    # --- registered models ------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create an empty registered model; its name must not be taken in any letter case.

        :param name: the model's name.
        :param tags: tags of the model.
        :param description: the model's description.
        """
        return self.store.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with this name (in any letter case).

        :param name: the model's name.
        :raises NotFoundError: when there is none.
        """
        return self.store.get_registered_model(name)

    def search_registered_models(self, filter_string: str | None = None, max_results: int = 100,
                                 order_by: Sequence[str] | None = None,
                                 page_token: str | None = None) -> list[RegisteredModel]:
        """Registered models matching a filter; ``result.token`` is the ``page_token`` of the next page
        (None on the last).

        :param filter_string: e.g. ``"name LIKE 'churn%'"`` or ``"tags.team = 'x'"``; default all.
        :param max_results: at most this many in the page.
        :param order_by: e.g. ``["name ASC"]``.
        :param page_token: the ``token`` of the previous page.
        """
        offset = token_offset(page_token)
        found = self.store.search_registered_models(filter_string, max_results, order_by, offset)
        return page(found, offset, max_results)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        """Set (or, with None, clear) a registered model's description.

        :param name: the model's name.
        :param description: the new description.
        """
        return self.store.update_registered_model(name, description)

    def rename_registered_model(self, name: str, new_name: str, *,
                                user_id: str | None = None) -> RegisteredModel:
        """Rename a model; its versions, aliases and history follow.

        :param name: the model's current name.
        :param new_name: a name no other model has in any letter case.
        :param user_id: mlnb-only: who renames it, recorded in the history; default this process's
            user.
        """
        return self.store.rename_registered_model(name, new_name, _user(user_id))

    def delete_registered_model(self, name: str, *, user_id: str | None = None) -> None:
        """Delete a model with its versions, tags and aliases; its history is kept.

        :param name: the model's name.
        :param user_id: mlnb-only: who deletes it, recorded in the history; default this process's
            user.
        """
        self.store.delete_registered_model(name, _user(user_id))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set one tag of a registered model.

        :param name: the model's name.
        :param key: the tag's name.
        :param value: any value, stored as text.
        """
        self.store.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete a tag of a registered model.

        :param name: the model's name.
        :param key: the tag's name.
        """
        self.store.delete_registered_model_tag(name, key)

    # --- versions ---------------------------------------------------------------------------

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None, run_link: str | None = None,
                             description: str | None = None,
                             await_creation_for: int | None = None, *,
                             user_id: str | None = None,
                             create_model: bool = False) -> ModelVersion:
        """Add a version of a registered model from a model logged in this store.

        Unlike MLflow, the source cannot be an arbitrary path or remote URI (see ``source``).

        :param name: the registered model.
        :param source: ``runs:/<run_id>/<path>``, ``models:/...`` or a folder inside the store's
            artifact root; it must be a model mlnb's ``log_model`` wrote.
        :param run_id: the source's run (checked to match it).
        :param tags: tags of the new version.
        :param run_link: accepted for MLflow compatibility and ignored (the run is the source's).
        :param description: the version's description.
        :param await_creation_for: accepted for MLflow compatibility; creation is immediate.
        :param user_id: mlnb-only: who registers it (recorded in the history); default this
            process's user.
        :param create_model: mlnb-only: create the registered model first if it does not exist.
        :raises UntrustedModelError: when the source was not written by mlnb's model writer.
        """
        return self.store.create_model_version(
            name, model_source(self.store, source), run_id, tags, description, _user(user_id),
            create_model=create_model)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        """One version of a registered model.

        :param name: the model's name.
        :param version: the version number.
        :raises NotFoundError: when the model or the version does not exist.
        """
        return self.store.get_model_version(name, version)

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 10_000,
                              order_by: Sequence[str] | None = None,
                              page_token: str | None = None) -> list[ModelVersion]:
        """Versions matching a filter; ``result.token`` is the ``page_token`` of the next page (None on
        the last).

        :param filter_string: e.g. ``"name = 'churn' and current_stage = 'Production'"``; default
            all.
        :param max_results: at most this many in the page.
        :param order_by: e.g. ``["version_number DESC"]``.
        :param page_token: the ``token`` of the previous page.
        """
        offset = token_offset(page_token)
        found = self.store.search_model_versions(filter_string, max_results, order_by, offset)
        return page(found, offset, max_results)

    def update_model_version(self, name: str, version: str | int,
                             description: str | None = None) -> ModelVersion:
        """Set (or, with None, clear) a version's description.

        :param name: the model's name.
        :param version: the version number.
        :param description: the new description.
        """
        return self.store.update_model_version(name, version, description)

    def delete_model_version(self, name: str, version: str | int, *,
                             user_id: str | None = None) -> None:
        """Delete one version (its aliases go with it; the history is kept).

        :param name: the model's name.
        :param version: the version number.
        :param user_id: mlnb-only: who deletes it, recorded in the history; default this process's
            user.
        """
        self.store.delete_model_version(name, version, _user(user_id))

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        """Set one tag of a version.

        Unlike MLflow, ``version`` is required and there is no ``stage=`` argument.

        :param name: the model's name.
        :param version: the version number.
        :param key: the tag's name.
        :param value: any value, stored as text.
        """
        self.store.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        """Delete a tag of a version (``version`` is required; no ``stage=`` as in MLflow).

        :param name: the model's name.
        :param version: the version number.
        :param key: the tag's name.
        """
        self.store.delete_model_version_tag(name, version, key)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where the version's files are in this store: its ``runs:/<run_id>/<path>`` folder, or
        ``models:/m-<id>`` for a logged model without a run.

        Unlike MLflow, this is not a storage location; load it with ``mlnb.pyfunc.load_model``.

        :param name: the model's name.
        :param version: the version number.
        """
        mv = self.store.get_model_version(name, version)
        return mv.storage_location or mv.source

    # --- stages, aliases, history -----------------------------------------------------------

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False, *,
                                       user_id: str | None = None,
                                       force: bool = False) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived (any letter case).

        The change is recorded in the history with ``user_id`` as who made it (default: the user
        running this process); the same keyword is on every method that records history.

        :param name: the model's name.
        :param version: the version number.
        :param stage: the new stage.
        :param archive_existing_versions: move the model's other versions in that stage to
            Archived (only for Staging and Production).
        :param user_id: mlnb-only: who makes the change.
        :param force: mlnb-only: move it even when the model's gate (see
            :meth:`set_registered_model_gate`) guards ``stage`` and the version fails it; the
            override is recorded in the version's history.
        :raises GateFailedError: naming each failed threshold and its measured value, or saying
            that no evaluation is attached.
        """
        return self.store.transition_model_version_stage(
            name, version, stage, archive_existing_versions, _user(user_id), force=_flag(force))

    def set_registered_model_alias(self, name: str, alias: str, version: str | int, *,
                                   user_id: str | None = None, force: bool = False) -> None:
        """Point ``alias`` at a version, moving it if it pointed at another one.

        :param name: the model's name.
        :param alias: the alias, e.g. ``champion`` (loadable as ``models:/<name>@champion``).
        :param version: the version number.
        :param user_id: mlnb-only: who sets it, recorded in the history; default this process's
            user.
        :param force: mlnb-only: move it even when the model's gate guards ``alias`` and the
            version fails it; the override is recorded in the version's history.
        :raises GateFailedError: naming each failed threshold and its measured value, or saying
            that no evaluation is attached.
        """
        self.store.set_registered_model_alias(name, alias, version, _user(user_id),
                                              force=_flag(force))

    def delete_registered_model_alias(self, name: str, alias: str, *,
                                      user_id: str | None = None) -> None:
        """Remove an alias from a model.

        :param name: the model's name.
        :param alias: the alias.
        :param user_id: mlnb-only: who removes it, recorded in the history; default this process's
            user.
        :raises NotFoundError: when the model has no such alias.
        """
        self.store.delete_registered_model_alias(name, alias, _user(user_id))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at.

        :param name: the model's name.
        :param alias: the alias.
        """
        return self.store.get_model_version_by_alias(name, alias)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """The newest version in each stage.

        :param name: the model's name.
        :param stages: only these stages; default every stage.
        """
        return self.store.get_latest_versions(name, stages)

    def get_model_version_history(self, name: str,
                                  version: str | int | None = None) -> list[RegistryEvent]:
        """Every stage, alias and version change of a model (or one version), oldest first (mlnb-only).

        :param name: the model's name.
        :param version: only this version's events; default the whole model's.
        :raises NotFoundError: for a model never registered, or a version that neither exists nor
            ever existed (a deleted version keeps its history).
        """
        return self.store.get_model_version_history(name, version)


    # --- gates and attached evaluations (mlnb-only) -----------------------------------------

    def set_registered_model_gate(self, name: str, thresholds: dict[str, dict[str, float]],
                                  applies_to: Sequence[str] | str = ("Production",), *,
                                  user_id: str | None = None) -> RegistryGate:
        """Require a version's attached evaluation to meet metric bounds before it moves to any
        of ``applies_to`` (replaces the model's previous gate; recorded in its history).

        ``transition_model_version_stage`` and ``set_registered_model_alias`` then refuse such a
        move, naming each failed threshold and its measured value, unless ``force=True``.

        :param name: the model's name.
        :param thresholds: inclusive bounds per metric, e.g.
            ``{"accuracy": {"min": 0.9}, "log_loss": {"max": 0.4}}``.
        :param applies_to: the stages (any case) and aliases the gate guards, e.g.
            ``["Production", "champion"]``.
        :param user_id: who sets it, recorded in the history; default this process's user.
        """
        return self.store.set_registered_model_gate(name, thresholds, applies_to, _user(user_id))

    def get_registered_model_gate(self, name: str) -> RegistryGate | None:
        """The model's gate, or None when it has none.

        :param name: the model's name.
        """
        return self.store.get_registered_model_gate(name)

    def delete_registered_model_gate(self, name: str, *, user_id: str | None = None) -> None:
        """Remove the model's gate (recorded in its history).

        :param name: the model's name.
        :param user_id: who removes it; default this process's user.
        :raises NotFoundError: when the model has no gate.
        """
        self.store.delete_registered_model_gate(name, _user(user_id))

    def attach_evaluation(self, name: str, version: str | int, run_id: str, *,
                          user_id: str | None = None) -> None:
        """Attach an evaluation run to a version: the gate checks that run's metrics.

        ``mlnb.evaluate("models:/<name>/<version>", ...)`` attaches its run by itself.

        :param name: the model's name.
        :param version: the version number.
        :param run_id: the run the evaluation logged to.
        :param user_id: who attaches it, recorded in the history; default this process's user.
        """
        self.store.attach_evaluation(name, version, run_id, _user(user_id))

    def check_model_version_gate(self, name: str, version: str | int, target: str) -> GateCheck:
        """Whether a version may move to a stage or alias under the model's gate, with each
        threshold's measured value and, when it may not, the reason.

        :param name: the model's name.
        :param version: the version number.
        :param target: a stage or an alias.
        """
        return self.store.check_model_version_gate(name, version, target)


def _flag(force: Any) -> bool:
    if not isinstance(force, bool):
        raise InvalidParameterError(f"force must be True or False, not {force!r}.")
    return force


def _user(user_id: str | None) -> str:
    """Who makes a registry change: ``user_id`` when given (the REST API passes the logged-in
    Jupyter user), else the user running this process."""
    if user_id is None:
        return current_user()
    if not isinstance(user_id, str):
        raise InvalidParameterError(f"user_id must be text, not {user_id!r}.")
    return user_id
