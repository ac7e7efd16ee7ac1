"""Model evaluation: ``evaluate``, ``MetricThreshold`` and ``validate_evaluation_results``, with
MLflow's names, metrics and result shape; curves and matrices are logged as data.

Nothing here imports numpy, pandas or scikit-learn until an evaluation runs.
"""

from __future__ import annotations

from mlnb.models.evaluation.evaluate import evaluate
from mlnb.models.evaluation.result import (
    EvaluationArtifact,
    EvaluationMetric,
    EvaluationResult,
    MetricValue,
    make_metric,
)
from mlnb.models.evaluation.validation import (
    Check,
    MetricThreshold,
    MetricThresholdClassException,
    ModelValidationFailedException,
    ValidationReport,
    validate_evaluation_results,
)

__all__ = [
    "Check", "EvaluationArtifact", "EvaluationMetric", "EvaluationResult", "MetricThreshold",
    "MetricThresholdClassException", "MetricValue", "ModelValidationFailedException",
    "ValidationReport", "evaluate", "make_metric", "validate_evaluation_results",
]
