"""``mlnb.openai``: MLflow's ``mlflow.openai.autolog`` name — autotracing of the ``openai`` client.

The implementation is :mod:`mlnb.autolog.openai`, imported on first use, so that ``import mlnb``
does not import openai.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {"autolog": "mlnb.autolog.openai"}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlnb.openai' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

