"""mlnb.models.evaluate: MLflow's metrics (checked against scikit-learn and against
mlflow.models.evaluate itself), what it logs, its edge cases, and the validation gate."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.models import MetricThreshold, evaluate, make_metric, validate_evaluation_results
from mlnb.models.evaluation import ModelValidationFailedException
from mlnb.models.evaluation.curves import threshold_table

CASES = {"binary": (load_breast_cancer, "classifier"), "multiclass": (load_iris, "classifier"),
         "regression": (load_diabetes, "regressor")}

MLFLOW_SCRIPT = """
import json, pickle, sys, tempfile, warnings
warnings.filterwarnings("ignore")
import mlflow, mlflow.sklearn
mlflow.set_tracking_uri("sqlite:///" + sys.argv[2] + "/mlflow.db")
out = {}
for name, (est, df, model_type) in pickle.load(open(sys.argv[1], "rb")).items():
    path = tempfile.mkdtemp(dir=sys.argv[2]) + "/model"
    mlflow.sklearn.save_model(est, path, pip_requirements=[])
    with mlflow.start_run():
        result = mlflow.models.evaluate(path, df, targets="target", model_type=model_type,
                                        evaluator_config={"log_model_explainability": False})
    out[name] = {k: float(v) for k, v in result.metrics.items()}
print(json.dumps(out))
"""


def _fitted(name: str) -> tuple[Any, pd.DataFrame, str]:
    loader, model_type = CASES[name]
    X, y = loader(return_X_y=True, as_frame=True)
    est = LogisticRegression(max_iter=5000) if model_type == "classifier" else Ridge()
    est.fit(X, y)
    return est, X.assign(target=y), model_type


@pytest.fixture(scope="module")
def mlflow_metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    """MLflow's own evaluate on the same fitted models and data, in a subprocess (one for all)."""
    folder = tmp_path_factory.mktemp("mlflow-eval")
    cases = folder / "cases.pkl"
    cases.write_bytes(pickle.dumps({name: _fitted(name) for name in CASES}))
    done = subprocess.run([sys.executable, "-c", MLFLOW_SCRIPT, str(cases), str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("name", sorted(CASES))
def test_metrics_equal_mlflow_evaluate(name: str, tracking: Path,
                                       mlflow_metrics: dict[str, dict[str, float]]) -> None:
    est, df, model_type = _fitted(name)
    ours = evaluate(est, df, targets="target", model_type=model_type).metrics
    theirs = mlflow_metrics[name]
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_binary_metrics_equal_sklearn_with_string_labels_and_pos_label(tracking: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = np.where(X["a"] + rng.normal(scale=0.8, size=400) > 0, "spam", "ham")
    clf = LogisticRegression().fit(X, y)
    # "ham" sorts first: MLflow would take "spam" as positive; here the positive is "ham".
    result = evaluate(clf, X.assign(y=y), targets="y", evaluator_config={"pos_label": "ham"})
    pred = clf.predict(X)
    proba = clf.predict_proba(X)[:, list(clf.classes_).index("ham")]
    m = result.metrics
    assert m["true_positives"] == np.sum((y == "ham") & (pred == "ham"))
    assert m["false_positives"] == np.sum((y == "spam") & (pred == "ham"))
    assert m["precision_score"] == skm.precision_score(y, pred, pos_label="ham")
    assert m["recall_score"] == skm.recall_score(y, pred, pos_label="ham")
    assert m["f1_score"] == skm.f1_score(y, pred, pos_label="ham")
    assert m["roc_auc"] == skm.roc_auc_score(y == "ham", proba)
    assert m["precision_recall_auc"] == skm.average_precision_score(y, proba, pos_label="ham")
    assert m["log_loss"] == skm.log_loss(y, clf.predict_proba(X), labels=clf.classes_)


def test_regressor_metrics_equal_sklearn_with_sample_weights(tracking: Path) -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=300)})
    y = 3 * X["a"] + rng.normal(size=300) + 10
    w = rng.uniform(0.5, 2, size=300)
    reg = Ridge().fit(X, y)
    m = evaluate(reg, X.assign(y=y), targets="y", model_type="regressor",
                 evaluator_config={"sample_weights": w}).metrics
    p = reg.predict(X)
    assert m["mean_absolute_error"] == skm.mean_absolute_error(y, p, sample_weight=w)
    assert m["r2_score"] == skm.r2_score(y, p, sample_weight=w)
    assert m["mean_absolute_percentage_error"] == skm.mean_absolute_percentage_error(
        y, p, sample_weight=w)
    assert m["sum_on_target"] == pytest.approx(float((y * w).sum()))


