"""``mlnb.optuna``: Optuna sweeps as a parent run per study and a child run per trial.

``sweep = mlnb.optuna.track(study)``, then ``sweep.optimize(objective, n_trials=...)`` (or
``study.optimize(objective, callbacks=[sweep])``). See :mod:`mlnb.autolog.optuna`; it is imported
on first use, so that ``import mlnb`` does not import Optuna.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "track": "mlnb.autolog.optuna",
    "Sweep": "mlnb.autolog.optuna",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.optuna' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
