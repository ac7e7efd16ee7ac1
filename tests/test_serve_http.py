"""The scoring server on 127.0.0.1: MLflow's request formats, 4xx JSON for every bad request."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from test_models_data import pipeline

import mlnb
from mlnb.models.serve import make_server, serve_in_thread


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    model, X = pipeline()
    folder = tmp_path_factory.mktemp("served") / "model"
    mlnb.sklearn.save_model(model, folder, input_example=X[:5])
    server = make_server(str(folder), "127.0.0.1", 0, max_body_bytes=2 * 1024 * 1024)
    serve_in_thread(server)
    yield server, model, X
    server.shutdown()
    server.server_close()


def request(server, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def post_json(server, doc, content_type="application/json"):
    return request(server, "POST", "/invocations", json.dumps(doc).encode(),
                   {"Content-Type": content_type})


def test_every_mlflow_format_predicts_the_same(served):
    server, model, X = served
    rows = X[:4]
    expected = model.predict(rows).tolist()
    split = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    records = {"dataframe_records": rows.to_dict(orient="records")}
    instances = {"instances": rows.values.tolist()}
    inputs = {"inputs": {c: rows[c].tolist() for c in rows.columns}}
    for doc in (split, records, instances, inputs):
        status, body, _ = post_json(server, doc, "application/json; charset=utf-8")
        assert (status, json.loads(body)) == (200, {"predictions": expected})
    status, body, _ = request(server, "POST", "/invocations", rows.to_csv(index=False).encode(),
                              {"Content-Type": "text/csv"})
    assert (status, json.loads(body)) == (200, {"predictions": expected})


def test_info_endpoints(served):
    server, _, _ = served
    for path in ("/ping", "/health"):
        assert request(server, "GET", path)[0] == 200
    assert json.loads(request(server, "GET", "/version")[1])["mlnb_version"] == mlnb.__version__
    meta = json.loads(request(server, "GET", "/metadata")[1])
    assert [c["name"] for c in meta["signature"]["inputs"]] == ["x1", "x2", "color"]


@pytest.mark.parametrize("case, status, code", [
    ({"method": "GET", "path": "/ping", "headers": {"Host": "evil.example"}}, 403, "PERMISSION_DENIED"),
    ({"method": "GET", "path": "/ping", "headers": {"Host": "127.0.0.1.evil.example:80"}}, 403,
     "PERMISSION_DENIED"),
    ({"method": "GET", "path": "/nope"}, 404, "ENDPOINT_NOT_FOUND"),
    ({"method": "PUT", "path": "/invocations"}, 405, "METHOD_NOT_ALLOWED"),
    ({"method": "POST", "path": "/invocations", "body": b"x", "headers": {"Content-Type": "text/plain"}},
     415, "UNSUPPORTED_MEDIA_TYPE"),
    ({"method": "POST", "path": "/invocations", "body": b"{}",
      "headers": {"Content-Type": "application/json; charset=latin-1"}}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ({"method": "POST", "path": "/invocations", "body": b"{\"instances\": [[1, 2, \"red\"]]}",
      "headers": {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}}, 411,
     "LENGTH_REQUIRED"),
])
def test_refusals(served, case, status, code):
    server, _, _ = served
    got, body, _ = request(server, case["method"], case["path"], case.get("body", b""),
                           case.get("headers"))
    assert (got, json.loads(body)["error_code"]) == (status, code)


def test_dns_rebinding_host_refused_loopback_names_accepted(served):
    server, _, _ = served
    port = server.server_address[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert request(server, "GET", "/ping", headers={"Host": host})[0] == 200


def test_signature_mismatch_is_400_and_names_the_column(served):
    server, _, _ = served
    status, body, _ = post_json(server, {"dataframe_records": [{"x1": 1.0, "x2": 2.0}]})
    assert status == 400
    assert json.loads(body) == {"error_code": "BAD_REQUEST", "message": (
        "Model is missing input column(s) ['color']; it expects ['x1', 'x2', 'color'].")}


def test_oversized_body_and_row_flood_get_413(served):
    server, _, _ = served
    big = b"{\"instances\": [" + b"[0.1, 0.2, \"red\"], " * 200_000 + b"[0, 0, \"red\"]]}"
    status, body, _ = request(server, "POST", "/invocations", big, {"Content-Type": "application/json"})
    assert (status, json.loads(body)["error_code"]) == (413, "REQUEST_LIMIT_EXCEEDED")
    assert request(server, "GET", "/ping")[0] == 200


def test_no_echo_of_input_and_no_traceback(served):
    server, _, _ = served
    marker = "<script>ECHO_MARKER</script>"
    for doc in ({"dataframe_records": [{"x1": marker, "x2": 1.0, "color": "red"}]},
                {"dataframe_split": {"columns": [marker], "data": [[1]]}},
                {marker: 1}, {"instances": [[marker] * 3]}):
        status, body, _ = post_json(server, doc)
        assert status == 400
        assert "ECHO_MARKER" not in body.decode() and "Traceback" not in body.decode()


def test_nan_input_is_a_400_not_a_500(served):
    server, _, _ = served
    status, body, _ = request(server, "POST", "/invocations",
                              b'{"instances": [[NaN, 1.0, "red"]]}', {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error_code"] == "BAD_REQUEST"


@pytest.mark.parametrize("artifact_backend", ["local", "s3"])  # s3: the model's files in S3
def test_cli_serve_logs_predictions(tracking):
    model, X = pipeline()
    mlnb.sklearn.log_model(model, "model", input_example=X[:3], registered_model_name="p")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlnb", "serve", "models:/p/1", "--port", "0", "--log-predictions"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving models:/p/1 on http://127.0.0.1:"), proc.stderr.read()
        port = int(line.split("http://127.0.0.1:")[1].split(" ")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(3):
            conn.request("POST", "/invocations", json.dumps({"dataframe_records": X[:2].to_dict("records")}),
                         {"Content-Type": "application/json"})
            assert conn.getresponse().read() == json.dumps(
                {"predictions": model.predict(X[:2]).tolist()}).encode()
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    runs = mlnb.search_runs(experiment_names=["mlnb-serving"], output_format="list")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert [m.step for m in mlnb.get_metric_history(runs[0].info.run_id, "latency_ms")] == [1, 2, 3]
    logged = mlnb.monitor.predictions("models:/p/1")
    assert list(logged.columns[:4]) == ["x1", "x2", "color", "prediction"]
    assert len(logged) == 6
    assert np.isfinite(runs[0].data.metrics["latency_ms"])


def test_numeric_fast_path_matches_the_full_path(tmp_path):
    from test_models_data import classifier

    model, X = classifier()
    mlnb.sklearn.save_model(model, tmp_path / "m", input_example=X[:5])
    server = make_server(str(tmp_path / "m"), "127.0.0.1", 0)
    assert server.fast_predict is not None
    serve_in_thread(server)
    try:
        split = {"dataframe_split": json.loads(X[:7].to_json(orient="split", index=False))}
        status, body, _ = post_json(server, split)
        assert (status, json.loads(body)) == (200, {"predictions": model.predict(X[:7]).tolist()})
        bad = {"dataframe_split": {"columns": ["x1", "x2"], "data": [["a", 1.0]]}}
        status, body, _ = post_json(server, bad)
        assert (status, json.loads(body)["message"]) == (
            400, "Column 'x1' expects double values; it has values of type str.")
    finally:
        server.shutdown()
        server.server_close()
