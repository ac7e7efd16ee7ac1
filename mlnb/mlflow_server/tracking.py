"""MLflow's tracking endpoints (``/api/2.0/mlflow/experiments/*``, ``runs/*``, ``metrics/*``)
over :class:`mlnb.store.Store`: the same validation, limits and transactions as mlnb's own
clients, so data an MLflow client writes is ordinary mlnb data.
"""

from __future__ import annotations

from typing import Any

from mlnb.entities import (
    Dataset,
    DatasetInput,
    LifecycleStage,
    Metric,
    Param,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlnb.errors import NotFoundError
from mlnb.mlflow_server.context import Context
from mlnb.mlflow_server.convert import experiment_json, metric_json, run_info_json, run_json
from mlnb.mlflow_server.protocol import (
    ApiError,
    Args,
    bad_request,
    decode_token,
    encode_token,
    page_size,
)
from mlnb.store.runs import PARENT_RUN_TAG, RUN_NAME_TAG
from mlnb.store.sql import MAX_RESULTS_LIMIT

# MLflow's limits (mlflow/utils/validation.py, mlflow/store/tracking/__init__.py).
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50_000
GET_METRIC_HISTORY_MAX_RESULTS = 25_000

VIEW_TYPES = {"ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "DELETED_ONLY": ViewType.DELETED_ONLY,
              "ALL": ViewType.ALL, "1": ViewType.ACTIVE_ONLY, "2": ViewType.DELETED_ONLY,
              "3": ViewType.ALL}

Json = dict[str, Any]


def view_type(args: Args, name: str) -> int:
    """A ``ViewType`` field (its name or number); default ``ACTIVE_ONLY``.

    :param args: the request's fields.
    :param name: the field.
    """
    raw = args.data.get(name)
    if raw is None or raw == "":
        return ViewType.ACTIVE_ONLY
    found = VIEW_TYPES.get(str(raw).upper())
    if found is None:
        raise bad_request(f"Invalid value {str(raw)[:40]!r} for parameter '{name}': use "
                          "ACTIVE_ONLY, DELETED_ONLY or ALL.")
    return found


def run_id_of(args: Args) -> str:
    """The run a request names (``run_id``, or MLflow's older ``run_uuid``).

    :param args: the request's fields.
    """
    run_id = args.string("run_id") or args.string("run_uuid")
    if not run_id:
        raise bad_request("Missing value for required parameter 'run_id'.")
    return run_id


def full_runs(ctx: Context, infos: list[RunInfo], model_inputs: bool = False) -> list[Json]:
    """``Run`` messages for ``infos``: params, tags, latest metrics (with steps and
    timestamps), dataset inputs and logged models, a few queries for the whole page.

    :param ctx: the request's context.
    :param infos: the runs.
    :param model_inputs: include the logged models each run used (MLflow's ``runs/get`` has
        them, its ``runs/search`` does not).
    """
    store = ctx.store
    ids = [i.run_id for i in infos]
    datas = {r.info.run_id: r.data for r in store.get_runs(ids)} if ids else {}
    latest = store.latest_metrics(ids)
    models = store.logged_model_ids_of_runs(ids)
    datasets = store.dataset_inputs_of_runs(ids)
    used = store.model_inputs_of_runs(ids) if model_inputs else {}
    return [run_json(i, datas[i.run_id].params, datas[i.run_id].tags, latest[i.run_id],
                     models[i.run_id], datasets[i.run_id], used.get(i.run_id, []))
            for i in infos]


# --- experiments -------------------------------------------------------------------------------

def create_experiment(ctx: Context, args: Args) -> Json:
    """``POST experiments/create {name, artifact_location?, tags?}`` -> ``{experiment_id}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    name = args.required("name")
    if args.string("artifact_location"):
        raise bad_request("mlnb keeps every experiment's artifacts in its store's artifact root; "
                          "leave artifact_location unset.")
    return {"experiment_id": ctx.store.create_experiment(name, args.tags())}


def get_experiment(ctx: Context, args: Args) -> Json:
    """``GET experiments/get?experiment_id=`` -> ``{experiment}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    return {"experiment": experiment_json(ctx.store.get_experiment(args.required("experiment_id")))}


def get_experiment_by_name(ctx: Context, args: Args) -> Json:
    """``GET experiments/get-by-name?experiment_name=`` -> ``{experiment}`` (404 if none).

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    name = args.required("experiment_name")
    found = ctx.store.get_experiment_by_name(name)
    if found is None:
        raise ApiError("RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name {name!r}.")
    return {"experiment": experiment_json(found)}


def search_experiments(ctx: Context, args: Args) -> Json:
    """``experiments/search {max_results, filter, order_by, view_type, page_token}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    limit = args.integer("max_results", SEARCH_MAX_RESULTS_DEFAULT, 1, SEARCH_MAX_RESULTS_THRESHOLD)
    assert limit is not None
    offset = decode_token(args.string("page_token"))
    limit = page_size(limit, MAX_RESULTS_LIMIT - offset)
    if limit < 1:
        raise bad_request(f"mlnb lists at most {MAX_RESULTS_LIMIT} experiments in one search; "
                          "narrow it with a filter.")
    found = ctx.store.search_experiments(view_type(args, "view_type"), args.string("filter"),
                                         offset + limit + 1, args.strings("order_by"))
    page = found[offset:offset + limit]
    answer: Json = {"experiments": [experiment_json(e) for e in page]}
    if len(found) > offset + limit:
        answer["next_page_token"] = encode_token(offset + limit)
    return answer


def update_experiment(ctx: Context, args: Args) -> Json:
    """``POST experiments/update {experiment_id, new_name}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.rename_experiment(args.required("experiment_id"), args.required("new_name"))
    return {}


def delete_experiment(ctx: Context, args: Args) -> Json:
    """``POST experiments/delete {experiment_id}``: the experiment and its runs are deleted.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_experiment_lifecycle(args.required("experiment_id"), LifecycleStage.DELETED)
    return {}


def restore_experiment(ctx: Context, args: Args) -> Json:
    """``POST experiments/restore {experiment_id}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_experiment_lifecycle(args.required("experiment_id"), LifecycleStage.ACTIVE)
    return {}


def set_experiment_tag(ctx: Context, args: Args) -> Json:
    """``POST experiments/set-experiment-tag {experiment_id, key, value}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_experiment_tag(args.required("experiment_id"), args.required("key"),
                                 args.string("value", default=""))
    return {}


def delete_experiment_tag(ctx: Context, args: Args) -> Json:
    """``POST experiments/delete-experiment-tag {experiment_id, key}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.delete_experiment_tag(args.required("experiment_id"), args.required("key"))
    return {}


# --- runs --------------------------------------------------------------------------------------

def create_run(ctx: Context, args: Args) -> Json:
    """``POST runs/create {experiment_id, user_id, run_name, start_time, tags}`` -> ``{run}``.

    The ``mlflow.parentRunId`` tag makes the run a child of that run (nesting in the sidebar).

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    tags = args.tags()
    parent = tags.pop(PARENT_RUN_TAG, None) or None
    name = args.string("run_name") or tags.get(RUN_NAME_TAG) or None
    experiment_id = args.required("experiment_id")
    info = ctx.store.create_run(experiment_id, run_name=name, tags=tags, parent_run_id=parent,
                                user_id=args.string("user_id", default="") or "",
                                start_time=args.integer("start_time", None, 0))
    return {"run": full_runs(ctx, [info])[0]}


def update_run(ctx: Context, args: Args) -> Json:
    """``POST runs/update {run_id, status, end_time, run_name}`` -> ``{run_info}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    status = args.string("status")
    if status is not None and status not in RunStatus.ALL:
        raise bad_request(f"Invalid value {status!r} for parameter 'status': use one of "
                          f"{', '.join(RunStatus.ALL)}.")
    end_time = args.integer("end_time", None, 0)
    info = ctx.store.update_run(run_id_of(args), status=status, run_name=args.string("run_name"),
                                end_time=end_time if status is not None else None)
    return {"run_info": run_info_json(info)}


def delete_run(ctx: Context, args: Args) -> Json:
    """``POST runs/delete {run_id}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_run_lifecycle(args.required("run_id"), LifecycleStage.DELETED)
    return {}


def restore_run(ctx: Context, args: Args) -> Json:
    """``POST runs/restore {run_id}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.set_run_lifecycle(args.required("run_id"), LifecycleStage.ACTIVE)
    return {}


def get_run(ctx: Context, args: Args) -> Json:
    """``GET runs/get?run_id=`` -> ``{run}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    return {"run": full_runs(ctx, [ctx.store.get_run_info(run_id_of(args))], model_inputs=True)[0]}


def search_runs(ctx: Context, args: Args) -> Json:
    """``POST runs/search {experiment_ids, filter, run_view_type, max_results, order_by,
    page_token}`` -> ``{runs, next_page_token}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    experiment_ids = args.strings("experiment_ids")
    limit = args.integer("max_results", SEARCH_MAX_RESULTS_DEFAULT, 1, SEARCH_MAX_RESULTS_THRESHOLD)
    assert limit is not None
    limit = page_size(limit, MAX_RESULTS_LIMIT)
    offset = decode_token(args.string("page_token"))
    for experiment_id in experiment_ids:
        ctx.store.get_experiment(experiment_id)  # an unknown id is a 404, as in MLflow
    infos = ctx.store.search_run_infos(experiment_ids, args.string("filter"),
                                       view_type(args, "run_view_type"), limit + 1,
                                       args.strings("order_by"), offset)
    answer: Json = {}
    if infos[:limit]:
        answer["runs"] = full_runs(ctx, infos[:limit])
    if len(infos) > limit:
        answer["next_page_token"] = encode_token(offset + limit)
    return answer


def _metric(item: Args, run_id: str) -> Metric:
    """One ``Metric`` message of a request as a point (timestamp and step required by MLflow's
    clients; a missing step is 0)."""
    timestamp = item.integer("timestamp")
    if timestamp is None:
        raise bad_request("Missing value for required parameter 'timestamp'.")
    step = item.integer("step", 0)
    assert step is not None
    return Metric(item.required("key"), item.number("value"), timestamp, step)


def log_metric(ctx: Context, args: Args) -> Json:
    """``POST runs/log-metric {run_id, key, value, timestamp, step, model_id?}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    run_id = run_id_of(args)
    ctx.store.log_batch(run_id, metrics=new_points(ctx, run_id, [args]))
    return {}


def log_param(ctx: Context, args: Args) -> Json:
    """``POST runs/log-parameter {run_id, key, value}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.log_batch(run_id_of(args), params=[Param(args.required("key"),
                                                       args.string("value", default="") or "")])
    return {}


def set_tag(ctx: Context, args: Args) -> Json:
    """``POST runs/set-tag {run_id, key, value}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.log_batch(run_id_of(args), tags=[RunTag(args.required("key"),
                                                      args.string("value", default="") or "")])
    return {}


def delete_tag(ctx: Context, args: Args) -> Json:
    """``POST runs/delete-tag {run_id, key}``.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    ctx.store.delete_tag(args.required("run_id"), args.required("key"))
    return {}


def log_batch(ctx: Context, args: Args) -> Json:
    """``POST runs/log-batch {run_id, metrics, params, tags}``, within MLflow's batch limits;
    all of it is written or none.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    run_id = run_id_of(args)
    metrics, params, tags = args.objects("metrics"), args.objects("params"), args.objects("tags")
    if len(metrics) > MAX_METRICS_PER_BATCH:
        raise bad_request(f"A batch logging request can contain at most {MAX_METRICS_PER_BATCH} "
                          f"metrics. Got {len(metrics)} metrics. Split the batch.")
    if len(params) + len(tags) > MAX_PARAMS_TAGS_PER_BATCH:
        raise bad_request(f"A batch logging request can contain at most "
                          f"{MAX_PARAMS_TAGS_PER_BATCH} params and tags together. Got "
                          f"{len(params) + len(tags)}. Split the batch.")
    if len(metrics) + len(params) + len(tags) > MAX_ENTITIES_PER_BATCH:
        raise bad_request(f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} "
                          "metrics, params and tags in total. Split the batch.")
    ctx.store.log_batch(
        run_id, metrics=new_points(ctx, run_id, metrics),
        params=[Param(p.required("key"), p.string("value", default="") or "") for p in params],
        tags=[RunTag(t.required("key"), t.string("value", default="") or "") for t in tags])
    return {}


