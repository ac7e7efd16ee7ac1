"""The prediction log: what a model predicted, appended to the store, ground truth joined later.

Two writers feed the store's append-only ``predictions`` table (migration
``0009_prediction_log``): :func:`log_predictions` for batch scoring in a notebook, and
:class:`PredictionLog` for ``mlnb serve --log-predictions``. The serving writer keeps the request
path cheap: a request only takes the sampling decision and puts its input and output on a queue
(plus its ``latency_ms`` and ``rows`` metrics, buffered by the metric writer into a run of the
``mlnb-serving`` experiment); a writer thread encodes the rows as JSON and appends them in
batches, and :meth:`PredictionLog.close` writes whatever is left, so a clean stop loses nothing.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.models.uri import resolve_model_uri
from mlnb.store import Store
from mlnb.store.predictions import PredictionRow, Retention, check_request_id
from mlnb.store.sql import now_ms
from mlnb.tracking.client import MlnbClient, current_store
from mlnb.tracking.experiment import tracking_uri_for_child

SERVING_EXPERIMENT = "mlnb-serving"
FLUSH_EVERY_S = 0.25  # the writer thread appends at least this often while requests arrive
FLUSH_EVERY_ROWS = 2_000  # ... or sooner, when this many rows wait
DAY_MS = 86_400_000
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")


@dataclass(frozen=True)
class LoggedPredictions:
    """What :func:`log_predictions` did.

    ``request_ids``: one id per input row, as given or made up (pass them to
    :func:`log_ground_truth`); ``logged``: rows appended; ``sampled_out``: rows the sampling rate
    left out; ``pruned``: old rows the retention rule removed.
    """

    request_ids: list[str]
    logged: int
    sampled_out: int
    pruned: int


def retention(max_rows: int | None = None, max_age_days: float | None = None) -> Retention | None:
    """The store's retention rule for these bounds, or None when there are none.

    :param max_rows: keep at most this many rows per model URI (the newest).
    :param max_age_days: keep no row older than this many days.
    :raises InvalidParameterError: for a bound that is not positive.
    """
    if max_age_days is not None and (isinstance(max_age_days, bool)
                                     or not isinstance(max_age_days, (int, float))
                                     or not math.isfinite(max_age_days) or max_age_days <= 0):
        raise InvalidParameterError(
            f"max_age_days must be a positive number of days or None, not {max_age_days!r}.")
    if max_rows is None and max_age_days is None:
        return None
    age_ms = None if max_age_days is None else max(1, int(max_age_days * DAY_MS))
    return Retention(max_rows=max_rows, max_age_ms=age_ms)


def check_sample_rate(sample_rate: Any) -> float:
    """A sampling rate: the share of rows (or requests) logged, in (0, 1].

    :param sample_rate: the rate as given.
    :raises InvalidParameterError: for anything else.
    """
    if (isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float))
            or not 0 < sample_rate <= 1):
        raise InvalidParameterError(
            f"sample_rate must be a number in (0, 1] (the share of predictions logged), "
            f"not {sample_rate!r}.")
    return float(sample_rate)


def model_identity(model_uri: str, store: Store) -> tuple[str | None, str | None]:
    """``(registered name, version)`` of the model a URI names, or ``(None, None)`` when it is
    not a registered version (a ``runs:/`` URI or a folder).

    :param model_uri: the model's URI.
    :param store: the store to resolve it in.
    """
    version = resolve_model_uri(model_uri, store).version
    return (version.name, str(version.version)) if version is not None else (None, None)


def log_predictions(model_uri: str, inputs: Any, predictions: Any, *, targets: Any = None,
                    request_ids: Sequence[str] | None = None, sample_rate: float = 1.0,
                    max_rows: int | None = None, max_age_days: float | None = None
                    ) -> LoggedPredictions:
    """Append a batch of predictions to the store's prediction log (one row per input row).

    Read them back, with their ground truth, with ``mlnb.monitor.predictions(model_uri)``.

    :param model_uri: the model that predicted (``models:/name/1``, ``models:/name@alias``,
        ``runs:/...`` or a folder); a registered version's name and number are recorded with it.
    :param inputs: the model's input: a DataFrame, or a list or array of rows.
    :param predictions: one prediction per input row (a list, array, Series or DataFrame).
    :param targets: the true values, one per row, if already known (else later with
        :func:`log_ground_truth`).
    :param request_ids: one id per row, to join ground truth later; default new random ids
        (returned).
    :param sample_rate: the share of rows to log, in (0, 1]; the others are counted as sampled out.
    :param max_rows: keep at most this many rows of this model URI's log (the newest).
    :param max_age_days: remove rows of this model URI's log older than this.
    :raises InvalidParameterError: when the inputs, predictions, targets and ids differ in length,
        or for a bad rate, bound or id.
    """
    rate = check_sample_rate(sample_rate)
    keep_rule = retention(max_rows, max_age_days)
    rows = encode_rows(inputs, predictions, strict=True)
    ids = _request_ids(request_ids, len(rows))
    truth = None if targets is None else _json_values(targets, "targets", len(rows))
    kept = [i for i in range(len(rows)) if rate >= 1.0 or random.random() < rate]
    store = current_store()
    name, version = model_identity(model_uri, store)
    stamp = now_ms()
    records = [PredictionRow(stamp, ids[i], rows[i][0], rows[i][1], None) for i in kept]
    with store.transaction():
        pruned = store.append_predictions(model_uri, name, version, records,
                                          sampled_out=len(rows) - len(kept), retention=keep_rule)
        if truth is not None and kept:
            store.log_ground_truth([ids[i] for i in kept], [truth[i] for i in kept])
    return LoggedPredictions(ids, len(kept), len(rows) - len(kept), pruned)


def log_ground_truth(request_ids: Sequence[str], targets: Any) -> int:
    """Record the true outcome of logged predictions, joined to them by request id.

    A later call for the same request id replaces the earlier value. Returns how many of the
    ids have logged predictions (truth for an id not logged yet is kept, and joins when it is).

    :param request_ids: the ids the predictions were logged with (``LoggedPredictions.request_ids``,
        or the ``X-Request-Id`` of a ``mlnb serve`` answer).
    :param targets: one true value per id (numbers, strings, lists).
    :raises InvalidParameterError: when ids and targets differ in length, or for a bad id.
    """
    if isinstance(request_ids, str):
        raise InvalidParameterError("request_ids must be a list of ids, not one string.")
    ids = list(request_ids)
    return current_store().log_ground_truth(ids, _json_values(targets, "targets", len(ids), "request id"))


def _request_ids(request_ids: Sequence[str] | None, count: int) -> list[str]:
    if request_ids is None:
        return [uuid.uuid4().hex for _ in range(count)]
    if isinstance(request_ids, str):
        raise InvalidParameterError("request_ids must be a list of ids (one per row), not one string.")
    ids = [check_request_id(r) for r in request_ids]
    if len(ids) != count:
        raise InvalidParameterError(
            f"request_ids has {len(ids)} ids for {count} rows; give one id per input row.")
    return ids


def _json_values(values: Any, what: str, count: int, per: str = "input row") -> list[str]:
    """One JSON text per item of a list, array or Series (one per ``per``)."""
    items = values.tolist() if hasattr(values, "tolist") else values
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise InvalidParameterError(f"{what} must be a list, array or Series with one value per row, "
                                    f"not {type(values).__name__}.")
    if len(items) != count:
        raise InvalidParameterError(
            f"{what} has {len(items)} values for {count} {per}s; give one per {per}.")
    return [_dumps(_plain(v)) for v in items]


def encode_rows(inputs: Any, predictions: Any, *, strict: bool) -> list[tuple[str, str]]:
    """``(inputs JSON, outputs JSON)`` per row: a DataFrame's rows become objects (column ->
    value), an array's rows lists or values; each prediction a value, a list or an object.

    :param inputs: the model's input.
    :param predictions: its output.
    :param strict: raise when they differ in length (else a scalar output is repeated).
    :raises InvalidParameterError: when inputs and predictions differ in length.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if hasattr(inputs, "columns"):
        in_rows: list[Any] = inputs.to_dict("records")
    else:
        array = np.asarray(inputs, dtype=object) if not isinstance(inputs, np.ndarray) else inputs
        in_rows = array.tolist() if array.ndim else [array.item()]
    if hasattr(predictions, "columns"):
        out_rows: list[Any] = predictions.to_dict("records")
    else:
        result = np.asarray(predictions)
        out_rows = result.tolist() if result.ndim else [result.item()] * len(in_rows)
    if len(out_rows) != len(in_rows):
        if strict or len(out_rows) == 0:
            raise InvalidParameterError(
                f"predictions has {len(out_rows)} rows for {len(in_rows)} input rows; give one "
                "prediction per input row.")
        out_rows = (out_rows * len(in_rows))[:len(in_rows)]
    return [(_dumps(_plain(i)), _dumps(_plain(o))) for i, o in zip(in_rows, out_rows, strict=True)]


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def _dumps(value: Any) -> str:
    # NaN and infinities stay as JSON's common extension (read back by json.loads as floats);
    # timestamps and other objects as their text.
    return json.dumps(value, default=str, separators=(",", ":"))


