"""mlnb's MLflow REST layer (mlnb.mlflow_server) on a real store, both engines: MLflow's JSON
shapes, error codes and statuses, limits, page tokens; malformed requests are 400s with a
message, unknown endpoints MLflow's ENDPOINT_NOT_FOUND, artifact paths never leave a run."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

import mlnb
from mlnb.mlflow_server import ROUTES, ApiRequest, ApiResponse, Context, handle
from mlnb.mlflow_server.protocol import dump
from mlnb.store import Store

pytestmark = pytest.mark.both_backends

API = "/api/2.0/mlflow"


def call(store: Store, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
         raw: bytes | None = None, ctype: str = "application/json") -> ApiResponse:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    q = {k: v if isinstance(v, list) else [str(v)] for k, v in (query or {}).items()}
    return handle(Context(store, "tester"), ApiRequest(method, path, q, data, ctype))


def ok(store: Store, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    answer = call(store, method, path, body, **kw)
    assert answer.status == 200, answer.payload
    return json.loads(dump(answer.payload))  # what goes on the wire


def error(answer: ApiResponse) -> tuple[int, str, str]:
    assert set(answer.payload) == {"error_code", "message"}, answer.payload
    return answer.status, answer.payload["error_code"], answer.payload["message"]


def new_run(store: Store, name: str = "r") -> tuple[str, str]:
    eid = ok(store, "POST", f"{API}/experiments/create", {"name": f"exp-{name}"})["experiment_id"]
    run = ok(store, "POST", f"{API}/runs/create",
             {"experiment_id": eid, "run_name": name, "start_time": 1000, "user_id": "u",
              "tags": [{"key": "t", "value": "v"}]})["run"]
    return eid, run["info"]["run_id"]


def test_run_messages_have_mlflows_fields(store: Store) -> None:
    eid, run_id = new_run(store)
    ok(store, "POST", f"{API}/runs/log-batch", {
        "run_id": run_id, "params": [{"key": "p", "value": "1"}],
        "metrics": [{"key": "m", "value": 0.5, "timestamp": 5, "step": 1},
                    {"key": "m", "value": "NaN", "timestamp": 6, "step": 2}]})
    run = ok(store, "GET", f"{API}/runs/get", query={"run_id": run_id})["run"]
    info = run["info"]
    assert info == {"run_uuid": run_id, "run_id": run_id, "experiment_id": eid, "run_name": "r",
                    "user_id": "u", "status": "RUNNING", "start_time": 1000,
                    "artifact_uri": f"mlflow-artifacts:/{eid}/{run_id}/artifacts",
                    "lifecycle_stage": "active"}
    assert run["data"]["metrics"] == [{"key": "m", "value": "NaN", "timestamp": 6, "step": 2}]
    assert run["data"]["params"] == [{"key": "p", "value": "1"}]
    assert {"key": "t", "value": "v"} in run["data"]["tags"]
    ended = ok(store, "POST", f"{API}/runs/update",
               {"run_id": run_id, "status": "FINISHED", "end_time": 2000})["run_info"]
    assert (ended["status"], ended["end_time"]) == ("FINISHED", 2000)
    exp = ok(store, "GET", f"{API}/experiments/get", query={"experiment_id": eid})["experiment"]
    assert exp["artifact_location"] == f"mlflow-artifacts:/{eid}" and exp["name"] == "exp-r"


def test_nested_run_is_an_mlnb_child(store: Store) -> None:
    eid, parent = new_run(store)
    child = ok(store, "POST", f"{API}/runs/create", {
        "experiment_id": eid, "tags": [{"key": "mlflow.parentRunId", "value": parent}]})["run"]
    assert store.child_run_ids(parent) == [child["info"]["run_id"]]


def test_errors_use_mlflows_codes_and_statuses(store: Store) -> None:
    assert error(call(store, "GET", f"{API}/runs/get", query={"run_id": "f" * 32}))[:2] == \
        (404, "RESOURCE_DOES_NOT_EXIST")
    status, code, message = error(call(store, "GET", f"{API}/experiments/get-by-name",
                                       query={"experiment_name": "nope"}))
    assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST") and "nope" in message
    ok(store, "POST", f"{API}/experiments/create", {"name": "x"})
    assert error(call(store, "POST", f"{API}/experiments/create", {"name": "x"}))[:2] == \
        (400, "RESOURCE_ALREADY_EXISTS")
    ok(store, "POST", f"{API}/registered-models/create", {"name": "m"})
    assert error(call(store, "POST", f"{API}/registered-models/create", {"name": "m"}))[:2] == \
        (400, "RESOURCE_ALREADY_EXISTS")
    status, code, message = error(call(store, "POST", f"{API}/runs/create", {}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "'experiment_id'" in message


def test_unknown_endpoints_are_endpoint_not_found(store: Store) -> None:
    for method, path in [("GET", f"{API}/runs/nope"), ("POST", "/api/2.0/mlflow/runs/get"),
                         ("GET", "/"), ("DELETE", f"{API}/runs/create"), ("GET", "/api/9/x"),
                         ("PATCH", f"{API}/logged-models/not-an-id")]:
        status, code, message = error(call(store, method, path, {} if method != "GET" else None))
        assert (status, code) == (404, "ENDPOINT_NOT_FOUND"), (method, path)
        assert method in message


@pytest.mark.parametrize("raw, needle", [
    (b"{bad", "not valid JSON"), (b"[1, 2]", "must be a JSON object"), (b"\xff\xfe", "not valid JSON"),
    (b'{"experiment_id": {"a": 1}}', "'experiment_id' must be a string"),
    (b'{"experiment_id": "0", "start_time": "soon"}', "'start_time' must be an integer"),
    (b'{"experiment_id": "0", "tags": "x"}', "'tags' must be a list of JSON objects"),
    (b'{"experiment_id": "0", "tags": [{"value": "v"}]}', "required parameter 'key'"),
])
def test_malformed_bodies_are_400_with_a_message(store: Store, raw: bytes, needle: str) -> None:
    status, code, message = error(call(store, "POST", f"{API}/runs/create", raw=raw))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and needle in message, message


def test_every_route_answers_garbage_with_json_never_500(store: Store) -> None:
    for method, path in ROUTES:
        path = path.replace("<model_id>", "m-" + "0" * 32).replace("<key>", "k").replace(
            "<path>", "0/x/artifacts/a")
        for raw in (b"{bad", b'{"name": [1], "run_id": 5, "max_results": "x", "key": {}}', b"null"):
            answer = call(store, method, path, raw=raw, query={"max_results": "x", "run_id": "y"})
            assert answer.status < 500, (method, path, raw, answer.payload)
            if answer.status != 200:
                assert set(answer.payload) == {"error_code", "message"}


def test_text_plain_writes_are_refused(store: Store) -> None:
    status, code, message = error(call(store, "POST", f"{API}/experiments/create", {"name": "x"},
                                       ctype="text/plain"))
    assert (status, code) == (400, "BAD_REQUEST") and "application/json" in message
    assert store.get_experiment_by_name("x") is None


def test_log_batch_enforces_mlflows_limits_and_writes_nothing(store: Store) -> None:
    _, run_id = new_run(store)
    metrics = [{"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(1001)]
    status, _, message = error(call(store, "POST", f"{API}/runs/log-batch",
                                    {"run_id": run_id, "metrics": metrics}))
    assert status == 400 and "at most 1000 metrics" in message
    params = [{"key": f"p{i}", "value": "1"} for i in range(101)]
    status, _, message = error(call(store, "POST", f"{API}/runs/log-batch",
                                    {"run_id": run_id, "params": params}))
    assert status == 400 and "at most 100 params and tags" in message
    long_value = [{"key": "p", "value": "x" * 6001}]
    status, code, _ = error(call(store, "POST", f"{API}/runs/log-batch",
                                 {"run_id": run_id, "params": long_value,
                                  "metrics": metrics[:5]}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
    assert store.get_run(run_id).data.params == {} and store.get_run(run_id).data.metrics == {}


def test_search_runs_pages_with_tokens(store: Store) -> None:
    eid, _ = new_run(store)
    for i in range(4):
        ok(store, "POST", f"{API}/runs/create", {"experiment_id": eid, "run_name": f"n{i}",
                                                 "start_time": 2000 + i})
    seen: list[str] = []
    token = None
    for _ in range(10):
        body = {"experiment_ids": [eid], "max_results": 2, **({"page_token": token} if token else {})}
        page = ok(store, "POST", f"{API}/runs/search", body)
        seen += [r["info"]["run_name"] for r in page.get("runs", [])]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == ["n3", "n2", "n1", "n0", "r"]
    status, code, message = error(call(store, "POST", f"{API}/runs/search",
                                       {"experiment_ids": [eid], "page_token": "garbage!"}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "page token" in message
    status, _, message = error(call(store, "POST", f"{API}/runs/search",
                                    {"experiment_ids": [eid], "max_results": 50001}))
    assert status == 400 and "at most 50000" in message
    # MLflow's largest max_results is allowed; the answer pages within the store's limits.
    biggest = ok(store, "POST", f"{API}/runs/search", {"experiment_ids": [eid], "max_results": 50000})
    assert len(biggest["runs"]) == 5 and "next_page_token" not in biggest
    found = ok(store, "POST", f"{API}/runs/search",
               {"experiment_ids": [eid], "filter": "attributes.run_name = 'n1'"})
    assert [r["info"]["run_name"] for r in found["runs"]] == ["n1"]


def test_metric_history_whole_and_paged(store: Store) -> None:
    _, run_id = new_run(store)
    ok(store, "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "loss", "value": i / 10, "timestamp": 100 + i, "step": i} for i in range(5)]})
    whole = ok(store, "GET", f"{API}/metrics/get-history",
               query={"run_id": run_id, "metric_key": "loss"})
    assert [m["step"] for m in whole["metrics"]] == [0, 1, 2, 3, 4] and "next_page_token" not in whole
    page = ok(store, "GET", f"{API}/metrics/get-history",
              query={"run_id": run_id, "metric_key": "loss", "max_results": "3"})
    assert [m["step"] for m in page["metrics"]] == [0, 1, 2]
    rest = ok(store, "GET", f"{API}/metrics/get-history", query={
        "run_id": run_id, "metric_key": "loss", "max_results": "3", "page_token": page["next_page_token"]})
    assert [m["step"] for m in rest["metrics"]] == [3, 4] and "next_page_token" not in rest


TRAVERSAL = ["../../etc/passwd", "..", "a/../../b", "%2e%2e/x", "%252e%252e/x", "/etc/passwd",
             "a\x00b", "..\\..\\x", "x" * 5000]


def test_artifact_upload_download_list_and_traversal(store: Store, tmp_path: Any) -> None:
    eid, run_id = new_run(store)
    base = f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts"
    ok(store, "PUT", f"{base}/sub/f.txt", raw=b"hello", ctype="text/plain")
    assert store.artifact_origin(run_id, "sub/f.txt")[1] == "user"
    got = call(store, "GET", f"{base}/sub/f.txt")
    assert got.status == 200 and got.file is not None and got.file.read_bytes() == b"hello"
    listed = ok(store, "GET", "/api/2.0/mlflow-artifacts/artifacts",
                query={"path": f"{eid}/{run_id}/artifacts/sub"})
    assert listed == {"files": [{"path": "f.txt", "is_dir": False, "file_size": 5}]}
    (tmp_path / "secret.txt").write_text("SECRET")
    for name in TRAVERSAL:
        for path in (f"{base}/{name}", f"{base}/{urllib.parse.quote(name, safe='')}"):
            for method in ("GET", "PUT"):
                answer = call(store, method, path, raw=b"EVIL", ctype="text/plain")
                assert answer.status in (400, 404), (method, path[:80], answer.payload)
                assert answer.file is None
        listed_bad = call(store, "GET", "/api/2.0/mlflow-artifacts/artifacts",
                          query={"path": f"{eid}/{run_id}/artifacts/{name}"})
        assert listed_bad.status in (400, 404) or listed_bad.payload == {}, name
    assert [f.path for f in store.list_artifacts(run_id, "")] == ["sub"]
    other_eid, _ = new_run(store, "other")
    status, code, _ = error(call(store, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{other_eid}/"
                                 f"{run_id}/artifacts/sub/f.txt"))
    assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, code, message = error(call(store, "GET", "/api/2.0/mlflow-artifacts/artifacts/x/y"))
    assert status == 400 and "is not inside a run" in message


def test_registry_stages_aliases_and_paging(store: Store) -> None:
    eid, run_id = new_run(store)
    model = ok(store, "POST", f"{API}/logged-models", {
        "experiment_id": eid, "name": "model", "source_run_id": run_id})["model"]["info"]
    assert model["status"] == "LOGGED_MODEL_PENDING"
    files = f"/api/2.0/mlflow-artifacts/artifacts/{eid}/models/{model['model_id']}/artifacts"
    ok(store, "PUT", f"{files}/MLmodel", raw=b"flavors: {}\n", ctype="text/plain")
    done = ok(store, "PATCH", f"{API}/logged-models/{model['model_id']}",
              {"model_id": model["model_id"], "status": "LOGGED_MODEL_READY"})["model"]["info"]
    assert done["status"] == "LOGGED_MODEL_READY"
    ok(store, "POST", f"{API}/runs/outputs", {"run_id": run_id, "models": [
        {"model_id": model["model_id"], "step": 0}]})
    outputs = ok(store, "GET", f"{API}/runs/get", query={"run_id": run_id})["run"]["outputs"]
    assert outputs == {"model_outputs": [{"model_id": model["model_id"], "step": 0}]}
    for name in ("a", "b", "c"):
        ok(store, "POST", f"{API}/registered-models/create", {"name": name})
    version = ok(store, "POST", f"{API}/model-versions/create", {
        "name": "a", "source": f"models:/{model['model_id']}", "run_id": run_id,
        "model_id": model["model_id"]})["model_version"]
    assert (version["version"], version["status"], version["run_id"]) == ("1", "READY", run_id)
    tags = store.get_logged_model(model["model_id"]).tags  # as MLflow's server records it
    assert json.loads(tags["mlflow.modelVersions"]) == [{"name": "a", "version": 1}]
    ok(store, "POST", f"{API}/model-versions/transition-stage",
       {"name": "a", "version": "1", "stage": "Staging", "archive_existing_versions": False})
    ok(store, "POST", f"{API}/registered-models/alias", {"name": "a", "alias": "champ", "version": "1"})
    by_alias = ok(store, "GET", f"{API}/registered-models/alias",
                  query={"name": "a", "alias": "champ"})["model_version"]
    assert by_alias["current_stage"] == "Staging" and by_alias["aliases"] == ["champ"]
    uri = ok(store, "GET", f"{API}/model-versions/get-download-uri", query={"name": "a", "version": "1"})
    assert uri == {"artifact_uri": f"mlflow-artifacts:/{eid}/{run_id}/artifacts/models/{model['model_id']}"}
    page = ok(store, "GET", f"{API}/registered-models/search", query={"max_results": "2"})
    assert [m["name"] for m in page["registered_models"]] == ["a", "b"]
    rest = ok(store, "GET", f"{API}/registered-models/search",
              query={"max_results": "2", "page_token": page["next_page_token"]})
    assert [m["name"] for m in rest["registered_models"]] == ["c"]
    every = ok(store, "GET", f"{API}/model-versions/search", query={"max_results": "200000"})
    assert [v["version"] for v in every["model_versions"]] == ["1"]  # MlflowClient's default
    status, code, message = error(call(store, "POST", f"{API}/model-versions/create",
                                       {"name": "a", "source": "/etc"}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "refused" in message
    for source in ("file:///etc", "//proc/self/root/etc", "s3://bucket/x", "http://169.254.169.254/x",
                   f"runs:/{run_id}/../../etc", f"mlflow-artifacts:/{eid}/../../etc",
                   f"mlflow-artifacts:/{eid}/{run_id}/artifacts/../../../etc", f"runs:/{run_id}/sub",
                   "models:/a/1", "models:/m-" + "0" * 32, f"runs:/{run_id}/models/{model['model_id']}#x"):
        answer = call(store, "POST", f"{API}/model-versions/create", {"name": "a", "source": source})
        assert answer.status in (400, 404), (source, answer.payload)
    assert [v.version for v in store.search_model_versions("name = 'a'")] == ["1"]


def dataset_message(name: str = "iris", digest: str = "abc12345") -> dict[str, Any]:
    return {"name": name, "digest": digest, "source_type": "local",
            "source": '{"uri": "/data/iris.csv"}', "schema": '{"mlflow_colspec": []}',
            "profile": '{"num_rows": 3}'}


def test_log_inputs_records_datasets_once_per_experiment_and_runs_return_them(store: Store) -> None:
    eid, run_id = new_run(store)
    model = ok(store, "POST", f"{API}/logged-models", {
        "experiment_id": eid, "name": "model", "source_run_id": run_id})["model"]["info"]
    training = {"dataset": dataset_message(),
                "tags": [{"key": "mlflow.data.context", "value": "training"}]}
    ok(store, "POST", f"{API}/runs/log-inputs", {
        "run_id": run_id, "datasets": [training, {"dataset": dataset_message("eval", "ffff0000")}],
        "models": [{"model_id": model["model_id"]}]})
    # The same dataset again (other tags) keeps the first use's tags, as in MLflow.
    ok(store, "POST", f"{API}/runs/log-inputs", {"run_id": run_id, "datasets": [
        {"dataset": dataset_message(), "tags": [{"key": "mlflow.data.context", "value": "eval"}]}]})
    run = ok(store, "GET", f"{API}/runs/get", query={"run_id": run_id})["run"]
    assert run["inputs"] == {
        "dataset_inputs": [training, {"dataset": dataset_message("eval", "ffff0000")}],
        "model_inputs": [{"model_id": model["model_id"]}]}
    found = ok(store, "POST", f"{API}/runs/search", {"experiment_ids": [eid]})["runs"]
    assert found[0]["inputs"] == {"dataset_inputs": run["inputs"]["dataset_inputs"]}
    other = ok(store, "POST", f"{API}/runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
    ok(store, "POST", f"{API}/runs/log-inputs", {"run_id": other, "datasets": [training]})
    assert store.cx.query("SELECT count(*) FROM datasets") == [(2,)]  # one row per (name, digest)


@pytest.mark.parametrize("body, needle", [
    ({"datasets": []}, "Missing value for required parameter 'run_id'"),
    ({"datasets": "x"}, "'datasets' must be a list of JSON objects"),
    ({"datasets": [{"tags": []}]}, "needs a 'dataset' object"),
    ({"datasets": [{"dataset": {**dataset_message(), "digest": None}}]},
     "Missing value for required parameter 'digest'"),
    ({"datasets": [{"dataset": {**dataset_message(), "name": ""}}]}, "'name' must be non-empty"),
    ({"datasets": [{"dataset": dataset_message(digest="d" * 37)}]}, "MLflow's limit is 36"),
    ({"datasets": [{"dataset": dataset_message(), "tags": [{"key": "k", "value": "v" * 501}]}]},
     "longer than 500 characters"),
    ({"models": [{"model_id": "../etc"}]}, "is not a logged model id"),
])
def test_log_inputs_refuses_malformed_inputs_and_writes_nothing(
        store: Store, body: dict[str, Any], needle: str) -> None:
    _, run_id = new_run(store)
    if isinstance(body.get("datasets"), list) and body["datasets"]:  # a good one first: all or nothing
        body = {**body, "datasets": [{"dataset": dataset_message("ok", "1")}, *body["datasets"]]}
    full = body if body == {"datasets": []} else {"run_id": run_id, **body}
    status, code, message = error(call(store, "POST", f"{API}/runs/log-inputs", full))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and needle in message, message
    assert store.cx.query("SELECT count(*) FROM run_inputs") == [(0,)]
    assert store.cx.query("SELECT count(*) FROM datasets") == [(0,)]


def test_log_inputs_to_a_deleted_or_unknown_run_is_refused(store: Store) -> None:
    _, run_id = new_run(store)
    ok(store, "POST", f"{API}/runs/delete", {"run_id": run_id})
    body = {"run_id": run_id, "datasets": [{"dataset": dataset_message()}]}
    assert error(call(store, "POST", f"{API}/runs/log-inputs", body))[:2] == (400, "INVALID_STATE")
    body["run_id"] = "f" * 32
    assert error(call(store, "POST", f"{API}/runs/log-inputs", body))[:2] == (
        404, "RESOURCE_DOES_NOT_EXIST")


def test_delete_artifact_removes_files_and_records_of_the_run_only(store: Store) -> None:
    eid, run_id = new_run(store)
    base = f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts"
    for name in ("keep.txt", "sub/a.txt", "sub/deeper/b.txt"):
        ok(store, "PUT", f"{base}/{name}", raw=b"x", ctype="text/plain")
    local = store.artifacts.root / run_id  # a local root: the files are here
    assert ok(store, "DELETE", f"{base}/sub/a.txt") == {}
    assert sorted(p for p, _, _ in store.artifact_files(run_id, "")) == ["keep.txt", "sub/deeper/b.txt"]
    assert not (local / "sub" / "a.txt").exists()
    assert ok(store, "DELETE", f"{base}/sub") == {}  # a folder: every file in it
    assert [p for p, _, _ in store.artifact_files(run_id, "")] == ["keep.txt"]
    assert not (local / "sub").exists() and (local / "keep.txt").read_bytes() == b"x"
    assert ok(store, "DELETE", f"{base}/no/such/file") == {}  # as in MLflow: nothing to delete
    status, _, message = error(call(store, "DELETE", base))
    assert status == 400 and "Name an artifact file" in message  # never the run's whole folder
    for name in TRAVERSAL:
        answer = call(store, "DELETE", f"{base}/{urllib.parse.quote(name, safe='')}")
        assert answer.status in (400, 404), (name, answer.payload)
    assert (local / "keep.txt").exists()


def test_delete_artifact_refuses_a_registered_versions_files(store: Store) -> None:
    eid, run_id = new_run(store)
    base = f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts"
    ok(store, "PUT", f"{base}/model/MLmodel", raw=b"flavors: {}\n", ctype="text/plain")
    ok(store, "POST", f"{API}/registered-models/create", {"name": "reg"})
    ok(store, "POST", f"{API}/model-versions/create",
       {"name": "reg", "source": f"runs:/{run_id}/model", "run_id": run_id})
    for target in ("model/MLmodel", "model"):
        status, code, message = error(call(store, "DELETE", f"{base}/{target}"))
        assert (status, code) == (400, "INVALID_STATE") and "'reg' version 1" in message
    assert [p for p, _, _ in store.artifact_files(run_id, "")] == ["model/MLmodel"]


def test_health_version_and_the_ajax_api_alias(store: Store) -> None:
    health = call(store, "GET", "/health")
    assert (health.status, health.text) == (200, "OK")
    assert call(store, "GET", "/version").text == mlnb.__version__
    same = ok(store, "GET", "/ajax-api/2.0/mlflow/experiments/get", query={"experiment_id": "0"})
    assert same["experiment"]["name"] == "Default"
    status, code, _ = error(call(store, "GET", "/ajax-api/2.0/mlflow/no-such"))
    assert (status, code) == (404, "ENDPOINT_NOT_FOUND")


def test_metrics_measured_on_a_dataset_of_the_run_are_accepted(store: Store) -> None:
    _, run_id = new_run(store)
    point = {"key": "acc", "value": 0.9, "timestamp": 5, "step": 0,
             "dataset_name": "iris", "dataset_digest": "abc12345"}
    status, code, message = error(call(store, "POST", f"{API}/runs/log-batch",
                                       {"run_id": run_id, "metrics": [point]}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
    assert "is not an input of run" in message and "log it first" in message
    half = {**point, "dataset_digest": ""}
    status, _, message = error(call(store, "POST", f"{API}/runs/log-metric", {"run_id": run_id, **half}))
    assert status == 400 and "go together" in message
    assert store.latest_metrics([run_id])[run_id] == []
    ok(store, "POST", f"{API}/runs/log-inputs", {"run_id": run_id,
                                                 "datasets": [{"dataset": dataset_message()}]})
    ok(store, "POST", f"{API}/runs/log-metric", {"run_id": run_id, **point})
    assert [(m.key, m.value) for m in store.get_metric_history(run_id, "acc")] == [("acc", 0.9)]


def test_delete_logged_model_is_a_soft_delete_over_rest(store: Store) -> None:
    eid, run_id = new_run(store)
    gone, kept = (ok(store, "POST", f"{API}/logged-models", {
        "experiment_id": eid, "name": name, "source_run_id": run_id})["model"]["info"]["model_id"]
        for name in ("gone", "kept"))
    assert ok(store, "DELETE", f"{API}/logged-models/{gone}") == {}
    assert ok(store, "DELETE", f"{API}/logged-models/{gone}") == {}  # again: as MLflow, no error
    status, code, message = error(call(store, "GET", f"{API}/logged-models/{gone}"))
    assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST") and "was deleted" in message
    found = ok(store, "GET", f"{API}/logged-models/{gone}", query={"allow_deleted": "true"})
    assert found["model"]["info"]["name"] == "gone"
    status, code, message = error(call(store, "GET", f"{API}/logged-models/{gone}",
                                       query={"allow_deleted": "yes"}))
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "'allow_deleted'" in message
    listed = ok(store, "POST", f"{API}/logged-models/search", {"experiment_ids": [eid]})["models"]
    assert [m["info"]["model_id"] for m in listed] == [kept]
    status, code, _ = error(call(store, "PATCH", f"{API}/logged-models/{gone}/tags",
                                 {"tags": [{"key": "k", "value": "v"}]}))
    assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST")
    missing = "m-" + "0" * 32
    status, code, message = error(call(store, "DELETE", f"{API}/logged-models/{missing}"))
    assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST") and missing in message
    assert ("DELETE", f"{API}/logged-models/<model_id>") in ROUTES
