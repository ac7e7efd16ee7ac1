"""REST handlers for MLflow 3's logged models in the sidebar: an experiment's models, one model
with its files and registered versions, and its files' bytes.

A model logged in a run keeps its files in the run's artifacts (its folder ``artifact_path``);
a model without a run keeps them in its own folder. Either way the paths go through the store
(``safe_relpath``, ``resolve_inside``), and downloads are served as a run's artifacts are
(:mod:`mlnb.server.artifacts`: passive types inline, everything else an attachment, sandboxed).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.entities import LoggedModel
from mlnb.server.artifacts import ArtifactDownloadHandler, file_json
from mlnb.server.base import MlnbHandler
from mlnb.server.models import record_json
from mlnb.store.artifacts import safe_relpath
from mlnb.store.logged_models import check_model_id

MAX_LOGGED_MODELS = 500


def files_of(model: LoggedModel) -> tuple[str, str]:
    """``(artifact owner, folder inside it)`` of a logged model's files.

    :param model: the model.
    """
    if model.source_run_id is not None and model.artifact_path is not None:
        return model.source_run_id, model.artifact_path
    return model.model_id, ""


def model_json(model: LoggedModel, metrics: dict[str, float] | None = None) -> dict[str, Any]:
    """A logged model as the sidebar shows it.

    :param model: the model.
    :param metrics: the latest metrics of its run (a model logged in a run), if any.
    """
    found = record_json(model)
    found["model_uri"] = model.model_uri
    found["metrics"] = metrics or {}
    return found


class LoggedModelsHandler(MlnbHandler):
    """``GET logged-models?experiment_id=``: an experiment's logged models (every experiment's
    without one), newest first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET logged-models?experiment_id=<id>``: the models, with their run's metrics."""
        experiment_id = self.get_query_argument("experiment_id", "")
        if experiment_id and not experiment_id.isdigit():
            raise web.HTTPError(400, "Name the experiment with ?experiment_id=<its id> (or none "
                                "for every experiment).")
        store = self.store()

        def listing() -> list[dict[str, Any]]:
            ids = [experiment_id] if experiment_id else store.experiment_ids()
            models = store.search_logged_models(ids, None, MAX_LOGGED_MODELS)
            runs = {r.info.run_id: r for r in store.get_runs(
                sorted({m.source_run_id for m in models if m.source_run_id}))}
            return [model_json(m, runs[m.source_run_id].data.metrics
                               if m.source_run_id in runs else None) for m in models]

        self.send_json({"experiment_id": experiment_id, "models": await self.blocking(listing)})


class LoggedModelHandler(MlnbHandler):
    """``GET logged-models/<id>``: the model, its top files and the versions registered from it."""

    @web.authenticated
    @authorized
    async def get(self, model_id: str) -> None:
        """``GET logged-models/<model_id>``: one model with its files and registered versions."""
        store = self.store()

        def detail() -> dict[str, Any]:
            model = store.get_logged_model(check_model_id(model_id))
            owner, folder = files_of(model)
            metrics = store.get_run(owner).data.metrics if owner != model.model_id else {}
            cut = len(folder) + 1 if folder else 0
            files = [{**file_json(f), "path": f.path[cut:]}
                     for f in store.list_artifacts(owner, folder)] if _has_files(store, owner,
                                                                                    folder) else []
            versions = store.search_model_versions(f"model_id = '{model.model_id}'")
            return {"model": model_json(model, metrics), "files": files,
                    "versions": record_json(list(versions))}

        self.send_json(await self.blocking(detail))


def _has_files(store: Any, owner: str, folder: str) -> bool:
    """Whether the store recorded any file under the model's folder (an external model has
    none, and a model whose run was deleted lists nothing)."""
    return bool(store.artifact_files(owner, folder))


class LoggedModelArtifactsHandler(MlnbHandler):
    """``GET logged-models/<id>/artifacts?path=``: files and folders inside the model's folder."""

    @web.authenticated
    @authorized
    async def get(self, model_id: str) -> None:
        """``GET logged-models/<model_id>/artifacts?path=``: paths relative to the model."""
        path = self.get_query_argument("path", "")
        store = self.store()

        def listing() -> list[dict[str, Any]]:
            owner, folder = files_of(store.get_logged_model(check_model_id(model_id)))
            inner = safe_relpath(path, allow_empty=True)
            where = "/".join(p for p in (folder, inner) if p)
            cut = len(folder) + 1 if folder else 0
            return [{**file_json(f), "path": f.path[cut:]} for f in store.list_artifacts(owner, where)]

        self.send_json({"model_id": model_id, "path": path, "files": await self.blocking(listing)})


class LoggedModelFileHandler(ArtifactDownloadHandler):
    """``GET logged-models/<id>/artifact?path=``: one file of the model, served as a run's
    artifacts are (passive types inline, anything else an attachment, sandboxed)."""

    @web.authenticated
    @authorized
    async def get(self, model_id: str, url_path: str | None = None) -> None:
        """``GET logged-models/<model_id>/artifact?path=``: one recorded file of the model."""
        rel = self.get_query_argument("path", "")
        if not rel:
            raise web.HTTPError(400, "Name the file with ?path=<path inside the model>.")
        store = self.store()

        def locate() -> tuple[str, str]:
            owner, folder = files_of(store.get_logged_model(check_model_id(model_id)))
            return owner, "/".join(p for p in (folder, safe_relpath(rel)) if p)

        owner, full = await self.blocking(locate)
        await self.send_artifact(owner, full)
