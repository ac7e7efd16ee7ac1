"""An evaluation in the notebook: ``mlnb.show_evaluation(run)``.

Reads what :func:`mlnb.models.evaluate` logged (``evaluation.json`` and the curve files) and
draws it with Plotly: the metrics beside the naive baseline (and the baseline model), the
confusion matrix, ROC, precision-recall, calibration and lift curves, residuals, predicted against
actual and permutation importance. A binary classifier gets a threshold slider that moves the
confusion matrix and the threshold metrics, from the logged threshold table (no re-predicting).

The figure builders are pure functions of the logged data. Class labels, metric and feature
names are user data: escaped for Plotly and for HTML at the sink.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import Store
from mlnb.widgets import charts, data, static
from mlnb.widgets.base import StaticFallback
from mlnb.widgets.escape import escape_html, escape_plotly

if TYPE_CHECKING:
    import plotly.graph_objects as go

SUMMARY_FILE = "evaluation.json"  # written by mlnb.models.evaluation.evaluate


def load_evaluation(store: Store, run_id: str, prefix: str = "") -> dict[str, Any]:
    """The logged evaluation of a run: the summary with each curve file's data under
    ``curves``.

    :param store: the store.
    :param run_id: the run.
    :param prefix: the ``metric_prefix`` the evaluation used.
    :raises NotFoundError: when the run holds no evaluation.
    """
    try:
        summary: dict[str, Any] = json.loads(
            store.artifact_path(run_id, f"{prefix}{SUMMARY_FILE}").read_text(encoding="utf-8"))
    except (NotFoundError, FileNotFoundError):
        raise NotFoundError(
            f"Run {run_id} holds no evaluation ({prefix}{SUMMARY_FILE}); log one with "
            "mlnb.models.evaluate(model, data, targets=...) in that run.") from None
    curves = {}
    for name, path in summary.get("artifacts", {}).items():
        try:
            curves[name] = json.loads(store.artifact_path(run_id, path).read_text(encoding="utf-8"))
        except (NotFoundError, FileNotFoundError, ValueError):
            continue  # a deleted or damaged curve file: the rest still shows
    summary["curves"] = curves
    return summary


def metric_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the metrics table: the model, the naive baseline, the baseline model.

    :param summary: the loaded evaluation.
    """
    model = summary.get("metrics", {})
    naive = (summary.get("baseline") or {}).get("metrics", {})
    other = (summary.get("baseline_model") or {}).get("metrics")
    headers = ["Metric", "Model", "Naive baseline"] + (["Baseline model"] if other else [])
    rows = []
    for key in sorted(model):
        row = [key, data.format_value(model[key]), data.format_value(naive.get(key))]
        if other:
            row.append(data.format_value(other.get(key)))
        rows.append(row)
    return headers, rows


def threshold_metrics(table: dict[str, Any], index: int) -> dict[str, float]:
    """Counts and metrics at one threshold of the logged threshold table.

    :param table: the ``threshold_table`` data.
    :param index: the threshold's index.
    """
    tp, fp, fn, tn = (float(table[k][index]) for k in ("tp", "fp", "fn", "tn"))

    def ratio(a: float, b: float) -> float:
        return a / b if b else 0.0

    return {"threshold": float(table["thresholds"][index]), "true_positives": tp,
            "false_positives": fp, "false_negatives": fn, "true_negatives": tn,
            "accuracy_score": ratio(tp + tn, tp + fp + fn + tn),
            "precision_score": ratio(tp, tp + fp), "recall_score": ratio(tp, tp + fn),
            "f1_score": ratio(2 * tp, 2 * tp + fp + fn)}


def threshold_html(summary: dict[str, Any], index: int) -> str:
    """The confusion matrix and metrics at one threshold, as escaped HTML.

    :param summary: the loaded evaluation of a binary classifier.
    :param index: the threshold's index in its threshold table.
    """
    m = threshold_metrics(summary["curves"]["threshold_table"], index)
    labels = summary.get("labels", ["0", "1"])
    pos = summary.get("pos_label", labels[-1])
    neg = next((x for x in labels if x != pos), "not " + str(pos))
    matrix = static.html_table(
        ["true \\ predicted", neg, pos],
        [[neg, f"{m['true_negatives']:g}", f"{m['false_positives']:g}"],
         [pos, f"{m['false_negatives']:g}", f"{m['true_positives']:g}"]],
        caption=f"Confusion matrix at threshold {m['threshold']:.2f}")
    rows = [[k, data.format_value(m[k])]
            for k in ("accuracy_score", "precision_score", "recall_score", "f1_score")]
    return static.plain(matrix + static.html_table(["Metric at this threshold", "Value"], rows))