def test_evaluate_logs_metrics_tables_and_curves_to_a_new_finished_run(tracking: Path) -> None:
    est, df, _ = _fitted("multiclass")
    result = evaluate(est, df, targets="target")
    run = mlnb.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["accuracy_score"] == result.metrics["accuracy_score"]
    per_class = result.artifacts["per_class_metrics"].content
    assert list(per_class["positive_class"]) == [0, 1, 2]
    assert list(per_class["true_positives"]) == [
        np.sum((df["target"] == c) & (est.predict(df.drop(columns="target")) == c)) for c in range(3)]
    cm = result.artifacts["confusion_matrix"].content
    assert cm["counts"] == skm.confusion_matrix(df["target"], est.predict(
        df.drop(columns="target"))).tolist()
    summary = result.artifacts["evaluation"].content
    assert summary["baseline"]["metrics"]["accuracy_score"] == pytest.approx(1 / 3)
    assert set(summary["artifacts"]) >= {"confusion_matrix", "roc_curve", "permutation_importance"}
    assert mlnb.active_run() is None


def test_evaluate_logs_into_the_active_run_and_leaves_it_running(tracking: Path) -> None:
    est, df, _ = _fitted("regression")
    with mlnb.start_run() as run:
        result = evaluate(est, df, targets="target", model_type="regressor",
                          evaluator_config={"metric_prefix": "test_"})
        assert result.run_id == run.info.run_id
        assert mlnb.active_run() is not None
    logged = mlnb.get_run(run.info.run_id).data.metrics
    assert logged["test_r2_score"] == result.metrics["test_r2_score"]
    assert "test_residuals" in result.artifacts or "residuals" in result.artifacts
    assert result.artifacts["residuals"].path.name == "test_residuals.json"


def test_threshold_table_counts_match_a_confusion_matrix_at_each_threshold() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(size=500).round(2)  # ties on the grid's thresholds
    is_pos = rng.uniform(size=500) < scores
    table = threshold_table(is_pos, scores)
    for i in (0, 13, 50, 77, 100):
        t = table["thresholds"][i]
        tn, fp, fn, tp = skm.confusion_matrix(is_pos, scores >= t, labels=[False, True]).ravel()
        assert (table["tn"][i], table["fp"][i], table["fn"][i], table["tp"][i]) == (tn, fp, fn, tp)


def test_naive_baseline_is_the_majority_class_and_the_mean(tracking: Path) -> None:
    est, df, _ = _fitted("binary")
    result = evaluate(est, df, targets="target")
    share = float((df["target"] == 1).mean())
    assert result.baseline_metrics["accuracy_score"] == pytest.approx(share)
    assert result.baseline_metrics["roc_auc"] == 0.5
    reg, dfr, _ = _fitted("regression")
    r = evaluate(reg, dfr, targets="target", model_type="regressor")
    assert r.baseline_metrics["r2_score"] == 0.0
    assert r.baseline_metrics["mean_absolute_error"] == pytest.approx(
        float(np.mean(np.abs(dfr["target"] - dfr["target"].mean()))))


def test_permutation_importance_ranks_the_informative_feature_first(tracking: Path) -> None:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"noise": rng.normal(size=600), "signal": rng.normal(size=600)})
    y = (X["signal"] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    imp = evaluate(clf, X.assign(y=y), targets="y").artifacts["permutation_importance"].content
    ranked = dict(zip(imp["features"], imp["importance_mean"], strict=True))
    assert ranked["signal"] > 0.3
    assert abs(ranked["noise"]) < 0.05


# --- edge cases MLflow users trip on -----------------------------------------------------------


def test_one_class_in_the_data_names_label_list(tracking: Path) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1, 1, 1], "p": [1, 1, 1]})
    with pytest.raises(InvalidParameterError, match=r"Only one class \(\[1\]\).*label_list"):
        evaluate(data=df, targets="y", predictions="p")


