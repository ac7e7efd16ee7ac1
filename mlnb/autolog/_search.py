"""Hyper-parameter searches (GridSearchCV, RandomizedSearchCV): best params, children, table.

As MLflow's autolog: the parent run (the search's own run) gets ``best_<param>`` params,
``best_cv_score`` and ``cv_results.csv`` (``cv_results_`` as a table, one row per candidate);
each candidate becomes a FINISHED child run, started when its parent started, with all of the
seed estimator's params (the candidate's own values over them), the ``estimator_name`` and
``estimator_class`` tags of the seed estimator, the parent's source tags, and every aggregate
column of its row as a metric (mean/std fit and score times, mean/std/rank test scores, train
scores when kept); the per-split columns are left out. All children are written in one
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Number
from typing import Any

from mlnb.entities import DatasetInput, Metric, Param, RunStatus, RunTag
from mlnb.store.sql import now_ms
from mlnb.store.validation import MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH
from mlnb.tracking.client import MlnbClient

# cv_results_ columns that are not a child's metrics: its params, and each split's score.
_NOT_METRICS = ("param", "split")
# The parent's tags its children carry too (MLflow resolves the same context for them).
_INHERITED_TAGS = ("mlflow.source.", "mlflow.user")


def is_search(estimator: Any) -> bool:
    """Whether ``estimator`` is a parameter search (GridSearchCV, RandomizedSearchCV)."""
    from sklearn.model_selection import (  # scikit-learn: loaded on first use
        GridSearchCV,
        RandomizedSearchCV,
    )

    return isinstance(estimator, (GridSearchCV, RandomizedSearchCV))


def estimator_tags(estimator: Any) -> dict[str, str]:
    """MLflow's ``estimator_name`` and ``estimator_class`` tags."""
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def log_search(client: MlnbClient, run_id: str, search: Any, max_runs: int | None,
               inputs: Sequence[DatasetInput] = ()) -> None:
    """Log a fitted search's best result, its candidates as child runs and ``cv_results.csv``.

    :param client: the client of the run's store.
    :param run_id: the search's own run.
    :param search: the fitted GridSearchCV or RandomizedSearchCV.
    :param max_runs: at most this many child runs, best ranked first (None: all).
    :param inputs: the training dataset input, recorded on every child run too (as MLflow).
    """
    import pandas  # pandas: loaded on first use, not by import mlnb

    results = search.cv_results_
    t = now_ms()
    params = [Param(f"best_{k}", _text(v)) for k, v in getattr(search, "best_params_", {}).items()]
    metrics = []
    best_score = getattr(search, "best_score_", None)
    if best_score is not None:
        metrics.append(Metric("best_cv_score", float(best_score), t, 0))
    client.log_batch(run_id, metrics=metrics, params=params)
    table = pandas.DataFrame.from_dict(results)
    _log_children(client, run_id, search, table, max_runs, inputs)
    client.store.put_artifact_bytes(run_id, "cv_results.csv",
                                    table.to_csv(index=False).encode("utf-8"))


def _log_children(client: MlnbClient, parent_id: str, search: Any, table: Any,
                  max_runs: int | None, inputs: Sequence[DatasetInput]) -> None:
    store = client.store
    parent = store.get_run(parent_id)
    seed = search.estimator
    # A search of searches: the inner search's own seed params are untuned noise (as MLflow).
    base = {k: _text(v) for k, v in seed.get_params(deep=not is_search(seed)).items()
            if len(k) <= MAX_KEY_LENGTH}
    rows = list(range(len(table)))
    rank_key = "rank_test_score" if "rank_test_score" in table.columns else next(
        (k for k in table.columns if k.startswith("rank_test_")), None)
    if max_runs is not None:
        if rank_key is not None:
            rows.sort(key=lambda i: int(table[rank_key].iloc[i]))
        rows = rows[:max_runs]
    tags = {k: v for k, v in parent.data.tags.items() if k.startswith(_INHERITED_TAGS)}
    tags.update({"mlflow.autologging": "sklearn", **estimator_tags(seed)})
    metric_keys = [k for k in table.columns if not k.startswith(_NOT_METRICS)]
    t = now_ms()
    with store.transaction():  # one commit for every child run
        for i in rows:
            row = table.iloc[i]
            info = store.create_run(parent.info.experiment_id, f"{parent.info.run_name}-{i}",
                                    tags, parent_id, parent.info.user_id, parent.info.start_time)
            metrics = [Metric(k, float(row[k]), t, 0) for k in metric_keys
                       if isinstance(row[k], Number) and not isinstance(row[k], bool)]
            params = dict(base)
            params.update({k: _text(v) for k, v in row["params"].items()})
            store.log_batch(info.run_id, metrics=metrics,
                            params=[Param(k, v) for k, v in list(params.items())[:1000]],
                            tags=[RunTag("mlnb.search.candidate", str(i))])
            if inputs:
                store.log_inputs(info.run_id, list(inputs))
            store.update_run(info.run_id, status=RunStatus.FINISHED, end_time=t)


def _text(value: Any) -> str:
    return str(value)[:MAX_PARAM_VALUE_LENGTH]
