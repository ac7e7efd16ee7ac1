"""XGBoost autologging (MLflow's ``mlflow.xgboost.autolog``).

``autolog()`` wraps ``xgboost.train`` and the ``fit`` of XGBoost's scikit-learn models. Per
training call: the params (``train``'s ``params`` and its other arguments; a scikit-learn
model's ``get_params()``), every iteration's evaluation metrics at steps 0, 1, ... under
MLflow's names (``<eval name>-<metric>``, e.g. ``validation_0-logloss``), under early stopping
``stopped_iteration``, ``best_iteration`` and the best iteration's metrics one step after the
last, feature importance per ``importance_types`` as a table and a chart, and the model through
:func:`mlnb.models.xgboost.log_model` with a signature inferred from the first training rows
(captured when the ``DMatrix`` is built), and the training data as a dataset input of the run
and a reference sample kept with the model (``log_datasets``). See
:mod:`mlnb.autolog._boosting` for which run a call logs into; a logging failure is a warning.
"""

from __future__ import annotations

import functools
from typing import Any

from mlnb.autolog import _boosting as boosting
from mlnb.autolog import _training_data as training_data
from mlnb.models import xgboost as flavor

_config = boosting.Config("xgboost", importance_types=("weight",))
_depth = boosting.Depth()
_logged: set[str] = set()
_patches = boosting.Patches()
_UNLOGGED = {"params", "dtrain", "evals", "obj", "evals_result", "xgb_model", "callbacks",
             "custom_metric", "learning_rates"}


def autolog(importance_types: list[str] | None = None, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_models: bool = True, log_datasets: bool = True,
            disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            registered_model_name: str | None = None, model_format: str = "ubj",
            extra_tags: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Turn XGBoost autologging on (``disable=True``: off), with MLflow's arguments.

    :param importance_types: feature importance types to log (default ``["weight"]``).
    :param log_input_examples: save the first training rows with the model.
    :param log_model_signatures: infer the model's signature from the first training rows.
    :param log_models: log each trained model (``artifact_path="model"``).
    :param log_datasets: record the training data: a dataset input of the run (MLflow's digest,
        context ``train``) and a sample of at most 10,000 rows kept with the model as its
        reference data (``mlnb monitor``'s default reference).
    :param disable: turn autologging off and restore XGBoost's functions.
    :param exclusive: accepted for MLflow compatibility and ignored.
    :param disable_for_unsupported_versions: accepted for MLflow compatibility and ignored.
    :param silent: suppress autolog's own warnings.
    :param registered_model_name: register each logged model under this name.
    :param model_format: ``"ubj"`` (default) or ``"json"``.
    :param extra_tags: tags for each run autolog starts.
    :param kwargs: other MLflow keyword arguments, accepted and ignored.
    """
    if disable:
        _config.enabled = False
        _patches.restore()
        return
    flavor._format(model_format)  # a bad format is an error now, not a warning per fit
    _config.log_input_examples, _config.log_model_signatures = log_input_examples, log_model_signatures
    _config.log_models, _config.log_datasets, _config.silent = log_models, log_datasets, silent
    _config.registered_model_name = registered_model_name
    _config.extra_tags = dict(extra_tags or {})
    _config.importance_types = tuple(importance_types or ("weight",))
    _config.model_options = {"model_format": model_format}
    _config.enabled = True
    _patch()


def is_enabled() -> bool:
    """Whether XGBoost autologging is on."""
    return _config.enabled


def _patch() -> None:
    import xgboost  # XGBoost: loaded on first use, not by import mlnb
    import xgboost.sklearn  # XGBoost: its scikit-learn models
    import xgboost.training  # XGBoost: where train lives

    wrap_train = boosting.wrap_train(_config, _depth, _logged, _HOOKS, flavor.log_model)
    for owner in (xgboost, xgboost.training, xgboost.sklearn):
        _patches.replace(owner, "train", wrap_train)
    _patches.replace(xgboost.DMatrix, "__init__", _wrap_dmatrix_init)
    fit_wrapper = boosting.wrap_fit(_config, _depth, _logged, _after_sklearn_fit)
    for cls in boosting.with_subclasses(xgboost.XGBModel):
        _patches.replace(cls, "fit", fit_wrapper)


def _wrap_dmatrix_init(original: Any) -> Any:
    @functools.wraps(original)
    def init(self: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        original(self, data, *args, **kwargs)
        if _config.enabled:
            # The first rows, kept for the signature: a DMatrix cannot give its data back.
            self._mlnb_head = boosting.head(data)
            if _config.log_datasets and _depth.current is None:
                # Its dataset record and reference sample (bounded: 10,000 values for the
                # digest, 10,000 sampled rows), taken now for the same reason.
                label = args[0] if args else kwargs.get("label")
                self._mlnb_training = training_data.capture(data, label)

    return init


def _after_sklearn_fit(fit_run: boosting.FitRun, model: Any, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> None:
    fit_run.log_params(model.get_params())
    _log_results(fit_run, model.get_booster())
    X = args[0] if args else kwargs.get("X")
    if _config.log_datasets:
        fit_run.log_training_data(training_data.capture(X, args[1] if len(args) > 1
                                                        else kwargs.get("y")))
    fit_run.log_model(flavor.log_model, model, boosting.head(X), model.predict)


def _log_results(fit_run: boosting.FitRun, booster: Any) -> None:
    best = booster.attr("best_iteration")
    if best is not None and fit_run.history:
        fit_run.log_best(int(best), int(best), len(fit_run.history) - 1)
    for importance_type in _config.importance_types:
        with fit_run.guard(f"compute the {importance_type} feature importance"):
            scores = booster.get_score(importance_type=importance_type)
            fit_run.log_importance(importance_type, list(scores), list(scores.values()))


def _callback(fit_run: boosting.FitRun) -> Any:
    import xgboost  # XGBoost: loaded on first use, not by import mlnb

    class _Record(xgboost.callback.TrainingCallback):
        """Logs each iteration's latest evaluation results."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            with fit_run.guard("log an iteration's metrics"):
                metrics: dict[str, float] = {}
                for data, results in evals_log.items():
                    for name, values in results.items():
                        last = values[-1]
                        metrics[f"{data}-{name}"] = float(last[0] if isinstance(last, tuple) else last)
                fit_run.log_iteration(metrics, epoch)
            return False  # never stop training

    return _Record()


_HOOKS = boosting.TrainHooks(
    unlogged=frozenset(_UNLOGGED), callback=_callback, log_results=_log_results,
    example_before=lambda bound: None,
    # The first rows the DMatrix kept (_wrap_dmatrix_init): a DMatrix cannot give its data back.
    model_parts=lambda bound, booster, early: (
        getattr(bound.arguments.get("dtrain"), "_mlnb_head", None), flavor.predict_fn(booster)),
    training_set=lambda bound: getattr(bound.arguments.get("dtrain"), "_mlnb_training", None),
)
