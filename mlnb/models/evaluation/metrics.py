"""The default metrics, by MLflow's names, computed with ``sklearn.metrics`` as MLflow computes them.

Pure functions over arrays (no run, no model): :func:`binary_metrics`, :func:`multiclass_metrics`,
:func:`regressor_metrics` and the per-class table :func:`per_class_table`. A metric that the data
cannot define (ROC AUC when the targets hold one class) is NaN with a warning naming why, never
an exception from inside scikit-learn.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[Any]

PER_CLASS_COLUMNS = ("positive_class", "true_negatives", "false_positives", "false_negatives",
                     "true_positives", "example_count", "accuracy_score", "recall_score",
                     "precision_score", "f1_score", "roc_auc", "precision_recall_auc")
"""The per-class table's columns (MLflow's ``per_class_metrics.csv`` plus ``example_count``)."""


class UndefinedMetricWarning(UserWarning):
    """A metric the evaluation data cannot define (it is reported as NaN)."""


def _or_nan(name: str, compute: Callable[[], float], why: str) -> float:
    """``compute()``, or NaN with a warning when scikit-learn finds it undefined on this data."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's own warnings: ours below says what to do
            value = float(compute())
    except ValueError as exc:
        warnings.warn(f"{name} is NaN: {why} ({exc})", UndefinedMetricWarning, stacklevel=3)
        return math.nan
    if math.isnan(value):  # newer scikit-learn returns NaN (with its own warning) instead
        warnings.warn(f"{name} is NaN: {why}", UndefinedMetricWarning, stacklevel=3)
    return value


def _quiet(compute: Callable[[], Any]) -> Any:
    # zero_division: sklearn warns and returns 0.0, as MLflow reports it; the warning is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute()


def common_metrics(y_true: Array, y_pred: Array, y_proba: Array | None, labels: Array, *,
                   average: str, pos_label: Any, sample_weight: Array | None) -> dict[str, float]:
    """``example_count``, accuracy, recall, precision, F1 and (with probabilities) log loss.

    :param y_true: the targets.
    :param y_pred: the predicted labels.
    :param y_proba: class probabilities, columns in the order of sorted ``labels``, or None.
    :param labels: every class.
    :param average: scikit-learn's ``average`` (``"binary"`` for two classes).
    :param pos_label: the positive class for ``average="binary"``.
    :param sample_weight: per-row weights, or None.
    """
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    kw: dict[str, Any] = {"average": average, "pos_label": pos_label, "sample_weight": sample_weight}
    out = {
        "example_count": float(len(y_true)),
        "accuracy_score": float(skm.accuracy_score(y_true, y_pred, sample_weight=sample_weight)),
        "recall_score": float(_quiet(lambda: skm.recall_score(y_true, y_pred, **kw))),
        "precision_score": float(_quiet(lambda: skm.precision_score(y_true, y_pred, **kw))),
        "f1_score": float(_quiet(lambda: skm.f1_score(y_true, y_pred, **kw))),
    }
    if y_proba is not None:
        out["log_loss"] = _or_nan(
            "log_loss", lambda: skm.log_loss(y_true, y_proba, labels=labels,
                                             sample_weight=sample_weight),
            "the probabilities do not fit the classes")
    return out


