"""``mlnb.xgboost``: MLflow's ``mlflow.xgboost`` names — the XGBoost model flavor and autologging.

The flavor lives in :mod:`mlnb.models.xgboost`, autologging in :mod:`mlnb.autolog.xgboost`; both
are imported on first use, so that ``import mlnb`` does not import XGBoost.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "save_model": "mlnb.models.xgboost",
    "log_model": "mlnb.models.xgboost",
    "load_model": "mlnb.models.xgboost",
    "autolog": "mlnb.autolog.xgboost",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.xgboost' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
