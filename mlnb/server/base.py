"""The base handler of mlnb's REST API: one JSON error shape, one error-to-status map, paging.

Every handler method carries ``@web.authenticated`` (outermost) and ``@authorized``; writes call
:meth:`MlnbHandler.json_body` (or :meth:`MlnbHandler.require_json`), which refuses any body that
is not ``application/json`` with 415 (a ``text/plain`` POST needs no CORS preflight, the
CVE-2023-43472 pattern). Jupyter Server itself checks the XSRF token on cookie-authenticated writes.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable
from http.client import responses
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from mlnb.errors import MlnbError, UnsafeStoreError
from mlnb.store import open_store
from mlnb.tracking.client import MlnbClient

API_VERSION = 1
DEFAULT_PAGE = 50
MAX_PAGE = 500
# No integer query argument may exceed this (SQLite's integers are 64-bit; a page offset past a
# billion rows is a mistake, not a request): larger values are a 400, not an OverflowError.
MAX_INT_ARG = 1_000_000_000
_INTEGER = re.compile(r"([+-]?)([0-9]+)", re.ASCII)

T = TypeVar("T")

# Domain error codes -> HTTP status: the one place where this mapping lives.
STATUS_BY_ERROR_CODE = {
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "RESOURCE_ALREADY_EXISTS": 409,
    "INVALID_STATE": 409,
    "ABORTED": 409,
    "PERMISSION_DENIED": 403,
}
# HTTP status -> error code, for errors raised as HTTP errors (auth, content type, bad routes).
ERROR_CODE_BY_STATUS = {
    400: "INVALID_PARAMETER_VALUE",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "METHOD_NOT_ALLOWED",
    409: "INVALID_STATE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def status_for(error: MlnbError) -> int:
    """The HTTP status of a domain error (500 for anything not in the map).

    :param error: the domain error.
    """
    return STATUS_BY_ERROR_CODE.get(error.error_code, 500)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by strings, so ``allow_nan=False`` can encode it.

    :param value: JSON-ready data.
    """
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def finite_floats(values: list[float]) -> list[float | str]:
    """Metric values ready for strict JSON: the list itself when every value is finite (the
    common case, one pass in C), else NaN and infinities as :func:`json_safe` spells them.

    :param values: the values.
    """
    if all(map(math.isfinite, values)):
        return values  # type: ignore[return-value]  # a list of floats is a list of float | str
    return [json_safe(v) for v in values]


def dump(payload: Any) -> str:
    """Strict JSON (no NaN tokens); user strings are escaped as JSON, never as HTML.

    :param payload: JSON-ready data.
    """
    return json.dumps(json_safe(payload), allow_nan=False, separators=(",", ":"))


