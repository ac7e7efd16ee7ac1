"""REST handlers for the model registry: models, versions, stage transitions, aliases, history.

They call :class:`mlnb.MlnbClient`'s registry methods (MLflow's names), so the REST API and the
Python API apply the same rules (valid stages, one Production version, archive-existing).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.errors import NotFoundError
from mlnb.server.base import MlnbHandler

MAX_MODELS = 500


def record_json(obj: Any) -> Any:
    """A registry record (dataclass, object with ``to_dict``, or plain value) as JSON data.

    :param obj: the record.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: record_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "to_dict"):
        return record_json(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): record_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [record_json(v) for v in obj]
    return obj


def _registry(client: Any, method: str) -> Any:
    fn = getattr(client, method, None)
    if fn is None:
        raise web.HTTPError(501, f"This mlnb has no model registry method {method!r}.")
    return fn


class ModelsHandler(MlnbHandler):
    """``GET models``: registered models with their latest versions."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET models``: the registered models."""
        client = self.client()
        search = _registry(client, "search_registered_models")
        models = await self.blocking(lambda: list(search(max_results=MAX_MODELS)))
        self.send_json({"models": record_json(models)})


class ModelHandler(MlnbHandler):
    """``GET models/<name>``: the model, all its versions, and its aliases."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """``GET models/<name>``: one model with its versions."""
        client = self.client()
        get_model = _registry(client, "get_registered_model")
        search_versions = _registry(client, "search_model_versions")

        def detail() -> dict[str, Any]:
            model = get_model(name)
            versions = list(search_versions(f"name = '{_quote(name)}'"))
            return {"model": record_json(model), "versions": record_json(versions)}

        self.send_json(await self.blocking(detail))


def _force(body: dict[str, Any]) -> bool:
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise web.HTTPError(400, '"force" must be true or false.')
    return force


class StageHandler(MlnbHandler):
    """``POST models/<name>/versions/<v>/stage`` with ``{"stage", "archive_existing_versions"}``
    (and ``"force": true`` to move a version that fails its model's gate: a 409 names why)."""

    @web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        """``POST models/<name>/versions/<version>/stage``: move a version to a stage, recorded as the
        logged-in user.
        """
        body = self.json_body()
        stage = body.get("stage")
        archive = body.get("archive_existing_versions", False)
        if not isinstance(stage, str) or not isinstance(archive, bool):
            raise web.HTTPError(400, 'Send {"stage": "<stage>", "archive_existing_versions": <bool>}.')
        force = _force(body)
        await self.require_writable()
        transition = _registry(self.client(), "transition_model_version_stage")
        user = self.user_name()
        result = await self.blocking(lambda: transition(name, version, stage, archive, user_id=user,
                                                        force=force))
        self.send_json({"model_version": record_json(result)})


class AliasHandler(MlnbHandler):
    """``PUT models/<name>/aliases/<alias>`` with ``{"version"}``; ``DELETE`` removes the alias."""

    @web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        """``PUT models/<name>/aliases/<alias>``: point the alias at ``{"version": ...}``."""
        body = self.json_body()
        version = body.get("version")
        if not isinstance(version, (str, int)) or isinstance(version, bool):
            raise web.HTTPError(400, 'Send {"version": "<version number>"}.')
        force = _force(body)
        await self.require_writable()
        set_alias = _registry(self.client(), "set_registered_model_alias")
        user = self.user_name()
        await self.blocking(lambda: set_alias(name, alias, str(version), user_id=user, force=force))
        self.send_json({"name": name, "alias": alias, "version": str(version)})

    @web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        """``DELETE models/<name>/aliases/<alias>``: remove the alias."""
        self.require_json()
        await self.require_writable()
        delete_alias = _registry(self.client(), "delete_registered_model_alias")
        user = self.user_name()
        await self.blocking(lambda: delete_alias(name, alias, user_id=user))
        self.send_json({"name": name, "alias": alias, "deleted": True})


class VersionHistoryHandler(MlnbHandler):
    """``GET models/<name>/versions/<v>/history``: the version's stage and alias changes.

    A version that never existed is a 404 (the registry raises NotFoundError, as for its stage);
    a deleted version still shows its history.
    """

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """``GET models/<name>/versions/<version>/history``: the version's recorded changes."""
        history = _registry(self.client(), "get_model_version_history")
        events = await self.blocking(lambda: history(name, version))
        self.send_json({"history": record_json(list(events))})


def _quote(name: str) -> str:
    """A model name inside a single-quoted filter string."""
    return name.replace("\\", "\\\\").replace("'", "\\'")


class VersionEvaluationHandler(MlnbHandler):
    """``GET models/<name>/versions/<v>/evaluation``: the evaluation attached to a version (its
    run and metrics), the model's gate, and the gate's verdict for each stage or alias it guards
    (with the reason a move there is blocked)."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """``GET models/<name>/versions/<version>/evaluation``: attached evaluation and gate status."""
        client = self.client()
        get_version = _registry(client, "get_model_version")
        get_gate = _registry(client, "get_registered_model_gate")
        check = _registry(client, "check_model_version_gate")

        def detail() -> dict[str, Any]:
            mv = get_version(name, version)
            run_id = mv.tags.get("mlnb.evaluation_run_id")
            metrics: dict[str, float] | None = None
            if run_id is not None:
                try:
                    metrics = dict(client.get_run(run_id).data.metrics)
                except NotFoundError:
                    metrics = None
            gate = get_gate(mv.name)
            checks = [check(mv.name, mv.version, t) for t in gate.applies_to] if gate else []
            return {"name": mv.name, "version": mv.version, "evaluation_run_id": run_id,
                    "metrics": metrics, "gate": record_json(gate), "checks": record_json(checks)}

        self.send_json(await self.blocking(detail))


class ModelMonitoringHandler(MlnbHandler):
    """``GET models/<name>/monitoring``: what ``mlnb monitor`` logged for the model: drift share
    per window over time and the newest window's report, per monitoring run."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """``GET models/<name>/monitoring``: drift over time and the latest report."""
        from mlnb.monitor.watch import monitoring_summary  # the monitor's module: on use only

        client = self.client()
        model = await self.blocking(lambda: _registry(client, "get_registered_model")(name))
        runs = await self.blocking(lambda: monitoring_summary(client, model.name))
        self.send_json({"name": model.name, "runs": runs})
