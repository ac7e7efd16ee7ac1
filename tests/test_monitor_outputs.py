"""``mlnb monitor``'s prediction drift (the logged predictions against the model's predictions on
the reference) and target drift (ground truth joined by request id against the reference's
target column), and the refusal to load a model file mlnb did not write without --trusted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression

import mlnb
from mlnb.cli import main
from mlnb.models.signature import infer_signature
from mlnb.monitor.watch import monitor, monitoring_summary
from mlnb.store.predictions import PredictionRow

DAY = 86_400_000


def training(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, rows)
    return pd.DataFrame({"x": x, "y": 2 * x + rng.normal(0, 0.1, rows)})


def logged_regressor() -> LinearRegression:
    frame = training()
    model = LinearRegression().fit(frame[["x"]], frame["y"])
    with mlnb.start_run():
        mlnb.sklearn.log_model(model, "model", registered_model_name="price",
                               reference_data=mlnb.data.from_pandas(frame, targets="y"))
    return model


def log_window(uri: str, start: int, inputs: pd.DataFrame, predicted: Any, tag: str) -> list[str]:
    """Predictions of one day (timestamps inside it); returns their request ids."""
    rows = [PredictionRow(start + i * 1000, f"{tag}-{i}", json.dumps(record),
                          json.dumps(float(p)), 1.0)
            for i, (record, p) in enumerate(zip(inputs.to_dict("records"), predicted, strict=True))]
    mlnb.MlnbClient().store.append_predictions(uri, "price", "1", rows)
    return [r.request_id for r in rows]


def test_prediction_and_target_drift_per_window(tracking: Any, capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    model = logged_regressor()
    uri = "models:/price/1"
    today = int(time.time() * 1000) // DAY * DAY
    calm = training(300, seed=2)
    ids = log_window(uri, today - 3 * DAY, calm[["x"]], model.predict(calm[["x"]]), "d0")
    assert mlnb.log_ground_truth(ids, calm["y"].tolist()) == 300  # joined by request id
    # The same inputs, but served predictions off by 3 (a broken deployment) and targets that
    # moved: prediction and target drift, no input drift.
    ids = log_window(uri, today - 2 * DAY, calm[["x"]], model.predict(calm[["x"]]) + 3, "d1")
    mlnb.log_ground_truth(ids, (calm["y"] + 5).tolist())
    later = training(300, seed=5)
    log_window(uri, today - DAY, later[["x"]], model.predict(later[["x"]]), "d2")  # no truth yet
    assert main(["monitor", uri]) == 0
    captured = capsys.readouterr()
    assert "Target column of the reference: 'y'." in captured.err
    assert "Predicted the reference with models:/price/1 for prediction drift." in captured.err
    assert [line.split("\t")[3:] for line in captured.out.splitlines()] == [
        ["ok", "prediction ok", "target ok"],
        ["ok", "prediction DRIFT", "target DRIFT"],
        ["ok", "prediction ok"]]
    client = mlnb.MlnbClient()
    experiment = client.get_experiment_by_name("price monitoring")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    run_id = run.info.run_id

    def steps(key: str) -> list[tuple[int, float]]:
        return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]

    assert steps("drift.prediction.drifted") == [(0, 0.0), (1, 1.0), (2, 0.0)]
    assert steps("drift.target.drifted") == [(0, 0.0), (1, 1.0)]
    # 600 reference rows: Kolmogorov-Smirnov, as for an input column; the p-value is scipy's.
    reference_predictions = model.predict(training()[["x"]])
    expected = stats.ks_2samp(reference_predictions, model.predict(calm[["x"]]) + 3).pvalue
    assert steps("drift.prediction.statistic")[1] == (1, pytest.approx(expected))
    expected = stats.ks_2samp(training()["y"], calm["y"] + 5).pvalue
    assert steps("drift.target.statistic")[1] == (1, pytest.approx(expected))
    assert steps("drift.x.drifted") == [(0, 0.0), (1, 0.0), (2, 0.0)]
    window = json.loads((client.store.artifact_path(run_id, "windows") / "00001.json").read_text())
    assert window["target_column"] == "y"
    assert [(c["column"], c["role"], c["method"], c["verdict"]) for c in
            window["prediction_report"]["columns"]] == [("prediction", "prediction", "ks", "drift")]
    assert [(c["column"], c["role"], c["verdict"]) for c in window["target_report"]["columns"]] \
        == [("y", "target", "drift")]
    assert [c["column"] for c in window["report"]["columns"]] == ["x"]  # the target is no input
    page = (client.store.artifact_path(run_id, "windows") / "00001.html").read_text()
    assert "<h4>Prediction drift</h4>" in page and "<h4>Target drift</h4>" in page
    # What the sidebar reads.
    (summary,) = monitoring_summary(client, "price")
    assert [(p["step"], p["drifted"]) for p in summary["prediction_points"]] == [
        (0, False), (1, True), (2, False)]
    assert [(p["step"], p["drifted"]) for p in summary["target_points"]] == [(0, False), (1, True)]
    assert summary["target_points"][1]["statistic"] == pytest.approx(expected)
    assert summary["latest"]["index"] == 2 and summary["latest"]["target_report"] is None
    assert summary["latest"]["notes"] == ["no target drift: no ground truth arrived for this window."]


def test_the_result_renders_inline_with_both_verdicts(tracking: Any) -> None:
    model = logged_regressor()
    today = int(time.time() * 1000) // DAY * DAY
    calm = training(300, seed=2)
    ids = log_window("models:/price/1", today - DAY, calm[["x"]], model.predict(calm[["x"]]) - 4,
                     "d0")
    mlnb.log_ground_truth(ids, calm["y"].tolist())
    result = monitor("models:/price/1")
    (window,) = result.windows
    assert (window.prediction_drift, window.target_drift, window.dataset_drift) == (True, False,
                                                                                    False)
    page = result._repr_html_()
    assert "<th>Prediction drift</th>" in page and "Window 0: prediction drift" in page
    assert "Window 0: target drift" in page and page.count(">drift</span>") >= 2


def foreign_model(tmp_path: Path) -> tuple[str, LinearRegression]:
    """A pickled model in a folder the store never wrote: loading it runs code of its choosing."""
    frame = training()
    model = LinearRegression().fit(frame[["x"]], frame["y"])
    folder = tmp_path / "foreign-model"
    mlnb.sklearn.save_model(model, folder, serialization_format="pickle",
                            signature=infer_signature(frame[["x"]], model.predict(frame[["x"]])))
    frame.to_csv(tmp_path / "reference.csv", index=False)
    return str(folder), model


def test_a_model_mlnb_did_not_write_is_loaded_only_with_trusted(
        tracking: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri, model = foreign_model(tmp_path)
    today = int(time.time() * 1000) // DAY * DAY
    calm = training(300, seed=2)
    log_window(uri, today - DAY, calm[["x"]], model.predict(calm[["x"]]) + 3, "d0")
    reference = str(tmp_path / "reference.csv")
    assert main(["monitor", uri, "--reference", reference]) == 0
    captured = capsys.readouterr()
    assert "Prediction drift skipped: the model was not loaded, since loading it would run code " \
           "mlnb did not write" in captured.err
    assert "Pass --trusted (trusted=True in Python) only if you trust where the model came " \
           "from." in captured.err
    assert "Target column of the reference: 'y'." in captured.err  # from the signature's inputs
    assert captured.out.splitlines() == ["window 0\t300 rows\tdrift share 0.00\tok"]
    client = mlnb.MlnbClient()
    experiment = client.get_experiment_by_name(f"{uri} monitoring")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert client.get_metric_history(run.info.run_id, "drift.prediction.drifted") == []
    # With --trusted, on a window not yet reported, the model is loaded and its output tested.
    log_window(uri, today - 3 * DAY, calm[["x"]], model.predict(calm[["x"]]) + 3, "d1")
    assert main(["monitor", uri, "--reference", reference, "--window", "12h", "--trusted"]) == 0
    captured = capsys.readouterr()
    assert "skipped" not in captured.err
    assert captured.out.splitlines()[0].split("\t")[3:] == ["ok", "prediction DRIFT"]
    result = monitor(uri, reference=reference, window="6h", trusted=False)
    assert result.notes[0].startswith("prediction drift skipped: the model was not loaded")
    assert all(w.prediction_drift is None for w in result.windows) and result.windows


def test_a_target_that_is_not_a_column_is_refused(tracking: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    uri, _ = foreign_model(tmp_path)
    assert main(["monitor", uri, "--reference", str(tmp_path / "reference.csv"),
                 "--target", "<b>label</b>"]) == 2
    assert "--target '<b>label</b>' is not a column of the reference data (columns: x, y)." \
        in capsys.readouterr().err


def test_outputs_of_several_values_are_compared_per_output() -> None:
    """Rows of several values (a 2-D array, logged as lists) and named outputs (a table, logged
    as objects) line up with the model's predictions column by column."""
    from mlnb.monitor.outputs import logged_predictions, output_report, positional, prediction_frame

    rng = np.random.default_rng(0)
    reference = prediction_frame(rng.normal(0, 1, (400, 2)))
    window = pd.DataFrame({"prediction": [[float(a), float(b) + 3] for a, b in
                                          rng.normal(0, 1, (200, 2))]})
    report = output_report(reference, logged_predictions(window), "prediction")
    assert report is not None
    assert [(c.column, c.role, c.drifted) for c in report.columns] == [
        ("prediction.0", "prediction", False), ("prediction.1", "prediction", True)]
    named = prediction_frame(pd.DataFrame({"p": [0.1, 0.9], "label": ["a", "b"]}))
    assert list(named.columns) == ["prediction.p", "prediction.label"]
    assert output_report(named, pd.DataFrame({"prediction.other": [1, 2]}), "prediction") is None
    assert positional(["f0", "f1"]) and positional(["0", "1"]) and not positional(["f1", "f0"])
