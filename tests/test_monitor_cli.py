"""``log_model(..., reference_data=)`` and ``mlnb monitor``: drift per window of the prediction
log, logged as steps of a run in ``<model> monitoring``, idempotent."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import mlnb
from mlnb.cli import main
from mlnb.errors import UntrustedModelError
from mlnb.models.reference import load_reference_data
from mlnb.store.predictions import PredictionRow

DAY = 86_400_000


def reference_frame(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(0, 1, rows), "c": rng.choice(["a", "b", "c"], rows)})


def logged(reference: pd.DataFrame | None) -> Any:
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression().fit(reference_frame()[["x"]], [0, 1] * 300)
    with mlnb.start_run():
        return mlnb.sklearn.log_model(fit, "model", registered_model_name="churn",
                                      reference_data=reference)


def test_reference_data_is_saved_with_the_model_and_checked_on_read(tracking: Any) -> None:
    ref = reference_frame()
    info = logged(ref)
    pd.testing.assert_frame_equal(load_reference_data("models:/churn/1"), ref)
    folder = mlnb.MlnbClient().store.artifact_path(info.run_id, "model")
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert mlmodel["reference_data"] == {"artifact_path": "reference_data.parquet",
                                         "format": "parquet", "rows": 600, "rows_given": 600,
                                         "columns": ["x", "c"]}
    assert len(mlmodel["files"]["reference_data.parquet"]["sha256"]) == 64
    (folder / "reference_data.parquet").write_bytes(reference_frame(seed=1).to_parquet())
    with pytest.raises(UntrustedModelError, match=r"reference_data\.parquet .* has changed"):
        load_reference_data(info.model_uri)


def test_reference_data_that_is_not_a_table_is_refused(tracking: Any) -> None:
    with pytest.raises(ValueError, match="reference_data has no rows"):
        logged(pd.DataFrame({"x": []}))
    assert load_reference_data(logged(None).model_uri) is None


def log_window(store: Any, uri: str, start: int, frame: pd.DataFrame, tag: str,
               targets: list[int] | None = None) -> None:
    rows = [PredictionRow(start + i * 1000, f"{tag}-{i}", json.dumps(r), json.dumps(int(r["x"] > 0)),
                          1.0) for i, r in enumerate(frame.to_dict("records"))]
    store.append_predictions(uri, "churn", "1", rows)
    if targets is not None:
        store.log_ground_truth([r.request_id for r in rows], [json.dumps(t) for t in targets])


def test_monitor_reports_each_closed_window_once(tracking: Any, capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
    logged(reference_frame())
    store = mlnb.MlnbClient().store
    uri = "models:/churn/1"
    today = int(time.time() * 1000) // DAY * DAY
    calm = reference_frame(300, seed=2)
    log_window(store, uri, today - 3 * DAY, calm, "d0", targets=[int(x > 0) for x in calm["x"]])
    shifted = reference_frame(300, seed=3).assign(x=lambda f: f["x"] + 2,
                                                  c=lambda f: f["c"].replace("a", "z"))
    log_window(store, uri, today - 2 * DAY, shifted, "d1")
    log_window(store, uri, today, reference_frame(50, seed=4), "open")  # today: still open
    assert main(["monitor", uri, "--window", "1d"]) == 0
    captured = capsys.readouterr()
    assert "Reference: the reference data logged with models:/churn/1 (600 rows, 2 columns)." \
        in captured.err
    assert "Prediction log of models:/churn/1: 650 rows." in captured.err
    assert "Window 0 (" in captured.err and "accuracy 1" in captured.err
    assert "50 rows are in a window still open" in captured.err
    lines = captured.out.splitlines()
    assert [line.split("\t")[:4] for line in lines] == [
        ["window 0", "300 rows", "drift share 0.00", "ok"],
        ["window 1", "300 rows", "drift share 1.00", "DRIFT"]]
    assert lines[1].split("\t")[4] == "x, c"
    client = mlnb.MlnbClient()
    experiment = client.get_experiment_by_name("churn monitoring")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    share = client.get_metric_history(run.info.run_id, "drift.share")
    assert [(m.step, m.timestamp, m.value) for m in share] == [
        (0, today - 3 * DAY, 0.0), (1, today - 2 * DAY, 1.0)]
    assert [m.value for m in client.get_metric_history(run.info.run_id, "accuracy")] == [1.0]
    assert [m.value for m in client.get_metric_history(run.info.run_id, "drift.c.drifted")] == [0, 1]
    folder = client.store.artifact_path(run.info.run_id, "windows")
    assert sorted(p.name for p in folder.iterdir()) == ["00000.html", "00000.json", "00001.html",
                                                        "00001.json"]
    report = json.loads((folder / "00001.json").read_text())
    assert report["report"]["drifted_columns"] == ["x", "c"] and report["rows"] == 300
    # Again: nothing new is reported, nothing is duplicated.
    assert main(["monitor", uri, "--window", "1d"]) == 0
    again = capsys.readouterr()
    assert again.out == "" and "600 rows are in windows already reported: skipped." in again.err
    assert len(client.get_metric_history(run.info.run_id, "drift.share")) == 2
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_monitor_mistakes_exit_2_with_what_to_do(tracking: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    logged(None)
    assert main(["monitor", "models:/churn/1"]) == 2
    assert "was logged without reference data: pass --reference" in capsys.readouterr().err
    assert main(["monitor", "models:/churn/1", "--window", "1 day"]) == 2
    assert "--window takes a positive duration such as 30m" in capsys.readouterr().err
    assert main(["monitor", "models:/churn/1", "--reference", str(tmp_path / "nope.csv")]) == 2
    assert "is neither a file, a run id nor a runs:/ URI" in capsys.readouterr().err
    reference_frame().to_csv(tmp_path / "ref.csv", index=False)
    assert main(["monitor", "models:/churn/1", "--reference", str(tmp_path / "ref.csv"),
                 "--since", "yesterday"]) == 2
    assert "--since takes a duration back from now (7d) or an ISO date" in capsys.readouterr().err
    assert main(["monitor", "models:/churn/1", "--reference", str(tmp_path / "ref.csv")]) == 0
    assert "Prediction log of models:/churn/1: 0 rows." in capsys.readouterr().err
