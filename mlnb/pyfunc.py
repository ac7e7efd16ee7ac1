"""``mlnb.pyfunc``: load any logged model and call ``predict`` (MLflow's ``mlflow.pyfunc``).

Implemented in :mod:`mlnb.models.pyfunc`, imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    module = importlib.import_module("mlnb.models.pyfunc")
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module 'mlnb.pyfunc' has no attribute {name!r}") from None
