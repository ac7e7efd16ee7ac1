"""Gate a candidate model on its evaluation: ``MetricThreshold`` and
``validate_evaluation_results``, with MLflow's names, rules and messages.

mlnb adds a report: ``validate_evaluation_results`` returns a :class:`ValidationReport` listing
every check (passed or not), and the exception it raises on failure carries the same report.
"""

from __future__ import annotations

import math
import operator
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mlnb.errors import InvalidParameterError, MlnbError

_ZERO_BASELINE_EPSILON = 1e-10  # MLflow's rule when the baseline metric is 0


class MetricThresholdClassException(InvalidParameterError):
    """A ``MetricThreshold`` built with values that cannot be checked.

    :param message: what is wrong with the values.
    """

    def __init__(self, message: str) -> None:
        super().__init__("Could not instantiate MetricThreshold class: " + message)


class ModelValidationFailedException(MlnbError):
    """The candidate failed at least one check; the message has one line per failure.

    :param message: the failures, one per line.
    :param report: every check made.
    """

    error_code = "BAD_REQUEST"

    def __init__(self, message: str, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


class MetricThreshold:
    """The bounds a metric must meet (MLflow's ``mlflow.models.MetricThreshold``).

    :param threshold: an absolute bound: the value must be ``>=`` it when greater is better,
        ``<=`` otherwise.
    :param min_absolute_change: a positive number: the candidate must beat the baseline by it.
    :param min_relative_change: a float in [0, 1]: the candidate must beat the baseline by this
        share of the baseline's magnitude (when the baseline is 0, by 1e-10).
    :param greater_is_better: required: whether a greater value is better.
    :raises MetricThresholdClassException: for a missing or ill-typed value.
    """

    def __init__(self, threshold: float | None = None, min_absolute_change: float | None = None,
                 min_relative_change: float | None = None, greater_is_better: bool | None = None
                 ) -> None:
        if threshold is not None and not _is_number(threshold):
            raise MetricThresholdClassException("`threshold` parameter must be a number.")
        if min_absolute_change is not None and (
                not _is_number(min_absolute_change) or min_absolute_change <= 0):
            raise MetricThresholdClassException(
                "`min_absolute_change` parameter must be a positive number.")
        if min_relative_change is not None:
            if not isinstance(min_relative_change, float):
                raise MetricThresholdClassException(
                    "`min_relative_change` parameter must be a floating point number.")
            if not 0 <= min_relative_change <= 1:
                raise MetricThresholdClassException(
                    "`min_relative_change` parameter must be between 0 and 1.")
        if greater_is_better is None:
            raise MetricThresholdClassException("`greater_is_better` parameter must be defined.")
        if not isinstance(greater_is_better, bool):
            raise MetricThresholdClassException("`greater_is_better` parameter must be a boolean.")
        if threshold is None and min_absolute_change is None and min_relative_change is None:
            raise MetricThresholdClassException("no threshold was specified.")
        self.threshold = threshold
        self.min_absolute_change = min_absolute_change
        self.min_relative_change = min_relative_change
        self.greater_is_better = greater_is_better

    def __str__(self) -> str:
        parts = []
        if self.threshold is not None:
            parts.append(f"Threshold: {self.threshold}.")
        if self.min_absolute_change is not None:
            parts.append(f"Minimum Absolute Change: {self.min_absolute_change}.")
        if self.min_relative_change is not None:
            parts.append(f"Minimum Relative Change: {self.min_relative_change}.")
        parts.append("Greater value is better." if self.greater_is_better else "Lower value is better.")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (f"MetricThreshold(threshold={self.threshold!r}, min_absolute_change="
                f"{self.min_absolute_change!r}, min_relative_change={self.min_relative_change!r}, "
                f"greater_is_better={self.greater_is_better!r})")


@dataclass(frozen=True)
class Check:
    """One check of one metric.

    :param metric: the metric's name.
    :param kind: ``threshold``, ``min_absolute_change``, ``min_relative_change``, or
        ``present`` (the metric exists in the candidate or the baseline result).
    :param passed: whether it passed.
    :param candidate: the candidate's value (None when missing).
    :param baseline: the baseline's value (None when not used or missing).
    :param bound: what the candidate had to reach (None for ``present``).
    :param message: one line saying what was checked and found.
    """

    metric: str
    kind: str
    passed: bool
    candidate: float | None
    baseline: float | None
    bound: float | None
    message: str


@dataclass
class ValidationReport:
    """Every check made by :func:`validate_evaluation_results`."""

    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.passed]

    def __str__(self) -> str:
        return os.linesep.join(("PASS " if c.passed else "FAIL ") + c.message for c in self.checks)

    def _repr_html_(self) -> str:
        import html  # the report's text is user data (metric names): escaped at the sink

        rows = "".join(
            f"<tr><td style='color:{'#1a7f37' if c.passed else '#cf222e'}'>"
            f"{'pass' if c.passed else 'FAIL'}</td><td>{html.escape(c.metric)}</td>"
            f"<td>{html.escape(c.kind)}</td><td>{html.escape(c.message)}</td></tr>"
            for c in self.checks)
        return ("<table class='tex2jax_ignore mathjax_ignore'><thead><tr><th>Verdict</th>"
                f"<th>Metric</th><th>Check</th><th>Detail</th></tr></thead><tbody>{rows}</tbody></table>")


