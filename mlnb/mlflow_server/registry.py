"""MLflow's model registry endpoints (``registered-models/*``, ``model-versions/*``) over the
store's registry: names, versions, stages, aliases and tags, with MLflow's shapes and limits.

A version an MLflow client registers comes from a model it uploaded through the artifact proxy:
a folder of *user* artifacts. It registers (as with MLflow's server), but mlnb loads a pickle in
it only with ``trusted=True``: the model-loading checks (:mod:`mlnb.models.format`) say so.
"""

from __future__ import annotations

import json
from typing import Any

from mlnb.entities import MLMODEL
from mlnb.errors import NotFoundError
from mlnb.mlflow_server.context import Context
from mlnb.mlflow_server.convert import model_version_json, registered_model_json
from mlnb.mlflow_server.protocol import Args, bad_request, decode_token, encode_token, page_size
from mlnb.registry.uri import logged_model_source
from mlnb.store.registry import MAX_REGISTRY_RESULTS, PROMPT_TAG, PROMPT_TEXT_TAG
from mlnb.store.registry_checks import check_source

SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000

Json = dict[str, Any]
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def create_registered_model(ctx: Context, args: Args) -> Json:
    """``POST registered-models/create {name, tags, description}`` -> ``{registered_model}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    model = ctx.store.create_registered_model(args.required("name"), args.tags(),
                                              args.string("description"))
    return {"registered_model": registered_model_json(model)}


def get_registered_model(ctx: Context, args: Args) -> Json:
    """``GET registered-models/get?name=`` -> ``{registered_model}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    return {"registered_model": registered_model_json(
        ctx.store.get_registered_model(args.required("name")))}


def search_registered_models(ctx: Context, args: Args) -> Json:
    """``GET registered-models/search?filter=&max_results=&order_by=&page_token=``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    limit = args.integer("max_results", SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT, 1,
                         SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
    assert limit is not None
    limit = page_size(limit, MAX_REGISTRY_RESULTS)
    offset = decode_token(args.string("page_token"))
    found = ctx.store.search_registered_models(args.string("filter"), limit + 1,
                                               args.strings("order_by"), offset)
    answer: Json = {}
    if found[:limit]:
        answer["registered_models"] = [registered_model_json(m) for m in found[:limit]]
    if len(found) > limit:
        answer["next_page_token"] = encode_token(offset + limit)
    return answer


def update_registered_model(ctx: Context, args: Args) -> Json:
    """``PATCH registered-models/update {name, description}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    model = ctx.store.update_registered_model(args.required("name"), args.string("description"))
    return {"registered_model": registered_model_json(model)}


def rename_registered_model(ctx: Context, args: Args) -> Json:
    """``POST registered-models/rename {name, new_name}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    model = ctx.store.rename_registered_model(args.required("name"), args.required("new_name"),
                                              ctx.user)
    return {"registered_model": registered_model_json(model)}


def delete_registered_model(ctx: Context, args: Args) -> Json:
    """``DELETE registered-models/delete {name}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.delete_registered_model(args.required("name"), ctx.user)
    return {}


def set_registered_model_tag(ctx: Context, args: Args) -> Json:
    """``POST registered-models/set-tag {name, key, value}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_registered_model_tag(args.required("name"), args.required("key"),
                                       args.string("value", default=""))
    return {}


def delete_registered_model_tag(ctx: Context, args: Args) -> Json:
    """``DELETE registered-models/delete-tag {name, key}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.delete_registered_model_tag(args.required("name"), args.required("key"))
    return {}


def get_latest_versions(ctx: Context, args: Args) -> Json:
    """``registered-models/get-latest-versions {name, stages}`` -> ``{model_versions}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    found = ctx.store.get_latest_versions(args.required("name"), args.strings("stages") or None)
    return {"model_versions": [model_version_json(v) for v in found]} if found else {}


def set_alias(ctx: Context, args: Args) -> Json:
    """``POST registered-models/alias {name, alias, version}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_registered_model_alias(args.required("name"), args.required("alias"),
                                         args.required("version"), ctx.user)
    return {}


def delete_alias(ctx: Context, args: Args) -> Json:
    """``DELETE registered-models/alias {name, alias}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.delete_registered_model_alias(args.required("name"), args.required("alias"), ctx.user)
    return {}


def get_by_alias(ctx: Context, args: Args) -> Json:
    """``GET registered-models/alias?name=&alias=`` -> ``{model_version}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    version = ctx.store.get_model_version_by_alias(args.required("name"), args.required("alias"))
    return {"model_version": model_version_json(version)}


