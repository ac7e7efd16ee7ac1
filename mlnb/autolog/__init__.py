"""Autologging: ``mlnb.autolog()`` logs params, metrics and models of the libraries it knows.

scikit-learn (:mod:`mlnb.autolog.sklearn`), XGBoost (:mod:`mlnb.autolog.xgboost`), LightGBM
(:mod:`mlnb.autolog.lightgbm`) and Keras 3 (:mod:`mlnb.autolog.keras`, patched when Keras is
imported, never importing it); ``mlnb.autolog()`` turns on each one that is installed. As in
MLflow, a ``fit`` logs into the active run (inside ``%%track``, the cell's run) or starts and
ends its own run, and a logging failure is a warning: it never breaks the user's ``fit``.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

from mlnb.autolog import keras as keras_autolog
from mlnb.autolog import lightgbm as lightgbm_autolog
from mlnb.autolog import sklearn as sklearn_autolog
from mlnb.autolog import xgboost as xgboost_autolog

FLAVORS = ("sklearn", "xgboost", "lightgbm", "keras")


def autolog(disable: bool = False, log_models: bool = True, log_input_examples: bool = True,
            log_datasets: bool = True, silent: bool = False, max_tuning_runs: int | None = 5,
            **kwargs: Any) -> None:
    """Turn on (or with ``disable=True`` off) autologging for every installed supported library.

    scikit-learn, XGBoost, LightGBM and Keras 3, each if installed (XGBoost's and LightGBM's
    scikit-learn models are logged by their own integration, not twice; Keras's ``Model.fit``
    is patched when Keras is imported, so this call does not import it). As MLflow's
    ``mlflow.autolog``, except that its other keyword arguments are accepted and ignored.

    :param disable: turn autologging off.
    :param log_models: log the fitted model with its flavor's ``log_model``.
    :param log_input_examples: give the model a few training rows as its input example.
    :param log_datasets: record the training data's shape and hash as tags.
    :param silent: no warnings from autologging itself.
    :param max_tuning_runs: at most this many child runs per hyper-parameter search (best first;
        None for all candidates; 5 by default, as MLflow's).
    :param kwargs: other MLflow keyword arguments, accepted and ignored.
    """
    if importlib.util.find_spec("sklearn") is not None:
        sklearn_autolog.autolog(disable=disable, log_models=log_models,
                                log_input_examples=log_input_examples, log_datasets=log_datasets,
                                silent=silent, max_tuning_runs=max_tuning_runs)
    for name, integration in (("xgboost", xgboost_autolog), ("lightgbm", lightgbm_autolog)):
        if importlib.util.find_spec(name) is not None:
            integration.autolog(disable=disable, log_models=log_models,
                                log_input_examples=log_input_examples, log_datasets=log_datasets,
                                silent=silent)
    if importlib.util.find_spec("keras") is not None:
        keras_autolog.autolog(disable=disable, log_models=log_models, silent=silent)


class _CallableModule(types.ModuleType):
    """``mlnb.autolog(...)`` works even when ``mlnb.autolog`` is this package, not the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        autolog(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
