"""``mlnb models ...`` and ``mlnb predict``: thin clients of the registry and the models."""

from __future__ import annotations

import json

import pytest
from test_models_data import pipeline

import mlnb
from mlnb.cli import main


@pytest.fixture(params=["local", "s3"])
def artifact_backend(request: pytest.FixtureRequest) -> str:
    """Every test here runs with artifacts in a local folder and in S3 (SeaweedFS)."""
    return str(request.param)


def _logged(tracking):
    model, X = pipeline()
    for _ in range(2):
        mlnb.sklearn.log_model(model, "model", input_example=X[:3], registered_model_name="churn")
    return model, X


def test_models_commands(tracking, capsys):
    _logged(tracking)
    assert main(["models", "stage", "churn", "2", "PRODUCTION"]) == 0
    assert "churn version 2 is now in Production" in capsys.readouterr().out
    assert main(["models", "alias", "churn", "champion", "1"]) == 0
    assert main(["models", "ls"]) == 0
    out = capsys.readouterr().out
    assert "churn" in out and "Production:v2" in out and "@champion:v1" in out
    assert main(["models", "versions", "churn", "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["current_stage"], v["aliases"]) for v in versions] == [
        ("2", "Production", []), ("1", "None", ["champion"])]
    assert main(["models", "history", "churn", "--json"]) == 0
    kinds = [e["kind"] for e in json.loads(capsys.readouterr().out)]
    assert kinds == ["create_version", "create_version", "stage", "alias:champion"]


def test_user_mistakes_exit_2_with_a_message(tracking, capsys):
    _logged(tracking)
    assert main(["models", "stage", "churn", "1", "Prod"]) == 2
    assert "None, Staging, Production, Archived" in capsys.readouterr().err
    assert main(["models", "versions", "nope"]) == 2
    assert main(["predict", "models:/x$(id)/1", "--input", "in.csv"]) == 2
    assert "invalid" in capsys.readouterr().err


def test_predict_csv_and_json_files(tracking, tmp_path, capsys):
    model, X = _logged(tracking)
    X[:5].to_csv(tmp_path / "in.csv", index=False)
    assert main(["predict", "models:/churn/1", "--input", str(tmp_path / "in.csv"),
                 "--output", str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_text().split() == ["prediction"] + [
        str(p) for p in model.predict(X[:5])]
    (tmp_path / "in.json").write_text(json.dumps(X[:3].to_dict(orient="records")))
    assert main(["predict", "models:/churn@champion", "--input", str(tmp_path / "in.json")]) == 2
    capsys.readouterr()
    assert main(["predict", "models:/churn/latest", "--input", str(tmp_path / "in.json")]) == 0
    assert json.loads(capsys.readouterr().out) == {"predictions": model.predict(X[:3]).tolist()}


def test_serve_limits_are_options_and_bad_ones_exit_2(tracking, capsys):
    model, X = pipeline()
    info = mlnb.sklearn.log_model(model, "model", input_example=X[:3])
    assert main(["serve", info.model_uri, "--port", "0", "--max-connections", "0"]) == 2
    assert "max_connections must be positive" in capsys.readouterr().err
    assert main(["serve", info.model_uri, "--port", "0", "--request-timeout", "-1"]) == 2
    assert "request_timeout" in capsys.readouterr().err
