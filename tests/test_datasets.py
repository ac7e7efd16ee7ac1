"""Datasets a run uses (mlnb.data, mlnb.log_input): MLflow's digest, schema, profile and source
for the same data, the store's records (one per experiment for a name and digest), and clear
errors for what is not a dataset."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlnb
from mlnb.errors import InvalidParameterError

mlflow_data = pytest.importorskip("mlflow.data")


def frames() -> list[pd.DataFrame]:
    return [
        pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, None], "s": ["x", "y", "z"],
                      "f": np.array([1, 2, 3], dtype="float32"),
                      "i": np.array([1, 2, 3], dtype="int32"), "bo": [True, False, True]}),
        pd.DataFrame({"x": np.arange(25_000), "mixed": [1, "a"] * 12_500}),  # over MAX_ROWS
        pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"]), "n": [1, 2]}),
    ]


@pytest.mark.parametrize("df", frames())
def test_from_pandas_matches_mlflow_field_by_field(df: pd.DataFrame) -> None:
    ours = mlnb.data.from_pandas(df, source="/data/x.csv", name="n", targets=df.columns[0])
    theirs = mlflow_data.from_pandas(df, source="/data/x.csv", name="n", targets=df.columns[0])
    assert ours.to_dict() == theirs.to_dict()
    assert ours.digest == theirs.digest


def test_from_numpy_matches_mlflow_field_by_field() -> None:
    features, targets = np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1])
    for source in ("s3://bucket/key", "https://example.com/d.csv", "/data/local.npy"):
        ours = mlnb.data.from_numpy(features, source=source, targets=targets)
        theirs = mlflow_data.from_numpy(features, source=source, targets=targets)
        assert ours.to_dict() == theirs.to_dict()
    assert mlnb.data.from_numpy(features).digest == mlflow_data.from_numpy(features).digest


def test_digests_of_large_and_odd_shaped_data_match_mlflow() -> None:
    """The digest reads only the leading rows (no copy of the whole array, no per-cell type scan
    of numeric columns) and still equals MLflow's."""
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(30_001, 7)), rng.normal(size=(3, 5000)), rng.normal(size=(9, 4, 3)),
              np.asfortranarray(rng.normal(size=(20_000, 3))), rng.normal(size=(0, 4)),
              rng.normal(size=(12_000,)), np.array(["a", "b"] * 6000).reshape(-1, 2)]
    for array in arrays:
        assert mlnb.data.from_numpy(array).digest == mlflow_data.from_numpy(array).digest
    frame = pd.DataFrame({"n": rng.normal(size=20_000), "i": np.arange(20_000),
                          "s": ["v"] * 19_999 + [None], "t": ["w"] * 20_000,
                          "c": pd.Categorical(["p", "q"] * 10_000),
                          "b": [True, False] * 10_000})
    assert mlnb.data.from_pandas(frame).digest == mlflow_data.from_pandas(frame).digest


def test_a_dataset_from_code_names_the_running_source() -> None:
    source = json.loads(mlnb.data.from_pandas(frames()[0]).to_dict()["source"] or "")
    assert mlnb.data.from_pandas(frames()[0]).source.source_type == "code"
    assert "mlflow.source.name" in source["tags"] or "mlflow.user" in source["tags"]


def test_log_input_records_the_dataset_once_per_experiment(tracking: Any) -> None:
    df = frames()[0]
    with mlnb.start_run() as run:
        mlnb.log_input(mlnb.data.from_pandas(df, source="/d.csv", name="train"), context="training",
                       tags={"split": 1})
        mlnb.log_input(mlnb.data.from_pandas(df.head(2), source="/d.csv", name="eval"), context="eval")
    with mlnb.start_run() as other:
        mlnb.log_input(mlnb.data.from_pandas(df, source="/d.csv", name="train"))
    client = mlnb.MlnbClient()
    inputs = client.get_dataset_inputs(run.info.run_id)
    assert [(i.dataset.name, i.tags) for i in inputs] == [
        ("train", {"mlflow.data.context": "training", "split": "1"}),
        ("eval", {"mlflow.data.context": "eval"})]
    assert inputs[0].dataset.digest == mlflow_data.from_pandas(df).digest
    assert [i.tags for i in client.get_dataset_inputs(other.info.run_id)] == [{}]
    assert client.store.cx.query("SELECT count(*) FROM datasets") == [(2,)]


def test_log_input_refuses_what_is_not_a_dataset(tracking: Any) -> None:
    with mlnb.start_run():
        with pytest.raises(InvalidParameterError, match=r"build one with mlnb\.data\.from_pandas"):
            mlnb.log_input(frames()[0])
        with pytest.raises(InvalidParameterError, match="longer than 500 characters"):
            mlnb.log_input(mlnb.data.from_pandas(frames()[0]), context="x" * 501)
    with pytest.raises(InvalidParameterError, match="needs a pandas DataFrame"):
        mlnb.data.from_pandas([1, 2])
    with pytest.raises(InvalidParameterError, match="targets column 'nope' is not in the DataFrame"):
        mlnb.data.from_pandas(frames()[0], targets="nope")
    with pytest.raises(InvalidParameterError, match="Cannot name the source 'ftp://x/y'"):
        mlnb.data.from_pandas(frames()[0], source="ftp://x/y")
    with pytest.raises(InvalidParameterError, match="from_numpy needs numpy arrays"):
        mlnb.data.from_numpy([[1, 2]])


def test_an_mlflow_script_logs_its_dataset_through_mlnb_exec(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        "import mlflow\nimport mlflow.data\nimport pandas as pd\n"
        "df = pd.DataFrame({'x': [1, 2, 3], 'y': [0.5, 1.5, 2.5]})\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_input(mlflow.data.from_pandas(df, source='/d.csv'), context='training')\n"
        "print(run.info.run_id)\n")
    env = {**os.environ, "MLNB_TRACKING_URI": str(tmp_path / "store")}
    done = subprocess.run([sys.executable, "-m", "mlnb", "exec", str(script)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    inputs = mlnb.MlnbClient(str(tmp_path / "store")).get_dataset_inputs(run_id)
    expected = mlflow_data.from_pandas(pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 1.5, 2.5]})).digest
    assert [(i.dataset.digest, i.tags) for i in inputs] == [
        (expected, {"mlflow.data.context": "training"})]