def _metrics_of(result: Any, what: str) -> dict[str, float]:
    metrics = getattr(result, "metrics", result)
    if not isinstance(metrics, dict):
        raise InvalidParameterError(
            f"{what} must be an EvaluationResult (what mlnb.models.evaluate returns) or a dict of "
            f"metrics, not {type(result).__name__}.")
    return metrics


def validate_evaluation_results(validation_thresholds: dict[str, MetricThreshold],
                                candidate_result: Any, baseline_result: Any = None
                                ) -> ValidationReport:
    """Check a candidate's evaluation against thresholds and, optionally, a baseline's.

    Every threshold is checked (a failure does not stop the others); a metric missing from the
    candidate, or from the baseline when a change is required, fails.

    :param validation_thresholds: metric name -> :class:`MetricThreshold`.
    :param candidate_result: the candidate's ``EvaluationResult`` (or its metrics dict).
    :param baseline_result: the baseline's ``EvaluationResult``, or None.
    :returns: the report of every check, when all passed.
    :raises ModelValidationFailedException: listing every failure, one per line (the report is
        its ``report`` attribute).
    """
    if type(validation_thresholds) is not dict or not all(
            isinstance(k, str) and isinstance(v, MetricThreshold)
            for k, v in validation_thresholds.items()):
        raise InvalidParameterError(
            "The validation thresholds argument must be a dictionary that maps strings to "
            "MetricThreshold objects.")
    candidate = _metrics_of(candidate_result, "candidate_result")
    baseline = _metrics_of(baseline_result, "baseline_result") if baseline_result is not None else {}
    report = ValidationReport()
    failures = []
    for name, rule in validation_thresholds.items():
        checks = _check_metric(name, rule, candidate, baseline)
        report.checks.extend(checks)
        failed = [c.message for c in checks if not c.passed]
        if failed:
            failures.append(" ".join(failed))
    if failures:
        raise ModelValidationFailedException(os.linesep.join(failures), report)
    return report


def _check_metric(name: str, rule: MetricThreshold, candidate: dict[str, float],
                  baseline: dict[str, float]) -> list[Check]:
    if name not in candidate:
        return [Check(name, "present", False, None, None, None,
                      f"Metric validation failed: metric {name} was missing from the evaluation "
                      "result of the candidate model.")]
    value = float(candidate[name])
    better = operator.ge if rule.greater_is_better else operator.le
    toward = operator.add if rule.greater_is_better else operator.sub
    checks = []
    if rule.threshold is not None:
        ok = _compare(better, value, rule.threshold)
        checks.append(Check(name, "threshold", ok, value, None, rule.threshold,
                            f"Metric {name} passed the value threshold check: {value} "
                            f"{'>=' if rule.greater_is_better else '<='} {rule.threshold}." if ok else
                            f"Metric {name} value threshold check failed: candidate model "
                            f"{name} = {value}, {name} threshold = {rule.threshold}."))
    if rule.min_absolute_change is None and rule.min_relative_change is None:
        return checks
    if name not in baseline:
        checks.append(Check(name, "present", False, value, None, None,
                            f"Model comparison failed: metric {name} was missing from the "
                            "evaluation result of the baseline model."))
        return checks
    base = float(baseline[name])
    if rule.min_absolute_change is not None:
        bound = toward(base, rule.min_absolute_change)
        ok = _compare(better, value, bound)
        checks.append(Check(name, "min_absolute_change", ok, value, base, bound,
                            f"Metric {name} passed the minimum absolute change check: candidate "
                            f"{value}, baseline {base}, change {rule.min_absolute_change}." if ok else
                            f"Metric {name} minimum absolute change check failed: candidate model "
                            f"{name} = {value}, baseline model {name} = {base}, {name} minimum "
                            f"absolute change threshold = {rule.min_absolute_change}."))
    if rule.min_relative_change is not None:
        checks.append(_relative_check(name, rule, value, base, better, toward))
    return checks


def _relative_check(name: str, rule: MetricThreshold, value: float, base: float,
                    better: Any, toward: Any) -> Check:
    change = rule.min_relative_change
    assert change is not None
    if base == 0:
        # MLflow's rule: no relative change of 0 exists, so the candidate must merely be better.
        bound = toward(base, _ZERO_BASELINE_EPSILON)
        ok = _compare(better, value, bound)
    else:
        bound = toward(base, change * abs(base))
        relative = (value - base if rule.greater_is_better else base - value) / abs(base)
        ok = not relative < change and not math.isnan(value)
    return Check(name, "min_relative_change", ok, value, base, bound,
                 f"Metric {name} passed the minimum relative change check: candidate {value}, "
                 f"baseline {base}, relative change {change}." if ok else
                 f"Metric {name} minimum relative change check failed: candidate model {name} = "
                 f"{value}, baseline model {name} = {base}, {name} minimum relative change "
                 f"threshold = {change}.")


def _compare(better: Any, value: float, bound: float) -> bool:
    if math.isnan(value) or math.isnan(bound):
        return False  # NaN meets no bound (MLflow's Decimal comparison raises on it)
    if math.isinf(value) or math.isinf(bound):
        return bool(better(value, bound))
    # Decimal, as MLflow: 0.1 + 0.2 compared with 0.3 exactly as written, not as binary floats.
    return bool(better(Decimal(value), Decimal(bound)))