def confusion_figure(cm: dict[str, Any]) -> go.Figure:
    """The confusion matrix as a heatmap (colour: share of the true class; text: counts).

    :param cm: the ``confusion_matrix`` data.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    labels = [escape_plotly(x) for x in cm["labels"]]
    fig = go.Figure(go.Heatmap(
        z=cm["normalized"], x=labels, y=labels, text=cm["counts"], texttemplate="%{text}",
        colorscale="Blues", zmin=0, zmax=1,
        hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.1%})<extra></extra>"))
    fig.update_layout(title="Confusion matrix", xaxis_title="Predicted", yaxis_title="True",
                      xaxis_type="category", yaxis_type="category", yaxis_autorange="reversed",
                      height=360, margin={"t": 50, "l": 60, "r": 20, "b": 50})
    return fig


def curve_figure(curves: dict[str, Any], kind: str) -> go.Figure | None:
    """ROC (``roc``) or precision-recall (``pr``) curves: one line, or one per class.

    :param curves: the loaded curves.
    :param kind: ``roc`` or ``pr``.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    name = "roc_curve" if kind == "roc" else "precision_recall_curve"
    found = curves.get(name)
    if not found:
        return None
    per_class = found.get("per_class", {"": found})
    fig = go.Figure()
    for label, c in per_class.items():
        if kind == "roc":
            x, y, area, what = c["fpr"], c["tpr"], c.get("auc"), "AUC"
        else:
            x, y, area, what = c["recall"], c["precision"], c.get("average_precision"), "AP"
        title = f"{what}={area:.3f}" if isinstance(area, (int, float)) else what
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line_shape="hv",
                                 name=escape_plotly(f"{label} {title}".strip())))
    diagonal = [0, 1] if kind == "roc" else [1, 0]
    fig.add_trace(go.Scatter(x=[0, 1], y=diagonal, mode="lines", showlegend=False,
                             line={"dash": "dash", "color": "gray"}, hoverinfo="skip"))
    fig.update_layout(title="ROC curve" if kind == "roc" else "Precision-recall curve",
                      xaxis_title="False positive rate" if kind == "roc" else "Recall",
                      yaxis_title="True positive rate" if kind == "roc" else "Precision",
                      height=360, margin={"t": 50, "l": 60, "r": 20, "b": 50})
    return fig


def calibration_figure(curves: dict[str, Any]) -> go.Figure | None:
    """Observed share of positives against the mean predicted probability, per bin.

    :param curves: the loaded curves.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    found = curves.get("calibration_curve")
    if not found:
        return None
    fig = go.Figure()
    for label, c in found.get("per_class", {"model": found}).items():
        fig.add_trace(go.Scatter(x=c["mean_predicted"], y=c["fraction_positive"],
                                 mode="lines+markers", name=escape_plotly(label)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line={"dash": "dot", "color": "gray"}))
    fig.update_layout(title="Calibration", xaxis_title="Mean predicted probability",
                      yaxis_title="Fraction of positives", height=360,
                      margin={"t": 50, "l": 60, "r": 20, "b": 50})
    return fig


def lift_figure(curves: dict[str, Any]) -> go.Figure | None:
    """Cumulative gain and lift against the share of rows taken by score.

    :param curves: the loaded curves.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    c = curves.get("lift_curve")
    if not c:
        return None
    fig = go.Figure([
        go.Scatter(x=c["share_of_rows"], y=c["gain"], mode="lines", name="cumulative gain"),
        go.Scatter(x=c["share_of_rows"], y=c["lift"], mode="lines", name="lift", yaxis="y2"),
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                   line={"dash": "dash", "color": "gray"}),
    ])
    fig.update_layout(title="Gain and lift", xaxis_title="Share of rows (by score)",
                      yaxis={"title": "Gain"}, yaxis2={"title": "Lift", "overlaying": "y",
                                                       "side": "right"},
                      height=360, margin={"t": 50, "l": 60, "r": 60, "b": 50})
    return fig


