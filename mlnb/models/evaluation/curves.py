"""The curves and matrices of an evaluation, as data (JSON-ready dicts), not pictures.

Each function returns plain lists (NaN as None, so the JSON is strict) that the notebook view and
the sidebar draw. Long curves are thinned to at most :data:`MAX_CURVE_POINTS` points (first and
last kept); the areas under them are computed on the full data before thinning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

    Array = npt.NDArray[Any]

MAX_CURVE_POINTS = 1000
THRESHOLD_STEPS = 101  # the threshold table's grid: 0.00, 0.01, ..., 1.00
SCATTER_POINTS = 2000  # predicted-vs-actual points kept for a regressor (a seeded sample)
HISTOGRAM_BINS = 30


def clean(values: Any) -> list[Any]:
    """A JSON-ready list: numpy scalars unwrapped, NaN and infinities as None.

    :param values: an array or sequence.
    """
    out: list[Any] = []
    for v in (values.tolist() if hasattr(values, "tolist") else list(values)):
        if isinstance(v, float) and not math.isfinite(v):
            out.append(None)
        else:
            out.append(v)
    return out


def thin(*columns: Array, limit: int = MAX_CURVE_POINTS) -> list[list[Any]]:
    """The columns at no more than ``limit`` evenly spaced indices (first and last kept).

    :param columns: equal-length arrays.
    :param limit: the most points kept.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    n = len(columns[0])
    if n <= limit:
        return [clean(c) for c in columns]
    idx = np.unique(np.linspace(0, n - 1, limit).round().astype(int))
    return [clean(np.asarray(c)[idx]) for c in columns]


def confusion_matrix(y_true: Array, y_pred: Array, labels: Array, label_names: list[str],
                     sample_weight: Array | None) -> dict[str, Any]:
    """Counts (rows: true class, columns: predicted) and the matrix normalised by true class.

    :param y_true: the targets.
    :param y_pred: the predicted labels.
    :param labels: every class, in display order.
    :param label_names: the classes as text.
    :param sample_weight: per-row weights, or None.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    counts = skm.confusion_matrix(y_true, y_pred, labels=labels, sample_weight=sample_weight)
    totals = counts.sum(axis=1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = np.where(totals > 0, counts / np.where(totals == 0, 1, totals), 0.0)
    return {"labels": label_names, "counts": counts.tolist(), "normalized": normalized.tolist()}


def roc_curve(is_pos: Array, scores: Array, sample_weight: Array | None, auc: float
              ) -> dict[str, Any]:
    """The ROC curve (false and true positive rates by threshold) and its area.

    :param is_pos: whether each row's target is the positive class.
    :param scores: the positive class's probability per row.
    :param sample_weight: per-row weights, or None.
    :param auc: the area (computed once, by the metrics).
    """
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    fpr, tpr, thr = skm.roc_curve(is_pos, scores, sample_weight=sample_weight)
    x, y, t = thin(fpr, tpr, thr)
    return {"fpr": x, "tpr": y, "thresholds": t, "auc": _num(auc)}


def pr_curve(is_pos: Array, scores: Array, sample_weight: Array | None, ap: float
             ) -> dict[str, Any]:
    """The precision-recall curve and its average precision.

    :param is_pos: whether each row's target is the positive class.
    :param scores: the positive class's probability per row.
    :param sample_weight: per-row weights, or None.
    :param ap: the average precision (computed once, by the metrics).
    """
    from sklearn import metrics as skm  # scikit-learn: loaded on first use, not by import mlnb

    precision, recall, thr = skm.precision_recall_curve(is_pos, scores, sample_weight=sample_weight)
    p, r = thin(precision, recall)
    return {"precision": p, "recall": r, "thresholds": thin(thr)[0], "average_precision": _num(ap)}


def threshold_table(is_pos: Array, scores: Array) -> dict[str, Any]:
    """Confusion counts at each threshold of a grid over [0, 1] (predict positive when the
    probability is at least the threshold): what a threshold slider shows without predicting
    again. Exact counts, from two sorted arrays and binary searches.

    :param is_pos: whether each row's target is the positive class.
    :param scores: the positive class's probability per row.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    grid = np.linspace(0.0, 1.0, THRESHOLD_STEPS)
    pos = np.sort(scores[is_pos])
    neg = np.sort(scores[~is_pos])
    tp = len(pos) - np.searchsorted(pos, grid, side="left")
    fp = len(neg) - np.searchsorted(neg, grid, side="left")
    return {"thresholds": clean(grid.round(4)), "tp": tp.tolist(), "fp": fp.tolist(),
            "fn": (len(pos) - tp).tolist(), "tn": (len(neg) - fp).tolist()}


