"""Models: the model folder format, flavors, signatures, URIs, serving.

``mlnb.models.infer_signature`` and the signature types are MLflow's ``mlflow.models`` names.
The flavors live in :mod:`mlnb.models.sklearn`, :mod:`mlnb.models.xgboost`,
:mod:`mlnb.models.lightgbm`, :mod:`mlnb.models.pytorch`, :mod:`mlnb.models.keras` and
:mod:`mlnb.models.pyfunc` (reached as ``mlnb.sklearn``, ``mlnb.xgboost``, ...), sharing
:mod:`mlnb.models.flavor`; container images are :mod:`mlnb.models.container`; nothing here imports
scikit-learn, pandas, skops or a model library until a model is saved, loaded or served.
"""

from __future__ import annotations

from typing import Any

from mlnb.models.format import ModelDescriptor, ModelInfo
from mlnb.models.signature import (
    ColSpec,
    ModelSignature,
    Schema,
    SignatureError,
    TensorSpec,
    infer_signature,
)
from mlnb.models.uri import ModelLocation, resolve_model_uri

Model = ModelDescriptor

# Evaluation (MLflow's mlflow.models.evaluate and friends), imported on first use.
_EVALUATION = ("evaluate", "EvaluationResult", "EvaluationArtifact", "MetricThreshold",
               "make_metric", "MetricValue", "validate_evaluation_results",
               "ModelValidationFailedException")


def __getattr__(name: str) -> Any:
    if name in _EVALUATION:
        from mlnb.models import evaluation  # on first use: evaluation's modules stay unloaded

        return getattr(evaluation, name)
    raise AttributeError(f"module 'mlnb.models' has no attribute {name!r}")


__all__ = [
    "ColSpec", "Model", "ModelDescriptor", "ModelInfo", "ModelLocation", "ModelSignature", "Schema",
    "SignatureError", "TensorSpec", "infer_signature", "resolve_model_uri", *_EVALUATION,
]
