"""Runs as a pandas DataFrame with MLflow's ``search_runs`` columns (pandas imported on use)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlnb.entities import Run

if TYPE_CHECKING:
    import pandas

    from mlnb.store.run_table import RunTable


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


def table_to_frame(table: RunTable) -> pandas.DataFrame:
    """A :class:`~mlnb.store.run_table.RunTable` as MLflow's ``search_runs`` DataFrame, built
    column by column (the columns of :func:`runs_to_frame`, in the same order).

    :param table: the runs as columns.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    infos = table.infos
    ids = [i.run_id for i in infos]
    columns: dict[str, object] = {
        "run_id": ids,
        "experiment_id": [i.experiment_id for i in infos],
        "status": [i.status for i in infos],
        "artifact_uri": [i.artifact_uri for i in infos],
        "start_time": pd.to_datetime([i.start_time for i in infos], unit="ms", utc=True),
        "end_time": pd.to_datetime([i.end_time for i in infos], unit="ms", utc=True),
    }
    nan = math.nan
    for key in sorted(table.metrics):
        values = table.metrics[key]
        columns[f"metrics.{key}"] = [values.get(run_id, nan) for run_id in ids]
    for prefix, found in (("params", table.params), ("tags", table.tags)):
        for key in sorted(found):
            texts = found[key]
            columns[f"{prefix}.{key}"] = [texts.get(run_id) for run_id in ids]
    return pd.DataFrame(columns)
