"""A scoring request, read and answered: MLflow's ``/invocations`` bodies (``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs`` or CSV) become the model's input, and its
predictions become JSON. Shared by ``mlnb serve`` and ``mlnb predict``; no HTTP here.

Every mistake is a :class:`RequestError` with a status and MLflow's error code, whose message
never quotes the request's content.

A request's size is bounded in rows, columns and values (cells) by :class:`InputLimits`: columns
from the model's signature where it has one, :data:`MAX_COLUMNS` otherwise. The bounds are
checked on the raw body first (a CSV's header line, a JSON body's value count), before it is
parsed into Python objects: a body of one row and a million columns is refused in milliseconds.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from mlnb.models.pyfunc import PyFuncModel
from mlnb.models.signature import ColSpec, TensorSpec

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000  # columns per request for a model without a column signature
MAX_CELLS = 1_000_000  # values per request (rows x columns), whatever the model
# Extra columns are dropped, as MLflow does (an id or a label column sent along); this many are
# tolerated beyond a column signature's inputs, so a body cannot make us build a huge frame.
EXTRA_COLUMNS = 32
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


def too_large(message: str) -> RequestError:
    """A 413 :class:`RequestError` with MLflow's REQUEST_LIMIT_EXCEEDED code.

    :param message: what was too large, and the limit.
    """
    return RequestError(413, "REQUEST_LIMIT_EXCEEDED", message)


# --- how large a request may be ----------------------------------------------------------------


@dataclass(frozen=True)
class InputLimits:
    """How many rows, columns and values (cells) one request may carry; ``basis`` says where
    the column bound comes from, for error messages and ``GET /metadata``."""

    max_rows: int = MAX_ROWS
    max_columns: int = MAX_COLUMNS
    max_cells: int = MAX_CELLS
    basis: str = "the server's limit"

    def to_dict(self) -> dict[str, Any]:
        """The limits as ``GET /metadata`` reports them."""
        return {"max_rows": self.max_rows, "max_columns": self.max_columns,
                "max_cells": self.max_cells, "max_columns_basis": self.basis}

    def check_columns(self, count: int) -> None:
        """A 413 error when ``count`` columns are more than allowed.

        :param count: the number of columns (or values per row) in the request.
        """
        if count > self.max_columns:
            raise too_large(f"The input has {count} columns; at most {self.max_columns} are "
                            f"accepted ({self.basis}). Send only the model's input columns.")

    def check_cells(self, count: int) -> None:
        """A 413 error when ``count`` values are more than allowed.

        :param count: the number of values (rows x columns, or an upper bound of it).
        """
        if count > self.max_cells:
            raise too_large(f"The input has more than {self.max_cells} values (rows x columns); "
                            "split the batch.")


def input_limits(model: PyFuncModel) -> InputLimits:
    """The bounds of one request to ``model``: columns from its signature where it has one.

    :param model: the loaded model whose input schema sets the column bound.
    """
    schema = model.get_input_schema()
    if schema is None or not schema.inputs:
        return InputLimits()
    first = schema.inputs[0]
    if isinstance(first, TensorSpec):
        width = first.shape[1] if len(first.shape) > 1 else 1
        if width > 0:
            return InputLimits(max_columns=width, basis=f"the model's input tensor has {width} per row")
        return InputLimits(basis="the server's limit; the model's tensor rows have no fixed size")
    columns = sum(isinstance(spec, ColSpec) for spec in schema.inputs)
    return InputLimits(max_columns=columns + EXTRA_COLUMNS,
                       basis=f"the model's signature has {columns} input columns, "
                             f"and up to {EXTRA_COLUMNS} extra ones are dropped")


# Bytes other than quotes and commas, deleted to reduce a JSON text to its string structure.
_NOT_QUOTE_OR_COMMA = bytes(b for b in range(256) if b not in b'",')
_QUOTED_COMMAS = re.compile(rb'"[^"]*"')
# A CSV header record (quoted names may hold commas and newlines), and its quoted names.
_CSV_HEADER = re.compile(r'(?:[^"\r\n]+|"[^"]*(?:""[^"]*)*")*')
_CSV_QUOTED = re.compile(r'"[^"]*(?:""[^"]*)*"')


def check_json_size(body: bytes, limits: InputLimits) -> None:
    """Refuse a JSON body with more scalar values than a request may carry, before parsing it.

    A JSON text has at most one scalar more than it has commas outside strings, so counting
    those commas bounds the values (column names included) without building a single object.

    :param body: the raw request body.
    :param limits: the bounds for this model.
    """
    budget = limits.max_cells + limits.max_columns
    if body.count(b",") < budget:  # commas inside strings only raise this count
        return
    limits.check_cells(_commas_outside_strings(body) + 1 - limits.max_columns)


def _commas_outside_strings(body: bytes) -> int:
    # Escapes pair up from the left within a run of backslashes: drop \\ first, then \".
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Only quotes and commas left; a quote next to a quote closes and opens (or opens and closes)
    # a string with no comma inside, so dropping such pairs keeps quotes alternating. What is left
    # is commas outside strings and the few strings that hold commas. All of it runs in C.
    compact = body.translate(None, _NOT_QUOTE_OR_COMMA).replace(b'""', b"")
    return _QUOTED_COMMAS.sub(b"", compact).count(b",")


def check_csv_size(text: str, limits: InputLimits) -> None:
    """Refuse a CSV body whose header has too many columns, or whose lines times columns are
    too many values, before pandas parses it.

    :param text: the decoded CSV body.
    :param limits: the bounds for this model.
    """
    end = text.find("\n")
    line = text if end < 0 else text[:end]
    columns = line.count(",") + 1
    if columns > limits.max_columns and '"' in line:
        # Quoted names may hold commas (and newlines): count the fields of the header record.
        match = _CSV_HEADER.match(text)
        header = match.group() if match else line
        columns = _CSV_QUOTED.sub("", header).count(",") + 1
    limits.check_columns(columns)
    limits.check_cells(columns * max(1, text.count("\n", end + 1 if end >= 0 else len(text))))
    _check_csv_row_widths(text, columns)


def _check_csv_row_widths(text: str, columns: int) -> None:
    """Refuse a data row with more fields than the header: pandas would parse every extra field
    (as index levels: minutes and gigabytes for one wide row), and truncating them would answer
    on input the client did not mean. Counts commas outside quotes, C-level per line."""
    if text.count(",") < columns * max(1, text.count("\n")):
        return  # not even one row could be wider than the header
    unquoted = _CSV_QUOTED.sub('""', text) if '"' in text else text
    for number, line in enumerate(unquoted.split("\n")[1:], start=2):
        fields = line.count(",") + 1
        if fields > columns:
            raise bad_request(f"Line {number} of the CSV body has {fields} fields; its header has "
                              f"{columns}. Send one value per header column.")


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


def parse_body(body: bytes, kind: str, model: PyFuncModel, limits: InputLimits | None = None) -> Any:
    """The request body as model input (a DataFrame, or an array for a tensor signature).

    :param body: the raw request body.
    :param kind: ``json`` or ``csv`` (from :func:`parse_content_type`).
    :param model: the model the input is for (its signature shapes the input).
    :param limits: the request's bounds (default: :func:`input_limits` of ``model``); a body
        beyond them is a 413 error, raised before the body is parsed.
    :raises RequestError: for a body it cannot read.
    """
    limits = limits if limits is not None else input_limits(model)
    if kind == "json":
        check_json_size(body, limits)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("The body is not valid UTF-8.") from None
    if kind == "csv":
        check_csv_size(text, limits)
        return _csv(text, limits)
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
    return _json_input(keys[0], doc[keys[0]], limits)


def _csv(text: str, limits: InputLimits) -> Any:

    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    try:
        frame = pd.read_csv(io.StringIO(text))
    except Exception:  # pandas raises many types for malformed CSV
        raise bad_request("The body is not a CSV table with a header row.") from None
    _check_rows(range(len(frame)), limits)
    return frame


def _json_input(key: str, value: Any, limits: InputLimits) -> Any:
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

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
        _check_rows(rows, limits)
        _check_row_widths(rows, limits)
        if columns is None:
            return pd.DataFrame(rows)
        if len(set(columns)) != len(columns):
            raise bad_request("dataframe_split 'columns' has a repeated column name.")
        return {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    if key == "dataframe_records":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise bad_request("dataframe_records must be a list of objects (one per row).")
        _check_rows(value, limits)
        # Rows with different keys make a column of each: count the union, not each row.
        limits.check_columns(len({k for r in value for k in r}))
        limits.check_cells(sum(len(r) for r in value))
        return value
    if isinstance(value, dict):
        if not all(isinstance(v, list) for v in value.values()):
            raise bad_request(f"{key} given as an object must map each column to a list of values.")
        limits.check_columns(len(value))
        limits.check_cells(sum(len(v) for v in value.values()))
        return value
    if not isinstance(value, list):
        raise bad_request(f"{key} must be a list of rows or an object of columns.")
    _check_rows(value, limits)
    _check_row_widths(value, limits)
    return value


def _check_rows(rows: Any, limits: InputLimits) -> None:
    if not len(rows):
        raise bad_request("The input has no rows; send at least one.")
    if len(rows) > limits.max_rows:
        raise too_large(f"At most {limits.max_rows} rows per request; split the batch.")


def _check_row_widths(rows: list[Any], limits: InputLimits) -> None:
    """Rows given as lists: the widest against the column bound, their sum against the cells'."""
    widths = [len(r) if isinstance(r, list) else 1 for r in rows]
    limits.check_columns(max(widths))
    limits.check_cells(sum(widths))


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
