"""What an evaluation returns: MLflow's ``EvaluationResult`` shape (``.metrics``, ``.artifacts``,
``.run_id``), the extra-metric helpers ``make_metric``/``MetricValue``, and mlnb's additions:
the naive baseline's metrics and the baseline model's result beside the candidate's."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class EvaluationArtifact:
    """One artifact an evaluation logged (a JSON or CSV file of data).

    :param uri: its ``file://`` URI.
    :param path: the file on disk.
    """

    uri: str
    path: Path

    @property
    def content(self) -> Any:
        """The artifact's data: parsed JSON, or a pandas DataFrame for a CSV file."""
        if self.path.suffix == ".csv":
            import pandas as pd  # pandas: loaded on first use, not by import mlnb

            return pd.read_csv(self.path)
        return json.loads(self.path.read_text(encoding="utf-8"))


@dataclass
class EvaluationResult:
    """The metrics and artifacts of one evaluation (MLflow's ``EvaluationResult``).

    :param metrics: metric name -> value (MLflow's names; NaN where the data cannot define one).
    :param artifacts: artifact name -> :class:`EvaluationArtifact`.
    :param run_id: the run they were logged to.
    :param baseline_metrics: the naive baseline's metrics on the same data (the majority class
        with the class shares as probabilities, or the mean target).
    :param baseline_model_result: the ``baseline_model``'s result, when one was given.
    :param tables: ``per_class_metrics`` as a DataFrame (classifiers).
    """

    metrics: dict[str, float]
    artifacts: dict[str, EvaluationArtifact] = field(default_factory=dict)
    run_id: str | None = None
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    baseline_model_result: EvaluationResult | None = None
    tables: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        import html  # metric names can be user data (extra metrics): escaped at the sink

        def cell(value: float | None) -> str:
            return "" if value is None else html.escape(f"{value:.6g}")

        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{cell(v)}</td>"
            f"<td>{cell(self.baseline_metrics.get(k))}</td></tr>"
            for k, v in sorted(self.metrics.items()))
        return ("<table class='tex2jax_ignore mathjax_ignore'><thead><tr><th>Metric</th>"
                f"<th>Model</th><th>Naive baseline</th></tr></thead><tbody>{rows}</tbody></table>")


@dataclass
class MetricValue:
    """What an extra metric's function may return (MLflow's ``mlflow.metrics.MetricValue``).

    :param scores: per-row scores (kept, not logged).
    :param justifications: per-row text (kept, not logged).
    :param aggregate_results: name -> value; each is logged (``metric/name`` unless the name is
        the metric's own).
    """

    scores: list[Any] | None = None
    justifications: list[str] | None = None
    aggregate_results: dict[str, float] | None = None


@dataclass
class EvaluationMetric:
    """An extra metric for ``evaluate(extra_metrics=[...])`` (MLflow's ``EvaluationMetric``).

    :param eval_fn: called with the arguments its parameters name: ``predictions``, ``targets``
        (pandas Series), ``metrics`` (the metrics computed so far) and any column of the data.
    :param name: the metric's name.
    :param greater_is_better: whether a greater value is better.
    """

    eval_fn: Callable[..., Any]
    name: str
    greater_is_better: bool = True
    long_name: str | None = None


def make_metric(*, eval_fn: Callable[..., Any], greater_is_better: bool, name: str | None = None,
                long_name: str | None = None) -> EvaluationMetric:
    """An extra metric (MLflow's ``mlflow.models.make_metric``).

    :param eval_fn: see :class:`EvaluationMetric`; returns a number or a :class:`MetricValue`.
    :param greater_is_better: whether a greater value is better.
    :param name: the metric's name; default the function's name.
    :param long_name: a longer description.
    """
    return EvaluationMetric(eval_fn, name or eval_fn.__name__, greater_is_better, long_name)


def number(value: Any) -> float:
    """A metric value as a float (NaN for None).

    :param value: a number, numpy scalar or None.
    """
    return math.nan if value is None else float(value)
