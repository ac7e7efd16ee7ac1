"""``mlnb.pytorch``: MLflow's ``mlflow.pytorch`` names for the PyTorch model flavor, and a helper.

The flavor lives in :mod:`mlnb.models.pytorch`, imported on first use, so that ``import mlnb``
does not import PyTorch. Plain PyTorch loops have no hook to autolog, so
``mlnb.pytorch.log_epoch(metrics, step=None, params=None)`` (:mod:`mlnb.autolog.pytorch`) is the
one line a loop calls per epoch; PyTorch Lightning's ``Trainer`` takes
``logger=mlnb.pytorch.MlnbLogger()`` (:mod:`mlnb.autolog.lightning`).
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "save_model": "mlnb.models.pytorch",
    "log_model": "mlnb.models.pytorch",
    "load_model": "mlnb.models.pytorch",
    "log_epoch": "mlnb.autolog.pytorch",
    "MlnbLogger": "mlnb.autolog.lightning",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.pytorch' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
