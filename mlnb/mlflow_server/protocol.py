"""MLflow's wire protocol, framework-neutral: requests, answers, errors, argument parsing.

A request is ``(method, path, query, body)``; an answer is a status and a JSON payload (or a
file to stream). MLflow's clients send a GET's message as query arguments and any other as a
JSON body with proto field names (``rest_utils.call_endpoint``); errors are
``{"error_code", "message"}`` with the status MLflow maps from the code (``mlflow/exceptions.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlnb.errors import MlnbError

# MLflow's error code -> HTTP status (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS), with one
# change: INVALID_STATE (a deleted run or experiment written to) is 400, not 500, since MLflow's
# clients retry every 500 for minutes and a write to a deleted run never starts to succeed.
STATUS_BY_ERROR_CODE: dict[str, int] = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_STATE": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "ABORTED": 409,
    "NOT_IMPLEMENTED": 501,
    "STORE_ERROR": 500,
    "INTERNAL_ERROR": 500,
}

MAX_TOKEN_CHARS = 200


class ApiError(Exception):
    """An error answered as MLflow's ``{"error_code", "message"}`` JSON.

    :param error_code: MLflow's error code (a key of :data:`STATUS_BY_ERROR_CODE`).
    :param message: what is wrong and what to do.
    """

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status of the error."""
        return STATUS_BY_ERROR_CODE.get(self.error_code, 500)