def test_one_class_slice_with_the_models_classes_reports_nan_roc_auc(tracking: Path) -> None:
    est, df, _ = _fitted("binary")
    one_class = df[df["target"] == 1]
    with pytest.warns(UserWarning, match="roc_auc is NaN: the targets hold one class only"):
        m = evaluate(est, one_class, targets="target").metrics
    assert math.isnan(m["roc_auc"])
    assert m["true_negatives"] == 0 and m["true_positives"] + m["false_negatives"] == len(one_class)


def test_predictions_column_with_string_labels_and_label_list(tracking: Path) -> None:
    df = pd.DataFrame({"y": ["a", "b", "c", "a"], "p": ["a", "b", "b", "a"]})
    m = evaluate(data=df, targets="y", predictions="p").metrics
    assert m["accuracy_score"] == 0.75
    assert m["f1_score"] == skm.f1_score(df["y"], df["p"], average="weighted")


def test_nan_predictions_are_a_clear_error(tracking: Path) -> None:
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "p": [1.0, np.nan, 3.0, np.nan]})
    with pytest.raises(InvalidParameterError,
                       match=r"2 of 4 predictions are missing \(NaN or None\), first at row\(s\) "
                             r"\[1, 3\]; drop those rows"):
        evaluate(data=df, targets="y", predictions="p", model_type="regressor")


def test_pos_label_that_is_not_a_class_is_a_clear_error(tracking: Path) -> None:
    df = pd.DataFrame({"y": [0, 1, 1, 0], "p": [0, 1, 0, 0]})
    with pytest.raises(InvalidParameterError, match=r"pos_label 'yes' is not one of the classes"):
        evaluate(data=df, targets="y", predictions="p", evaluator_config={"pos_label": "yes"})


def test_pos_label_zero_counts_zeros_as_positives(tracking: Path) -> None:
    df = pd.DataFrame({"y": [0, 1, 1, 0, 0], "p": [0, 1, 0, 1, 0]})
    m = evaluate(data=df, targets="y", predictions="p", evaluator_config={"pos_label": 0}).metrics
    assert (m["true_positives"], m["false_positives"], m["false_negatives"]) == (2, 1, 1)
    assert m["recall_score"] == skm.recall_score(df["y"], df["p"], pos_label=0)


def test_labels_of_mixed_types_are_a_clear_error(tracking: Path) -> None:
    df = pd.DataFrame({"y": ["1", "0", "1"], "p": [1, 0, 1]})
    with pytest.raises(InvalidParameterError, match=r"The labels mix types.*same label type"):
        evaluate(data=df, targets="y", predictions="p")


def test_bad_arguments_name_the_problem(tracking: Path) -> None:
    df = pd.DataFrame({"y": [0, 1], "p": [0, 1]})
    with pytest.raises(InvalidParameterError, match="targets must name a column of data; 'z'"):
        evaluate(data=df, targets="z", predictions="p")
    with pytest.raises(InvalidParameterError, match="model_type must be one of"):
        evaluate(data=df, targets="y", predictions="p", model_type="ranker")
    with pytest.raises(InvalidParameterError, match="unknown key"):
        evaluate(data=df, targets="y", predictions="p", evaluator_config={"pos_lable": 1})
    with pytest.raises(InvalidParameterError, match="Pass a model, or predictions="):
        evaluate(data=df, targets="y")


def test_extra_metrics_get_predictions_targets_and_metrics(tracking: Path) -> None:
    def double_accuracy(predictions: pd.Series, targets: pd.Series, metrics: dict[str, float]
                        ) -> float:
        return 2 * metrics["accuracy_score"] + 0 * float((predictions == targets).mean())

    df = pd.DataFrame({"y": [0, 1, 1, 0], "p": [0, 1, 0, 0]})
    m = evaluate(data=df, targets="y", predictions="p", extra_metrics=[
        make_metric(eval_fn=double_accuracy, greater_is_better=True)]).metrics
    assert m["double_accuracy"] == 1.5


