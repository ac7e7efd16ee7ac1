"""LightGBM autologging (MLflow's ``mlflow.lightgbm.autolog``).

``autolog()`` wraps ``lightgbm.train`` and the ``fit`` of LightGBM's scikit-learn models. Per
training call: the params (``train``'s ``params`` and its other arguments; a scikit-learn
model's ``get_params()``), every iteration's evaluation metrics at steps 0, 1, ... under
MLflow's names (``<valid name>-<metric>``, e.g. ``valid_0-binary_logloss``), under early
stopping ``stopped_iteration``, ``best_iteration`` and the best iteration's metrics one step
after the last, ``split`` and ``gain`` feature importance as tables and charts, and the model
through :func:`mlnb.models.lightgbm.log_model` with a signature inferred from the first training
rows, and the training data as a dataset input of the run and a reference sample kept with the
model (``log_datasets``). See :mod:`mlnb.autolog._boosting` for which run a call logs into; a
logging failure is a warning.
"""

from __future__ import annotations

from typing import Any

from mlnb.autolog import _boosting as boosting
from mlnb.autolog import _training_data as training_data
from mlnb.models import lightgbm as flavor

_config = boosting.Config("lightgbm", importance_types=("split", "gain"))
_depth = boosting.Depth()
_logged: set[str] = set()
_patches = boosting.Patches()
_UNLOGGED = {"params", "train_set", "valid_sets", "valid_names", "feval", "init_model",
             "callbacks", "keep_training_booster"}


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True,
            log_models: bool = True, log_datasets: bool = True, disable: bool = False,
            exclusive: bool = False, disable_for_unsupported_versions: bool = False,
            silent: bool = False, registered_model_name: str | None = None,
            extra_tags: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Turn LightGBM autologging on (``disable=True``: off), with MLflow's arguments.

    :param log_input_examples: save the first training rows with the model.
    :param log_model_signatures: infer the model's signature from the first training rows.
    :param log_models: log each trained model (``artifact_path="model"``).
    :param log_datasets: record the training data: a dataset input of the run (MLflow's digest,
        context ``train``) and a sample of at most 10,000 rows kept with the model as its
        reference data (``mlnb monitor``'s default reference).
    :param disable: turn autologging off and restore LightGBM's functions.
    :param exclusive: accepted for MLflow compatibility and ignored.
    :param disable_for_unsupported_versions: accepted for MLflow compatibility and ignored.
    :param silent: suppress autolog's own warnings.
    :param registered_model_name: register each logged model under this name.
    :param extra_tags: tags for each run autolog starts.
    :param kwargs: other MLflow keyword arguments, accepted and ignored.
    """
    if disable:
        _config.enabled = False
        _patches.restore()
        return
    _config.log_input_examples, _config.log_model_signatures = log_input_examples, log_model_signatures
    _config.log_models, _config.log_datasets, _config.silent = log_models, log_datasets, silent
    _config.registered_model_name = registered_model_name
    _config.extra_tags = dict(extra_tags or {})
    _config.enabled = True
    _patch()


def is_enabled() -> bool:
    """Whether LightGBM autologging is on."""
    return _config.enabled


def _patch() -> None:
    import lightgbm  # LightGBM: loaded on first use, not by import mlnb
    import lightgbm.engine  # LightGBM: where train lives
    import lightgbm.sklearn  # LightGBM: its scikit-learn models

    wrap_train = boosting.wrap_train(_config, _depth, _logged, _HOOKS, flavor.log_model)
    for owner in (lightgbm, lightgbm.engine, lightgbm.sklearn):
        _patches.replace(owner, "train", wrap_train)
    fit_wrapper = boosting.wrap_fit(_config, _depth, _logged, _after_sklearn_fit)
    for cls in boosting.with_subclasses(lightgbm.LGBMModel):
        _patches.replace(cls, "fit", fit_wrapper)


def _after_sklearn_fit(fit_run: boosting.FitRun, model: Any, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> None:
    fit_run.log_params(model.get_params())
    _log_results(fit_run, model.booster_)
    X = args[0] if args else kwargs.get("X")
    if _config.log_datasets:
        fit_run.log_training_data(training_data.capture(X, args[1] if len(args) > 1
                                                        else kwargs.get("y")))
    fit_run.log_model(flavor.log_model, model, boosting.head(X), model.predict)


def _log_results(fit_run: boosting.FitRun, booster: Any) -> None:
    best = int(getattr(booster, "best_iteration", 0) or 0)  # 1-based; 0 without early stopping
    if best > 0 and fit_run.history:
        fit_run.log_best(best, best - 1, len(fit_run.history))
    features = list(booster.feature_name())
    for importance_type in _config.importance_types:
        with fit_run.guard(f"compute the {importance_type} feature importance"):
            values = booster.feature_importance(importance_type=importance_type)
            fit_run.log_importance(importance_type, features, list(values))


def _training_set(train_set: Any) -> training_data.TrainingData | None:
    """The dataset record and reference sample of a ``lightgbm.Dataset``'s raw rows (None for
    one built from a file, or whose rows were already freed)."""
    data = getattr(train_set, "data", None)
    if data is None or isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        return None
    return training_data.capture(data, getattr(train_set, "label", None))


def _callback(fit_run: boosting.FitRun) -> Any:
    def record(env: Any) -> None:
        """Logs each iteration's evaluation results (a LightGBM callback)."""
        with fit_run.guard("log an iteration's metrics"):
            metrics = {f"{item[0]}-{item[1]}": float(item[2])
                       for item in env.evaluation_result_list or ()}
            fit_run.log_iteration(metrics, env.iteration - env.begin_iteration)

    record.order = 25  # type: ignore[attr-defined]  # before early stopping (30) may end training
    return record


_HOOKS = boosting.TrainHooks(
    unlogged=frozenset(_UNLOGGED), callback=_callback, log_results=_log_results,
    # The raw rows, before train() constructs the Dataset (and frees them).
    example_before=lambda bound: boosting.head(getattr(bound.arguments.get("train_set"), "data",
                                                       None)),
    model_parts=lambda bound, booster, early: (early, booster.predict),
    # The raw rows and labels, before train() constructs the Dataset (and frees them).
    training_set=lambda bound: _training_set(bound.arguments.get("train_set")),
)
