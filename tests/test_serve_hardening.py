"""The scoring server against hostile clients: duplicate Host headers, malformed request lines,
slow (drip-feeding) clients, connection floods, and missing values in required columns."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from test_models_data import classifier, pipeline

import mlnb
from mlnb.models.serve import make_server, serve_in_thread


@pytest.fixture
def served(tmp_path):
    model, X = pipeline()
    folder = tmp_path / "model"
    mlnb.sklearn.save_model(model, folder, input_example=X[:5])
    server = make_server(str(folder), "127.0.0.1", 0, request_timeout=1.5, max_connections=3)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


def _raw(server, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(server.server_address[:2], timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _split(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def _ping(server) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status
    finally:
        conn.close()


def test_two_host_headers_are_refused(served):
    for hosts in ((b"127.0.0.1", b"evil.example"), (b"127.0.0.1", b"127.0.0.1")):
        request = (b"GET /ping HTTP/1.1\r\nHost: " + hosts[0] + b"\r\nHost: " + hosts[1]
                   + b"\r\nConnection: close\r\n\r\n")
        status, body = _split(_raw(served, request))
        assert status in (400, 403)
        assert "Host" in body["message"] and body["error_code"] in ("BAD_REQUEST", "PERMISSION_DENIED")


@pytest.mark.parametrize("request_line", [
    b"\x00\x01\x02ECHO_MARKER / HTTP/1.1", b"GET /ping HTTP/9.ECHO_MARKER", b"GET /ping ECHO_MARKER",
    b"ECHO_MARKER",
])
def test_malformed_request_lines_are_not_echoed(served, request_line):
    response = _raw(served, request_line + b"\r\nHost: 127.0.0.1\r\n\r\n")
    assert b"ECHO_MARKER" not in response and b"\x00\x01\x02" not in response
    status, body = _split(response)
    assert 400 <= status < 500 and set(body) == {"error_code", "message"}
    assert _ping(served) == 200


def test_slow_client_is_dropped_at_the_request_deadline(served):
    started = time.monotonic()
    with socket.create_connection(served.server_address[:2], timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ")
        dropped = None
        while time.monotonic() - started < 8:
            try:
                sock.sendall(b"a")  # one byte every 0.3 s: each well inside a per-read timeout
            except (BrokenPipeError, ConnectionResetError):
                dropped = time.monotonic() - started
                break
            sock.settimeout(0.3)
            try:
                if sock.recv(4096) == b"":
                    dropped = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                dropped = time.monotonic() - started
                break
    assert dropped is not None, "the server kept a drip-feeding client past its 1.5 s deadline"
    assert dropped < 4.5
    assert _ping(served) == 200


def test_connections_beyond_the_cap_get_a_quick_503(served):
    idle = [socket.create_connection(served.server_address[:2], timeout=5) for _ in range(3)]
    try:
        time.sleep(0.2)  # let the server accept them and start their threads
        started = time.monotonic()
        status, body = _split(_raw(served, b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        assert (status, body["error_code"]) == (503, "TEMPORARILY_UNAVAILABLE")
        assert time.monotonic() - started < 1.0
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 5
    while _ping(served) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ping(served) == 200


def _post(server, body: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_missing_value_in_a_required_column_is_a_400_naming_it(served, tmp_path):
    for body in (b'{"dataframe_split": {"columns": ["x1", "x2", "color"], "data": [[NaN, 1.0, "red"]]}}',
                 b'{"dataframe_records": [{"x1": null, "x2": 1.0, "color": "red"}]}'):
        status, doc = _post(served, body)
        assert status == 400 and "'x1'" in doc["message"] and "missing" in doc["message"]
    from sklearn.ensemble import HistGradientBoostingClassifier

    _, X = classifier()  # numeric columns only, served by the fast path; this model accepts NaN
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, (X.x1 > 0).astype(int))
    mlnb.sklearn.save_model(model, tmp_path / "numeric", input_example=X[:5],
                            serialization_format="pickle")
    numeric = make_server(str(tmp_path / "numeric"), "127.0.0.1", 0, trusted=True)
    assert numeric.fast_predict is not None
    serve_in_thread(numeric)
    try:
        for body in (b'{"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, NaN]]}}',
                     b'{"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, null]]}}'):
            status, doc = _post(numeric, body)
            assert status == 400 and "'x2'" in doc["message"] and "missing" in doc["message"]
        assert _post(numeric, b'{"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, 1]]}}')[0] == 200
    finally:
        numeric.shutdown()
        numeric.server_close()
