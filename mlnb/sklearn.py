"""``mlnb.sklearn``: MLflow's ``mlflow.sklearn`` names — model flavor and autologging.

The flavor lives in :mod:`mlnb.models.sklearn`, autologging in :mod:`mlnb.autolog.sklearn`; both
are imported on first use so that ``import mlnb`` does not import scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "save_model": "mlnb.models.sklearn",
    "log_model": "mlnb.models.sklearn",
    "load_model": "mlnb.models.sklearn",
    "autolog": "mlnb.autolog.sklearn",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.sklearn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
