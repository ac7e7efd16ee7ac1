"""mlnb.show_evaluation: the logged evaluation drawn in the notebook, the threshold slider, and
user strings (class labels, feature names) kept as text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression, Ridge
from test_widgets_xss import PAYLOADS, audit_html

import mlnb
from mlnb.errors import NotFoundError
from mlnb.models import evaluate
from mlnb.widgets import charts
from mlnb.widgets.evaluation import EvaluationView, threshold_metrics


def _binary(labels: tuple[str, str], columns: list[str]) -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, len(columns))), columns=columns)
    y = np.where(X.iloc[:, 0] + rng.normal(scale=0.7, size=300) > 0, labels[1], labels[0])
    return LogisticRegression().fit(X, y), X.assign(target=y)


def test_threshold_slider_moves_the_confusion_matrix_and_metrics(tracking: Path) -> None:
    clf, df = _binary(("neg", "pos"), ["a", "b"])
    result = evaluate(clf, df, targets="target")
    view = mlnb.show_evaluation(result)
    assert isinstance(view, EvaluationView) and view.slider is not None
    X, y = df.drop(columns="target"), df["target"].to_numpy()
    scores = clf.predict_proba(X)[:, 1]
    for t in (0.3, 0.72):
        view.slider.value = t
        tn, fp, fn, tp = skm.confusion_matrix(y == "pos", scores >= t).ravel()
        html = view.threshold_out.value
        assert f"Confusion matrix at threshold {t:.2f}" in html
        assert f"<td>{tn}</td><td>{fp}</td>" in html and f"<td>{fn}</td><td>{tp}</td>" in html
        precision = skm.precision_score(y == "pos", scores >= t)
        table = view.summary["curves"]["threshold_table"]
        i = table["thresholds"].index(round(t, 2))
        assert threshold_metrics(table, i)["precision_score"] == pytest.approx(precision)


def test_view_shows_the_baseline_and_every_figure(tracking: Path) -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=200)})
    y = 2 * X["a"] + rng.normal(size=200)
    with mlnb.start_run() as run:
        evaluate(Ridge().fit(X, y), X.assign(y=y), targets="y", model_type="regressor")
    view = mlnb.show_evaluation(run.info.run_id)
    assert "Naive baseline" in view.metrics_html.value
    titles = [f.layout.title.text for f in view.figures]
    assert titles[:3] == ["Predicted vs actual (200 of 200 rows)", "Residuals (actual - predicted)",
                          "Residual distribution"]
    assert titles[3].startswith("Permutation importance")
    assert view.slider is None


def test_a_run_without_an_evaluation_says_how_to_make_one(tracking: Path) -> None:
    with mlnb.start_run() as run:
        mlnb.log_metric("m", 1.0)
    with pytest.raises(NotFoundError, match=r"holds no evaluation \(evaluation.json\); log one with"):
        mlnb.show_evaluation(run.info.run_id)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_in_labels_and_feature_names_stays_text(tracking: Path, payload: str) -> None:
    clf, df = _binary(("safe", payload), [payload, "b"])
    with mlnb.start_run(run_name=payload) as run:
        evaluate(clf, df, targets="target")
    view = mlnb.show_evaluation(run.info.run_id)
    assert view.slider is not None
    for text in (view.metrics_html.value, view.threshold_out.value, view.static_html()):
        assert audit_html(text) == []
    for fig in view.figures:
        for s in charts.figure_text_fields(json.loads(fig.to_json())):
            assert "<" not in s.replace("<extra></extra>", "").replace("<br>", "") and "$" not in s