def request_id(header: str | None) -> str:
    """The request's id: the client's ``X-Request-Id`` when it is a plain token of at most 128
    characters, else a new random one.

    :param header: the header's value, or None.
    """
    if header is not None and _CLIENT_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class PredictionLog:
    """The serving writer: each request to the prediction log (batched off the request path)
    and its latency to a run of its own.

    :param model_uri: the served model's URI.
    :param model_name: its registered name, if it is a registered version.
    :param model_version: that version's number.
    :param sample_rate: the share of requests logged, in (0, 1]; the others' rows are counted.
    :param retention: what to keep of this URI's log (see :func:`retention`).
    """

    def __init__(self, model_uri: str, model_name: str | None = None, model_version: str | None = None,
                 *, sample_rate: float = 1.0, retention: Retention | None = None) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.client = MlnbClient(tracking_uri_for_child())
        self.store = self.client.store
        found = self.client.get_experiment_by_name(SERVING_EXPERIMENT)
        experiment_id = found.experiment_id if found else self.client.create_experiment(SERVING_EXPERIMENT)
        run = self.client.create_run(experiment_id, run_name=f"serve {model_uri}"[:200],
                                     tags={"mlnb.serving.model_uri": model_uri})
        self.run_id = run.info.run_id
        self.model_uri, self.model_name, self.model_version = model_uri, model_name, model_version
        self.retention = retention
        self.flush_every_s = FLUSH_EVERY_S  # how long queued requests may wait for the writer
        self._cond = threading.Condition()
        self._queue: list[tuple[int, str, Any, Any, float]] = []
        self._sampled_out = 0
        self._requests = 0
        self._closed = False
        self._error: BaseException | None = None
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mlnb-prediction-log", daemon=True)
        self._thread.start()

    def add(self, data: Any, result: Any, seconds: float, request_id: str) -> None:
        """Record one request: its metrics now, its rows on the queue for the writer thread.

        :param data: the request's input (decoded by the writer thread, with ``columns_frame``
            when it has one).
        :param result: the model's predictions.
        :param seconds: how long the request took.
        :param request_id: the request's id (rows of a several-row request get ``<id>/<row>``).
        """
        stamp = now_ms()
        rows = len(result) if hasattr(result, "__len__") else 1
        with self._cond:
            self._requests += 1
            step = self._requests
            if self.sample_rate >= 1.0 or random.random() < self.sample_rate:
                self._queue.append((stamp, request_id, data, result, seconds * 1000.0))
                if len(self._queue) >= FLUSH_EVERY_ROWS:
                    self._cond.notify()
            else:
                self._sampled_out += rows
            closed = self._closed
        self.client.log_metric(self.run_id, "latency_ms", seconds * 1000.0, stamp, step)
        self.client.log_metric(self.run_id, "rows", float(rows), stamp, step)
        if closed:  # a request that finished after close(): written at once, not lost
            self.flush()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._closed:
                    self._cond.wait(self.flush_every_s)
                closed = self._closed
            try:
                self.flush()
            except BaseException as exc:  # kept for close() to raise; the server keeps serving
                self._error = exc
            if closed:
                return

    def flush(self) -> None:
        """Encode and append every queued request to the store's prediction log."""
        with self._write_lock:  # one batch at a time, in queue order
            with self._cond:
                queue, self._queue = self._queue, []
                sampled_out, self._sampled_out = self._sampled_out, 0
            if not queue and not sampled_out:
                return
            try:
                self.store.append_predictions(self.model_uri, self.model_name, self.model_version,
                                              _records(queue), sampled_out=sampled_out,
                                              retention=self.retention)
            except BaseException:
                with self._cond:  # back in front of the queue, for the next try
                    self._queue[:0] = queue
                    self._sampled_out += sampled_out
                raise

    def close(self) -> None:
        """Stop the writer thread, write what is queued, and end the run FINISHED.

        :raises MlnbError: when a batch could not be written (the error the writer met).
        """
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        self.flush()
        self.client.set_terminated(self.run_id)
        if self._error is not None:
            raise self._error



def _records(queue: list[tuple[int, str, Any, Any, float]]) -> list[PredictionRow]:
    """The log rows of queued requests (a fast-path request's body is decoded only now)."""
    records: list[PredictionRow] = []
    for stamp, rid, data, result, latency in queue:
        # A fast-path request's body: its rows straight from the JSON (see _FastInput).
        rows = data.row_objects() if hasattr(data, "row_objects") else getattr(data, "columns_frame",
                                                                              data)
        encoded = encode_rows(rows, result, strict=False)
        for i, (inputs, outputs) in enumerate(encoded):
            row_id = rid if len(encoded) == 1 else f"{rid}/{i}"
            records.append(PredictionRow(stamp, row_id, inputs, outputs, latency))
    return records
