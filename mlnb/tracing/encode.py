"""JSON text of what spans record: inputs, outputs and attribute values, never an error.

Tracing must not break the traced function, so a value ``json`` cannot encode is encoded
part by part: dataclasses, pydantic models (``model_dump``), objects with ``to_dict``/``__dict__``,
sets and tuples as lists, bytes as text; anything else (and anything that raises while being
read) becomes its ``repr``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

_PLAIN = (str, int, bool, type(None))
MAX_DEPTH = 20


def dumps(value: Any) -> str:
    """JSON text for a value of any type (never raises).

    :param value: what a span records.
    """
    kind = type(value)
    if kind in _PLAIN:
        return json.dumps(value)
    try:
        return _ENCODER.encode(value)
    except Exception:  # not JSON (NaN, an object whose conversion raises): part by part
        pass
    try:
        return json.dumps(to_jsonable(value, 0), ensure_ascii=False)
    except Exception:  # a value whose repr raises: say what it was
        return json.dumps(f"<unprintable {type(value).__name__}>")


def _fallback(value: Any) -> Any:
    # json's default= hook: one level of conversion; json recurses into what it returns.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_dict()
    return repr(value)


_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, default=_fallback)


def to_jsonable(value: Any, depth: int) -> Any:
    """A value made of JSON types only: what cannot be converted becomes its ``repr``.

    :param value: any value.
    :param depth: the nesting so far (deeper than :data:`MAX_DEPTH` becomes a repr).
    """
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth > MAX_DEPTH:
        return _safe_repr(value)
    try:
        if isinstance(value, dict):
            return {str(k): to_jsonable(v, depth + 1) for k, v in list(value.items())}
        if isinstance(value, (list, tuple)):
            return [to_jsonable(v, depth + 1) for v in list(value)]
        converted = _fallback(value)
    except Exception:
        return _safe_repr(value)
    if isinstance(converted, str) or converted is value:
        return converted
    return to_jsonable(converted, depth + 1)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def loads(text: str | None) -> Any:
    """The value of JSON text written by :func:`dumps` (text that is not JSON is returned as is).

    :param text: the text, or None.
    """
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
