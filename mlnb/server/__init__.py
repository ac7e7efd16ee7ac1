"""mlnb's Jupyter Server extension: the authenticated REST API behind the Experiments sidebar.

The server finds its store from its root folder by the same rules as a kernel started there
(``MLNB_TRACKING_URI`` if set, else the nearest ``.mlnb/`` walking up, else ``<root>/.mlnb``),
then exports ``MLNB_TRACKING_URI`` (absolute) into its own environment so that every kernel it
starts logs into that same store: the notebook and the sidebar share the store with no setup.
The server never touches a kernel's current run; it only reads and writes the store.

A found store that another user controls is refused by the same rules as in a kernel
(:mod:`mlnb.store.location`): the server then logs why, exports nothing (so its kernels meet the
same refusal themselves) and every API call answers 403 with that explanation.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join

from mlnb.errors import UnsafeStoreError
from mlnb.store.location import ENV_VAR, StoreLocation, claim_discovered, resolve

ROUTES: list[tuple[str, str]] = [
    # (path under /mlnb/api, "module:Handler")
    ("version", "runs:VersionHandler"),
    ("experiments", "runs:ExperimentsHandler"),
    ("runs", "runs:RunsHandler"),
    ("runs/([^/]+)", "runs:RunHandler"),
    ("runs/([^/]+)/restore", "runs:RestoreRunHandler"),
    ("runs/([^/]+)/metrics", "runs:MetricHistoryHandler"),
    ("metric-histories", "runs:MetricHistoriesHandler"),
    ("runs/([^/]+)/artifacts", "artifacts:ArtifactListHandler"),
    ("runs/([^/]+)/artifact", "artifacts:ArtifactDownloadHandler"),
    ("runs/([^/]+)/artifact/(.+)", "artifacts:ArtifactDownloadHandler"),
    ("runs/([^/]+)/artifact-table/(.+)", "artifact_table:ArtifactTableHandler"),
    ("models", "models:ModelsHandler"),
    ("models/([^/]+)", "models:ModelHandler"),
    ("models/([^/]+)/versions/([^/]+)/stage", "models:StageHandler"),
    ("models/([^/]+)/versions/([^/]+)/history", "models:VersionHistoryHandler"),
    ("models/([^/]+)/versions/([^/]+)/evaluation", "models:VersionEvaluationHandler"),
    ("models/([^/]+)/monitoring", "models:ModelMonitoringHandler"),
    ("models/([^/]+)/aliases/([^/]+)", "models:AliasHandler"),
    ("experiments/([^/]+)/traces", "traces:TracesHandler"),
    ("traces", "traces:AllTracesHandler"),
    ("traces/([^/]+)", "traces:TraceHandler"),
    ("logged-models", "logged_models:LoggedModelsHandler"),
    ("logged-models/([^/]+)", "logged_models:LoggedModelHandler"),
    ("logged-models/([^/]+)/artifacts", "logged_models:LoggedModelArtifactsHandler"),
    ("logged-models/([^/]+)/artifact", "logged_models:LoggedModelFileHandler"),
    ("runs/([^/]+)/sweep", "sweep:SweepHandler"),
    ("runs/([^/]+)/diff/([^/]+)", "run_diff:RunDiffHandler"),
    ("prompts", "genai:PromptsHandler"),
    ("prompts/([^/]+)", "genai:PromptHandler"),
    ("prompts/([^/]+)/versions/([^/]+)", "genai:PromptVersionHandler"),
    ("prompts/([^/]+)/aliases/([^/]+)", "genai:PromptAliasHandler"),
    ("experiments/([^/]+)/genai-evaluations", "genai:GenaiEvaluationsHandler"),
    ("genai/compare", "genai:GenaiCompareHandler"),
    ("genai/promote", "genai:GenaiPromoteHandler"),
    ("experiments/([^/]+)/views", "workspace:ExperimentViewsHandler"),
    ("views/([^/]+)", "workspace:ViewHandler"),
    # Last: every other path under /mlnb/api/ is a JSON 404.
    ("(.*)", "base:NotFoundHandler"),
]
MLFLOW_ROUTE = ("(.*)", "mlflow:MlflowApiHandler")
"""Everything under ``/mlnb/mlflow/``: MLflow's REST API (:mod:`mlnb.mlflow_server`), so that
``MLFLOW_TRACKING_URI=http://<server>/mlnb/mlflow`` with the Jupyter token in
``MLFLOW_TRACKING_TOKEN`` logs into the server's store."""


def store_location_for(root_dir: str | os.PathLike[str]) -> StoreLocation:
    """The store a kernel started in ``root_dir`` would use (honours ``MLNB_TRACKING_URI``).

    :param root_dir: the server's root folder.
    :raises UnsafeStoreError: when the store found from it is not private to this user.
    """
    return resolve(explicit=None, cwd=Path(root_dir).expanduser().absolute())


def handlers(base_url: str) -> list[tuple[str, type[Any]]]:
    """``(url pattern, handler class)`` for every route of the extension.

    :param base_url: the server's base URL.
    """
    found: list[tuple[str, type[Any]]] = []
    for mount, (path, target) in [*(("api", r) for r in ROUTES), ("mlflow", MLFLOW_ROUTE)]:
        module_name, _, class_name = target.partition(":")
        module = importlib.import_module(f"mlnb.server.{module_name}")
        found.append((url_path_join(base_url, "mlnb", mount, path), getattr(module, class_name)))
    return found


def load_jupyter_server_extension(server_app: Any) -> None:
    """Resolve the store from ``ServerApp.root_dir``, export it for kernels, add the REST routes.

    :param server_app: Jupyter's ``ServerApp``.
    """
    root_dir = server_app.root_dir
    web_app = server_app.web_app
    web_app.settings["mlnb_root_dir"] = str(root_dir)
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    try:
        location = store_location_for(root_dir)
        if not os.environ.get(ENV_VAR):
            # Kernels get the store as an explicit URI, which they no longer check as a found
            # one: create it now, private, so nobody can plant it between now and their start.
            claim_discovered(location)
    except UnsafeStoreError as exc:
        # Never export the refused store to kernels; the API explains the refusal instead.
        web_app.settings["mlnb_store_error"] = exc.message
        server_app.log.error("mlnb: %s", exc.message)
        return
    uri = location.uri  # absolute: the folder holding mlnb.db, or sqlite:///<absolute file>
    # Kernels this server starts inherit the variable, so they log into the same store.
    os.environ[ENV_VAR] = uri
    web_app.settings["mlnb_store_uri"] = uri
    server_app.log.info("mlnb: experiments sidebar API at /mlnb/api/, MLflow REST API at "
                        "/mlnb/mlflow/, store %s", location.display)
