"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/...``) and logged models
(``/api/2.0/mlflow/logged-models...``) over the store's artifact records.

A proxied path is ``<experiment>/<run>/artifacts/<path>`` (a run's artifact) or
``<experiment>/models/<model id>/artifacts/<path>`` (a logged model's file, kept in its run's
artifacts under ``models/<model id>``, or for a model without a run in its own folder). Every
path is checked by the store (``safe_relpath``), so no request reaches outside a run's folder;
an uploaded file is recorded as a *user* artifact.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import unquote

from mlnb.errors import NotFoundError
from mlnb.mlflow_server.context import Context
from mlnb.mlflow_server.convert import logged_model_json
from mlnb.mlflow_server.protocol import (
    ApiError,
    ApiResponse,
    Args,
    bad_request,
    decode_token,
    encode_token,
    page_size,
)
from mlnb.store.artifacts import safe_relpath
from mlnb.store.logged_models import (
    LOGGED_MODEL_STATUSES,
    MAX_LOGGED_MODEL_RESULTS,
    new_model_id,
)

SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_LOGGED_MODEL_MAX_RESULTS_THRESHOLD = 10_000
# MLflow's LoggedModelStatus names -> mlnb's.
STATUS_NAMES = {"LOGGED_MODEL_PENDING": "PENDING", "LOGGED_MODEL_READY": "READY",
                "LOGGED_MODEL_UPLOAD_FAILED": "FAILED", "1": "PENDING", "2": "READY", "3": "FAILED"}

Json = dict[str, Any]


def run_path(ctx: Context, proxied: str, allow_top: bool = False) -> tuple[str, str]:
    """``(run id, path inside its artifacts)`` of a proxied artifact path.

    :param ctx: the request's context.
    :param proxied: ``<experiment>/<run>/artifacts/<path>`` or
        ``<experiment>/models/<model id>/artifacts/<path>``, percent-decoded.
    :param allow_top: accept the run's (or model's) top folder itself (for listing).
    :raises ApiError: for a path of another shape, or a run of another experiment.
    """
    parts = unquote(proxied).strip("/").split("/")
    shape = bad_request(
        f"Artifact path {proxied[:200]!r} is not inside a run: mlnb serves "
        "<experiment_id>/<run_id>/artifacts/<path> and "
        "<experiment_id>/models/<model_id>/artifacts/<path>.")
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        model = ctx.store.get_logged_model(parts[2])
        if model.experiment_id != parts[0]:
            raise ApiError("RESOURCE_DOES_NOT_EXIST",
                           f"Logged model {parts[2]} has no files in experiment {parts[0]}.")
        if model.source_run_id and model.artifact_path:
            run_id, rel = model.source_run_id, posixpath.join(model.artifact_path, *parts[4:])
        else:  # a model without a run: its own folder, the store's records of it
            run_id, rel = model.model_id, "/".join(parts[4:])
    elif len(parts) >= 3 and parts[2] == "artifacts":
        info = ctx.store.get_run_info(parts[1])
        if info.experiment_id != parts[0]:
            raise ApiError("RESOURCE_DOES_NOT_EXIST",
                           f"Run {parts[1]} is not in experiment {parts[0][:40]}.")
        run_id, rel = info.run_id, "/".join(parts[3:])
    else:
        raise shape
    rel = safe_relpath(rel, allow_empty=True)
    if not rel and not allow_top:
        raise bad_request("Name an artifact file after .../artifacts/.")
    return run_id, rel


def upload(ctx: Context, proxied: str, body: bytes) -> Json:
    """``PUT mlflow-artifacts/artifacts/<path>``: the body becomes that artifact file, recorded
    with origin ``user`` (a pickle in it loads in mlnb only with ``trusted=True``).

    :param ctx: the request's context.
    :param proxied: the proxied path.
    :param body: the file's bytes.
    """
    run_id, rel = run_path(ctx, proxied)
    ctx.store.put_artifact_bytes(run_id, rel, body, origin="user")
    return {}


def download(ctx: Context, proxied: str) -> ApiResponse:
    """``GET mlflow-artifacts/artifacts/<path>``: one recorded artifact file's bytes.

    :param ctx: the request's context.
    :param proxied: the proxied path.
    """
    run_id, rel = run_path(ctx, proxied)
    record = ctx.store.artifact_record(run_id, rel)  # only files the store recorded
    local = ctx.store.artifact_path(run_id, record.path)
    if not local.is_file():
        raise ApiError("RESOURCE_DOES_NOT_EXIST",
                       f"The file of artifact {rel!r} is missing from run {run_id}'s folder.")
    return ApiResponse(200, file=local, filename=posixpath.basename(record.path))


def list_artifacts(ctx: Context, args: Args) -> Json:
    """``GET mlflow-artifacts/artifacts?path=`` -> ``{files: [{path, is_dir, file_size}]}`` with
    paths relative to the listed folder (MLflow's proxy answer).

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    proxied = args.string("path") or ""
    run_id, rel = run_path(ctx, proxied, allow_top=True)
    try:
        record = ctx.store.artifact_record(run_id, rel) if rel else None
    except NotFoundError:
        record = None
    if record is not None:  # a file: MLflow lists it as itself
        return {"files": [{"path": posixpath.basename(rel), "is_dir": False,
                           "file_size": record.file_size}]}
    files = []
    for info in ctx.store.list_artifacts(run_id, rel):
        entry: Json = {"path": posixpath.basename(info.path), "is_dir": info.is_dir}
        if not info.is_dir:
            entry["file_size"] = info.file_size
        files.append(entry)
    return {"files": files} if files else {}


def delete(ctx: Context, proxied: str) -> Json:
    """``DELETE mlflow-artifacts/artifacts/<path>``: one artifact file, or a folder of them, of
    a run (never the run's whole folder, nor a registered version's files); ``{}`` as MLflow
    answers, also when nothing is there.

    :param ctx: the request's context.
    :param proxied: the proxied path.
    """
    run_id, rel = run_path(ctx, proxied)
    ctx.store.delete_artifacts(run_id, rel)
    return {}


# --- logged models -----------------------------------------------------------------------------

def create_logged_model(ctx: Context, args: Args) -> Json:
    """``POST logged-models {experiment_id, name, model_type, source_run_id, params, tags}``:
    a PENDING model whose files go to its run's ``models/<model id>`` folder, or without a run
    to its own folder.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    experiment_id = args.required("experiment_id")
    run_id = args.string("source_run_id") or None
    if run_id is not None:
        info = ctx.store.get_run_info(run_id)
        if info.experiment_id != experiment_id:
            raise bad_request(f"Run {run_id} is in experiment {info.experiment_id}, not "
                              f"{experiment_id[:40]}.")
        ctx.store.check_writable(run_id)
    else:
        ctx.store.require_writable()
    model_id = new_model_id()
    params = {p.required("key"): p.string("value", default="") or "" for p in args.objects("params")}
    model = ctx.store.create_logged_model(
        experiment_id, args.string("name") or "model", run_id,
        None if run_id is None else f"models/{model_id}",
        args.string("model_type") or None, params, args.tags(), model_id=model_id,
        status="PENDING")
    return {"model": logged_model_json(model)}


def get_logged_model(ctx: Context, model_id: str, args: Args) -> Json:
    """``GET logged-models/<id>[?allow_deleted=true]`` -> ``{model}``.

    :param ctx: the request's context.
    :param model_id: the model.
    :param args: the query: ``allow_deleted`` (``true`` also finds a deleted model).
    """
    allow = (args.string("allow_deleted") or "false").lower()
    if allow not in ("true", "false"):
        raise bad_request(f"Invalid value {allow[:40]!r} for parameter 'allow_deleted': use "
                          "true or false.")
    return {"model": logged_model_json(ctx.store.get_logged_model(
        model_id, allow_deleted=allow == "true"))}


def delete_logged_model(ctx: Context, model_id: str) -> Json:
    """``DELETE logged-models/<id>``: MLflow 3's soft delete.

    :param ctx: the request's context.
    :param model_id: the model.
    """
    ctx.store.delete_logged_model(model_id)
    return {}


def finalize_logged_model(ctx: Context, model_id: str, args: Args) -> Json:
    """``PATCH logged-models/<id> {status}``: READY once the files are uploaded, or FAILED.

    :param ctx: the request's context.
    :param model_id: the model.
    :param args: the request's fields.
    """
    raw = str(args.data.get("status", ""))
    status = STATUS_NAMES.get(raw.upper(), raw.upper())
    if status not in LOGGED_MODEL_STATUSES:
        raise bad_request(f"Invalid value {raw[:40]!r} for parameter 'status': use "
                          "LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.")
    return {"model": logged_model_json(ctx.store.set_logged_model_status(model_id, status))}


def log_logged_model_params(ctx: Context, model_id: str, args: Args) -> Json:
    """``POST logged-models/<id>/params {params: [{key, value}]}``.

    :param ctx: the request's context.
    :param model_id: the model.
    :param args: the request's fields.
    """
    params = {p.required("key"): p.string("value", default="") or "" for p in args.objects("params")}
    ctx.store.log_logged_model_params(model_id, params)
    return {}


def set_logged_model_tags(ctx: Context, model_id: str, args: Args) -> Json:
    """``PATCH logged-models/<id>/tags {tags}``.

    :param ctx: the request's context.
    :param model_id: the model.
    :param args: the request's fields.
    """
    ctx.store.set_logged_model_tags(model_id, args.tags())
    return {}


def delete_logged_model_tag(ctx: Context, model_id: str, key: str) -> Json:
    """``DELETE logged-models/<id>/tags/<key>``.

    :param ctx: the request's context.
    :param model_id: the model.
    :param key: the tag.
    """
    ctx.store.delete_logged_model_tag(model_id, unquote(key))
    return {}


def search_logged_models(ctx: Context, args: Args) -> Json:
    """``POST logged-models/search {experiment_ids, filter, max_results, order_by, page_token}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    limit = args.integer("max_results", SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT, 1,
                         SEARCH_LOGGED_MODEL_MAX_RESULTS_THRESHOLD)
    assert limit is not None
    limit = page_size(limit, MAX_LOGGED_MODEL_RESULTS)
    offset = decode_token(args.string("page_token"))
    order_by = []
    for item in args.objects("order_by"):  # [{field_name, ascending}]
        ascending = item.boolean("ascending", True)
        order_by.append(f"{item.required('field_name')} {'ASC' if ascending else 'DESC'}")
    found = ctx.store.search_logged_models(args.strings("experiment_ids"), args.string("filter"),
                                           limit + 1, order_by, offset)
    answer: Json = {"models": [logged_model_json(m) for m in found[:limit]]}
    if len(found) > limit:
        answer["next_page_token"] = encode_token(offset + limit)
    return answer