def calibration_curve(is_pos: Array, scores: Array, n_bins: int) -> dict[str, Any]:
    """Mean predicted probability against the observed share of positives, per bin.

    :param is_pos: whether each row's target is the positive class.
    :param scores: the positive class's probability per row.
    :param n_bins: the number of equal-width bins over [0, 1].
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges[1:-1], scores, side="right"), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    sum_pred = np.bincount(which, weights=scores, minlength=n_bins)
    sum_true = np.bincount(which, weights=is_pos.astype(float), minlength=n_bins)
    kept = count > 0  # sklearn's calibration_curve drops empty bins too
    return {"mean_predicted": clean(sum_pred[kept] / count[kept]),
            "fraction_positive": clean(sum_true[kept] / count[kept]),
            "count": count[kept].tolist(), "n_bins": n_bins}


def lift_curve(is_pos: Array, scores: Array) -> dict[str, Any]:
    """The cumulative gain (share of all positives found in the top x of rows by score) and the
    lift (gain divided by x), as MLflow's lift curve plot draws them.

    :param is_pos: whether each row's target is the positive class.
    :param scores: the positive class's probability per row.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    order = np.argsort(scores, kind="stable")[::-1]
    found = np.cumsum(is_pos[order])
    total = max(int(found[-1]) if len(found) else 0, 1)
    share = np.arange(1, len(order) + 1) / max(len(order), 1)
    gain = found / total
    share, gain = np.insert(share, 0, 0.0), np.insert(gain, 0, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = np.where(share > 0, gain / np.where(share == 0, 1, share), np.nan)
    x, g, lf = thin(share, gain, lift, limit=200)
    return {"share_of_rows": x, "gain": g, "lift": lf}


def regression_views(y_true: Array, y_pred: Array, seed: int = 0) -> dict[str, Any]:
    """Predicted against actual (a seeded sample of points) and the residuals' histogram.

    :param y_true: the targets.
    :param y_pred: the predictions.
    :param seed: the sample's seed.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    residuals = y_true - y_pred
    n = len(y_true)
    idx = (np.sort(np.random.default_rng(seed).choice(n, SCATTER_POINTS, replace=False))
           if n > SCATTER_POINTS else np.arange(n))
    counts, edges = np.histogram(residuals, bins=HISTOGRAM_BINS)
    return {
        "predicted_vs_actual": {"actual": clean(y_true[idx]), "predicted": clean(y_pred[idx]),
                                "sampled_from": n},
        "residuals": {"predicted": clean(y_pred[idx]), "residual": clean(residuals[idx]),
                      "histogram": {"edges": clean(edges), "counts": counts.tolist()}},
    }


def permutation_importance(predict: Callable[[Any], Any], X: Any, y: Array,
                           score: Callable[[Array, Any], float], *, n_samples: int,
                           n_repeats: int, seed: int = 0) -> dict[str, Any]:
    """How much the score drops when one column's values are shuffled (a seeded sample of rows).

    Model-agnostic (any ``predict``), so it needs neither an sklearn estimator nor SHAP.

    :param predict: the model's predict function.
    :param X: the features, a pandas DataFrame.
    :param y: the targets.
    :param score: ``score(y_true, y_pred)``, higher is better.
    :param n_samples: the most rows used.
    :param n_repeats: shuffles per column.
    :param seed: the sample's and shuffles' seed.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    rng = np.random.default_rng(seed)
    if len(X) > n_samples:
        idx = np.sort(rng.choice(len(X), n_samples, replace=False))
        X, y = X.iloc[idx].reset_index(drop=True), y[idx]
    else:
        X = X.reset_index(drop=True)
    base = float(score(y, predict(X)))
    means, stds = [], []
    for column in X.columns:
        drops = []
        for _ in range(n_repeats):
            shuffled = X.copy()
            shuffled[column] = X[column].to_numpy()[rng.permutation(len(X))]
            drops.append(base - float(score(y, predict(shuffled))))
        means.append(float(np.mean(drops)))
        stds.append(float(np.std(drops)))
    return {"features": [str(c) for c in X.columns], "importance_mean": clean(means),
            "importance_std": clean(stds), "baseline_score": _num(base), "n_samples": len(X),
            "n_repeats": n_repeats}


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None
