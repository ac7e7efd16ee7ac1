"""``mlnb server``'s process: MLflow's REST API over a store, as a standalone tornado server.

For machines with no Jupyter server: the same :mod:`mlnb.mlflow_server` layer as the extension's
``/mlnb/mlflow/``. Safe by default: it listens on loopback; every request must carry the token
(``Authorization: Bearer <token>``, MLflow's ``MLFLOW_TRACKING_TOKEN``, or HTTP Basic with the
token as password); a non-loopback address is refused without a token; and on loopback the
``Host`` header must name loopback (a DNS-rebinding page cannot reach it by another name).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import logging
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornado import httpserver, netutil, web

from mlnb.mlflow_server import ApiRequest, ApiResponse, Context, handle
from mlnb.mlflow_server.protocol import (
    ApiError,
    dump,
    error_response,
    response_body,
    response_headers,
)
from mlnb.store import Store

MAX_BODY_BYTES = 1024**3  # one artifact upload is one request (no multipart): 1 GiB at most
LOOPBACK_NAMES = ("localhost",)
log = logging.getLogger("mlnb.server.standalone")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is this machine's loopback.

    :param host: a host name or IP address, IPv6 with or without brackets.
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``).

    :param header: the header's value.
    """
    text = header.strip()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def check_options(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token.

    :param host: the address to listen on.
    :param token: the token, or None for none.
    :raises ValueError: for a non-loopback address without a token.
    """
    if not token and not is_loopback(host):
        raise ValueError(f"refusing to serve the store on {host} without a token: anyone who can "
                         "reach that address could read and change it. Give --token (or drop "
                         "--no-token), or listen on 127.0.0.1.")


def presented_token(authorization: str) -> str | None:
    """The token an ``Authorization`` header carries: ``Bearer``/``token`` schemes, or HTTP Basic
    with the token as the password (``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``).

    :param authorization: the header's value.
    """
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme in ("bearer", "token"):
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


@dataclass(frozen=True)
class ServerSettings:
    """What the standalone server serves and how it checks requests.

    :param store: the store.
    :param token: the required token, or None (loopback only).
    :param loopback: whether it listens on loopback (then ``Host`` must name loopback).
    """

    store: Store
    token: str | None
    loopback: bool


class StandaloneHandler(web.RequestHandler):
    """Every path: authenticate, check ``Host``, then answer through :mod:`mlnb.mlflow_server`."""

    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def initialize(self, settings: ServerSettings) -> None:
        """Tornado's per-request setup.

        :param settings: the server's settings.
        """
        self.mlnb = settings

    def refuse(self, status: int, code: str, message: str) -> None:
        """Answer an error as MLflow's JSON and stop.

        :param status: the HTTP status.
        :param code: MLflow's error code.
        :param message: what is wrong.
        """
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(dump({"error_code": code, "message": message}))

    def prepare(self) -> None:
        """Check ``Host`` (on loopback) and the token before any handler runs."""
        if self.mlnb.loopback and not is_loopback(host_of(self.request.host or "")):
            self.refuse(403, "PERMISSION_DENIED", "This mlnb server answers only requests to a "
                        "loopback name (127.0.0.1, localhost, [::1]) in the Host header.")
            return
        if self.mlnb.token is None:
            return
        given = presented_token(self.request.headers.get("Authorization", ""))
        if given is None:
            self.refuse(401, "UNAUTHENTICATED", "This mlnb server needs its token: set "
                        "MLFLOW_TRACKING_TOKEN to the token `mlnb server` printed.")
        elif not hmac.compare_digest(given.encode(), self.mlnb.token.encode()):
            self.refuse(403, "PERMISSION_DENIED", "Wrong token for this mlnb server.")

    async def answer(self, path: str) -> None:
        """Answer through the MLflow API layer, off the event loop.

        :param path: the request's path without its leading ``/``.
        """
        request = self.request
        api_request = ApiRequest.from_http(request.method or "GET", path, request.query_arguments,
                                           request.body or b"", request.headers.get("Content-Type", ""))
        answer = await asyncio.to_thread(handle, Context(self.mlnb.store), api_request)
        self.set_status(answer.status)
        for name, value in response_headers(answer).items():
            self.set_header(name, value)
        chunks = response_body(answer)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            self.write(chunk)
            await self.flush()
        self.finish()

    async def get(self, path: str) -> None:
        """Any GET endpoint. :param path: the path."""
        await self.answer(path)

    async def post(self, path: str) -> None:
        """Any POST endpoint. :param path: the path."""
        await self.answer(path)

    async def put(self, path: str) -> None:
        """Artifact uploads. :param path: the path."""
        await self.answer(path)

    async def patch(self, path: str) -> None:
        """Any PATCH endpoint. :param path: the path."""
        await self.answer(path)

    async def delete(self, path: str) -> None:
        """Any DELETE endpoint. :param path: the path."""
        await self.answer(path)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as MLflow's JSON, never a traceback or an HTML page.

        :param status_code: the HTTP status.
        :param kwargs: tornado's ``exc_info``.
        """
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ApiError):
            answer: ApiResponse = error_response(error)
        elif isinstance(error, web.HTTPError) and status_code < 500:
            answer = ApiResponse(status_code, {"error_code": "BAD_REQUEST",
                                               "message": error.log_message or self._reason})
        else:
            answer = ApiResponse(500, {"error_code": "INTERNAL_ERROR",
                                       "message": "Internal error in mlnb server; see its log."})
        self.set_status(answer.status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(dump(answer.payload))


def _print(text: str) -> None:
    print(text, flush=True)


def make_app(settings: ServerSettings) -> web.Application:
    """The tornado application: one handler for every path.

    :param settings: what to serve and how to check requests.
    """
    return web.Application([(r"/(.*)", StandaloneHandler, {"settings": settings})],
                           xsrf_cookies=False, autoreload=False, compress_response=True)


def serve(store: Store, host: str, port: int, token: str | None,
          announce: Callable[[str], None] | None = None) -> None:
    """Listen on ``host:port`` and answer MLflow clients until SIGINT or SIGTERM.

    :param store: the store to serve.
    :param host: the address to listen on (loopback by default in the command).
    :param port: the port (0: any free one, announced).
    :param token: the required token, or None (loopback only).
    :param announce: where the ready line goes (the URL and what to export).
    :raises ValueError: for a non-loopback address without a token.
    :raises OSError: when the address cannot be bound (port in use).
    """
    check_options(host, token)
    app = make_app(ServerSettings(store, token, is_loopback(host)))

    async def main() -> None:
        server = httpserver.HTTPServer(app, max_body_size=MAX_BODY_BYTES, idle_connection_timeout=60)
        sockets = netutil.bind_sockets(port, address=host)
        server.add_sockets(sockets)
        bound = sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        lines = [f"mlnb server: MLflow REST API for store {store.location.display}",
                 f"export MLFLOW_TRACKING_URI=http://{shown}:{bound}"]
        if token:
            lines.append(f"export MLFLOW_TRACKING_TOKEN={token}")
        (announce or _print)("\n".join(lines))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()

    asyncio.run(main())