def regression_figures(curves: dict[str, Any]) -> list[go.Figure]:
    """Predicted against actual, and the residuals against the prediction and as a histogram.

    :param curves: the loaded curves.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    figs = []
    pva = curves.get("predicted_vs_actual")
    if pva:
        values = [v for v in pva["actual"] + pva["predicted"] if v is not None]
        lo, hi = (min(values), max(values)) if values else (0, 1)
        fig = go.Figure([go.Scattergl(x=pva["actual"], y=pva["predicted"], mode="markers",
                                      marker={"size": 4, "opacity": 0.5}, name="rows"),
                         go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                                    line={"dash": "dash", "color": "gray"})])
        fig.update_layout(title=f"Predicted vs actual ({len(pva['actual'])} of "
                                f"{pva['sampled_from']} rows)", xaxis_title="Actual",
                          yaxis_title="Predicted", height=360)
        figs.append(fig)
    res = curves.get("residuals")
    if res:
        fig = go.Figure(go.Scattergl(x=res["predicted"], y=res["residual"], mode="markers",
                                     marker={"size": 4, "opacity": 0.5}))
        fig.update_layout(title="Residuals (actual - predicted)", xaxis_title="Predicted",
                          yaxis_title="Residual", height=360)
        figs.append(fig)
        hist = res["histogram"]
        centres = [(a + b) / 2 for a, b in zip(hist["edges"][:-1], hist["edges"][1:], strict=True)]
        fig = go.Figure(go.Bar(x=centres, y=hist["counts"]))
        fig.update_layout(title="Residual distribution", xaxis_title="Residual",
                          yaxis_title="Rows", height=300)
        figs.append(fig)
    return figs


def importance_figure(curves: dict[str, Any]) -> go.Figure | None:
    """Permutation importance per feature, largest on top, with its spread over repeats.

    :param curves: the loaded curves.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    imp = curves.get("permutation_importance")
    if not imp:
        return None
    ranked = sorted(zip(imp["features"], imp["importance_mean"], imp["importance_std"], strict=True),
                    key=lambda t: -(t[1] if t[1] is not None else -math.inf))[:30][::-1]
    fig = go.Figure(go.Bar(x=[t[1] for t in ranked], y=[escape_plotly(t[0]) for t in ranked],
                           orientation="h", error_x={"array": [t[2] for t in ranked]},
                           hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(title=f"Permutation importance ({imp['n_repeats']} shuffles of "
                            f"{imp['n_samples']} rows)", xaxis_title="Score drop",
                      yaxis_type="category", height=max(260, 22 * len(ranked) + 80),
                      margin={"t": 50, "l": 140, "r": 20, "b": 50})
    return fig


def figures(summary: dict[str, Any]) -> list[go.Figure]:
    """Every figure of an evaluation, in display order.

    :param summary: the loaded evaluation.
    """
    curves = summary["curves"]
    found: list[go.Figure | None] = []
    if "confusion_matrix" in curves:
        found.append(confusion_figure(curves["confusion_matrix"]))
    found += [curve_figure(curves, "roc"), curve_figure(curves, "pr"), calibration_figure(curves),
              lift_figure(curves), *regression_figures(curves), importance_figure(curves)]
    return [f for f in found if f is not None]


class EvaluationView(StaticFallback, widgets.VBox):
    """A run's evaluation: metrics beside the baselines, the figures, and (binary classifiers)
    a threshold slider.

    :param run: a run id, ``Run`` or ``ActiveRun``.
    :param prefix: the ``metric_prefix`` the evaluation used.
    :param store: the store to read; default the current one.
    """

    def __init__(self, run: Any, *, prefix: str = "", store: Store | None = None) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.store = store if store is not None else data.tracking_store()
        self.run = data.resolve_runs(self.store, run)[0]
        self.summary = load_evaluation(self.store, self.run.info.run_id, prefix)
        self.figures = figures(self.summary)
        headers, rows = metric_rows(self.summary)
        self.metrics_html = widgets.HTML(static.STYLE + static.plain(
            f"<h4>Evaluation of {escape_html(self.run.info.run_name)} "
            f"<small>({escape_html(self.summary.get('model_type'))})</small></h4>")
            + static.html_table(headers, rows))
        children: list[widgets.Widget] = [self.metrics_html]
        self.slider: widgets.FloatSlider | None = None
        table = self.summary["curves"].get("threshold_table")
        if table:
            self.slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01,
                                              description="Threshold", continuous_update=True)
            self.threshold_out = widgets.HTML(threshold_html(self.summary, self._index(0.5)))
            self.slider.observe(self._moved, names="value")
            children += [self.slider, self.threshold_out]
        self.charts = widgets.Box(layout=widgets.Layout(flex_flow="row wrap"))
        outs = []
        for fig in self.figures:
            out = widgets.Output(layout=widgets.Layout(width="480px"))
            out.outputs = (charts.figure_output(fig),)
            outs.append(out)
        self.charts.children = tuple(outs)
        self.children = (*children, self.charts)

    def _index(self, value: float) -> int:
        thresholds = self.summary["curves"]["threshold_table"]["thresholds"]
        return min(range(len(thresholds)), key=lambda i: abs(thresholds[i] - value))

    def _moved(self, change: dict[str, Any]) -> None:
        self.threshold_out.value = threshold_html(self.summary, self._index(float(change["new"])))

    def static_html(self) -> str:
        """The metrics, the threshold view at 0.5 and the figures, as static HTML."""
        headers, rows = metric_rows(self.summary)
        parts = [static.html_table(headers, rows)]
        if self.slider is not None:
            parts.append(threshold_html(self.summary, self._index(float(self.slider.value))))
        parts += [static.figure_html(f) for f in self.figures]
        return static.page(f"Evaluation of {self.run.info.run_name}", *parts)


def show_evaluation(run: Any, *, prefix: str = "") -> EvaluationView:
    """The evaluation logged in a run by :func:`mlnb.models.evaluate`, as a widget.

    :param run: a run id, ``Run``, ``ActiveRun`` or the ``EvaluationResult`` itself.
    :param prefix: the ``metric_prefix`` the evaluation used.
    :raises NotFoundError: when the run holds no evaluation.
    """
    run_id = getattr(run, "run_id", None) if not isinstance(run, str) else run
    if hasattr(run, "metrics") and isinstance(run_id, str):
        run = run_id  # an EvaluationResult: show the run it was logged to
    if run is None:
        raise InvalidParameterError("show_evaluation needs a run id, a Run or an EvaluationResult.")
    return EvaluationView(run, prefix=prefix)
