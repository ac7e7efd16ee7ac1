"""Models: the model folder format, flavors, signatures, URIs, serving.

``mlnb.models.infer_signature`` and the signature types are MLflow's ``mlflow.models`` names.
The flavors live in :mod:`mlnb.models.sklearn`, :mod:`mlnb.models.xgboost`,
:mod:`mlnb.models.lightgbm`, :mod:`mlnb.models.pytorch`, :mod:`mlnb.models.keras` and
:mod:`mlnb.models.pyfunc` (reached as ``mlnb.sklearn``, ``mlnb.xgboost``, ...), sharing
:mod:`mlnb.models.flavor`; container images are :mod:`mlnb.models.container`; nothing here imports
scikit-learn, pandas, skops or a model library until a model is saved, loaded or served.
"""

from __future__ import annotations

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

__all__ = [
    "ColSpec", "Model", "ModelDescriptor", "ModelInfo", "ModelLocation", "ModelSignature", "Schema",
    "SignatureError", "TensorSpec", "infer_signature", "resolve_model_uri",
]
