"""Runs as a pandas DataFrame with MLflow's ``search_runs`` columns (pandas imported on use)."""

from __future__ import annotations

import math
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from mlnb.entities import Run

if TYPE_CHECKING:
    import pandas

    from mlnb.store.run_table import RunTable


_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)


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
    columns: dict[str, Any] = {
        "run_id": ids,
        "experiment_id": [i.experiment_id for i in infos],
        "status": [i.status for i in infos],
        "artifact_uri": [i.artifact_uri for i in infos],
        "start_time": pd.to_datetime([i.start_time for i in infos], unit="ms", utc=True),
        "end_time": pd.to_datetime([i.end_time for i in infos], unit="ms", utc=True),
    }
    frame = pd.DataFrame(columns)
    wide = [_wide(pd, rows, prefix, ids, numeric, table.other_runs) for prefix, rows, numeric in (
        ("metrics", table.metrics, True), ("params", table.params, False),
        ("tags", table.tags, False))]
    return pd.concat([frame, *wide], axis=1)


def _wide(pd: Any, rows: list[Any], prefix: str, ids: list[str], numeric: bool,
          other_runs: bool) -> Any:
    """Long ``(run_id, key, value)`` rows as one column per key (sorted), a row per id.

    Each row's place is found with two dict lookups mapped in C and the values are put in place
    by numpy, one assignment for all: no per-row Python loop, no pandas pivot (hashing a
    million strings three times over).
    """
    import numpy as np  # numpy: with pandas, only for a DataFrame

    position = {run_id: i for i, run_id in enumerate(ids)}
    keys = sorted({row[1] for row in rows}) if rows else []
    key_index = {key: i for i, key in enumerate(keys)}
    rows_at = np.fromiter(map(position.get, map(_FIRST, rows), repeat(-1)), dtype=np.int64,
                          count=len(rows))
    keys_at = np.fromiter(map(key_index.__getitem__, map(_SECOND, rows)), dtype=np.int64,
                          count=len(rows))
    values = np.array(list(map(_THIRD, rows)), dtype=np.float64 if numeric else object)
    if other_runs:  # rows of runs outside the table are dropped, and keys only they had
        mine = rows_at >= 0
        rows_at, keys_at, values = rows_at[mine], keys_at[mine], values[mine]
        present = np.unique(keys_at)
        keys = [keys[i] for i in present]
        keys_at = np.searchsorted(present, keys_at)
    grid = np.full((len(keys), len(ids)), np.nan if numeric else None,
                   dtype=np.float64 if numeric else object)
    grid[keys_at, rows_at] = values
    text = None if numeric else pd.Series(["x"]).dtype  # pandas' own dtype for text columns
    return pd.DataFrame({f"{prefix}.{key}": pd.Series(grid[i], dtype=text)
                         for i, key in enumerate(keys)}, index=range(len(ids)))