def new_points(ctx: Context, run_id: str, items: list[Args]) -> list[Metric]:
    """The points of ``Metric`` messages to write to the run.

    MLflow 3's ``log_model`` sends the run's points of the model's step again, each linked to
    the model (``model_id``). In mlnb a logged model's metrics are its run's, so a linked point
    must belong to a model this run logged, and one the run already holds is not written twice;
    a point measured on a dataset (``dataset_name``, ``dataset_digest``) is accepted when that
    dataset is an input of the run (MLflow's ``log_metric(dataset=...)`` logs it as one first),
    which is where mlnb keeps the link; MLflow keeps a per-point link only for a logged model's
    metrics.

    :param ctx: the request's context.
    :param run_id: the run.
    :param items: the messages.
    """
    points, linked = [], []
    inputs: set[tuple[str, str]] | None = None
    for item in items:
        dataset = (item.string("dataset_name") or "", item.string("dataset_digest") or "")
        if any(dataset):
            if inputs is None:
                inputs = {(i.dataset.name, i.dataset.digest)
                          for i in ctx.store.dataset_inputs_of_runs([run_id])[run_id]}
            _check_dataset_link(dataset, inputs, run_id)
        point = _metric(item, run_id)
        model_id = item.string("model_id")
        if model_id:
            model = ctx.store.get_logged_model(model_id)
            if model.source_run_id != run_id:
                raise ApiError("NOT_IMPLEMENTED", f"Logged model {model_id} was logged by run "
                               f"{model.source_run_id}; mlnb links a model to the metrics of "
                               "the run that logged it only.")
            linked.append(point)
        else:
            points.append(point)
    held: dict[str, set[tuple[int, int, str]]] = {}
    for point in linked:
        if point.key not in held:
            try:
                history = ctx.store.get_metric_history(run_id, point.key)
            except NotFoundError:
                history = []
            held[point.key] = {(p.timestamp, p.step, repr(p.value)) for p in history}
        if (point.timestamp, point.step, repr(point.value)) not in held[point.key]:
            points.append(point)
    return points


