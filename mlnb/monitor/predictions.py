"""Reading the prediction log back: a DataFrame of what a model predicted, with ground truth.

The frame has the logged inputs as columns (a DataFrame's column names, or ``0``, ``1``, ...
for rows given as lists), a ``prediction`` column (or ``prediction.<key>`` for predictions that
were objects), a ``target`` column (the ground truth joined by request id; missing where none
arrived), and ``request_id``, ``timestamp``, ``model_name``, ``model_version`` and
``latency_ms``. Pass it as the ``current`` frame of :func:`mlnb.monitor.drift_report`: only the
reference's columns are tested.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.store.predictions import PredictionCounts
from mlnb.tracking.client import current_store

META_COLUMNS = ("request_id", "timestamp", "model_name", "model_version", "latency_ms")


def predictions(model_uri: str, since: datetime | int | float | None = None) -> Any:
    """The prediction log of a model URI as a DataFrame, oldest first, ground truth joined.

    :param model_uri: the URI the predictions were logged under (as given to
        ``mlnb.log_predictions`` or ``mlnb serve``).
    :param since: only rows logged at or after this time: a ``datetime`` (naive means local
        time) or milliseconds since the epoch.
    :raises InvalidParameterError: for a ``since`` of another type.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    rows = current_store().read_predictions(model_uri, _since_ms(since))
    records: list[dict[str, Any]] = []
    for stamp, rid, name, version, inputs, outputs, _uri, latency, target in rows:
        record = _columns(json.loads(inputs), "input")
        prediction = json.loads(outputs)
        if isinstance(prediction, dict):
            record.update({f"prediction.{k}": v for k, v in prediction.items()})
        else:
            record["prediction"] = prediction
        record["target"] = json.loads(target) if target is not None else None
        record.update(request_id=rid, timestamp=stamp, model_name=name, model_version=version,
                      latency_ms=latency)
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=["prediction", "target", *META_COLUMNS])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    return frame


def prediction_counts(model_uri: str) -> PredictionCounts:
    """How many rows of a model URI's prediction log were logged, left out by sampling, removed
    by retention, and are kept now.

    :param model_uri: the URI the predictions were logged under.
    """
    return current_store().prediction_counts(model_uri)


def _columns(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {name: value}


def _since_ms(since: datetime | int | float | None) -> int | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return int(since.timestamp() * 1000)
    if isinstance(since, (int, float)) and not isinstance(since, bool):
        return int(since)
    raise InvalidParameterError(
        f"since must be a datetime or milliseconds since the epoch, not {type(since).__name__}.")