def bad_request(message: str) -> ApiError:
    """An ``INVALID_PARAMETER_VALUE`` error (400).

    :param message: what is wrong.
    """
    return ApiError("INVALID_PARAMETER_VALUE", message)


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, as the edges hand it over.

    :param method: ``GET``, ``POST``, ...
    :param path: the path below the mount point, e.g. ``/api/2.0/mlflow/runs/get``.
    :param query: the query arguments (each a list of values).
    :param body: the raw body.
    :param content_type: the ``Content-Type`` header's media type, lower case.
    """

    method: str
    path: str
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = ""

    @classmethod
    def from_http(cls, method: str, path: str, query: Mapping[str, Sequence[bytes]], body: bytes,
                  content_type: str) -> ApiRequest:
        """A request from an HTTP server's parts (tornado's ``query_arguments`` are bytes).

        :param method: the HTTP method.
        :param path: the path below the mount point, with or without its leading ``/``.
        :param query: the query arguments.
        :param body: the raw body.
        :param content_type: the ``Content-Type`` header as sent.
        """
        decoded = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in query.items()}
        media = content_type.split(";", 1)[0].strip().lower()
        return cls(method, "/" + path.lstrip("/"), decoded, body, media)


@dataclass(frozen=True)
class ApiResponse:
    """An answer: JSON ``payload``, or the bytes of ``file`` (artifact downloads).

    :param status: the HTTP status.
    :param payload: JSON-ready data (unused when ``file`` is set).
    :param file: a local file whose bytes are the answer.
    :param filename: the name a download is saved under.
    :param text: a plain-text answer (``/health``, ``/version``), instead of JSON.
    """

    status: int = 200
    payload: Any = None
    file: Path | None = None
    filename: str = ""
    text: str | None = None


FILE_CHUNK = 256 * 1024


def response_headers(answer: ApiResponse) -> dict[str, str]:
    """The headers of an answer: JSON, or a file as a download that never renders as a page
    (``nosniff``, a sandbox CSP, ``attachment`` with an ASCII-only name).

    :param answer: the answer.
    """
    headers = {"X-Content-Type-Options": "nosniff"}
    if answer.text is not None:
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return headers
    if answer.file is None:
        headers["Content-Type"] = "application/json; charset=UTF-8"
        return headers
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                   for c in answer.filename)[:200]
    headers.update({"Content-Type": "application/octet-stream",
                    "Content-Security-Policy": "sandbox; default-src 'none'",
                    "Content-Disposition": f'attachment; filename="{safe or "artifact"}"'})
    return headers


def response_body(answer: ApiResponse) -> Iterator[bytes]:
    """The bytes of an answer, in chunks (a file is read piece by piece, never whole).

    :param answer: the answer.
    """
    if answer.text is not None:
        yield answer.text.encode()
        return
    if answer.file is None:
        yield dump(answer.payload if answer.payload is not None else {})
        return
    with open(answer.file, "rb") as stream:
        while chunk := stream.read(FILE_CHUNK):
            yield chunk


def error_response(error: ApiError | MlnbError) -> ApiResponse:
    """The JSON answer of an error: ``{"error_code", "message"}`` with MLflow's status.

    :param error: the error.
    """
    code = error.error_code
    return ApiResponse(STATUS_BY_ERROR_CODE.get(code, 500), {"error_code": code, "message": error.message})


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as MLflow's proto JSON writes them (``"NaN"``,
    ``"Infinity"``, ``"-Infinity"``), so that strict JSON can carry them.

    :param value: JSON-ready data.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dump(payload: Any) -> bytes:
    """Strict JSON bytes of ``payload``.

    :param payload: JSON-ready data.
    """
    return json.dumps(json_safe(payload), allow_nan=False, separators=(",", ":")).encode()


# --- paging tokens ---------------------------------------------------------------------------

def encode_token(offset: int) -> str:
    """A page token for ``offset``: base64 of ``{"offset": n}``, as MLflow's stores write it.

    :param offset: rows to skip for the next page.
    """
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    """The offset a page token carries (0 for none).

    :param token: a token from a previous answer's ``next_page_token``.
    :raises ApiError: for a token no answer gave.
    """
    if not token:
        return 0
    problem = bad_request(f"Invalid page token {token[:MAX_TOKEN_CHARS]!r}: pass the "
                          "next_page_token of the previous page unchanged.")
    if len(token) > MAX_TOKEN_CHARS:
        raise problem
    try:
        data = json.loads(base64.b64decode(token.encode(), validate=True))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise problem from None
    offset = data.get("offset") if isinstance(data, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= 10**9:
        raise problem
    return offset


def page_size(max_results: int, store_cap: int) -> int:
    """How many results one answer holds: the client's ``max_results`` (MLflow's limits allow up
    to 200,000 model versions), but at most one less than the store reads at once, since one more
    is read to know whether a next page exists. A shorter page with a ``next_page_token`` is
    MLflow's own paging contract, which every client follows.

    :param max_results: what the client asked for.
    :param store_cap: the store's largest ``max_results``.
    """
    return min(max_results, store_cap - 1)


# --- arguments -------------------------------------------------------------------------------

_NUMBER_WORDS = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf,
                 "inf": math.inf, "-inf": -math.inf}


class Args:
    """The fields of one request message, from a JSON body or a GET's query arguments.

    Each accessor checks the field's type and names the field in its error.

    :param data: the fields; a query argument given once is a string, more often a list.
    :param from_query: whether ``data`` came from a query string (numbers arrive as text).
    """

    def __init__(self, data: Mapping[str, Any], from_query: bool = False) -> None:
        self.data = data
        self.from_query = from_query

    @classmethod
    def of(cls, request: ApiRequest) -> Args:
        """The request's fields: its query for GET and DELETE-with-no-body, else its JSON body.

        :param request: the request.
        :raises ApiError: for a body that is not a JSON object.
        """
        if request.method == "GET" or (request.method == "DELETE" and not request.body.strip()):
            return cls({k: v[0] if len(v) == 1 else list(v) for k, v in request.query.items()}, True)
        raw = request.body.strip() or b"{}"
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"The request body is not valid JSON ({exc}); send a JSON object "
                              "with Content-Type: application/json.") from None
        if not isinstance(body, dict):
            raise bad_request(f"The request body must be a JSON object, not {type(body).__name__}.")
        return cls(body)

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            raise bad_request(f"Missing value for required parameter '{name}'.")
        return value

    def string(self, name: str, required: bool = False, default: str | None = None) -> str | None:
        """A string field.

        :param name: the field.
        :param required: refuse a missing field.
        :param default: the value when missing.
        """
        value = self._get(name, required)
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not self.from_query:
            return str(value)  # MLflow's parser turns a number into its text for a string field
        if not isinstance(value, str):
            raise bad_request(f"Parameter '{name}' must be a string, not {type(value).__name__}.")
        return value

    def required(self, name: str) -> str:
        """A string field that must be present.

        :param name: the field.
        """
        value = self.string(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, default: int | None = None, low: int | None = None,
                high: int | None = None) -> int | None:
        """An integer field (int64 arrives as a number or as its text).

        :param name: the field.
        :param default: the value when missing.
        :param low: the smallest allowed.
        :param high: the largest allowed.
        """
        value = self._get(name, False)
        if value is None or value == "":
            return default
        number: int
        if isinstance(value, bool):
            raise bad_request(f"Parameter '{name}' must be an integer, not a boolean.")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 21:
            number = int(value)
        else:
            raise bad_request(f"Parameter '{name}' must be an integer, not {str(value)[:40]!r}.")
        if not -2**63 <= number < 2**63:
            raise bad_request(f"Parameter '{name}' is out of the 64-bit integer range.")
        if low is not None and number < low:
            raise bad_request(f"Invalid value {number} for parameter '{name}' supplied: it must "
                              f"be at least {low}.")
        if high is not None and number > high:
            raise bad_request(f"Invalid value {number} for parameter '{name}' supplied: it must "
                              f"be at most {high}.")
        return number

    def number(self, name: str) -> float:
        """A required double field (``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` accepted).

        :param name: the field.
        """
        value = self._get(name, True)
        if isinstance(value, bool):
            raise bad_request(f"Parameter '{name}' must be a number, not a boolean.")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            word = _NUMBER_WORDS.get(value.strip().lower())
            if word is not None:
                return word
            try:
                return float(value)
            except ValueError:
                pass
        raise bad_request(f"Parameter '{name}' must be a number, not {str(value)[:40]!r}.")

    def boolean(self, name: str, default: bool = False) -> bool:
        """A boolean field.

        :param name: the field.
        :param default: the value when missing.
        """
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad_request(f"Parameter '{name}' must be true or false, not {str(value)[:40]!r}.")

    def strings(self, name: str) -> list[str]:
        """A repeated string field (a single query argument counts as a list of one).

        :param name: the field.
        """
        value = self._get(name, False)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise bad_request(f"Parameter '{name}' must be a list of strings.")

    def objects(self, name: str) -> list[Args]:
        """A repeated message field, each item as :class:`Args`.

        :param name: the field.
        """
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise bad_request(f"Parameter '{name}' must be a list of JSON objects.")
        return [Args(v) for v in value]

    def tags(self, name: str = "tags") -> dict[str, str]:
        """A repeated ``{key, value}`` field as a dict (a later key wins, as in MLflow).

        :param name: the field.
        """
        found: dict[str, str] = {}
        for item in self.objects(name):
            found[item.required("key")] = item.string("value", default="") or ""
        return found