def _check_dataset_link(dataset: tuple[str, str], inputs: set[tuple[str, str]],
                        run_id: str) -> None:
    """Refuse a point's dataset link that names only half a dataset, or one the run has not
    recorded as an input (the link would be lost)."""
    name, digest = dataset
    if not (name and digest):
        raise bad_request("A metric's dataset_name and dataset_digest go together: give both, "
                          "or neither.")
    if dataset not in inputs:
        raise bad_request(f"Dataset {name[:80]!r} (digest {digest[:40]!r}) is not an input of "
                          f"run {run_id}; log it first (runs/log-inputs, mlflow.log_input), then "
                          "the metrics measured on it.")


def log_inputs(ctx: Context, args: Args) -> Json:
    """``POST runs/log-inputs {run_id, datasets: [{dataset: {name, digest, source_type, source,
    schema, profile}, tags: [{key, value}]}], models: [{model_id}]}``: the datasets (recorded
    once per experiment for a name and digest) and logged models the run used; all or nothing.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    run_id = run_id_of(args)
    inputs = [_dataset_input(item) for item in args.objects("datasets")]
    models = [item.required("model_id") for item in args.objects("models")]
    ctx.store.log_inputs(run_id, inputs, models)
    return {}


def _dataset_input(item: Args) -> DatasetInput:
    """One ``DatasetInput`` message of a request."""
    raw = item.data.get("dataset")
    if not isinstance(raw, dict):
        raise bad_request("Each item of 'datasets' needs a 'dataset' object with name, digest, "
                          "source_type and source.")
    dataset = Args(raw)
    return DatasetInput(
        Dataset(dataset.required("name"), dataset.required("digest"),
                dataset.required("source_type"), dataset.required("source"),
                dataset.string("schema"), dataset.string("profile")),
        item.tags())


def log_outputs(ctx: Context, args: Args) -> Json:
    """``POST runs/outputs {run_id, models: [{model_id, step}]}``: a run's outputs are the
    models it logged, so each model must be one this run logged.

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    run_id = run_id_of(args)
    ctx.store.check_writable(run_id)
    for item in args.objects("models"):
        model = ctx.store.get_logged_model(item.required("model_id"))
        if model.source_run_id != run_id:
            raise ApiError("NOT_IMPLEMENTED", f"Logged model {model.model_id} was logged by run "
                           f"{model.source_run_id}; mlnb records a model as the output of the run "
                           "that logged it only.")
    return {}


def get_metric_history(ctx: Context, args: Args) -> Json:
    """``GET metrics/get-history?run_id=&metric_key=&max_results=&page_token=`` -> every point
    of the series (or a page of it when ``max_results`` is given).

    :param ctx: the request's context.
    :param args: the request's fields.
    """
    run_id, key = run_id_of(args), args.required("metric_key")
    limit = args.integer("max_results", None, 1, GET_METRIC_HISTORY_MAX_RESULTS)
    offset = decode_token(args.string("page_token"))
    ctx.store.get_run_info(run_id)
    try:
        points = ctx.store.get_metric_history(run_id, key)
    except NotFoundError:
        points = []  # MLflow answers an unknown key with an empty history
    end = len(points) if limit is None else offset + limit
    answer: Json = {}
    if points[offset:end]:
        answer["metrics"] = [metric_json(p) for p in points[offset:end]]
    if end < len(points):
        answer["next_page_token"] = encode_token(end)
    return answer
