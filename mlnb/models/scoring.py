"""A scoring request, read and answered: MLflow's ``/invocations`` bodies (``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs`` or CSV) become the model's input, and its
predictions become JSON. Shared by ``mlnb serve`` and ``mlnb predict``; no HTTP here.

Every mistake is a :class:`RequestError` with a status and MLflow's error code, whose message
never quotes the request's content.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

from mlnb.models.pyfunc import PyFuncModel

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class RequestError(Exception):
    """A client error: HTTP status, error code and a message that quotes nothing it was sent.

    :param status: the HTTP status.
    :param error_code: MLflow's error code, e.g. ``BAD_REQUEST``.
    :param message: the message for the client.
    """

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def bad_request(message: str) -> RequestError:
    """A 400 :class:`RequestError` with MLflow's BAD_REQUEST code.

    :param message: the message for the client.
    """
    return RequestError(400, "BAD_REQUEST", message)


# --- parsing a request body ------------------------------------------------------------------


def parse_content_type(header: str | None) -> str:
    """``json`` or ``csv`` for an accepted content type, else a 415 error.

    :param header: the ``Content-Type`` header, or None.
    """
    if not header:
        raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE",
                           "Send Content-Type: application/json or text/csv.")
    media, *params = [p.strip() for p in header.split(";")]
    kind = {"application/json": "json", "text/csv": "csv"}.get(media.lower())
    if kind is None:
        raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE",
                           "Unsupported content type; send application/json or text/csv.")
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported charset; send UTF-8.")
    return kind


def parse_body(body: bytes, kind: str, model: PyFuncModel) -> Any:
    """The request body as model input (a DataFrame, or an array for a tensor signature).

    :param body: the request body.
    :param kind: ``json`` or ``csv``.
    :param model: the loaded model (its signature shapes the input).
    :raises RequestError: for a body it cannot read.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("The body is not valid UTF-8.") from None
    if kind == "csv":
        return _csv(text)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise bad_request("The body is not valid JSON (or is nested too deeply).") from None
    if not isinstance(doc, dict):
        raise bad_request(f"The JSON body must be an object with one of the keys {', '.join(FORMATS)}.")
    keys = [k for k in FORMATS if k in doc]
    extra = set(doc) - set(FORMATS) - {"params"}
    if len(keys) != 1 or extra:
        raise bad_request(f"The JSON body must have exactly one of the keys {', '.join(FORMATS)} "
                   "(and optionally 'params').")
    return _json_input(keys[0], doc[keys[0]], model)


def _csv(text: str) -> Any:

    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text))
    except Exception:  # pandas raises many types for malformed CSV
        raise bad_request("The body is not a CSV table with a header row.") from None
    return _capped(frame)


def _capped(frame: Any) -> Any:
    if len(frame) > MAX_ROWS:
        raise RequestError(413, "REQUEST_LIMIT_EXCEEDED",
                           f"At most {MAX_ROWS} rows per request; split the batch.")
    return frame


def _json_input(key: str, value: Any, model: PyFuncModel) -> Any:
    import pandas as pd

    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise bad_request("dataframe_split must be an object with 'columns' and a 'data' list of rows.")
        columns = value.get("columns")
        if columns is not None and (not isinstance(columns, list)
                                    or not all(isinstance(c, str) for c in columns)):
            raise bad_request("dataframe_split 'columns' must be a list of column names.")
        rows = value["data"]
        if not all(isinstance(r, list) for r in rows):
            raise bad_request("dataframe_split 'data' must be a list of rows (lists).")
        if columns is not None and any(len(r) != len(columns) for r in rows):
            raise bad_request("Every row of dataframe_split 'data' must have one value per column.")
        _check_rows(rows)
        if columns is None:
            return pd.DataFrame(rows)
        if len(set(columns)) != len(columns):
            raise bad_request("dataframe_split 'columns' has a repeated column name.")
        return {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    if key == "dataframe_records":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise bad_request("dataframe_records must be a list of objects (one per row).")
        _check_rows(value)
        return value
    if isinstance(value, dict):
        if not all(isinstance(v, list) for v in value.values()):
            raise bad_request(f"{key} given as an object must map each column to a list of values.")
        return value
    if not isinstance(value, list):
        raise bad_request(f"{key} must be a list of rows or an object of columns.")
    _check_rows(value)
    return value


def _check_rows(rows: list[Any]) -> None:
    if not rows:
        raise bad_request("The input has no rows; send at least one.")
    if len(rows) > MAX_ROWS:
        raise RequestError(413, "REQUEST_LIMIT_EXCEEDED",
                           f"At most {MAX_ROWS} rows per request; split the batch.")


def predictions_json(result: Any) -> bytes:
    """``{"predictions": ...}`` with NaN and infinities as null (valid JSON).

    :param result: the model's predictions (a DataFrame, an array or a list).
    """
    if hasattr(result, "to_dict") and hasattr(result, "columns"):
        value: Any = result.to_dict(orient="records")
    elif hasattr(result, "tolist"):
        value = result.tolist()
    else:
        value = result
    try:
        return json.dumps({"predictions": value}, allow_nan=False).encode()
    except (ValueError, TypeError):
        return json.dumps({"predictions": _finite(value)}, allow_nan=False, default=str).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value
