"""``mlnb.keras``: MLflow's ``mlflow.keras`` names for the Keras 3 model flavor and callback.

The flavor lives in :mod:`mlnb.models.keras`, the training callback ``MlnbCallback`` (also under
MLflow's name ``MlflowCallback``) in :mod:`mlnb.autolog.keras`; both are imported on first use,
so that ``import mlnb`` does not import Keras.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "save_model": "mlnb.models.keras",
    "log_model": "mlnb.models.keras",
    "load_model": "mlnb.models.keras",
    "MlnbCallback": "mlnb.autolog.keras",
    "MlflowCallback": "mlnb.autolog.keras",
    "autolog": "mlnb.autolog.keras",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.keras' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
