from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn")
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mlnb
from mlnb.autolog import sklearn as sk


@pytest.fixture
def autolog(tracking: Path) -> Iterator[None]:
    mlnb.autolog(log_models=False)
    yield
    mlnb.autolog(disable=True)


def _runs() -> list[Any]:
    return mlnb.search_runs(search_all_experiments=True, output_format="list",
                            order_by=["attributes.start_time ASC"])  # type: ignore[return-value]


def test_single_classifier_fit_starts_and_ends_its_own_run(autolog: None) -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=200).fit(X, y)
    assert model.predict(X[:1]).shape == (1,)
    [run] = _runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "1.0" and run.data.params["max_iter"] == "200"
    assert set(run.data.metrics) == {"training_accuracy_score", "training_precision_score",
                                     "training_recall_score", "training_f1_score",
                                     "training_log_loss", "training_roc_auc", "training_score"}
    assert 0.9 < run.data.metrics["training_accuracy_score"] <= 1
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["mlnb.training_data.shape"] == "150x4"
    assert len(run.data.tags["mlnb.training_data.sha256"]) == 64
    assert mlnb.active_run() is None


def test_regressor_metrics(autolog: None) -> None:
    X, y = load_diabetes(return_X_y=True)
    LinearRegression().fit(X, y)
    [run] = _runs()
    metrics = run.data.metrics
    assert metrics["training_root_mean_squared_error"] == pytest.approx(
        metrics["training_mean_squared_error"] ** 0.5)
    assert {"training_mean_absolute_error", "training_r2_score"} <= set(metrics)


def test_pipeline_logs_once_with_deep_params(autolog: None) -> None:
    X, y = load_iris(return_X_y=True)
    Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    [run] = _runs()
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.params["clf__C"] == "1.0"
    assert "scale__with_mean" in run.data.params


def test_grid_search_parent_and_children(autolog: None, tracking: Path) -> None:
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, cv=3)
    search.fit(X, y)
    runs = _runs()
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 4 and len(children) == 3
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    # the search's own params, shallow (as MLflow): not its seed's untuned ones
    assert parent.data.params["estimator"] == "LogisticRegression(max_iter=300)"
    assert "estimator__C" not in parent.data.params
    by_c = {c.data.params["C"]: c for c in children}
    assert set(by_c) == {"0.1", "1.0", "10.0"}
    child = by_c["1.0"]
    assert child.data.metrics["mean_test_score"] == pytest.approx(
        search.cv_results_["mean_test_score"][1])
    assert set(child.data.metrics) == {
        "mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time",
        "mean_test_score", "std_test_score", "rank_test_score"}
    # every param of the seed estimator, the candidate's value over it
    assert child.data.params == {k: str(v) for k, v in
                                 LogisticRegression(max_iter=300, C=1.0).get_params().items()}
    assert child.data.tags["estimator_name"] == "LogisticRegression"
    assert child.data.tags["estimator_class"] == (
        "sklearn.linear_model._logistic.LogisticRegression")
    assert child.data.tags["mlflow.source.name"] == parent.data.tags["mlflow.source.name"]
    assert child.info.start_time == parent.info.start_time
    assert all(c.info.status == "FINISHED" for c in children)
    csv = Path(mlnb.MlnbClient().download_artifacts(parent.info.run_id, "cv_results.csv"))
    lines = csv.read_text().splitlines()
    assert lines[0].split(",")[:2] == ["mean_fit_time", "std_fit_time"]
    assert "mean_test_score" in lines[0] and len(lines) == 4