# --- versions ----------------------------------------------------------------------------------

def version_source(ctx: Context, source: str, model_id: str | None) -> str:
    """The ``runs:/`` folder of a version's source, which must hold an ``MLmodel`` in this store:
    ``models:/m-<id>`` (a logged model), ``runs:/<run>/<path>``, or this server's own
    ``mlflow-artifacts:/<experiment>/<run>/artifacts/<path>``. No other location is accepted (a
    source naming a server path was MLflow's CVE-2023-1177).

    :param ctx: the request's context.
    :param source: the source as the client sent it.
    :param model_id: the logged model the client names beside it, if any.
    """
    text = source.strip()
    if model_id:
        logged = logged_model_source(ctx.store, f"models:/{model_id}")
        if text.startswith("models:/") and text != f"models:/{model_id}":
            raise bad_request(f"source {source!r} is not the logged model {model_id}.")
        text = logged or text
    elif text.startswith("models:/"):
        logged = logged_model_source(ctx.store, text)
        if logged is None:
            raise bad_request(f"source {source!r} names a registered model; register a logged "
                              "model (models:/m-<id>) or a runs:/<run_id>/<path> folder.")
        text = logged
    elif text.startswith("mlflow-artifacts:/"):
        parts = text[len("mlflow-artifacts:/"):].strip("/").split("/", 3)
        if len(parts) < 4 or parts[2] != "artifacts":
            raise bad_request(f"source {source!r} is not a folder of a run's artifacts.")
        text = f"runs:/{parts[1]}/{parts[3]}"
    elif not text.startswith("runs:/"):
        raise bad_request(f"source {source!r} is refused: mlnb registers models logged to this "
                          "server (models:/m-<id> or runs:/<run_id>/<path>), never other paths.")
    if text.startswith("models:/m-"):  # a logged model without a run: its own folder
        model_id = text[len("models:/"):]
        try:
            ctx.store.artifact_record(model_id, MLMODEL)
        except NotFoundError:
            raise bad_request(f"source {source!r} is not a model: logged model {model_id} has no "
                              f"{MLMODEL}.") from None
        return text
    run_id, path = check_source(text)
    try:
        ctx.store.artifact_record(run_id, f"{path}/{MLMODEL}")
    except NotFoundError:
        raise bad_request(f"source {source!r} is not a logged model: run {run_id} has no "
                          f"{path}/{MLMODEL}.") from None
    return f"runs:/{run_id}/{path}"


