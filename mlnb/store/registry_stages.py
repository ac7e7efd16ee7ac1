"""Stages, aliases and the history of the model registry: every stage or alias change is
recorded in ``model_registry_events`` (when, from, to, who), and promotions are serialised by
one ``BEGIN IMMEDIATE`` transaction, so two processes promoting at once never leave two versions
in Production.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import ModelVersion, ModelVersionStage, RegistryEvent
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store.dialect import StoreConnection
from mlnb.store.registry_checks import canonical_model_name, canonical_stage, check_alias, version_number
from mlnb.store.sql import now_ms


class StageQueries:
    """Stages, aliases and history. Mixed into :class:`mlnb.store.Store` beside
    :class:`mlnb.store.registry.RegistryQueries`."""

    cx: StoreConnection

    if TYPE_CHECKING:  # from RegistryQueries, beside this class in Store

        def _model_name(self, name: Any) -> str: ...

        def get_model_version(self, name: Any, version: Any) -> ModelVersion: ...

        def _versions(self, where: str, params: Sequence[Any], suffix: str = "",
                      joins: str = "") -> list[ModelVersion]: ...

        def _latest(self, name: str, stages: Sequence[str] | None) -> list[ModelVersion]: ...

        def _record(self, name: str, version: int | None, kind: str, old: str | None,
                    new: str | None, user_id: str) -> None: ...

        def enforce_gate(self, mv: ModelVersion, target: str, force: bool, user_id: str) -> None: ...


    def transition_model_version_stage(
        self, name: Any, version: Any, stage: Any, archive_existing_versions: bool = False,
        user_id: str = "", force: bool = False,
    ) -> ModelVersion:
        """Move a version to a stage; with ``archive_existing_versions``, archive the others there.

        The read of the other versions and the writes share one ``BEGIN IMMEDIATE`` transaction:
        two processes promoting at once are serialised, and the second archives the first.

        :param name: the model.
        :param version: the version number.
        :param stage: the new stage (any letter case).
        :param archive_existing_versions: archive the model's other versions in that stage (Staging
            and Production only).
        :param user_id: who makes the change, for the history.
        :param force: move it even when it fails its model's gate (recorded in the history).
        :raises GateFailedError: when the model's gate guards the stage and the version fails it.
        """
        target = canonical_stage(stage)
        if archive_existing_versions and target not in (ModelVersionStage.STAGING,
                                                        ModelVersionStage.PRODUCTION):
            raise InvalidParameterError(
                f"archive_existing_versions applies only to Staging and Production, not {target}.")
        with self.cx.write(durable=True) as conn:
            mv = self.get_model_version(name, version)
            number = int(mv.version)
            if mv.current_stage != target:
                self.enforce_gate(mv, target, force, user_id)
            t = now_ms()
            if archive_existing_versions:
                for (other,) in self.cx.query(
                    "SELECT version FROM model_versions WHERE name = ? AND current_stage = ? "
                    "AND version != ?", [mv.name, target, number],
                ):
                    self._set_stage(mv.name, other, ModelVersionStage.ARCHIVED, t)
                    self._record(mv.name, other, "stage", target, ModelVersionStage.ARCHIVED, user_id)
            if mv.current_stage != target:
                self._set_stage(mv.name, number, target, t)
                self._record(mv.name, number, "stage", mv.current_stage, target, user_id)
            conn.execute("UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
                         [t, mv.name])
        return self.get_model_version(mv.name, number)

    def _set_stage(self, name: str, version: int, stage: str, t: int) -> None:
        with self.cx.write() as conn:  # joins the caller's transaction
            conn.execute(
                "UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                "WHERE name = ? AND version = ?", [stage, t, name, version],
            )

    def set_registered_model_alias(self, name: Any, alias: str, version: Any, user_id: str = "",
                                   force: bool = False) -> None:
        """Point ``alias`` at a version (moving it if it pointed elsewhere).

        :param name: the model.
        :param alias: the alias.
        :param version: the version number.
        :param user_id: who sets it, for the history.
        :param force: move it even when the version fails its model's gate (recorded in the
            history).
        :raises GateFailedError: when the model's gate guards the alias and the version fails it.
        """
        check_alias(alias)
        with self.cx.write(durable=True) as conn:
            mv = self.get_model_version(name, version)
            old = self.cx.query(
                "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                [mv.name, alias],
            )
            previous = str(old[0][0]) if old else None
            if previous == mv.version:
                return
            self.enforce_gate(mv, alias, force, user_id)
            conn.execute(
                "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
                "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                [mv.name, alias, int(mv.version)],
            )
            self._record(mv.name, int(mv.version), f"alias:{alias}", previous, mv.version, user_id)

    def delete_registered_model_alias(self, name: Any, alias: str, user_id: str = "") -> None:
        """Remove an alias (durably) and record it in the history.

        :param name: the model.
        :param alias: the alias.
        :param user_id: who removes it, for the history.
        :raises NotFoundError: when the model has no such alias.
        """
        check_alias(alias)
        with self.cx.write(durable=True) as conn:
            text = self._model_name(name)
            old = self.cx.query(
                "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                [text, alias],
            )
            if not old:
                raise NotFoundError(f"Registered model {text!r} has no alias {alias!r}.")
            conn.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
                         [text, alias])
            self._record(text, old[0][0], f"alias:{alias}", str(old[0][0]), None, user_id)

    def get_model_version_by_alias(self, name: Any, alias: str) -> ModelVersion:
        """The version an alias points at.

        :param name: the model.
        :param alias: the alias.
        :raises NotFoundError: when the model has no such alias.
        """
        check_alias(alias)
        text = self._model_name(name)
        rows = self.cx.query(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", [text, alias])
        if not rows:
            raise NotFoundError(f"Registered model {text!r} has no alias {alias!r}.")
        return self.get_model_version(text, rows[0][0])

    def get_latest_versions(self, name: Any, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (every stage when None).

        :param name: the model.
        :param stages: the stages; default every stage.
        """
        return self._latest(self._model_name(name), stages)

    # --- history ----------------------------------------------------------------------------

    def get_model_version_history(self, name: Any, version: Any = None) -> list[RegistryEvent]:
        """Every recorded change of a model (or of one version), oldest first.

        :param name: the model.
        :param version: only this version's events; default all.
        """
        text = canonical_model_name(name)
        params: list[Any] = [text]
        where = "name = ?"
        if version is not None:
            where += " AND version = ?"
            params.append(version_number(version))
        rows = self.cx.query(
            "SELECT event_id, name, version, kind, from_value, to_value, time, user_id "
            f"FROM model_registry_events WHERE {where} ORDER BY time, event_id", params,
        )
        if not rows and not self.cx.query("SELECT 1 FROM registered_models WHERE name = ?", [text]):
            raise NotFoundError(f"No registered model named {text!r} and no history for it.")
        if not rows and version is not None:
            # A deleted version keeps its history (found above); one that never existed is an error,
            # as for its stage and aliases, not an empty history.
            self.get_model_version(text, version)
        return [RegistryEvent(r[0], r[1], None if r[2] is None else str(r[2]), r[3], r[4], r[5],
                              r[6], r[7]) for r in rows]
