"""MLflow's ``mlflow.exceptions`` names, for code written against MLflow."""

from mlnb.errors import *  # noqa: F403
from mlnb.errors import MlflowException, MlnbError

__all__ = ["MlflowException", "MlnbError"]
