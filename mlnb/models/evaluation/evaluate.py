"""``evaluate``: score a model on labelled data, log the metrics, the per-class table and the
curves (as data) to a run, and return MLflow's ``EvaluationResult``.

The work is split so each part can be tested alone: :func:`prepare` turns the user's arguments
into arrays (with the clear errors), :func:`compute` computes everything for one model without
touching a run, and :func:`evaluate` adds the naive baseline and the baseline model and logs.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlnb.entities import ModelVersion
from mlnb.errors import InvalidParameterError
from mlnb.models.evaluation import curves
from mlnb.models.evaluation import metrics as M
from mlnb.models.evaluation.result import (
    EvaluationArtifact,
    EvaluationResult,
    number,
)
from mlnb.registry.uri import check_uri_text, logged_model_source, resolve_registry_uri
from mlnb.tracking import fluent
from mlnb.tracking.client import current_client

if TYPE_CHECKING:
    import numpy.typing as npt

    Array = npt.NDArray[Any]

MODEL_TYPES = ("classifier", "regressor")
SUMMARY_FILE = "evaluation.json"
"""The artifact that ties an evaluation together (read by ``mlnb.show_evaluation``)."""

# MLflow's default-evaluator settings mlnb uses, with ours, and the SHAP ones it does not.
CONFIG_KEYS = {"pos_label", "label_list", "average", "sample_weights", "metric_prefix",
               "max_classes_for_multiclass_roc_pr", "calibration_n_bins",
               "calibration_classifier_name", "log_model_explainability",
               "permutation_importance_n_samples", "permutation_importance_n_repeats"}
SHAP_KEYS = {"log_explainer", "explainability_algorithm", "explainability_nsamples",
             "explainability_kernel_link", "log_metrics_with_dataset_info", "col_mapping"}


@dataclass
class Prepared:
    """The evaluation's inputs as arrays."""

    X: Any
    y_true: Any
    predict: Callable[[Any], Any] | None
    predict_proba: Callable[[Any], Any] | None
    raw_model: Any
    y_pred: Any = None
    data: Any = None


@dataclass
class Computed:
    """Everything computed for one model: metrics, the per-class table, artifacts as data."""

    metrics: dict[str, float]
    per_class: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    y_pred: Any = None


# --- arguments -> arrays -----------------------------------------------------------------------


def check_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """The evaluator config, checked: an unknown key is an error, MLflow's SHAP keys a warning.

    :param config: ``evaluator_config`` as given.
    :raises InvalidParameterError: for a key neither mlnb nor MLflow knows.
    """
    config = dict(config or {})
    unknown = sorted(set(config) - CONFIG_KEYS - SHAP_KEYS)
    if unknown:
        raise InvalidParameterError(
            f"evaluator_config has unknown key(s) {unknown}; known keys: {sorted(CONFIG_KEYS)}.")
    ignored = sorted(set(config) & SHAP_KEYS)
    if ignored:
        warnings.warn(f"evaluator_config {ignored}: MLflow settings of SHAP explanations and "
                      "dataset logging, which mlnb does not compute; they have no effect here "
                      "(mlnb logs permutation importance instead).", UserWarning, stacklevel=3)
    return config


def resolve_model(model: Any, model_type: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any] | None,
                                                        Any]:
    """``(predict, predict_proba or None, raw model or None)`` of a URI, a loaded model, an object
    with ``predict``, or a plain callable.

    :param model: what the user passed.
    :param model_type: ``classifier`` or ``regressor`` (only a classifier uses probabilities).
    :raises InvalidParameterError: for something that cannot predict.
    """
    if isinstance(model, str):
        from mlnb.models.pyfunc import load_model  # loads a flavor: on use only

        model = load_model(model)
    raw = model.get_raw_model() if hasattr(model, "get_raw_model") else model
    if hasattr(raw, "predict"):
        proba = getattr(raw, "predict_proba", None) if model_type == "classifier" else None
        return raw.predict, proba if callable(proba) else None, raw
    if callable(model):
        return model, None, None
    raise InvalidParameterError(
        f"model must be a model URI, a loaded model, an object with predict(), or a function "
        f"from features to predictions, not {type(model).__name__}.")