def test_a_callable_model_and_a_baseline_model(tracking: Path) -> None:
    est, df, _ = _fitted("binary")
    result = evaluate(lambda X: est.predict(X), df, targets="target",
                      baseline_model=LogisticRegression(max_iter=5).fit(
                          df.drop(columns="target"), df["target"]))
    assert "roc_auc" not in result.metrics  # a bare function gives no probabilities
    assert result.baseline_model_result is not None
    assert "roc_auc" in result.baseline_model_result.metrics


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "candidate", "baseline", "ok"), [
    (MetricThreshold(threshold=0.8, greater_is_better=True), 0.8, None, True),
    (MetricThreshold(threshold=0.8, greater_is_better=True), 0.79, None, False),
    (MetricThreshold(threshold=0.2, greater_is_better=False), 0.21, None, False),
    (MetricThreshold(min_absolute_change=0.05, greater_is_better=True), 0.86, 0.8, True),
    (MetricThreshold(min_absolute_change=0.05, greater_is_better=True), 0.84, 0.8, False),
    (MetricThreshold(min_absolute_change=0.1, greater_is_better=False), 0.19, 0.3, True),
    (MetricThreshold(min_relative_change=0.1, greater_is_better=True), 0.89, 0.8, True),
    (MetricThreshold(min_relative_change=0.1, greater_is_better=True), 0.87, 0.8, False),
    (MetricThreshold(min_relative_change=0.1, greater_is_better=True), -0.44, -0.5, True),
    (MetricThreshold(min_relative_change=0.5, greater_is_better=True), 1e-11, 0.0, False),
    (MetricThreshold(min_relative_change=0.5, greater_is_better=True), 2e-10, 0.0, True),
    (MetricThreshold(threshold=0.5, greater_is_better=True), math.nan, None, False),
])
def test_metric_threshold_rules(rule: MetricThreshold, candidate: float, baseline: float | None,
                                ok: bool) -> None:
    base = {"m": baseline} if baseline is not None else None
    if ok:
        report = validate_evaluation_results({"m": rule}, {"m": candidate}, base)
        assert report.passed and report.checks
    else:
        with pytest.raises(ModelValidationFailedException):
            validate_evaluation_results({"m": rule}, {"m": candidate}, base)


def test_validation_error_lists_every_failure_and_carries_the_report(tracking: Path) -> None:
    thresholds = {
        "accuracy_score": MetricThreshold(threshold=0.99, greater_is_better=True),
        "log_loss": MetricThreshold(min_absolute_change=0.5, greater_is_better=False),
        "f1_score": MetricThreshold(threshold=0.5, greater_is_better=True),
        "missing_metric": MetricThreshold(threshold=1, greater_is_better=True),
    }
    est, df, _ = _fitted("binary")
    candidate = evaluate(est, df, targets="target")
    baseline = evaluate(LogisticRegression(max_iter=20).fit(df.drop(columns="target"),
                                                           df["target"]), df, targets="target")
    with pytest.raises(ModelValidationFailedException) as caught:
        validate_evaluation_results(thresholds, candidate, baseline)
    lines = caught.value.message.splitlines()
    assert len(lines) == 3
    acc = candidate.metrics["accuracy_score"]
    assert lines[0] == (f"Metric accuracy_score value threshold check failed: candidate model "
                        f"accuracy_score = {acc}, accuracy_score threshold = 0.99.")
    assert lines[1].startswith("Metric log_loss minimum absolute change check failed")
    assert lines[2] == ("Metric validation failed: metric missing_metric was missing from the "
                        "evaluation result of the candidate model.")
    report = caught.value.report
    assert report is not None and [c.passed for c in report.checks] == [False, False, True, False]
    assert caught.value.error_code == "BAD_REQUEST"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"threshold": 1}, "`greater_is_better` parameter must be defined."),
    ({"threshold": "1", "greater_is_better": True}, "`threshold` parameter must be a number."),
    ({"min_absolute_change": -1, "greater_is_better": True},
     "`min_absolute_change` parameter must be a positive number."),
    ({"min_relative_change": 2.0, "greater_is_better": True},
     "`min_relative_change` parameter must be between 0 and 1."),
    ({"greater_is_better": True}, "no threshold was specified."),
])
def test_bad_metric_threshold_is_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterError, match="Could not instantiate MetricThreshold class: "
                       + message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        MetricThreshold(**kwargs)


def test_evaluate_is_importable_without_loading_sklearn() -> None:
    code = "import sys, mlnb.models; mlnb.models.MetricThreshold; print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
    warnings.simplefilter("default")