def create_model_version(ctx: Context, args: Args) -> Json:
    """``POST model-versions/create {name, source, run_id, tags, run_link, description,
    model_id}`` -> ``{model_version}`` (READY at once: there is nothing to copy).

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    tags = args.tags()
    if tags.get(PROMPT_TAG, "false").lower() == "true":
        return create_prompt_version(ctx, args, tags)
    source = version_source(ctx, args.required("source"), args.string("model_id"))
    run_link = args.string("run_link")
    if run_link:
        raise bad_request("mlnb links a version to its source's run itself; leave run_link unset.")
    version = ctx.store.create_model_version(
        args.required("name"), source, args.string("run_id") or None, args.tags(),
        args.string("description"), ctx.user)
    model_id = args.string("model_id")
    if model_id:
        note_version(ctx, model_id, version.name, int(version.version))
    return {"model_version": model_version_json(version)}


PROMPT_SOURCES = ("dummy-source", "prompt-template")
"""The placeholder sources MLflow's clients and store send for a prompt version (its
``_PROMPT_SOURCE_PLACEHOLDERS``); a prompt version has no files, so no other is accepted."""


def create_prompt_version(ctx: Context, args: Args, tags: dict[str, str]) -> Json:
    """A version tagged ``mlflow.prompt.is_prompt = true`` (MLflow's ``register_prompt``): a
    prompt version, stored as mlnb stores its own (source ``prompt-template``, no run, no files).

    :param ctx: the request's context.
    :param args: the request's fields.
    :param tags: the version's tags, with ``mlflow.prompt.text`` holding the template.
    """
    source = args.required("source")
    if source not in PROMPT_SOURCES:
        raise bad_request(f"Invalid prompt source: {source!r}. Prompt sources must use an MLflow "
                          f"placeholder ({' or '.join(PROMPT_SOURCES)}).")
    if args.string("run_id") or args.string("model_id") or args.string("run_link"):
        raise bad_request("A prompt version has no run or logged model; leave run_id, model_id "
                          "and run_link unset.")
    text = tags.get(PROMPT_TEXT_TAG)
    if not text:
        raise bad_request(f"A prompt version needs its template in the tag {PROMPT_TEXT_TAG!r}.")
    version = ctx.store.create_prompt_version(args.required("name"), text, tags,
                                              args.string("description"), ctx.user)
    return {"model_version": model_version_json(version)}


def note_version(ctx: Context, model_id: str, name: str, version: int) -> None:
    """Add the version to the logged model's ``mlflow.modelVersions`` tag, as MLflow's server
    does (``AbstractStore.set_model_versions_tags``: a JSON list, the number as an integer).

    :param ctx: the request's context.
    :param model_id: the logged model registered.
    :param name: the registered model.
    :param version: the new version's number.
    """
    entry = {"name": name, "version": version}
    existing = ctx.store.get_logged_model(model_id).tags.get(MODEL_VERSIONS_TAG)
    try:
        listed = json.loads(existing) if existing else []
    except ValueError:
        listed = []  # a tag someone overwrote with text: MLflow would fail here; start afresh
    if not isinstance(listed, list):
        listed = []
    if entry not in listed:
        ctx.store.set_logged_model_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps([*listed, entry])})


def get_model_version(ctx: Context, args: Args) -> Json:
    """``GET model-versions/get?name=&version=`` -> ``{model_version}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    version = ctx.store.get_model_version(args.required("name"), args.required("version"))
    return {"model_version": model_version_json(version)}


def search_model_versions(ctx: Context, args: Args) -> Json:
    """``GET model-versions/search?filter=&max_results=&order_by=&page_token=``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    limit = args.integer("max_results", SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT, 1,
                         SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
    assert limit is not None
    limit = page_size(limit, MAX_REGISTRY_RESULTS)
    offset = decode_token(args.string("page_token"))
    found = ctx.store.search_model_versions(args.string("filter"), limit + 1,
                                            args.strings("order_by"), offset)
    answer: Json = {}
    if found[:limit]:
        answer["model_versions"] = [model_version_json(v) for v in found[:limit]]
    if len(found) > limit:
        answer["next_page_token"] = encode_token(offset + limit)
    return answer


def update_model_version(ctx: Context, args: Args) -> Json:
    """``PATCH model-versions/update {name, version, description}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    version = ctx.store.update_model_version(args.required("name"), args.required("version"),
                                             args.string("description"))
    return {"model_version": model_version_json(version)}


def delete_model_version(ctx: Context, args: Args) -> Json:
    """``DELETE model-versions/delete {name, version}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.delete_model_version(args.required("name"), args.required("version"), ctx.user)
    return {}


def transition_stage(ctx: Context, args: Args) -> Json:
    """``POST model-versions/transition-stage {name, version, stage,
    archive_existing_versions}`` -> ``{model_version}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    version = ctx.store.transition_model_version_stage(
        args.required("name"), args.required("version"), args.required("stage"),
        args.boolean("archive_existing_versions"), ctx.user)
    return {"model_version": model_version_json(version)}


def set_model_version_tag(ctx: Context, args: Args) -> Json:
    """``POST model-versions/set-tag {name, version, key, value}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_model_version_tag(args.required("name"), args.required("version"),
                                    args.required("key"), args.string("value", default=""))
    return {}


def delete_model_version_tag(ctx: Context, args: Args) -> Json:
    """``DELETE model-versions/delete-tag {name, version, key}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.delete_model_version_tag(args.required("name"), args.required("version"),
                                       args.required("key"))
    return {}


def get_download_uri(ctx: Context, args: Args) -> Json:
    """``GET model-versions/get-download-uri?name=&version=`` -> ``{artifact_uri}``: the
    version's folder behind this server's artifact proxy.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    version = ctx.store.get_model_version(args.required("name"), args.required("version"))
    stored = version.storage_location or version.source
    if stored.startswith("models:/m-"):  # a logged model without a run: its own folder
        model = ctx.store.get_logged_model(stored[len("models:/"):])
        return {"artifact_uri": f"mlflow-artifacts:/{model.experiment_id}/models/"
                                f"{model.model_id}/artifacts"}
    run_id, path = check_source(stored)
    info = ctx.store.get_run_info(run_id)
    return {"artifact_uri": f"mlflow-artifacts:/{info.experiment_id}/{run_id}/artifacts/{path}"}