def prepare(model: Any, data: Any, targets: Any, model_type: str, predictions: str | None
            ) -> Prepared:
    """Split ``data`` into features and targets and find how to predict.

    :param model: the model (or None with ``predictions``).
    :param data: a pandas DataFrame, or array-like features.
    :param targets: the target column's name (DataFrame), or the targets themselves.
    :param model_type: ``classifier`` or ``regressor``.
    :param predictions: a column of ``data`` holding the predictions, instead of a model.
    :raises InvalidParameterError: for any argument that does not fit.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if model_type not in MODEL_TYPES:
        raise InvalidParameterError(
            f"model_type must be one of {list(MODEL_TYPES)}, not {model_type!r}.")
    if data is None:
        raise InvalidParameterError("evaluate needs data: a DataFrame with the targets column.")
    if model is None and predictions is None:
        raise InvalidParameterError(
            "Pass a model, or predictions='column' naming the column of data that holds them.")
    if model is not None and predictions is not None:
        raise InvalidParameterError(
            "Pass either a model or predictions= (a column of precomputed predictions), not both.")
    if isinstance(data, pd.DataFrame):
        if not isinstance(targets, str) or targets not in data.columns:
            raise InvalidParameterError(
                f"targets must name a column of data; {targets!r} is not one of "
                f"{[str(c) for c in data.columns][:20]}.")
        drop = [targets] + ([predictions] if predictions is not None else [])
        if predictions is not None and predictions not in data.columns:
            raise InvalidParameterError(
                f"predictions must name a column of data; {predictions!r} is not one of "
                f"{[str(c) for c in data.columns][:20]}.")
        X = data.drop(columns=drop)
        y_true = data[targets].to_numpy()
    else:
        if predictions is not None:
            raise InvalidParameterError("predictions= names a column: data must be a DataFrame.")
        if targets is None or isinstance(targets, str):
            raise InvalidParameterError(
                "With array data, targets must be the target values (a list or array), "
                "or pass a DataFrame and the target column's name.")
        X = data
        y_true = np.asarray(targets)
        if len(y_true) != len(X):
            raise InvalidParameterError(
                f"data has {len(X)} rows but targets has {len(y_true)} values.")
    if len(y_true) == 0:
        raise InvalidParameterError("data has no rows to evaluate.")
    _check_no_missing(y_true, "targets")
    if model is None:
        return Prepared(X, y_true, None, None, None, y_pred=data[predictions].to_numpy(), data=data)
    predict, proba, raw = resolve_model(model, model_type)
    return Prepared(X, y_true, predict, proba, raw, data=data)


def _check_no_missing(values: Any, what: str) -> None:
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    missing = pd.isna(pd.Series(values, copy=False)).to_numpy()
    if missing.any():
        rows = [int(i) for i in missing.nonzero()[0][:5]]
        raise InvalidParameterError(
            f"{int(missing.sum())} of {len(missing)} {what} are missing (NaN or None), first at "
            f"row(s) {rows}; drop those rows or fill them before evaluating.")


def _one_column(values: Any, what: str) -> Any:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidParameterError(
            f"{what} must be one value per row; got an array of shape {arr.shape}.")
    return arr


def _predict(prep: Prepared) -> Any:
    if prep.y_pred is not None:
        y_pred = _one_column(prep.y_pred, "predictions")
    else:
        assert prep.predict is not None
        y_pred = _one_column(prep.predict(prep.X), "The model's predictions")
    if len(y_pred) != len(prep.y_true):
        raise InvalidParameterError(
            f"The model returned {len(y_pred)} predictions for {len(prep.y_true)} rows.")
    _check_no_missing(y_pred, "predictions")
    return y_pred


# --- one model ---------------------------------------------------------------------------------


def compute(prep: Prepared, model_type: str, config: dict[str, Any], *,
            importance: bool = True) -> Computed:
    """Every metric and artifact (as data) for one model; logs nothing.

    :param prep: the prepared inputs.
    :param model_type: ``classifier`` or ``regressor``.
    :param config: the checked evaluator config.
    :param importance: whether to compute permutation importance.
    """
    y_pred = _predict(prep)
    weights = _weights(config, len(prep.y_true))
    if model_type == "regressor":
        out = _regressor(prep.y_true, y_pred, weights)
        score = _r2
    else:
        out = _classifier(prep, y_pred, config, weights)
        score = _accuracy
    out.y_pred = y_pred
    raw = prep.raw_model
    if raw is not None and _is_sklearn(raw) and hasattr(raw, "score"):
        try:  # MLflow logs an sklearn model's own score() too
            out.metrics["score"] = float(raw.score(prep.X, prep.y_true, sample_weight=weights))
        except Exception as exc:  # a model's score() failing must not lose the other metrics
            warnings.warn(f"The model's score() failed: {exc!r}; 'score' is not logged.",
                          UserWarning, stacklevel=2)
    if importance and prep.predict is not None and config.get("log_model_explainability", True):
        X = _as_frame(prep.X)
        if X is not None and X.shape[1] > 0:
            predict = prep.predict
            frame_in = hasattr(prep.X, "columns")
            out.artifacts["permutation_importance"] = curves.permutation_importance(
                (lambda f: predict(f)) if frame_in else (lambda f: predict(f.to_numpy())),
                X, prep.y_true, score,
                n_samples=int(config.get("permutation_importance_n_samples", 2000)),
                n_repeats=int(config.get("permutation_importance_n_repeats", 5)))
    return out


def _is_sklearn(raw: Any) -> bool:
    return type(raw).__module__.split(".")[0] == "sklearn" or any(
        c.__module__.startswith("sklearn.") for c in type(raw).__mro__[1:])


def _as_frame(X: Any) -> Any:
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim != 2:
        return None
    return pd.DataFrame(arr, columns=[f"feature_{i}" for i in range(arr.shape[1])])


def _accuracy(y: Any, p: Any) -> float:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    return float(np.mean(np.asarray(y) == _one_column(p, "predictions")))


def _r2(y: Any, p: Any) -> float:
    from sklearn.metrics import r2_score  # scikit-learn: loaded on first use, not by import mlnb

    return float(r2_score(y, _one_column(p, "predictions")))


def _weights(config: dict[str, Any], n: int) -> Any:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    w = config.get("sample_weights")
    if w is None:
        return None
    w = np.asarray(w, dtype=float).reshape(-1)
    if len(w) != n:
        raise InvalidParameterError(
            f"evaluator_config['sample_weights'] has {len(w)} values for {n} rows.")
    return w


def _regressor(y_true: Any, y_pred: Any, weights: Any) -> Computed:
    try:
        y, p = M.as_float_array(y_true), M.as_float_array(y_pred)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            "A regressor's targets and predictions must be numbers; use "
            "model_type='classifier' for labels.") from None
    metrics = M.regressor_metrics(y, p, weights)
    return Computed(metrics, artifacts=curves.regression_views(y, p),
                    info={"model_type": "regressor"})


def _labels(prep: Prepared, y_pred: Any, config: dict[str, Any]) -> Any:
    """The classes: ``label_list``, else the model's ``classes_``, else those seen in the
    targets and predictions, sorted (so a slice missing a class still counts it)."""
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    given = config.get("label_list")
    if given is None and prep.raw_model is not None and hasattr(prep.raw_model, "classes_"):
        given = list(prep.raw_model.classes_)
    if given is None:
        seen = set(prep.y_true.tolist()) | set(y_pred.tolist())
        given = list(seen)
    try:
        labels = np.array(sorted(given))
    except TypeError:
        kinds = sorted({type(x).__name__ for x in given})
        raise InvalidParameterError(
            f"The labels mix types ({', '.join(kinds)}): targets and predictions must use the "
            "same label type (e.g. all strings or all integers).") from None
    if len(labels) < 2:
        raise InvalidParameterError(
            f"Only one class ({labels.tolist()!r}) is present in the targets and predictions, so "
            "classification metrics are undefined. Name every class with "
            "evaluator_config={'label_list': [...]} (e.g. [0, 1]), or evaluate on data holding "
            "at least two classes.")
    extra = sorted({str(x) for x in set(prep.y_true.tolist()) | set(y_pred.tolist())}
                   - set(M.label_text(labels)))
    if extra:
        raise InvalidParameterError(
            f"The targets or predictions hold label(s) {extra[:10]} that are not classes "
            f"{M.label_text(labels)}; add them to evaluator_config['label_list'].")
    return labels


def _probabilities(prep: Prepared, labels: Any) -> Any:
    """Class probabilities with columns in the order of ``labels``, or None (with a warning when
    the model's probabilities cannot be matched to the classes)."""
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if prep.predict_proba is None:
        return None
    proba = np.asarray(prep.predict_proba(prep.X), dtype=float)
    classes = getattr(prep.raw_model, "classes_", None)
    if classes is not None:
        order = {str(c): i for i, c in enumerate(np.asarray(classes).tolist())}
        missing = [t for t in M.label_text(labels) if t not in order]
        if missing:
            warnings.warn(f"The model has no probability for class(es) {missing}: the "
                          "probability metrics are skipped.", UserWarning, stacklevel=3)
            return None
        proba = proba[:, [order[t] for t in M.label_text(labels)]]
    if proba.ndim != 2 or proba.shape != (len(prep.y_true), len(labels)):
        warnings.warn(f"predict_proba returned shape {proba.shape}, not (rows, {len(labels)} "
                      "classes): the probability metrics are skipped.", UserWarning, stacklevel=3)
        return None
    if np.isnan(proba).any():
        raise InvalidParameterError(
            f"predict_proba returned NaN for {int(np.isnan(proba).any(axis=1).sum())} rows; "
            "fix the model or drop those rows.")
    return proba


def _classifier(prep: Prepared, y_pred: Any, config: dict[str, Any], weights: Any) -> Computed:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    labels = _labels(prep, y_pred, config)
    names = M.label_text(labels)
    proba = _probabilities(prep, labels)
    y_true = prep.y_true
    art: dict[str, Any] = {"confusion_matrix": curves.confusion_matrix(
        y_true, y_pred, labels, names, weights)}
    info: dict[str, Any] = {"model_type": "classifier", "labels": names}
    if len(labels) == 2:
        pos = config.get("pos_label", labels[-1])
        if str(pos) not in names:
            raise InvalidParameterError(
                f"pos_label {pos!r} is not one of the classes {names}; set "
                "evaluator_config['pos_label'] to one of them.")
        pos = labels[names.index(str(pos))]
        pos_index = int(np.nonzero(labels == pos)[0][0])
        scores = proba[:, pos_index] if proba is not None else None
        metrics = M.binary_metrics(y_true, y_pred, scores, proba, labels, pos, weights)
        info["pos_label"] = str(pos)
        if scores is not None:
            is_pos = np.asarray(y_true == pos)
            art.update(_binary_curves(is_pos, scores, weights, metrics, config))
    else:
        metrics = M.multiclass_metrics(y_true, y_pred, proba, labels,
                                       config.get("average", "weighted"), weights)
        if proba is not None and len(labels) <= int(config.get("max_classes_for_multiclass_roc_pr", 10)):
            art.update(_multiclass_curves(y_true, proba, labels, names, weights, config))
    per_class = M.per_class_table(y_true, y_pred, proba, labels, weights)
    for row in per_class:
        row["positive_class"] = str(row["positive_class"])
    return Computed(metrics, per_class, art, info)


def _binary_curves(is_pos: Any, scores: Any, weights: Any, metrics: dict[str, float],
                   config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if is_pos.any() and (~is_pos).any():
        out["roc_curve"] = curves.roc_curve(is_pos, scores, weights, metrics["roc_auc"])
        out["precision_recall_curve"] = curves.pr_curve(
            is_pos, scores, weights, metrics["precision_recall_auc"])
    out["threshold_table"] = curves.threshold_table(is_pos, scores)
    out["calibration_curve"] = curves.calibration_curve(
        is_pos, scores, int(config.get("calibration_n_bins", 10)))
    out["lift_curve"] = curves.lift_curve(is_pos, scores)
    return out


def _multiclass_curves(y_true: Any, proba: Any, labels: Any, names: list[str], weights: Any,
                       config: dict[str, Any]) -> dict[str, Any]:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    roc, pr, cal = {}, {}, {}
    for i, name in enumerate(names):
        is_pos = np.asarray(y_true == labels[i])
        cal[name] = curves.calibration_curve(is_pos, proba[:, i],
                                             int(config.get("calibration_n_bins", 10)))
        if is_pos.any() and (~is_pos).any():
            from sklearn import metrics as skm  # scikit-learn: loaded on first use

            auc = float(skm.roc_auc_score(is_pos, proba[:, i], sample_weight=weights))
            ap = float(skm.average_precision_score(is_pos, proba[:, i], sample_weight=weights))
            roc[name] = curves.roc_curve(is_pos, proba[:, i], weights, auc)
            pr[name] = curves.pr_curve(is_pos, proba[:, i], weights, ap)
    return {"roc_curve": {"per_class": roc}, "precision_recall_curve": {"per_class": pr},
            "calibration_curve": {"per_class": cal}}


def naive_baseline(prep: Prepared, model_type: str, config: dict[str, Any], labels: list[str] | None
                   ) -> dict[str, float]:
    """The metrics of the naive model on the same data: the mean target (regressor), or the
    majority class with each class's share as its probability (classifier).

    :param prep: the prepared inputs.
    :param model_type: ``classifier`` or ``regressor``.
    :param config: the checked evaluator config.
    :param labels: the candidate's classes (as text), so the baseline uses the same ones.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    y = prep.y_true
    weights = _weights(config, len(y))
    if model_type == "regressor":
        y_f = M.as_float_array(y)
        mean = float(np.average(y_f, weights=weights))
        return M.regressor_metrics(y_f, np.full(len(y_f), mean), weights)
    classes = np.array(sorted(set(y.tolist())))
    if labels is not None:
        by_text = {str(v): v for v in y.tolist()}
        classes = np.array([by_text.get(t, t) for t in labels], dtype=y.dtype if labels else None)
    w = np.ones(len(y)) if weights is None else weights
    share = np.array([w[y == c].sum() for c in classes]) / w.sum()
    majority = classes[int(np.argmax(share))]
    naive = Prepared(prep.X, y, None, None, None, y_pred=np.full(len(y), majority, dtype=y.dtype))
    naive.predict_proba = lambda _X: np.tile(share, (len(y), 1))
    naive_config = dict(config, label_list=list(classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant model's undefined metrics are expected
        return _classifier(naive, naive.y_pred, naive_config, weights).metrics


# --- extra metrics -----------------------------------------------------------------------------


def extra_metric_values(extra: list[Any], y_true: Any, y_pred: Any, metrics: dict[str, float],
                        data: Any) -> dict[str, float]:
    """The values of the user's extra metrics, by MLflow's calling convention.

    :param extra: ``EvaluationMetric`` objects (mlnb's or MLflow's: anything with ``eval_fn``
        and ``name``).
    :param y_true: the targets.
    :param y_pred: the predictions.
    :param metrics: the built-in metrics so far (passed as ``metrics``).
    :param data: the evaluation DataFrame (its columns can be asked for by name), or None.
    :raises InvalidParameterError: for a metric that is not one, or asks for an unknown argument.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    out: dict[str, float] = {}
    for metric in extra:
        fn, name = getattr(metric, "eval_fn", None), getattr(metric, "name", None)
        if not callable(fn) or not isinstance(name, str):
            raise InvalidParameterError(
                f"extra_metrics must be made with mlnb.models.make_metric(eval_fn=..., "
                f"greater_is_better=..., name=...); got {type(metric).__name__}.")
        available = {"predictions": pd.Series(y_pred), "targets": pd.Series(y_true),
                     "metrics": dict(metrics, **out)}
        kwargs = {}
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            if param.name in available:
                kwargs[param.name] = available[param.name]
            elif data is not None and hasattr(data, "columns") and param.name in data.columns:
                kwargs[param.name] = data[param.name]
            elif param.default is param.empty:
                raise InvalidParameterError(
                    f"Extra metric {name!r} asks for {param.name!r}, which is neither predictions, "
                    "targets, metrics nor a column of the data.")
        value = fn(**kwargs)
        aggregates = getattr(value, "aggregate_results", None)
        if aggregates is not None or hasattr(value, "scores"):
            for agg, v in (aggregates or {}).items():
                out[name if agg == name else f"{name}/{agg}"] = number(v)
        else:
            out[name] = number(value)
    return out


# --- the public function -----------------------------------------------------------------------


def evaluate(model: Any = None, data: Any = None, *, targets: Any = None,
             model_type: str = "classifier", predictions: str | None = None,
             extra_metrics: list[Any] | None = None, evaluator_config: dict[str, Any] | None = None,
             baseline_model: Any = None) -> EvaluationResult:
    """Evaluate a model on labelled data (MLflow's ``mlflow.models.evaluate``, default evaluator).

    Logs to the active run, or to a new run that is ended afterwards: the metrics (MLflow's
    names, step 0), ``per_class_metrics.csv`` (classifiers), and as JSON data
    ``confusion_matrix``, ``roc_curve``, ``precision_recall_curve``, ``calibration_curve``,
    ``lift_curve``, ``threshold_table`` (binary), ``predicted_vs_actual`` and ``residuals``
    (regressors), ``permutation_importance``; and ``evaluation.json`` holding the metrics beside
    those of a naive baseline (and of ``baseline_model``), which ``mlnb.show_evaluation`` draws.

    :param model: a model URI (``runs:/...``, ``models:/...``), a loaded model, an object with
        ``predict`` (and ``predict_proba``), or a function from features to predictions; None
        with ``predictions``. A registered version's URI (``models:/<name>/<version>``,
        ``@alias``, a stage) attaches the evaluation run to that version, for the model's
        registry gate (``MlnbClient.set_registered_model_gate``).
    :param data: a pandas DataFrame holding the features and the targets (or array features).
    :param targets: the target column's name (or, with array data, the targets).
    :param model_type: ``"classifier"`` or ``"regressor"``.
    :param predictions: a column of ``data`` holding precomputed predictions, instead of a model.
    :param extra_metrics: metrics made with :func:`mlnb.models.make_metric`.
    :param evaluator_config: MLflow's default-evaluator settings: ``pos_label``, ``label_list``,
        ``average``, ``sample_weights``, ``metric_prefix``, ``max_classes_for_multiclass_roc_pr``,
        ``calibration_n_bins``, ``log_model_explainability`` (permutation importance); mlnb adds
        ``permutation_importance_n_samples`` (2000) and ``permutation_importance_n_repeats`` (5).
    :param baseline_model: a second model evaluated on the same data; its result is
        ``result.baseline_model_result`` (for :func:`validate_evaluation_results`).
    :raises InvalidParameterError: for arguments that do not fit, one class only, labels that
        mix types, a ``pos_label`` that is not a class, or missing targets or predictions.
    """
    config = check_config(evaluator_config)
    version = registered_version(model)
    if version is not None:  # load exactly the version the run is attached to
        model = f"models:/{version.name}/{version.version}"
    prep = prepare(model, data, targets, model_type, predictions)
    computed = compute(prep, model_type, config)
    frame = data if hasattr(data, "columns") else None
    computed.metrics.update(extra_metric_values(
        list(extra_metrics or []), prep.y_true, computed.y_pred, computed.metrics, frame))
    baseline = naive_baseline(prep, model_type, config, computed.info.get("labels"))
    other: Computed | None = None
    if baseline_model is not None:
        other_prep = prepare(baseline_model, data, targets, model_type, None)
        other = compute(other_prep, model_type, config, importance=False)
    result = _log(computed, baseline, other, config)
    if version is not None and result.run_id is not None:
        current_client().attach_evaluation(version.name, version.version, result.run_id)
    return result


def registered_version(model: Any) -> ModelVersion | None:
    """The registered version a ``models:/`` URI names (resolved once, so the version evaluated is
    the one the run is attached to even if an alias moves meanwhile); None for anything else.

    :param model: the ``model`` argument of :func:`evaluate`.
    """
    if not isinstance(model, str) or not model.strip().startswith("models:/"):
        return None
    store = current_client().store
    uri = check_uri_text(model)
    if logged_model_source(store, uri) is not None:  # MLflow 3's models:/m-<id>: not registered
        return None
    return resolve_registry_uri(store, uri)


def _prefixed(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in metrics.items()}


def _log(computed: Computed, baseline: dict[str, float], other: Computed | None,
         config: dict[str, Any]) -> EvaluationResult:
    prefix = str(config.get("metric_prefix") or "")
    metrics = _prefixed(computed.metrics, prefix)
    active = fluent.active_run()
    started = None if active is not None else fluent.start_run()
    run_id = (active or started).info.run_id  # type: ignore[union-attr]
    client = current_client()
    status = "FAILED"
    try:
        client.log_metrics(run_id, metrics, step=0)
        client.set_tags(run_id, {"mlnb.evaluation.model_type": computed.info["model_type"]})
        artifacts = _write_artifacts(client, run_id, prefix, computed, baseline, other, metrics)
        status = "FINISHED"
    finally:
        if started is not None:
            fluent.end_run(status)
    tables = {}
    if computed.per_class:
        import pandas as pd  # pandas: loaded on first use, not by import mlnb

        tables["per_class_metrics"] = pd.DataFrame(computed.per_class)
    other_result = (EvaluationResult(_prefixed(other.metrics, prefix), {}, run_id)
                    if other is not None else None)
    return EvaluationResult(metrics, artifacts, run_id, _prefixed(baseline, prefix), other_result,
                            tables)


def _write_artifacts(client: Any, run_id: str, prefix: str, computed: Computed,
                     baseline: dict[str, float], other: Computed | None,
                     metrics: dict[str, float]) -> dict[str, EvaluationArtifact]:
    store = client.store
    written: dict[str, EvaluationArtifact] = {}
    uri = client.get_run_info(run_id).artifact_uri

    def put(name: str, filename: str, payload: bytes) -> None:
        path = f"{prefix}{filename}"
        store.put_artifact_bytes(run_id, path, payload)
        written[name] = EvaluationArtifact(f"{uri}/{path}", store.artifact_path(run_id, path))

    for name, value in computed.artifacts.items():
        put(name, f"{name}.json", _json(value))
    if computed.per_class:
        put("per_class_metrics", "per_class_metrics.csv", _csv(computed.per_class))
    summary = {"version": 1, **computed.info, "metric_prefix": prefix, "metrics": metrics,
               "baseline": {"kind": "naive", "metrics": _prefixed(baseline, prefix)},
               "baseline_model": (None if other is None else
                                  {"metrics": _prefixed(other.metrics, prefix)}),
               "artifacts": {k: f"{prefix}{k}.json" for k in computed.artifacts},
               "per_class_metrics": computed.per_class}
    put("evaluation", SUMMARY_FILE, _json(summary))
    return written


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if hasattr(value, "item"):
        return _strict(value.item())
    return value


def _json(value: Any) -> bytes:
    # Strict JSON (NaN as null): the sidebar's JSON.parse rejects NaN.
    return json.dumps(_strict(value), separators=(",", ":"), allow_nan=False).encode("utf-8")


def _csv(rows: list[dict[str, Any]]) -> bytes:
    columns = [c for c in M.PER_CLASS_COLUMNS if any(c in r for r in rows)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")
