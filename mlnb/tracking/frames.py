"""Runs as a pandas DataFrame with MLflow's ``search_runs`` columns (pandas imported on use)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlnb.entities import Run

if TYPE_CHECKING:
    import pandas


def runs_to_frame(runs: list[Run]) -> pandas.DataFrame:
    """Runs as MLflow's ``search_runs`` DataFrame.

    Columns: ``run_id, experiment_id, status, artifact_uri, start_time, end_time`` (UTC datetimes),
    then ``metrics.*`` (latest values, NaN where missing), ``params.*`` and ``tags.*``.

    :param runs: the runs, one row each.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    param_keys = sorted({k for r in runs for k in r.data.params})
    tag_keys = sorted({k for r in runs for k in r.data.tags})
    columns: dict[str, list[object]] = {
        "run_id": [r.info.run_id for r in runs],
        "experiment_id": [r.info.experiment_id for r in runs],
        "status": [r.info.status for r in runs],
        "artifact_uri": [r.info.artifact_uri for r in runs],
        "start_time": [r.info.start_time for r in runs],
        "end_time": [r.info.end_time for r in runs],
    }
    for key in metric_keys:
        columns[f"metrics.{key}"] = [r.data.metrics.get(key, math.nan) for r in runs]
    for key in param_keys:
        columns[f"params.{key}"] = [r.data.params.get(key) for r in runs]
    for key in tag_keys:
        columns[f"tags.{key}"] = [r.data.tags.get(key) for r in runs]
    frame = pd.DataFrame(columns)
    for name in ("start_time", "end_time"):
        frame[name] = pd.to_datetime(frame[name], unit="ms", utc=True)
    return frame
