"""The tracking API: the fluent functions (one current run) and the explicit-id client."""

from mlnb.tracking.client import MlflowClient, MlnbClient
from mlnb.tracking.fluent import ActiveRun

__all__ = ["ActiveRun", "MlflowClient", "MlnbClient"]
