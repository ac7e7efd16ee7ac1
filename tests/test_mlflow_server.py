"""``mlnb server`` as a real process: safe defaults (loopback, a token generated and printed, a
non-loopback address refused without one, Host checks), the auth matrix over every MLflow
route, and a stock MLflow client's session leaving, field by field, what it leaves in a real
``mlflow server`` (e2e)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from jupyter_harness import free_port, lab_server  # noqa: F401
from mlflow_servers import (
    Server,
    client_env,
    run_session,
    snapshot,
    start_mlflow_server,
    start_mlnb_server,
)

from mlnb.errors import UntrustedModelError
from mlnb.mlflow_server import ROUTES
from mlnb.store import Store, StoreLocation

TOKEN = "s3cret-token"


@pytest.fixture
def mlnb_server(tmp_path: Path) -> Iterator[Server]:
    server = start_mlnb_server(tmp_path / "store", tmp_path / "srv", "--token", TOKEN)
    try:
        yield server
    finally:
        server.stop()


def sample(path: str) -> str:
    return (path.replace("<model_id>", "m-" + "0" * 32).replace("<key>", "k")
            .replace("<path>", "0/" + "f" * 32 + "/artifacts/a.txt"))


def send(server: Server, method: str, path: str, headers: dict[str, str], body: bytes | None = b"{}"
         ) -> requests.Response:
    return requests.request(method, server.url + path, headers=headers, timeout=30,
                            data=None if method == "GET" else body)


def test_every_route_needs_the_token_and_a_loopback_host(mlnb_server: Server) -> None:
    json_type = {"Content-Type": "application/json"}
    checked = 0
    for method, path in [*ROUTES, ("GET", "/no/such/route")]:
        url = sample(path)
        for headers, status, code in [
            ({}, 401, "UNAUTHENTICATED"),
            ({"Authorization": "Bearer wrong"}, 403, "PERMISSION_DENIED"),
            ({"Authorization": f"token {TOKEN}x"}, 403, "PERMISSION_DENIED"),
            ({"Authorization": "Basic " + base64.b64encode(b"u:wrong").decode()}, 403,
             "PERMISSION_DENIED"),
            ({"Authorization": f"Bearer {TOKEN}", "Host": "evil.example"}, 403, "PERMISSION_DENIED"),
        ]:
            answer = send(mlnb_server, method, url, {**json_type, **headers})
            assert (answer.status_code, answer.json()["error_code"]) == (status, code), \
                (method, url, headers)
            checked += 1
        answer = send(mlnb_server, method, url, {**json_type, "Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code not in (401, 403) and answer.status_code < 500, (method, url)
        text = path in ("/health", "/version")  # MLflow answers these two in plain text
        assert answer.headers["Content-Type"].startswith("text/plain" if text else "application/json")
    assert checked == 5 * (len(ROUTES) + 1)
    basic = "Basic " + base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    answer = send(mlnb_server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=0",
                  {"Authorization": basic})
    assert answer.status_code == 200 and answer.json()["experiment"]["name"] == "Default"
    for host in ("localhost", f"127.0.0.1:{mlnb_server.url.rsplit(':', 1)[1]}", "[::1]:80"):
        answer = send(mlnb_server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=0",
                      {"Authorization": f"Bearer {TOKEN}", "Host": host})
        assert answer.status_code == 200, host


def test_a_logged_model_without_a_run_over_rest(mlnb_server: Server, tmp_path: Path) -> None:
    """MLflow 3's client flow for a model logged outside a run: create (no source_run_id), upload
    through the artifact proxy to the model's own folder, params, finalize, register."""
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    api = "/api/2.0/mlflow"
    created = send(mlnb_server, "POST", f"{api}/logged-models", auth,
                   json.dumps({"experiment_id": "0", "name": "solo"}).encode()).json()["model"]
    model_id = created["info"]["model_id"]
    assert "source_run_id" not in created["info"]
    assert created["info"]["status"] == "LOGGED_MODEL_PENDING"
    files = f"/api/2.0/mlflow-artifacts/artifacts/0/models/{model_id}/artifacts"
    assert send(mlnb_server, "PUT", f"{files}/MLmodel", auth, b"flavors: {}\n").status_code == 200
    escape = send(mlnb_server, "PUT", f"{files}/../../x.txt", auth, b"x")
    assert escape.status_code in (400, 404)
    params = json.dumps({"model_id": model_id, "params": [{"key": "lr", "value": "0.1"}]})
    assert send(mlnb_server, "POST", f"{api}/logged-models/{model_id}/params", auth,
                params.encode()).status_code == 200
    done = send(mlnb_server, "PATCH", f"{api}/logged-models/{model_id}", auth,
                b'{"status": "LOGGED_MODEL_READY"}').json()["model"]
    assert done["info"]["status"] == "LOGGED_MODEL_READY"
    assert done["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    late = send(mlnb_server, "PUT", f"{files}/late.txt", auth, b"x")
    assert late.status_code == 400 and "cannot change once it is finalized" in late.json()["message"]
    send(mlnb_server, "POST", f"{api}/registered-models/create", auth, b'{"name": "solo-reg"}')
    version = send(mlnb_server, "POST", f"{api}/model-versions/create", auth, json.dumps(
        {"name": "solo-reg", "source": f"models:/{model_id}", "model_id": model_id}).encode()
    ).json()["model_version"]
    assert (version["source"], version["model_id"], version.get("run_id")) == (
        f"models:/{model_id}", model_id, None)
    uri = send(mlnb_server, "GET", f"{api}/model-versions/get-download-uri?name=solo-reg&version=1",
               auth).json()["artifact_uri"]
    assert uri == f"mlflow-artifacts:/0/models/{model_id}/artifacts"
    listed = send(mlnb_server, "GET", f"/api/2.0/mlflow-artifacts/artifacts?path=0/models/"
                                      f"{model_id}/artifacts", auth).json()["files"]
    assert [f["path"] for f in listed] == ["MLmodel"]


DELETE_SESSION = """
import json
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

client = MlflowClient()
gone = client.create_logged_model(experiment_id="0", name="gone")
kept = client.create_logged_model(experiment_id="0", name="kept")
client.delete_logged_model(gone.model_id)
try:
    client.get_logged_model(gone.model_id)
    after = "found"
except MlflowException as exc:
    after = exc.error_code
store = client._tracking_client.store
print(json.dumps({"after": after, "listed": [m.name for m in client.search_logged_models(["0"])],
                  "deleted": store.get_logged_model(gone.model_id, allow_deleted=True).name}))
"""


def test_mlflow_client_deletes_a_logged_model_over_rest(mlnb_server: Server, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", DELETE_SESSION], capture_output=True, text=True,
                          env=client_env(mlnb_server.url, TOKEN), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "after": "RESOURCE_DOES_NOT_EXIST", "listed": ["kept"], "deleted": "gone"}


def test_unknown_endpoints_and_malformed_bodies_answer_mlflow_json(mlnb_server: Server) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    answer = send(mlnb_server, "GET", "/ajax-api/2.0/mlflow/nope", auth)
    assert answer.status_code == 404 and answer.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    answer = send(mlnb_server, "POST", "/api/2.0/mlflow/runs/create", auth, b"{not json")
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["message"]
    answer = send(mlnb_server, "HEAD", "/api/2.0/mlflow/runs/get", auth)
    assert answer.status_code == 405
    for target in ("/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/../../../etc/passwd",
                   "/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/%2e%2e/%2e%2e/etc/passwd"):
        answer = send(mlnb_server, "GET", target, auth)
        assert answer.status_code in (400, 404) and b"root:" not in answer.content
        assert set(answer.json()) == {"error_code", "message"}


def test_a_token_is_generated_and_printed_when_none_is_given(tmp_path: Path) -> None:
    server = start_mlnb_server(tmp_path / "store", tmp_path / "srv")
    try:
        assert server.token and len(server.token) >= 40
        assert server.url.startswith("http://127.0.0.1:")
        path = "/api/2.0/mlflow/experiments/search?max_results=5"
        assert send(server, "GET", path, {}).status_code == 401
        answer = send(server, "GET", path, {"Authorization": f"Bearer {server.token}"})
        assert answer.status_code == 200 and [e["name"] for e in answer.json()["experiments"]] == ["Default"]
    finally:
        server.stop()


def test_no_token_only_on_loopback(tmp_path: Path) -> None:
    refused = subprocess.run([sys.executable, "-m", "mlnb", "--store", str(tmp_path / "s"), "server",
                              "--host", "0.0.0.0", "--port", "0", "--no-token"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "refusing to serve the store on 0.0.0.0 without a token" in refused.stderr
    assert "Traceback" not in refused.stderr
    both = subprocess.run([sys.executable, "-m", "mlnb", "server", "--token", "x", "--no-token"],
                          capture_output=True, text=True, timeout=60)
    assert both.returncode == 2 and "either --token or --no-token" in both.stderr
    server = start_mlnb_server(tmp_path / "store", tmp_path / "srv", "--no-token")
    try:
        assert server.token is None
        answer = send(server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", {})
        assert answer.status_code == 200
        evil = send(server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=0",
                    {"Host": "evil.example:5000"})  # DNS rebinding: still refused
        assert evil.status_code == 403
    finally:
        server.stop()


def test_port_in_use_is_a_clear_error(tmp_path: Path, mlnb_server: Server) -> None:
    port = mlnb_server.url.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "mlnb", "--store", str(tmp_path / "s2"), "server",
                           "--port", port, "--token", "t"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "mlnb: error:" in done.stderr and "Traceback" not in done.stderr


# --- a stock MLflow client, side by side with a real mlflow server ----------------------------

def check_mlnb_side(store_dir: Path, result: dict[str, Any]) -> None:
    """What the session left is ordinary mlnb data; the MLflow-uploaded pickle loads only
    with trusted=True."""
    import numpy as np

    import mlnb

    store = Store(StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts"))
    parent = store.get_run(result["parent"])
    assert parent.data.params == {"alpha": "0.5", "layers": "3"}
    assert len(store.child_run_ids(result["parent"])) == 2
    assert len(store.get_metric_history(result["parent"], "loss")) == 20
    # The MLflow client's datasets are mlnb's records, with mlnb.data's digest for the same data.
    inputs = store.dataset_inputs_of_runs([result["parent"]])[result["parent"]]
    assert [(i.dataset.name, i.tags["mlflow.data.context"]) for i in inputs] == [
        ("train", "training"), ("dataset", "eval")]
    features = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    assert inputs[1].dataset.digest == mlnb.data.from_numpy(features, targets=np.array(
        [0, 0, 1, 1])).digest
    mlnb.set_tracking_uri(str(store_dir))
    with pytest.raises(UntrustedModelError, match="trusted=True"):
        mlnb.pyfunc.load_model("models:/session-model@champion")
    model = mlnb.pyfunc.load_model("models:/session-model@champion", trusted=True)
    assert [int(v) for v in model.predict(np.array([[0.0, 1.0], [3.0, 0.0]]))] == [0, 1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The session's results and snapshot on a real ``mlflow server`` (SQLite backend)."""
    work = tmp_path_factory.mktemp("mlflow-reference")
    server = start_mlflow_server(work / "mlflow", free_port())
    try:
        return run_session(server.url, None, work / "w"), snapshot(server.url, None)
    finally:
        server.stop()


def assert_same_session(url: str, token: str, work: Path,
                        reference: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    expected, want = reference
    result = run_session(url, token, work)
    got = snapshot(url, token)
    assert result["prediction"] == expected["prediction"] == [0, 0, 1, 1]
    assert (result["searched"], result["history"]) == (expected["searched"], expected["history"])
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], f"{key}:\n mlnb   {json.dumps(got[key], default=str)}\n " \
                                      f"mlflow {json.dumps(want[key], default=str)}"
    return result


@pytest.mark.e2e
def test_mlflow_client_session_on_mlnb_server_matches_mlflow_server(
        tmp_path: Path, mlnb_server: Server, reference: tuple[dict[str, Any], dict[str, Any]]) -> None:
    result = assert_same_session(mlnb_server.url, TOKEN, tmp_path / "w", reference)
    check_mlnb_side(tmp_path / "store", result)


@pytest.mark.e2e
def test_mlflow_client_session_on_jupyter_matches_mlflow_server(
        tmp_path: Path, lab_server: Any, reference: tuple[dict[str, Any], dict[str, Any]]  # noqa: F811
) -> None:
    result = assert_same_session(f"{lab_server.url}/mlnb/mlflow", lab_server.token, tmp_path / "w",
                                 reference)
    check_mlnb_side(lab_server.root / ".mlnb", result)
