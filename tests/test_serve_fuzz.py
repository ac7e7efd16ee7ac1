"""Property-based fuzz of POST /invocations against a real server on 127.0.0.1.

Over 1,000 malformed or odd bodies: wrong content types and charsets, random bytes, random and
deeply nested JSON, wrong format keys, missing, extra and mistyped columns, NaN, empty batches.
Every answer is a 2xx prediction or a 4xx JSON error; never a 5xx, a traceback or the input
echoed back; the server stays healthy.
"""

from __future__ import annotations

import http.client
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_models_data import pipeline

import mlnb
from mlnb.models.serve import make_server, serve_in_thread

pytestmark = pytest.mark.e2e  # about 10-25 s on the shared 2-core machine

MARKER = "<i>ECHO_MARKER</i>"

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.just(MARKER),
                    st.sampled_from(["red", "green", "x1", "x2", "color"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6) | st.just(MARKER), inner, max_size=4)),
    max_leaves=20)
columns = st.lists(st.sampled_from(["x1", "x2", "color", "extra", MARKER, ""]), max_size=5)
row = st.lists(scalars, max_size=5)
formats = st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "data",
                           "params", "columns"])

structured = st.one_of(
    st.builds(lambda c, d: {"dataframe_split": {"columns": c, "data": d}}, columns,
              st.lists(row, max_size=4)),
    st.builds(lambda recs: {"dataframe_records": recs},
              st.lists(st.dictionaries(st.sampled_from(["x1", "x2", "color", "z", MARKER]), scalars,
                                       max_size=4), max_size=4)),
    st.builds(lambda k, v: {k: v}, st.sampled_from(["instances", "inputs"]),
              st.lists(row, max_size=4) | json_values),
    st.dictionaries(formats, json_values, max_size=3),
)

bodies = st.one_of(
    structured.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=64),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 5000).map(lambda n: b'{"instances": ' + b"[" * n + b"]" * n + b"}"),
    st.text(max_size=64).map(lambda t: ("x1,x2,color\n" + t).encode("utf-8", "surrogatepass")),
)
content_types = st.sampled_from([
    "application/json", "application/json; charset=utf-8", "application/json; charset=UTF-16",
    "text/csv", "text/csv; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "", "application/json; charset=", "APPLICATION/JSON",
])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model, X = pipeline()
    folder = tmp_path_factory.mktemp("fuzz") / "model"
    mlnb.sklearn.save_model(model, folder, input_example=X[:5])
    srv = make_server(str(folder), "127.0.0.1", 0, max_body_bytes=1024 * 1024)
    serve_in_thread(srv)
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=30)
    yield srv, conn
    conn.close()
    srv.shutdown()
    srv.server_close()


def _post(server, body: bytes, content_type: str) -> tuple[int, bytes]:
    _, conn = server
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
        return response.status, data
    except (http.client.HTTPException, ConnectionError):
        conn.close()
        raise


@settings(max_examples=1200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(body=bodies, content_type=content_types)
def test_invocations_never_fails_with_5xx(server, body, content_type):
    status, data = _post(server, body, content_type)
    assert status < 500, data
    doc = json.loads(data)
    if status == 200:
        assert set(doc) == {"predictions"}
    else:
        assert 400 <= status < 500
        assert set(doc) == {"error_code", "message"} and isinstance(doc["message"], str)
        assert "ECHO_MARKER" not in doc["message"] and "Traceback" not in doc["message"]


def test_server_still_healthy_after_fuzz(server):
    srv, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200
