"""``mlnb serve --log-predictions``: one run per serving session, recording every prediction.

Each request adds the metrics ``latency_ms`` and ``rows`` (step = request number, buffered by the
metric writer), and its inputs and outputs are appended in batches to the table artifact
``predictions.json`` (MLflow's table JSON), so a monitoring notebook can read them back.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from mlnb.tracking.client import MlnbClient
from mlnb.tracking.fluent import get_tracking_uri

SERVING_EXPERIMENT = "mlnb-serving"
TABLE_FILE = "predictions.json"
FLUSH_EVERY_ROWS = 500
MAX_ROWS_PER_REQUEST = 1000  # a huge batch is counted in full but only its head is kept


class PredictionLog:
    """Metrics per request and a batched table of inputs and outputs, in a run of its own.

    The run is created at once in the ``mlnb-serving`` experiment of the current store.

    :param model_uri: the served model, recorded in the run's name and tags.
    """

    def __init__(self, model_uri: str) -> None:
        self.client = MlnbClient(get_tracking_uri())
        found = self.client.get_experiment_by_name(SERVING_EXPERIMENT)
        experiment_id = found.experiment_id if found else self.client.create_experiment(SERVING_EXPERIMENT)
        run = self.client.create_run(experiment_id, run_name=f"serve {model_uri}"[:200],
                                     tags={"mlnb.serving.model_uri": model_uri})
        self.run_id = run.info.run_id
        self._lock = threading.Lock()
        self._requests = 0
        self._columns: dict[str, list[Any]] = {}
        self._pending = 0

    def add(self, data: Any, result: Any, seconds: float) -> None:
        """Record one request: ``latency_ms`` and ``rows`` metrics, and its rows for the table.

        :param data: the request's input.
        :param result: the model's predictions.
        :param seconds: how long the request took.
        """
        rows = _rows(data, result)
        with self._lock:
            self._requests += 1
            step = self._requests
            for key, values in rows.items():
                self._columns.setdefault(key, []).extend(values)
            self._pending += len(next(iter(rows.values()), []))
            full = self._pending >= FLUSH_EVERY_ROWS
        now = int(time.time() * 1000)
        self.client.log_metric(self.run_id, "latency_ms", seconds * 1000.0, now, step)
        self.client.log_metric(self.run_id, "rows", float(len(result)) if hasattr(result, "__len__")
                               else 1.0, now, step)
        if full:
            self.flush()

    def flush(self) -> None:
        """Append the buffered rows to the ``predictions.json`` table artifact."""
        with self._lock:
            columns, self._columns, self._pending = self._columns, {}, 0
            if columns and len({len(v) for v in columns.values()}) == 1:
                self.client.log_table(self.run_id, columns, TABLE_FILE)

    def close(self) -> None:
        """Flush the rows and end the run FINISHED."""
        self.flush()
        self.client.set_terminated(self.run_id)


def _rows(data: Any, result: Any) -> dict[str, list[Any]]:
    """Columns of the request's inputs plus a ``prediction`` column (first rows only)."""
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    out: dict[str, list[Any]] = {}
    if hasattr(data, "columns"):
        head = data.head(MAX_ROWS_PER_REQUEST)
        for column in head.columns:
            out[f"input.{column}"] = head[column].tolist()
        count = len(head)
    else:
        array = np.asarray(data)[:MAX_ROWS_PER_REQUEST]
        out["input"] = array.tolist()
        count = len(array)
    predictions = np.asarray(result)[:count]
    out["prediction"] = predictions.tolist() if predictions.ndim else [predictions.item()] * count
    lengths = {len(v) for v in out.values()}
    return out if len(lengths) == 1 else {}
