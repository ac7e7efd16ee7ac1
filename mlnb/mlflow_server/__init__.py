"""MLflow's REST API over an mlnb store, framework-neutral: ``handle(context, request)``.

Both servers use this one layer: the Jupyter server extension under ``/mlnb/mlflow/`` and the
standalone ``mlnb server``. They authenticate the request, hand over ``(method, path, query,
body)`` and send back the :class:`ApiResponse`. Routes follow MLflow's (``mlflow/server/
handlers.py``); an unknown route answers MLflow's ``ENDPOINT_NOT_FOUND`` JSON, a malformed
request a 400 naming the problem, and nothing answers a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from mlnb._version import __version__
from mlnb.errors import MlnbError
from mlnb.mlflow_server import artifacts, registry, tracking
from mlnb.mlflow_server.context import Context
from mlnb.mlflow_server.protocol import (
    ApiError,
    ApiRequest,
    ApiResponse,
    Args,
    error_response,
)

__all__ = ["ROUTES", "ApiError", "ApiRequest", "ApiResponse", "Context", "handle"]

log = logging.getLogger("mlnb.mlflow_server")

Json = dict[str, Any]
Simple = Callable[[Context, Args], Json]

_SIMPLE: list[tuple[str, str, Simple]] = [
    # (methods, path under /api/2.0/mlflow/, handler)
    ("POST", "experiments/create", tracking.create_experiment),
    ("GET", "experiments/get", tracking.get_experiment),
    ("GET", "experiments/get-by-name", tracking.get_experiment_by_name),
    ("GET POST", "experiments/search", tracking.search_experiments),
    ("POST", "experiments/update", tracking.update_experiment),
    ("POST", "experiments/delete", tracking.delete_experiment),
    ("POST", "experiments/restore", tracking.restore_experiment),
    ("POST", "experiments/set-experiment-tag", tracking.set_experiment_tag),
    ("POST", "experiments/delete-experiment-tag", tracking.delete_experiment_tag),
    ("POST", "runs/create", tracking.create_run),
    ("POST", "runs/update", tracking.update_run),
    ("POST", "runs/delete", tracking.delete_run),
    ("POST", "runs/restore", tracking.restore_run),
    ("GET", "runs/get", tracking.get_run),
    ("POST", "runs/search", tracking.search_runs),
    ("POST", "runs/log-metric", tracking.log_metric),
    ("POST", "runs/log-parameter", tracking.log_param),
    ("POST", "runs/set-tag", tracking.set_tag),
    ("POST", "runs/delete-tag", tracking.delete_tag),
    ("POST", "runs/log-batch", tracking.log_batch),
    ("POST", "runs/log-inputs", tracking.log_inputs),
    ("POST", "runs/outputs", tracking.log_outputs),
    ("GET", "metrics/get-history", tracking.get_metric_history),
    ("POST", "logged-models", artifacts.create_logged_model),
    ("POST", "logged-models/search", artifacts.search_logged_models),
    ("POST", "registered-models/create", registry.create_registered_model),
    ("GET", "registered-models/get", registry.get_registered_model),
    ("GET", "registered-models/search", registry.search_registered_models),
    ("PATCH", "registered-models/update", registry.update_registered_model),
    ("POST", "registered-models/rename", registry.rename_registered_model),
    ("DELETE", "registered-models/delete", registry.delete_registered_model),
    ("POST", "registered-models/set-tag", registry.set_registered_model_tag),
    ("DELETE", "registered-models/delete-tag", registry.delete_registered_model_tag),
    ("GET POST", "registered-models/get-latest-versions", registry.get_latest_versions),
    ("POST", "registered-models/alias", registry.set_alias),
    ("DELETE", "registered-models/alias", registry.delete_alias),
    ("GET", "registered-models/alias", registry.get_by_alias),
    ("POST", "model-versions/create", registry.create_model_version),
    ("GET", "model-versions/get", registry.get_model_version),
    ("GET", "model-versions/search", registry.search_model_versions),
    ("PATCH", "model-versions/update", registry.update_model_version),
    ("DELETE", "model-versions/delete", registry.delete_model_version),
    ("POST", "model-versions/transition-stage", registry.transition_stage),
    ("POST", "model-versions/set-tag", registry.set_model_version_tag),
    ("DELETE", "model-versions/delete-tag", registry.delete_model_version_tag),
    ("GET", "model-versions/get-download-uri", registry.get_download_uri),
]

ROUTES: list[tuple[str, str]] = (
    [(method, f"/api/2.0/mlflow/{path}") for methods, path, _ in _SIMPLE for method in methods.split()]
    + [("GET", "/api/2.0/mlflow/logged-models/<model_id>"),
       ("PATCH", "/api/2.0/mlflow/logged-models/<model_id>"),
       ("DELETE", "/api/2.0/mlflow/logged-models/<model_id>"),
       ("PATCH", "/api/2.0/mlflow/logged-models/<model_id>/tags"),
       ("DELETE", "/api/2.0/mlflow/logged-models/<model_id>/tags/<key>"),
       ("POST", "/api/2.0/mlflow/logged-models/<model_id>/params"),
       ("GET", "/api/2.0/mlflow-artifacts/artifacts"),
       ("GET", "/api/2.0/mlflow-artifacts/artifacts/<path>"),
       ("PUT", "/api/2.0/mlflow-artifacts/artifacts/<path>"),
       ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/<path>"),
       ("GET", "/api/3.0/mlflow/server-info")]
)
# MLflow's UI calls every endpoint under /ajax-api/ too: the same handlers, the same auth.
ROUTES += [(method, "/ajax-api/" + path[len("/api/"):]) for method, path in ROUTES]
ROUTES += [("GET", "/health"), ("GET", "/version")]
"""Every ``(method, path)`` the API answers (``<...>``: a path segment), for the auth tests."""

_BY_PATH: dict[str, dict[str, Simple]] = {}
for _methods, _path, _handler in _SIMPLE:
    for _method in _methods.split():
        _BY_PATH.setdefault(f"/api/2.0/mlflow/{_path}", {})[_method] = _handler

_LOGGED_MODEL = re.compile(
    r"/api/2\.0/mlflow/logged-models/(m-[0-9a-f]{32})(/tags(?:/(.+))?)?(/params)?")
_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
# A write must say it is JSON: a text/plain POST is what a hostile page can send without a
# CORS preflight (the CVE-2023-43472 pattern), so a body of any other type is refused.
_JSON_TYPES = ("application/json", "")


def server_info() -> Json:
    """``GET /api/3.0/mlflow/server-info``: what the artifact proxy offers (no multipart and no
    presigned URLs: uploads and downloads are single requests through this server)."""
    return {"store_type": "mlnb", "workspaces_enabled": False, "trace_archival_enabled": False,
            "multipart_uploads_enabled": False, "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False, "presigned_upload_model_id_supported": False,
            "features_enabled": {}}


def _not_found(request: ApiRequest) -> ApiError:
    return ApiError("ENDPOINT_NOT_FOUND",
                    f"No MLflow REST endpoint {request.method} {request.path[:200]} in mlnb's "
                    "server; see mlnb.mlflow_server.ROUTES for the endpoints it answers.")


def _dispatch(ctx: Context, request: ApiRequest) -> ApiResponse | Json:
    path, method = request.path, request.method
    if path in ("/health", "/version") and method == "GET":  # MLflow's plain-text answers
        return ApiResponse(200, text="OK" if path == "/health" else __version__)
    if path.startswith("/ajax-api/"):  # MLflow's UI prefix: an alias of /api/
        path = "/api/" + path[len("/ajax-api/"):]
    if path == _ARTIFACTS or path.startswith(_ARTIFACTS + "/"):
        rest = path[len(_ARTIFACTS) + 1:]
        if method == "GET" and not rest:
            return artifacts.list_artifacts(ctx, Args.of(request))
        if method == "GET" and rest:
            return artifacts.download(ctx, rest)
        if method == "PUT" and rest:
            return artifacts.upload(ctx, rest, request.body)
        if method == "DELETE" and rest:
            return artifacts.delete(ctx, rest)
        raise _not_found(request)
    if path == "/api/3.0/mlflow/server-info" and method == "GET":
        return server_info()
    if method != "GET" and request.content_type not in _JSON_TYPES and request.body.strip():
        raise ApiError("BAD_REQUEST", f"A {method} to the MLflow API must be sent as "
                       "Content-Type: application/json.")
    handler = _BY_PATH.get(path, {}).get(method)
    if handler is not None:
        return handler(ctx, Args.of(request))
    found = _LOGGED_MODEL.fullmatch(path)
    if found is not None:
        model_id, tags, key = found.group(1), found.group(2), found.group(3)
        if found.group(4):
            if tags or method != "POST":
                raise _not_found(request)
            return artifacts.log_logged_model_params(ctx, model_id, Args.of(request))
        if not tags and method == "GET":
            return artifacts.get_logged_model(ctx, model_id, Args.of(request))
        if not tags and method == "DELETE":
            return artifacts.delete_logged_model(ctx, model_id)
        if not tags and method == "PATCH":
            return artifacts.finalize_logged_model(ctx, model_id, Args.of(request))
        if tags and key is None and method == "PATCH":
            return artifacts.set_logged_model_tags(ctx, model_id, Args.of(request))
        if key is not None and method == "DELETE":
            return artifacts.delete_logged_model_tag(ctx, model_id, key)
    raise _not_found(request)


def handle(ctx: Context, request: ApiRequest) -> ApiResponse:
    """Answer one MLflow REST request.

    :param ctx: the store and user to answer for.
    :param request: the request (its path below the server's mount point).
    """
    try:
        answer = _dispatch(ctx, request)
    except (ApiError, MlnbError) as exc:
        log.info("mlnb mlflow api: %s %s -> %s", request.method, request.path[:200], exc.error_code)
        return error_response(exc)
    except Exception:  # a fault of mlnb's, not of the request: logged whole, answered as JSON
        log.exception("mlnb mlflow api: %s %s failed", request.method, request.path[:200])
        return ApiResponse(500, {"error_code": "INTERNAL_ERROR",
                                 "message": "Internal error in mlnb's MLflow API; see the server log."})
    return answer if isinstance(answer, ApiResponse) else ApiResponse(200, answer)
