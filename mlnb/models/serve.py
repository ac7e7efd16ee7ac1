"""``mlnb serve``: a small HTTP scoring server on the standard library (no web framework).

Endpoints: ``POST /invocations`` (MLflow's JSON bodies ``dataframe_split``, ``dataframe_records``,
``instances``, ``inputs``, or ``text/csv``) and ``GET /ping``, ``/health``, ``/version``,
``/metadata``. It binds 127.0.0.1 unless told otherwise and answers only requests whose ``Host``
is a loopback name or one it was told to allow (a DNS-rebinding page in a browser cannot reach
it). Every client mistake gets a 4xx JSON ``{"error_code", "message"}``: 400 for a bad body or a
signature mismatch, 413 for too large a body or too many rows, columns or values (the
bounds are in ``GET /metadata``), 415 for another content type or charset. No
message quotes the request's content, and no traceback is ever sent.

A request's line, headers and body must all arrive within ``request_timeout`` seconds (a client
dripping one byte at a time is dropped), and at most ``max_connections`` connections are served
at once; more are answered 503 at once, so a flood cannot spawn unbounded threads.

Framing is strict: one ``Content-Length`` of ASCII digits, no ``Transfer-Encoding``, well-formed
header lines, no body on GET; anything else is refused and the connection closed, so no request
can hide inside another. (tornado, which jupyter-server brings along, was measured as the
alternative: on the serving benchmark's client loop it answered 320-880 requests/s against
950-1680 for this server, so this server stays, with its framing checked here.)
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlnb._version import __version__
from mlnb.errors import MlnbError
from mlnb.models.fastpath import numeric_predictor
from mlnb.models.predlog import PredictionLog, check_sample_rate, request_id, retention
from mlnb.models.pyfunc import PyFuncModel, load_model
from mlnb.models.scoring import (
    MAX_BODY_BYTES,
    RequestError,
    bad_request,
    check_json_size,
    input_limits,
    parse_body,
    parse_content_type,
    predictions_json,
)
from mlnb.models.signature import to_frame

REQUEST_TIMEOUT_S = 30.0  # the whole request (line, headers, body) must arrive within this
MAX_CONNECTIONS = 64  # connections served at once; more get a quick 503
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Content-Length is ASCII digits only (RFC 9110 8.6), with optional blanks around them; str.isdigit
# and int() also take '²' or '٣', which a proxy in front would read differently (or crash on).
_CONTENT_LENGTH = re.compile(r"[ \t]*([0-9]{1,15})[ \t]*")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 5.1)


# --- the HTTP handler ------------------------------------------------------------------------


def host_name(header: str | None) -> str:
    """The host part of a ``Host`` header (``[::1]:5000`` -> ``::1``), lower-cased.

    :param header: the header's value, or None.
    """
    text = (header or "").strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class ScoringHandler(BaseHTTPRequestHandler):
    """One request. The server object carries the model and the settings."""

    server: ScoringServer
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S  # a client that stops sending mid-request is dropped
    # Headers and body leave in one buffered write (flushed after each request) with no Nagle
    # delay: written apart, they meet the client's delayed ACK and cost 40 ms per request.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server_version = "mlnb-serve"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Log a request line to stderr, only in verbose mode."""
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer http.server's own errors as mlnb's JSON error, quoting nothing of the request."""
        # http.server's own errors (bad request line, unknown method, huge headers) as our JSON.
        # Its messages quote the request ("Bad request version ('...')"); ours never do.
        if code == 501:
            code = 405
        if self.request_version == "HTTP/0.9" or not self.request_version:
            # A request line that did not parse leaves http.server in HTTP/0.9 mode, which sends
            # a bare body with no status line; answer in HTTP/1.1 with the JSON error instead.
            self.request_version = "HTTP/1.1"
        self.close_connection = True
        error_code = _SERVER_ERROR_CODES.get(code, "BAD_REQUEST" if code < 500 else "INTERNAL_ERROR")
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Bad request"
        self._reply(code, {"error_code": error_code, "message": f"{phrase}."})

    def setup(self) -> None:
        """Read the request through a deadline, so a slow client cannot hold the thread."""
        super().setup()
        # Every read of the request goes through a deadline: each recv may wait only for what
        # is left of the request's time, so dripping bytes cannot hold this thread.
        self._deadline = time.monotonic() + self.server.request_timeout
        self.rfile = io.BufferedReader(_DeadlineSocketReader(self.connection, self), 1 << 16)

    def handle_one_request(self) -> None:
        """Handle one request of the connection, with a fresh deadline."""
        self._deadline = time.monotonic() + self.server.request_timeout
        super().handle_one_request()

    def remaining_time(self) -> float:
        """Seconds left before this request's deadline."""
        return self._deadline - time.monotonic()

    def _reply(self, status: int, payload: dict[str, Any] | None = None, body: bytes | None = None,
               request_id: str | None = None) -> None:
        data = body if body is not None else json.dumps(payload, allow_nan=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if request_id is not None:  # the id its predictions were logged under, for ground truth
            self.send_header("X-Request-Id", request_id)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _fail(self, error: RequestError) -> None:
        self._reply(error.status, {"error_code": error.error_code, "message": error.message})

    def _check_host(self) -> None:
        if len(self.headers.get_all("Host") or []) > 1:
            # Proxies and this server could each read a different one: refuse the ambiguity.
            self.close_connection = True
            raise bad_request("The request has more than one Host header; send exactly one.")
        if host_name(self.headers.get("Host")) not in self.server.allowed_hosts:
            self.close_connection = True
            raise RequestError(403, "PERMISSION_DENIED",
                               "Invalid Host header - possible DNS rebinding attack detected.")

    def _check_framing(self) -> int:
        """The body's length, from exactly one all-digit ``Content-Length`` (0 without one).

        Anything two HTTP parsers could read differently is a 400 that closes the connection
        (RFC 9112 6.3): a request could otherwise hide in the body of another, or the bytes
        after a misread body be taken for the next request.
        """
        # The email parser behind http.server ends the headers at a line it cannot read (such
        # as "Content-Length : 5") and keeps folded lines: a proxy may read either otherwise.
        if (self.headers.defects or self.headers.get_payload()
                or any(_TOKEN.fullmatch(name) is None for name in self.headers.keys())
                or any("\n" in value or "\r" in value for value in self.headers.values())):
            self.close_connection = True
            raise bad_request("A header line is malformed (a header name with spaces or other "
                              "characters a name cannot hold, or a folded line).")
        if self.headers.get_all("Transfer-Encoding"):
            self.close_connection = True
            raise RequestError(411, "LENGTH_REQUIRED",
                               "Transfer-Encoding (such as chunked) is not supported; send the "
                               "body with one Content-Length header.")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return 0
        if len(lengths) > 1:
            self.close_connection = True
            raise bad_request("The request has more than one Content-Length header; send exactly one.")
        match = _CONTENT_LENGTH.fullmatch(lengths[0])
        if match is None:
            self.close_connection = True
            if re.fullmatch(r"[ \t]*[0-9]+[ \t]*", lengths[0]):
                raise RequestError(413, "REQUEST_LIMIT_EXCEEDED",
                                   f"The body is larger than {self.server.max_body_bytes} bytes.")
            raise bad_request("Content-Length must be one whole number of ASCII digits.")
        return int(match.group(1))

    def do_GET(self) -> None:
        """Answer ``/ping``, ``/health``, ``/version`` and ``/metadata``."""
        try:
            if self._check_framing():
                self.close_connection = True
                raise bad_request(f"A {self.command} request has no body; send it without one.")
            self._check_host()
            path = self.path.split("?", 1)[0]
            routes = {"/ping": self.server.health, "/health": self.server.health,
                      "/version": self.server.version, "/metadata": self.server.metadata}
            route = routes.get(path)
            if route is None:
                raise RequestError(404, "ENDPOINT_NOT_FOUND", "No such endpoint.")
            self._reply(200, route())
        except RequestError as error:
            self._fail(error)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        """Score the body of a ``POST /invocations``."""
        started = time.perf_counter()
        try:
            length = self._check_framing()
            self._check_host()
            if self.path.split("?", 1)[0] != "/invocations":
                self.close_connection = True
                raise RequestError(404, "ENDPOINT_NOT_FOUND", "No such endpoint; POST to /invocations.")
            body = self._read_body(length)
            kind = parse_content_type(self.headers.get("Content-Type"))
            data, result = self.server.score(body, kind)
            answer = predictions_json(result)
            rid = None
            if self.server.prediction_log is not None:
                # Queued before the answer leaves: a client that has its answer knows the
                # request is in the log once the server stops cleanly.
                rid = request_id(self.headers.get("X-Request-Id"))
                self.server.prediction_log.add(data, result, time.perf_counter() - started, rid)
            self._reply(200, body=answer, request_id=rid)
        except RequestError as error:
            self._fail(error)

    def _read_body(self, length: int) -> bytes:
        if self.headers.get("Content-Length") is None:
            self.close_connection = True
            raise RequestError(411, "LENGTH_REQUIRED", "Send a Content-Length header.")
        if length > self.server.max_body_bytes:
            self.close_connection = True
            self._discard(length)
            raise RequestError(413, "REQUEST_LIMIT_EXCEEDED",
                               f"The body is larger than {self.server.max_body_bytes} bytes.")
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise bad_request("The body is shorter than its Content-Length.")
        return body

    def _discard(self, length: int) -> None:
        # Read (and drop) a moderately oversized body so the client, still sending, sees the 413
        # instead of a reset connection; a huge one is cut off unread.
        if length > 8 * self.server.max_body_bytes:
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                return
            remaining -= len(chunk)

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._fail(RequestError(405, "METHOD_NOT_ALLOWED", "Method not allowed."))

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed


_SERVER_ERROR_CODES = {405: "METHOD_NOT_ALLOWED", 408: "REQUEST_TIMEOUT", 413: "REQUEST_LIMIT_EXCEEDED",
                       414: "REQUEST_LIMIT_EXCEEDED", 431: "REQUEST_LIMIT_EXCEEDED"}


class _DeadlineSocketReader(io.RawIOBase):
    """A socket's reading side where every ``recv`` waits at most until the request deadline."""

    def __init__(self, sock: socket.socket, handler: ScoringHandler) -> None:
        self._sock = sock
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._handler.remaining_time()
        if left <= 0:
            raise TimeoutError("The request did not arrive within the server's request timeout.")
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        finally:
            # Writing the answer gets a full timeout of its own, not what was left for reading.
            self._sock.settimeout(self._handler.server.request_timeout)


_BUSY_RESPONSE = json.dumps({"error_code": "TEMPORARILY_UNAVAILABLE",
                             "message": "The server is busy; retry shortly."}).encode()


class _FastInput:
    """The input of a fast-path request, decoded again only if predictions are logged."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    @property
    def columns_frame(self) -> Any:
        split = json.loads(self.body)["dataframe_split"]
        return to_frame({c: [r[i] for r in split["data"]] for i, c in enumerate(split["columns"])},
                        split["columns"])

    def row_objects(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}`` for the prediction log, without building a DataFrame
        (which costs the log's writer ~3 ms a request, more than serving it); the values as
        ``columns_frame`` gives them."""
        split = json.loads(self.body)["dataframe_split"]
        columns = [str(c) for c in split["columns"]]
        return [dict(zip(columns, row, strict=True)) for row in split["data"]]


class ScoringServer(ThreadingHTTPServer):
    """A threaded HTTP server holding one loaded model.

    :param model: the loaded model.
    :param model_uri: its URI, reported by ``/version`` and ``/metadata``.
    :param host: the address to bind.
    :param port: the port (0: any free port).
    :param allowed_hosts: ``Host`` header values accepted besides the loopback names and ``host``.
    :param max_body_bytes: the largest request body.
    :param log_predictions: append every request to the store's prediction log (read it with
        ``mlnb.monitor.predictions``) and its latency to a run of the ``mlnb-serving`` experiment.
    :param log_sample_rate: the share of requests logged, in (0, 1]; the rest are counted.
    :param log_max_rows: keep at most this many rows of the model URI's prediction log.
    :param log_max_age_days: remove rows of the model URI's prediction log older than this.
    :param verbose: log requests and prediction failures to stderr.
    :param fast_path: use the array path for numeric scikit-learn models when it is checked safe.
    :param request_timeout: seconds for a whole request to arrive.
    :param max_connections: connections served at once; more get a 503.
    :raises ValueError: when ``request_timeout`` or ``max_connections`` is not positive.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, model: PyFuncModel, model_uri: str, host: str = "127.0.0.1", port: int = 0, *,
                 allowed_hosts: set[str] | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 log_predictions: bool = False, verbose: bool = False, fast_path: bool = True,
                 request_timeout: float = REQUEST_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS,
                 log_sample_rate: float = 1.0, log_max_rows: int | None = None,
                 log_max_age_days: float | None = None) -> None:
        if not request_timeout > 0 or not (isinstance(max_connections, int) and max_connections > 0):
            raise ValueError("request_timeout and max_connections must be positive.")
        self.model = model
        self.model_uri = model_uri
        self.max_body_bytes = max_body_bytes
        self.request_timeout = float(request_timeout)
        self._slots = threading.BoundedSemaphore(max_connections)
        self.verbose = verbose
        allowed = set(LOOPBACK_HOSTS) | {h.lower() for h in (allowed_hosts or set())}
        if host not in ("", "0.0.0.0", "::"):
            allowed.add(host.lower().strip("[]"))
        self.allowed_hosts = frozenset(allowed)
        self.limits = input_limits(model)
        self.fast_predict = numeric_predictor(model) if fast_path else None
        self.prediction_log: PredictionLog | None = None
        keep = retention(log_max_rows, log_max_age_days)  # bad bounds refused before binding
        check_sample_rate(log_sample_rate)
        super().__init__((host, port), ScoringHandler)
        if log_predictions:
            version = model.location.version
            try:
                self.prediction_log = PredictionLog(
                    model_uri, version.name if version else None,
                    str(version.version) if version else None, sample_rate=log_sample_rate,
                    retention=keep)
            except BaseException:
                self.socket.close()
                raise

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve a connection in a thread, or answer 503 when all slots are taken."""
        # Runs in the accepting thread: beyond the cap, answer 503 here instead of starting a thread.
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve a connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        """The server's ``http://host:port`` address."""
        raw, port = self.server_address[:2]
        host = raw.decode() if isinstance(raw, bytes) else str(raw)
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def score(self, body: bytes, kind: str) -> tuple[Any, Any]:
        """``(input, predictions)`` for a request body.

        :param body: the request body.
        :param kind: ``json`` or ``csv``.
        :raises RequestError: for input the model cannot take, or a prediction that fails on it.
        """
        if self.fast_predict is not None and kind == "json":
            check_json_size(body, self.limits)  # before the fast path parses the body
            try:
                result = self.fast_predict(body)
            except Exception:  # the full path below gives the proper error
                result = None
            if result is not None:
                return _FastInput(body), result
        data = parse_body(body, kind, self.model, self.limits)
        try:
            if self.model.get_input_schema() is None and not hasattr(data, "columns"):
                data = to_frame(data, ["0"])
            prepared = self.model.prepare(data)
        except MlnbError as exc:
            raise bad_request(exc.message) from None
        except Exception as exc:  # conversion failures on odd input are the client's to fix
            raise bad_request(
                f"The input cannot be read as the model's input ({type(exc).__name__}).") from None
        try:
            result = self.model.predict_prepared(prepared)
        except Exception as exc:
            # The model was loaded and checked at start-up; what fails now fails on this input.
            if self.verbose:
                sys.stderr.write(f"predict failed: {type(exc).__name__}: {exc}\n")
            raise bad_request(f"The model could not predict on this input ({type(exc).__name__}); check it "
                       "against GET /metadata.") from None
        return prepared, result

    def health(self) -> dict[str, Any]:
        """The ``/ping`` and ``/health`` answer."""
        return {"status": "ok"}

    def version(self) -> dict[str, Any]:
        """The ``/version`` answer: mlnb's version and the model URI."""
        return {"mlnb_version": __version__, "model_uri": self.model_uri}

    def metadata(self) -> dict[str, Any]:
        """The ``/metadata`` answer: the model's run, flavors, signature and registered version."""
        meta = self.model.metadata
        version = self.model.location.version
        return {
            "model_uri": self.model_uri, "run_id": meta.run_id, "model_uuid": meta.model_uuid,
            "utc_time_created": meta.utc_time_created, "flavors": sorted(meta.flavors),
            "signature": meta.signature.to_dict() if meta.signature else None,
            "registered_model": {"name": version.name, "version": version.version,
                                 "stage": version.current_stage} if version else None,
            "limits": {"max_body_bytes": self.max_body_bytes, **self.limits.to_dict()},
        }

    def server_close(self) -> None:
        """Close the socket, then end the prediction log's run."""
        super().server_close()
        if self.prediction_log is not None:
            self.prediction_log.close()


def _refuse_busy(sock: socket.socket) -> None:
    """A 503 JSON answer for a connection over the cap, spending at most ~0.1 s on it."""
    head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(_BUSY_RESPONSE)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    try:
        sock.settimeout(0.1)
        sock.sendall(head.encode() + _BUSY_RESPONSE)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1 << 16)  # drain the request so closing does not reset the connection first
    except OSError:
        pass


def make_server(model_uri: str, host: str = "127.0.0.1", port: int = 0, *, trusted: bool = False,
                **options: Any) -> ScoringServer:
    """Load the model and bind a server (not yet serving; call ``serve_forever``).

    :param model_uri: the model, as for ``mlnb.pyfunc.load_model``.
    :param host: the address to bind.
    :param port: the port (0: any free port).
    :param trusted: load a pickle whose origin cannot be checked.
    :param options: keyword arguments of :class:`ScoringServer`.
    """
    model = load_model(model_uri, trusted=trusted)
    return ScoringServer(model, model_uri, host, port, **options)


def serve_in_thread(server: ScoringServer) -> threading.Thread:
    """Start ``server.serve_forever`` in a daemon thread and return the thread.

    :param server: a bound server.
    """
    thread = threading.Thread(target=server.serve_forever, name="mlnb-serve", daemon=True)
    thread.start()
    return thread