def binary_metrics(y_true: Array, y_pred: Array, pos_proba: Array | None, y_proba: Array | None,
                   labels: Array, pos_label: Any, sample_weight: Array | None) -> dict[str, float]:
    """MLflow's binary classifier metrics: the confusion counts, the common metrics, ``roc_auc``
    and ``precision_recall_auc`` (average precision, as MLflow reports it).

    :param y_true: the targets.
    :param y_pred: the predicted labels.
    :param pos_proba: the positive class's probability per row, or None.
    :param y_proba: all class probabilities (sorted label order), or None.
    :param labels: the two classes, sorted.
    :param pos_label: the positive class.
    :param sample_weight: per-row weights, or None.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    negative = labels[0] if labels[1] == pos_label else labels[1]
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[negative, pos_label]).ravel()
    out = {"true_negatives": float(tn), "false_positives": float(fp),
           "false_negatives": float(fn), "true_positives": float(tp)}
    out.update(common_metrics(y_true, y_pred, y_proba, labels, average="binary",
                              pos_label=pos_label, sample_weight=sample_weight))
    if pos_proba is not None:
        is_pos = np.asarray(y_true == pos_label)
        one_class = "the targets hold one class only; pass data with both classes"
        out["roc_auc"] = _or_nan("roc_auc", lambda: skm.roc_auc_score(
            is_pos, pos_proba, sample_weight=sample_weight), one_class)
        if is_pos.any():
            out["precision_recall_auc"] = float(_quiet(lambda: skm.average_precision_score(
                y_true, pos_proba, pos_label=pos_label, sample_weight=sample_weight)))
        else:
            warnings.warn(f"precision_recall_auc is NaN: no target is the positive class "
                          f"{pos_label!r}", UndefinedMetricWarning, stacklevel=2)
            out["precision_recall_auc"] = math.nan
    return out


def multiclass_metrics(y_true: Array, y_pred: Array, y_proba: Array | None, labels: Array,
                       average: str, sample_weight: Array | None) -> dict[str, float]:
    """MLflow's multiclass metrics: the common metrics averaged (``"weighted"`` by default) and
    the one-vs-rest ``roc_auc``.

    :param y_true: the targets.
    :param y_pred: the predicted labels.
    :param y_proba: class probabilities (sorted label order), or None.
    :param labels: every class, sorted.
    :param average: scikit-learn's ``average``.
    :param sample_weight: per-row weights, or None.
    """
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    out = common_metrics(y_true, y_pred, y_proba, labels, average=average, pos_label=None,
                         sample_weight=sample_weight)
    if y_proba is not None and average in ("macro", "weighted"):
        out["roc_auc"] = _or_nan("roc_auc", lambda: skm.roc_auc_score(
            y_true, y_proba, labels=labels, sample_weight=sample_weight, average=average,
            multi_class="ovr"), "some class never occurs in the targets")
    return out


def per_class_table(y_true: Array, y_pred: Array, y_proba: Array | None, labels: Array,
                    sample_weight: Array | None) -> list[dict[str, Any]]:
    """One row per class, that class taken as positive (one-vs-rest): counts and metrics.

    The counts come from one confusion matrix (one pass over the data, not one per class);
    the rates use the weights when given, as scikit-learn's do.

    :param y_true: the targets.
    :param y_pred: the predicted labels.
    :param y_proba: class probabilities (sorted label order), or None.
    :param labels: every class, sorted.
    :param sample_weight: per-row weights, or None.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    counts = skm.confusion_matrix(y_true, y_pred, labels=labels)
    weighted = counts if sample_weight is None else skm.confusion_matrix(
        y_true, y_pred, labels=labels, sample_weight=sample_weight)
    rows = []
    for i, label in enumerate(labels):
        tp, fp, fn, tn = _one_vs_rest(counts, i)
        wtp, wfp, wfn, wtn = _one_vs_rest(weighted, i)
        precision = _ratio(wtp, wtp + wfp)
        recall = _ratio(wtp, wtp + wfn)
        row: dict[str, Any] = {
            "positive_class": label.item() if hasattr(label, "item") else label,
            "true_negatives": tn, "false_positives": fp, "false_negatives": fn,
            "true_positives": tp, "example_count": tp + fp + fn + tn,
            "accuracy_score": _ratio(wtp + wtn, wtp + wfp + wfn + wtn),
            "recall_score": recall, "precision_score": precision,
            "f1_score": _ratio(2 * wtp, 2 * wtp + wfp + wfn),
        }
        if y_proba is not None:
            row.update(_class_areas(np.asarray(y_true == label), y_proba[:, i],
                                    label_text([label])[0], sample_weight))
        rows.append(row)
    return rows


def _class_areas(is_pos: Array, scores: Array, name: str, sample_weight: Array | None
                 ) -> dict[str, float]:
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    roc = _or_nan(f"roc_auc of class {name!r}", lambda: skm.roc_auc_score(
        is_pos, scores, sample_weight=sample_weight), "it is all or none of the targets")
    ap = (float(_quiet(lambda: skm.average_precision_score(is_pos, scores, sample_weight=sample_weight)))
          if is_pos.any() else math.nan)
    return {"roc_auc": roc, "precision_recall_auc": ap}


def _one_vs_rest(matrix: Array, i: int) -> tuple[float, float, float, float]:
    tp = float(matrix[i, i])
    fp = float(matrix[:, i].sum()) - tp
    fn = float(matrix[i, :].sum()) - tp
    tn = float(matrix.sum()) - tp - fp - fn
    return tp, fp, fn, tn


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0  # scikit-learn's zero_division default, as MLflow reports


def regressor_metrics(y_true: Array, y_pred: Array, sample_weight: Array | None) -> dict[str, float]:
    """MLflow's regressor metrics, by its names.

    :param y_true: the targets.
    :param y_pred: the predictions.
    :param sample_weight: per-row weights, or None.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    w = sample_weight
    total = float((y_true * w).sum()) if w is not None else float(y_true.sum())
    mse = float(skm.mean_squared_error(y_true, y_pred, sample_weight=w))
    return {
        "example_count": float(len(y_true)),
        "mean_absolute_error": float(skm.mean_absolute_error(y_true, y_pred, sample_weight=w)),
        "mean_squared_error": mse,
        "root_mean_squared_error": float(np.sqrt(mse)),
        "sum_on_target": total,
        "mean_on_target": total / len(y_true),
        "r2_score": _or_nan("r2_score", lambda: skm.r2_score(y_true, y_pred, sample_weight=w),
                            "it needs at least two rows"),
        "max_error": float(skm.max_error(y_true, y_pred)),
        "mean_absolute_percentage_error": float(
            skm.mean_absolute_percentage_error(y_true, y_pred, sample_weight=w)),
    }


def label_text(labels: Sequence[Any] | Array) -> list[str]:
    """Labels as display text (numpy scalars unwrapped).

    :param labels: the classes.
    """
    return [str(x.item() if hasattr(x, "item") else x) for x in labels]


def as_float_array(values: Any) -> np.ndarray[Any, Any]:
    """A float ndarray of ``values`` (1-D).

    :param values: array-like numbers.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    return np.asarray(values, dtype=float).reshape(-1)
