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


# --- bounded request width ---------------------------------------------------------------------

WIDE = 1_000_000  # one row of a million columns: ~10 MB, once 47 s and 2.3 GB of parsing


def _wide_csv() -> bytes:
    header = ",".join(f"c{i}" for i in range(WIDE))
    return (header + "\n" + ",".join(["1"] * WIDE) + "\n").encode()


def _wide_json() -> bytes:
    return json.dumps({"dataframe_split": {"columns": [f"c{i}" for i in range(WIDE)],
                                           "data": [[1] * WIDE]}}).encode()


def _post_body(server, body: bytes, content_type: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    try:
        conn.request("POST", "/invocations", body, {"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture
def unsigned(tmp_path):
    """A model saved without a signature: the server's own column limit applies."""
    from test_models_data import regressor

    model, _ = regressor()
    folder = tmp_path / "unsigned"
    mlnb.sklearn.save_model(model, folder)
    server = make_server(str(folder), "127.0.0.1", 0)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


def test_a_million_columns_are_refused_by_the_signature(served):
    limit = 3 + 32  # the pipeline's x1, x2, color, and the extra columns tolerated
    assert served.metadata()["limits"]["max_columns"] == limit
    status, body = _post_body(served, _wide_csv(), "text/csv")
    assert (status, body) == (413, {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": (
        f"The input has {WIDE} columns; at most {limit} are accepted (the model's signature has 3 "
        "input columns, and up to 32 extra ones are dropped). Send only the model's input columns.")})
    status, body = _post_body(served, _wide_json(), "application/json")
    assert (status, body["error_code"]) == (413, "REQUEST_LIMIT_EXCEEDED")
    assert body["message"] == "The input has more than 1000000 values (rows x columns); split the batch."
    # Just past the bound, parsed: the exact column count is named.
    columns = ["x1", "x2", "color"] + [f"extra{i}" for i in range(33)]
    doc = {"dataframe_split": {"columns": columns, "data": [[1.0, 2.0, "red"] + [0] * 33]}}
    status, body = _post_body(served, json.dumps(doc).encode(), "application/json")
    assert (status, body["message"][:36]) == (413, f"The input has {limit + 1} columns; at most {limit}")
    doc["dataframe_split"] = {"columns": columns[:-1], "data": [[1.0, 2.0, "red"] + [0] * 32]}
    assert _post_body(served, json.dumps(doc).encode(), "application/json")[0] == 200
    # Commas inside strings (escaped quotes too) are not values: a long text is one cell.
    text = '\\", ,,' * 350_000  # more commas than the bound on values
    doc = {"dataframe_records": [{"x1": 1.0, "x2": 2.0, "color": text}]}
    assert _post_body(served, json.dumps(doc).encode(), "application/json")[0] == 200
    assert _ping(served) == 200


def test_a_million_columns_are_refused_without_a_signature(unsigned):
    assert unsigned.metadata()["limits"]["max_columns"] == 1000
    status, body = _post_body(unsigned, _wide_csv(), "text/csv")
    assert (status, body["error_code"]) == (413, "REQUEST_LIMIT_EXCEEDED")
    assert body["message"] == (f"The input has {WIDE} columns; at most 1000 are accepted (the server's "
                               "limit). Send only the model's input columns.")
    status, body = _post_body(unsigned, _wide_json(), "application/json")
    assert (status, body["error_code"]) == (413, "REQUEST_LIMIT_EXCEEDED")
    # Rows of records with a new key each would make a column per row: the union is counted.
    records = [{f"k{i}": 1.0} for i in range(1001)]
    body_bytes = json.dumps({"dataframe_records": records}).encode()
    status, body = _post_body(unsigned, body_bytes, "application/json")
    assert (status, body["message"][:48]) == (413, "The input has 1001 columns; at most 1000 are acc")
    # A quoted header name holding commas counts as one column.
    header = '"a,' + "," * 2000 + '",b'
    status, body = _post_body(unsigned, (header + "\n1,2\n").encode(), "text/csv")
    assert status == 200, body  # two columns, as the model takes
    assert _ping(unsigned) == 200


# --- strict request framing --------------------------------------------------------------------

_JSON_BODY = json.dumps({"dataframe_records": [{"x1": 1.0, "x2": 2.0, "color": "red"}]}).encode()
_SMUGGLED = b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _answers(response: bytes) -> list[int]:
    """The status of every response on the connection (a smuggled request would add one)."""
    return [int(line.split(b" ")[1]) for line in response.split(b"\r\n") if line.startswith(b"HTTP/1.")]


def _post_raw(server, headers: bytes, body: bytes = _JSON_BODY) -> bytes:
    return _raw(server, b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\n" + headers + b"\r\n" + body)


@pytest.mark.parametrize("length", [
    "²".encode(), b"\xb2", "٣".encode(), b"+5", b"-1", b"5,5", b"0x10", b"5 5", b"1e3", b"",
])
def test_content_length_of_anything_but_ascii_digits_is_400(served, length):
    response = _post_raw(served, b"Content-Length: " + length + b"\r\n")
    status, body = _split(response)
    assert (status, body) == (400, {"error_code": "BAD_REQUEST",
                                    "message": "Content-Length must be one whole number of ASCII digits."})
    assert _ping(served) == 200


def test_two_content_lengths_are_refused_and_nothing_is_smuggled(served):
    body = _JSON_BODY + _SMUGGLED
    for first, second in ((len(_JSON_BODY), len(body)), (len(body), len(_JSON_BODY)),
                          (len(_JSON_BODY), len(_JSON_BODY))):
        response = _post_raw(served, b"Content-Length: %d\r\nContent-Length: %d\r\n" % (first, second),
                             body)
        assert _answers(response) == [400], response
        assert _split(response)[1]["message"] == (
            "The request has more than one Content-Length header; send exactly one.")
    assert _ping(served) == 200


@pytest.mark.parametrize("encoding", [b"chunked", b"gzip", b"gzip, chunked", b"identity"])
def test_transfer_encoding_is_refused_with_or_without_a_length(served, encoding):
    body = _JSON_BODY + _SMUGGLED
    for length in (b"", b"Content-Length: %d\r\n" % len(_JSON_BODY)):
        response = _post_raw(served, b"Transfer-Encoding: " + encoding + b"\r\n" + length, body)
        assert _answers(response) == [411], response
        assert "Transfer-Encoding" in _split(response)[1]["message"]


def test_a_get_with_a_body_is_refused_not_read_as_the_next_request(served):
    response = _raw(served, b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                    % len(_SMUGGLED) + _SMUGGLED)
    assert _answers(response) == [400], response
    assert _split(response)[1]["message"] == "A GET request has no body; send it without one."


def test_malformed_header_names_and_huge_lengths(served):
    for bad in (b"Content-Length : %d\r\n" % len(_JSON_BODY),
                b"Content-Length: %d\r\nX-Folded: a\r\n b\r\n" % len(_JSON_BODY)):
        response = _post_raw(served, bad)
        assert _answers(response) == [400], response
        assert _split(response)[1]["message"].startswith("A header line is malformed")
    status, body = _split(_post_raw(served, b"Content-Length: " + b"9" * 5000 + b"\r\n"))
    assert (status, body["error_code"]) == (413, "REQUEST_LIMIT_EXCEEDED")
    status, _ = _split(_post_raw(served, b"Content-Length: \t%d \r\nConnection: close\r\n"
                                 % len(_JSON_BODY)))
    assert status == 200  # blanks around the digits are allowed
    assert _ping(served) == 200


def test_a_data_row_wider_than_its_header_is_refused_before_parsing(served):
    """A 3-column header over one row of 300,000 fields: pandas would parse every extra field as
    an index level (tens of seconds, gigabytes) and then answer on garbage."""
    wide_row = b"x1,x2,color\n" + b"1," * 300_000 + b"red\n"
    status, body = _post_body(served, wide_row, "text/csv")
    assert (status, body) == (400, {"error_code": "BAD_REQUEST", "message": (
        "Line 2 of the CSV body has 300001 fields; its header has 3. Send one value per header "
        "column.")})
    # A quoted text holding commas is one field, not a wide row.
    assert _post_body(served, b'x1,x2,color\n1.0,2.0,"red, ' + b"," * 50 + b'"\n', "text/csv")[0] == 200
    assert _ping(served) == 200