class MlnbHandler(APIHandler):
    """Base of every mlnb REST handler (authenticated JSON API under ``/mlnb/api/``)."""

    auth_resource = "mlnb"

    @property
    def store_uri(self) -> str:
        """The URI of the server's store."""
        refused = self.settings.get("mlnb_store_error")
        if refused:  # the store found from the root folder is another user's (location.py)
            raise UnsafeStoreError(refused)
        return str(self.settings["mlnb_store_uri"])

    def client(self) -> Any:
        """The :class:`mlnb.MlnbClient` of the server's store (cached per process)."""
        return MlnbClient(self.store_uri)

    def store(self) -> Any:
        """The server's store (opened once per process)."""
        return open_store(self.store_uri)

    async def require_writable(self) -> None:
        """Refuse a write (403, with the reason and what to do) when the server's user may only
        read the store (a PostgreSQL reader role), before anything is attempted."""
        store = self.store()
        await self.blocking(store.require_writable)

    def user_name(self) -> str:
        """Who the logged-in Jupyter user is, for the registry history (``User.username``)."""
        user = self.current_user
        name = getattr(user, "username", None) or getattr(user, "name", None)
        return str(name) if name else ""

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call off the event loop: a busy writer must not freeze the server.

        :param fn: the store call.
        :param args: its arguments.
        """
        return await asyncio.to_thread(fn, *args)

    def send_json(self, payload: Any, status: int = 200, *, finite: bool = False) -> None:
        """Answer with ``payload`` as strict JSON.

        :param payload: JSON-ready data.
        :param status: the HTTP status.
        :param finite: the payload holds no NaN or infinity already (:func:`finite_floats`), so
            it is encoded without a walk over every value (large metric columns).
        """
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(payload, allow_nan=False, separators=(",", ":")) if finite
                    else dump(payload))

    # --- request parsing ------------------------------------------------------------------------

    def require_json(self) -> None:
        """Refuse a write whose Content-Type is not application/json (415)."""
        ctype = self.request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise web.HTTPError(415, "Writes must be sent as Content-Type: application/json.")

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object body (415 without a JSON content type, 400 when it is not an
        object).
        """
        self.require_json()
        raw = self.request.body or b"{}"
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPError(400, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return body

    def int_arg(self, name: str, default: int, low: int, high: int | None = None) -> int:
        """An integer query argument: below ``low`` or above :data:`MAX_INT_ARG` is a 400;
        above ``high`` it is lowered to ``high`` (a page size asked too big gets the biggest).

        :param name: the query argument.
        :param default: its value when absent or empty.
        :param low: the smallest allowed.
        :param high: the largest value used; larger ones are lowered to it.
        """
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        digits = _INTEGER.fullmatch(raw.strip())
        if digits is None:
            raise web.HTTPError(400, f"{name} must be an integer, not {raw[:40]!r}.")
        sign, significant = digits.group(1), digits.group(2).lstrip("0") or "0"
        if len(significant) > 18:  # past any bound (and int() refuses 4300+ digits): no conversion
            bound = f"at least {low}" if sign == "-" else f"at most {MAX_INT_ARG}"
            raise web.HTTPError(400, f"{name} must be {bound}.")
        value = int(sign + significant)
        if value < low:
            raise web.HTTPError(400, f"{name} must be at least {low}.")
        if value > MAX_INT_ARG:
            raise web.HTTPError(400, f"{name} must be at most {MAX_INT_ARG}.")
        return value if high is None else min(value, high)

    def bool_arg(self, name: str) -> bool:
        """A yes/no query argument: ``1``/``true`` or ``0``/``false`` (absent or empty: no);
        anything else is a 400 that names it.

        :param name: the query argument.
        """
        raw = (self.get_query_argument(name, None) or "").strip().lower()
        if raw in ("", "0", "false"):
            return False
        if raw in ("1", "true"):
            return True
        raise web.HTTPError(400, f"{name} must be 1 or 0 (true or false), not {raw[:40]!r}.")

    def page(self) -> tuple[int, int]:
        """``(limit, offset)`` from the query: limit defaults to 50 and is capped at 500."""
        return self.int_arg("limit", DEFAULT_PAGE, 1, MAX_PAGE), self.int_arg("offset", 0, 0)

    # --- errors: one JSON shape ----------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """``{"error_code", "message", "reason"}``; never a traceback."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, MlnbError):
            status_code = status_for(error)
            self.set_status(status_code)
            body = {"error_code": error.error_code, "message": error.message}
        elif isinstance(error, web.HTTPError):
            body = {"error_code": ERROR_CODE_BY_STATUS.get(status_code, "INTERNAL_ERROR"),
                    "message": error.log_message or responses.get(status_code, "Error")}
        else:
            body = {"error_code": "INTERNAL_ERROR",
                    "message": "Internal error in the mlnb server extension; see the server log."}
        body["reason"] = responses.get(status_code, "Error")
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(dump(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log a user mistake as one line, any other error with its traceback."""
        # A user mistake (bad filter, unknown run) is not a server fault: one line, no traceback.
        if isinstance(value, MlnbError) and status_for(value) < 500:
            self.log.info("mlnb: %s %s -> %s", self.request.method, self.request.path, value.error_code)
            return
        super().log_exception(typ, value, tb)


class NotFoundHandler(MlnbHandler):
    """The last route: any other ``/mlnb/api/...`` path is a JSON 404 (not Jupyter's HTML page)."""

    def not_found(self, path: str) -> None:
        """Answer a JSON 404 naming the unknown route.

        :param path: the path under ``/mlnb/api/``.
        """
        raise web.HTTPError(404, f"No mlnb API route {self.request.method} /mlnb/api/{path[:200]}; "
                                 "see mlnb.server.ROUTES for the API.")

    @web.authenticated
    @authorized
    def get(self, path: str) -> None:
        """A JSON 404."""
        self.not_found(path)

    @web.authenticated
    @authorized
    def head(self, path: str) -> None:
        """A JSON 404."""
        self.not_found(path)

    @web.authenticated
    @authorized
    def post(self, path: str) -> None:
        """A JSON 404."""
        self.not_found(path)

    @web.authenticated
    @authorized
    def put(self, path: str) -> None:
        """A JSON 404."""
        self.not_found(path)

    @web.authenticated
    @authorized
    def patch(self, path: str) -> None:
        """A JSON 404."""
        self.not_found(path)

    @web.authenticated
    @authorized
    def delete(self, path: str) -> None:
        """A JSON 404."""
        self.not_found(path)