def test_grid_search_logs_the_five_best_children_and_the_best_estimator(tracking: Path) -> None:
    mlnb.autolog(log_models=True, log_input_examples=False)  # MLflow's default max_tuning_runs
    try:
        X, y = load_iris(return_X_y=True)
        search = GridSearchCV(LogisticRegression(max_iter=300),
                              {"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]}, cv=3).fit(X, y)
    finally:
        mlnb.autolog(disable=True)
    runs = _runs()
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    ranks = sorted(int(c.data.metrics["rank_test_score"]) for c in children)
    assert len(children) == 5 and ranks == sorted(search.cv_results_["rank_test_score"])[:5]
    best = mlnb.sklearn.load_model(f"runs:/{parent.info.run_id}/best_estimator")
    assert type(best) is LogisticRegression
    assert best.get_params() == search.best_estimator_.get_params()


def test_classifier_images_and_estimator_html(autolog: None) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    run = mlnb.last_active_run()  # the images are drawn after fit returns: a read waits for them
    assert run is not None and run.info.status == "FINISHED"
    files = {f.path: f for f in mlnb.MlnbClient().list_artifacts(run.info.run_id)}
    assert set(files) == {"estimator.html", "training_confusion_matrix.png",
                          "training_roc_curve.png", "training_precision_recall_curve.png"}
    png = mlnb.MlnbClient().download_artifacts(run.info.run_id, "training_confusion_matrix.png")
    data = Path(png).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (1050, 700)
    html = Path(mlnb.MlnbClient().download_artifacts(run.info.run_id, "estimator.html"))
    assert html.read_text().lstrip().startswith("<!DOCTYPE html>")
    assert "StandardScaler" in html.read_text()


def test_images_of_a_fit_in_an_active_run_are_written_before_end_run_returns(
        autolog: None) -> None:
    X, y = load_iris(return_X_y=True)  # multiclass: the confusion matrix only
    with mlnb.start_run() as run:
        LogisticRegression(max_iter=200).fit(X, y)
    other = mlnb.MlnbClient().store  # what is on disk, read without waiting for anything
    assert sorted(f.path for f in other.list_artifacts(run.run_id, "")) == [
        "estimator.html", "training_confusion_matrix.png"]


def test_multiclass_roc_auc_is_one_vs_one_weighted(autolog: None) -> None:
    from sklearn.metrics import roc_auc_score

    X, y = load_iris(return_X_y=True)
    X, y = X[:115, :1], y[:115]  # imbalanced (50/50/15), one feature: ovo and ovr differ
    model = LogisticRegression(max_iter=200).fit(X, y)
    [run] = _runs()
    proba = model.predict_proba(X)
    ovo = roc_auc_score(y, proba, multi_class="ovo", average="weighted")
    assert ovo != roc_auc_score(y, proba, multi_class="ovr", average="weighted")
    assert run.data.metrics["training_roc_auc"] == pytest.approx(ovo)


def test_without_matplotlib_the_fit_logs_the_rest_and_warns(tracking: Path, tmp_path: Path
                                                            ) -> None:
    code = textwrap.dedent("""
        import sys, warnings
        sys.modules["matplotlib"] = None  # as if matplotlib were not installed
        import mlnb
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        mlnb.autolog(log_models=False)
        X, y = load_iris(return_X_y=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = LogisticRegression(max_iter=200).fit(X, y)
        print([str(w.message) for w in caught if "mlnb" in str(w.message)])
        run = mlnb.last_active_run()
        print(run.info.status, sorted(f.path for f in mlnb.MlnbClient().list_artifacts(
            run.info.run_id)), model.score(X, y) > 0.9)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warned, outcome = result.stdout.strip().splitlines()
    assert warned == str(["mlnb autolog: matplotlib is not installed, so the training images "
                          "(confusion matrix, ROC and precision-recall curves) are not logged; "
                          "pip install matplotlib to get them"])
    assert outcome == "FINISHED ['estimator.html'] True"


def test_fit_inside_an_active_run_logs_into_it_then_into_a_child(autolog: None) -> None:
    X, y = load_iris(return_X_y=True)
    with mlnb.start_run(run_name="cell") as run:
        LogisticRegression(max_iter=200).fit(X, y)
        LogisticRegression(C=0.5, max_iter=200).fit(X, y)
    cell = mlnb.get_run(run.run_id)
    assert cell.data.params["C"] == "1.0"
    [child] = [r for r in _runs() if r.data.tags.get("mlflow.parentRunId") == run.run_id]
    assert child.data.params["C"] == "0.5"


class BrokenParams(ClassifierMixin, BaseEstimator):
    """A third-party estimator whose get_params raises: logging fails, fitting must not."""

    def fit(self, X: Any, y: Any) -> BrokenParams:
        self.classes_ = sorted(set(y))
        return self

    def predict(self, X: Any) -> Any:
        return [self.classes_[0]] * len(X)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        raise RuntimeError("no params for you")


def test_a_failing_logger_never_breaks_fit(autolog: None) -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.warns(RuntimeWarning, match="could not log the fit's params.*no params for you"):
        model = BrokenParams().fit(X, y)
    assert model.classes_ == [0, 1, 2]
    [run] = _runs()
    assert run.info.status == "FINISHED"


def test_store_failure_is_a_warning(autolog: None) -> None:
    X, y = load_iris(return_X_y=True)
    with mlnb.start_run() as run:
        mlnb.delete_run(run.run_id)  # logging into a deleted run fails inside autolog
        with pytest.warns(RuntimeWarning, match="mlnb autolog"):
            fitted = LogisticRegression(max_iter=200).fit(X, y)
    assert fitted.coef_.shape == (3, 4)


def test_a_failing_fit_fails_its_run_and_raises(autolog: None) -> None:
    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 0])  # one class only
    [run] = _runs()
    assert run.info.status == "FAILED"


def test_disable_turns_it_off(autolog: None) -> None:
    mlnb.autolog(disable=True)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=200).fit(X, y)
    assert _runs() == []
    assert not hasattr(LogisticRegression.fit, "_mlnb_original")


def test_classes_defined_later_are_patched(autolog: None) -> None:
    class Late(BaseEstimator):
        def fit(self, X: Any, y: Any = None) -> Late:
            return self

    Late().fit([[1]])
    assert [r.data.tags["estimator_name"] for r in _runs()] == ["Late"]


def test_mlnb_sklearn_facade(tracking: Path) -> None:
    mlnb.sklearn.autolog(log_models=False)
    try:
        assert sk.is_enabled()
    finally:
        mlnb.sklearn.autolog(disable=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not sk.is_enabled()


def test_enabling_autolog_warms_up_model_logging_in_the_background(tracking: Path) -> None:
    import subprocess
    import sys

    # A fresh interpreter: the first fit must not pay for importing skops (most of its time).
    code = ("import sys, time\nimport mlnb\nassert 'skops.io' not in sys.modules\nmlnb.autolog()\n"
            "deadline = time.time() + 60\n"
            "while not {'skops.io', 'sklearn.metrics'} <= set(sys.modules) and time.time() < deadline:\n"
            "    time.sleep(0.05)\n"
            "print(sorted(m for m in ('skops.io', 'sklearn.metrics') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['sklearn.metrics',", "'skops.io']"], out.stderr


def test_autolog_is_callable_and_its_package_stays_importable() -> None:
    import subprocess
    import sys

    code = ("import mlnb\nmlnb.autolog(disable=True)\nimport mlnb.autolog.sklearn as s\n"
            "print(callable(mlnb.autolog), s.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "mlnb.autolog.sklearn"]


def test_fits_sklearn_makes_on_its_own_are_not_runs(tracking) -> None:
    import numpy as np
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import StandardScaler

    mlnb.autolog(log_models=False)
    try:
        log_loss([0, 1, 1], np.array([[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]]))  # fits a LabelBinarizer
        assert mlnb.search_runs(output_format="list") == []
        StandardScaler().fit_transform(np.array([[0.0], [1.0]]))  # mixin -> self.fit: the user's
        runs = mlnb.search_runs(output_format="list")
        assert [r.data.tags.get("estimator_name") for r in runs] == ["StandardScaler"]
    finally:
        mlnb.autolog(disable=True)
