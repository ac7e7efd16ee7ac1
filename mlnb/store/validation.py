"""Limits and checks on what users log, with errors that name the offending key.

The limits are MLflow's where it has one (so a script that works there works here) and more
generous where MLflow's are only a REST payload concern (batch sizes).
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from mlnb.errors import InvalidParameterError, InvalidValueTypeError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 500
MAX_METRICS_PER_BATCH = 10_000
MAX_PARAMS_PER_BATCH = 1_000
MAX_TAGS_PER_BATCH = 1_000

# Letters and digits of any script, underscore, dash, period, space, colon and slash (MLflow's set).
_KEY = re.compile(r"^[\w\-. :/]+$")


def check_key(key: Any, what: str) -> str:
    """A metric, param or tag key: non-empty text of allowed characters, not path-like.

    :param key: the key as given.
    :param what: ``Metric``, ``Param`` or ``Tag``, for the error message.
    """
    if type(key) is str and key in _valid_keys:
        return key  # keys repeat in every batch of a training loop: check each once
    text = _check_key(key, what)
    if len(_valid_keys) < 100_000:
        _valid_keys.add(text)
    return text


_valid_keys: set[str] = set()


def _check_key(key: Any, what: str) -> str:
    if not isinstance(key, str):
        raise InvalidParameterError(f"{what} key must be text, not {type(key).__name__} ({key!r}).")
    if not key:
        raise InvalidParameterError(f"{what} key is empty; give it a name such as 'accuracy'.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(
            f"{what} key {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}."
        )
    if not _KEY.match(key) or any(unicodedata.category(c) in ("Cc", "Cf") for c in key):
        raise InvalidParameterError(
            f"{what} key {key!r} has characters that are not allowed: use letters, digits, "
            "underscores, dashes, periods, spaces, colons and slashes."
        )
    if key.startswith("/") or ".." in key.split("/"):
        raise InvalidParameterError(f"{what} key {key!r} must not look like a path ('/' or '..').")
    return key


def check_name(name: Any, what: str) -> str:
    """An experiment, run or model name: text, not empty, not too long, no control characters.

    :param name: the name as given.
    :param what: ``Experiment``, ``Run`` or ``Model``, for the error message.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"{what} name must be non-empty text, not {name!r}.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterError(
            f"{what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}."
        )
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidParameterError(f"{what} name {name!r} contains control characters.")
    return name


def metric_value(key: str, value: Any) -> float:
    """A metric value as a float: numbers, numpy scalars, 0-d arrays, Decimal and bool qualify.

    :param key: the metric's name, for the error message.
    :param value: the value as given.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidValueTypeError(
            f"Metric {key!r} must be a number, not {type(value).__name__} ({value!r}). "
            "Log text with log_param or set_tag."
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidValueTypeError(
            f"Metric {key!r} must be a single number, not {type(value).__name__}. "
            "Log arrays one element per step, or as an artifact."
        ) from None
    except OverflowError:
        raise InvalidParameterError(
            f"Metric {key!r} is too large to store as a number ({str(value)[:30]}...)."
        ) from None


_INT64 = (-(2**63), 2**63 - 1)


def metric_int(key: str, value: Any, what: str) -> int:
    """A metric's step or timestamp: an integer that fits SQLite's 64 bits (1.0 is 1; 1.5 is
    refused rather than silently cut to 1).

    :param key: the metric's name, for the error message.
    :param value: the value as given.
    :param what: ``step`` or ``timestamp``, for the error message.
    """
    if type(value) is not int:
        try:
            number = int(value)
            exact = number == value or (isinstance(value, str) and value.strip().lstrip("+-").isdigit())
        except (TypeError, ValueError, OverflowError):
            exact = False
        if not exact or isinstance(value, bool):
            raise InvalidValueTypeError(
                f"Metric {key!r}: {what} must be an integer, not {value!r}.") from None
        value = number
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidParameterError(f"Metric {key!r}: {what} {value} is out of range (64 bits).")
    return int(value)


def param_value(key: str, value: Any) -> str:
    """A param value as text (at most 6,000 characters).

    :param key: the param's name, for the error message.
    :param value: the value as given.
    :raises InvalidParameterError: when it is too long.
    """
    text = _stringify(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidParameterError(
            f"Param {key!r} is {len(text)} characters long; the limit is {MAX_PARAM_VALUE_LENGTH}. "
            "Log long values as an artifact (log_text or log_dict)."
        )
    return text


def tag_value(key: str, value: Any) -> str:
    """A tag value as text (at most 8,000 characters).

    :param key: the tag's name, for the error message.
    :param value: the value as given.
    :raises InvalidParameterError: when it is too long.
    """
    text = _stringify(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameterError(
            f"Tag {key!r} is {len(text)} characters long; the limit is {MAX_TAG_VALUE_LENGTH}. "
            "Log long values as an artifact (log_text)."
        )
    return text


def _stringify(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value if isinstance(value, str) else str(value)


def result_limit(max_results: Any, cap: int) -> int:
    """A search's ``max_results``: a positive integer no larger than ``cap``.

    :param max_results: the limit as given.
    :param cap: the largest allowed.
    """
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise InvalidParameterError(f"max_results must be a positive integer, not {max_results!r}.")
    if max_results > cap:
        raise InvalidParameterError(
            f"max_results may be at most {cap}; page through larger result sets.")
    return max_results


def check_batch_sizes(metrics: int, params: int, tags: int) -> None:
    """Refuse a batch with more metrics, params or tags than one batch may hold.

    :param metrics: how many metrics.
    :param params: how many params.
    :param tags: how many tags.
    """
    for count, limit, what in (
        (metrics, MAX_METRICS_PER_BATCH, "metrics"),
        (params, MAX_PARAMS_PER_BATCH, "params"),
        (tags, MAX_TAGS_PER_BATCH, "tags"),
    ):
        if count > limit:
            raise InvalidParameterError(
                f"A batch may hold at most {limit} {what}; this one has {count}. Split it."
            )
