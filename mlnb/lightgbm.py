"""``mlnb.lightgbm``: MLflow's ``mlflow.lightgbm`` names — the LightGBM model flavor and autologging.

The flavor lives in :mod:`mlnb.models.lightgbm`, autologging in :mod:`mlnb.autolog.lightgbm`; both
are imported on first use, so that ``import mlnb`` does not import LightGBM.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "save_model": "mlnb.models.lightgbm",
    "log_model": "mlnb.models.lightgbm",
    "load_model": "mlnb.models.lightgbm",
    "autolog": "mlnb.autolog.lightgbm",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.lightgbm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
