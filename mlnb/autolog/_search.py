"""Hyper-parameter searches (GridSearchCV, RandomizedSearchCV): best params, children, table.

The parent run (the search's own run) gets ``best_<param>`` params, ``best_cv_score`` and the
``cv_results.json`` table; each candidate becomes a FINISHED child run with its params and its
mean/std test scores (and rank and fit time), all written in one transaction.
"""

from __future__ import annotations

from typing import Any

from mlnb.entities import Metric, Param, RunStatus, RunTag
from mlnb.store.sql import now_ms
from mlnb.store.validation import MAX_PARAM_VALUE_LENGTH
from mlnb.tracking.client import MlnbClient

_CHILD_METRIC_PREFIXES = ("mean_test_", "std_test_", "rank_test_", "mean_train_", "std_train_")
_CHILD_METRICS = ("mean_fit_time", "std_fit_time", "mean_score_time")


def log_search(client: MlnbClient, run_id: str, search: Any, max_runs: int | None) -> None:
    """Log a fitted search's best result, its candidates as child runs and ``cv_results_``."""
    results = search.cv_results_
    t = now_ms()
    params = [Param(f"best_{k}", _text(v)) for k, v in search.best_params_.items()]
    metrics = []
    best_score = getattr(search, "best_score_", None)
    if best_score is not None:
        metrics.append(Metric("best_cv_score", float(best_score), t, 0))
    client.log_batch(run_id, metrics=metrics, params=params)
    client.log_table(run_id, _table(results), "cv_results.json")
    _log_children(client, run_id, results, max_runs, t)


def _log_children(client: MlnbClient, parent_id: str, results: dict[str, Any],
                  max_runs: int | None, t: int) -> None:
    store = client.store
    parent = store.get_run_info(parent_id)
    candidates = list(range(len(results["params"])))
    rank_key = next((k for k in results if k.startswith("rank_test_")), None)
    if rank_key is not None:
        candidates.sort(key=lambda i: int(results[rank_key][i]))
    if max_runs is not None:
        candidates = candidates[:max_runs]
    keys = [k for k in results if k.startswith(_CHILD_METRIC_PREFIXES) or k in _CHILD_METRICS]
    with store.transaction():  # one commit for every child run
        for i in candidates:
            info = store.create_run(parent.experiment_id, f"{parent.run_name}-{i}",
                                    {"mlflow.autologging": "sklearn"}, parent_id, parent.user_id,
                                    t)
            metrics = [Metric(k, float(results[k][i]), t, 0) for k in keys
                       if _is_number(results[k][i])]
            params = [Param(k, _text(v)) for k, v in results["params"][i].items()]
            store.log_batch(info.run_id, metrics=metrics, params=params,
                            tags=[RunTag("mlnb.search.candidate", str(i))])
            store.update_run(info.run_id, status=RunStatus.FINISHED, end_time=now_ms())


def _table(results: dict[str, Any]) -> dict[str, list[Any]]:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    table: dict[str, list[Any]] = {}
    for key, column in results.items():
        if key == "params":
            table[key] = [str(p) for p in column]
            continue
        mask = np.ma.getmaskarray(column)
        data = np.ma.getdata(column)
        table[key] = [None if masked else (value.item() if hasattr(value, "item") else
                                           value if isinstance(value, (int, float, str)) else
                                           str(value))
                      for value, masked in zip(data.tolist() if data.dtype != object else data,
                                               mask, strict=False)]
    return table


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _text(value: Any) -> str:
    return str(value)[:MAX_PARAM_VALUE_LENGTH]
