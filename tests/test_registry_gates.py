"""Registry gates: a model's promotion rule over its versions' attached evaluations, enforced on
every path that moves a version (Python, the MLflow REST API, the CLI)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import mlnb
from mlnb.cli import main
from mlnb.entities import Metric
from mlnb.errors import GateFailedError, InvalidParameterError, NotFoundError
from mlnb.mlflow_server import ApiRequest, Context, handle
from mlnb.models import evaluate


@pytest.fixture
def client(tracking: Any) -> Any:
    """A model ``churn`` with two versions of a trivial logged model."""
    client = mlnb.MlnbClient()
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    client.store.put_artifact_bytes(run.info.run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    client.create_registered_model("churn")
    for _ in range(2):
        client.create_model_version("churn", f"runs:/{run.info.run_id}/model")
    return client


def evaluation(client: Any, **metrics: float) -> str:
    """A finished run holding ``metrics`` (what ``mlnb.evaluate`` logs), its id."""
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    client.store.log_batch(run.info.run_id, metrics=[Metric(k, v, 1000, 0) for k, v in metrics.items()])
    return str(run.info.run_id)


def stage(client: Any, version: int) -> str:
    return str(client.get_model_version("churn", version).current_stage)


@pytest.mark.both_backends
def test_gated_stage_refuses_a_version_without_an_evaluation(client: Any) -> None:
    client.set_registered_model_gate("churn", {"accuracy": {"min": 0.9}}, ["production"])
    with pytest.raises(GateFailedError) as refused:
        client.transition_model_version_stage("churn", 1, "Production")
    message = str(refused.value)
    assert message.startswith("Version 1 of registered model 'churn' cannot move to Production: "
                              "no evaluation is attached to it, and its gate requires accuracy >= 0.9.")
    assert "mlnb.evaluate('models:/churn/1'" in message and "force=True" in message
    assert stage(client, 1) == "None"
    assert refused.value.failures == ["no evaluation is attached to it"]
    client.transition_model_version_stage("churn", 1, "Staging")  # not guarded
    assert stage(client, 1) == "Staging"


@pytest.mark.both_backends
def test_each_failed_threshold_is_named_with_its_measured_value(client: Any) -> None:
    client.set_registered_model_gate(
        "churn", {"accuracy": {"min": 0.9}, "log_loss": {"max": 0.3}, "f1_score": {"min": 0.5}},
        ["Production", "champion"])
    run_id = evaluation(client, accuracy=0.85, log_loss=0.2)
    client.attach_evaluation("churn", 1, run_id)
    with pytest.raises(GateFailedError) as refused:
        client.set_registered_model_alias("churn", "champion", 1)
    assert str(refused.value) == (
        f"Version 1 of registered model 'churn' cannot move to champion: it fails its gate in "
        f"evaluation run {run_id}: accuracy >= 0.9 (measured 0.85); f1_score >= 0.5 (not "
        "measured). Pass force=True to move it anyway (recorded in the version's history).")
    with pytest.raises(NotFoundError):
        client.get_model_version_by_alias("churn", "champion")
    check = client.check_model_version_gate("churn", 1, "PRODUCTION")
    assert (check.target, check.applies, check.passed) == ("Production", True, False)
    assert [(r.metric, r.value, r.passed) for r in check.results] == [
        ("accuracy", 0.85, False), ("f1_score", None, False), ("log_loss", 0.2, True)]
    client.attach_evaluation("churn", 1, evaluation(client, accuracy=0.9, log_loss=0.3, f1_score=1.0))
    client.set_registered_model_alias("churn", "champion", 1)  # bounds are inclusive
    client.transition_model_version_stage("churn", 1, "Production")
    assert stage(client, 1) == "Production"
    assert client.get_model_version_by_alias("churn", "champion").version == "1"


def test_force_moves_it_and_the_history_records_the_override(client: Any) -> None:
    client.set_registered_model_gate("churn", {"accuracy": {"min": 0.9}}, "Production", user_id="lead")
    client.attach_evaluation("churn", 2, evaluation(client, accuracy=0.5), user_id="ann")
    client.transition_model_version_stage("churn", 2, "Production", force=True, user_id="bob")
    assert stage(client, 2) == "Production"
    events = [(e.kind, e.version, e.from_value, e.to_value, e.user_id)
              for e in client.get_model_version_history("churn")][2:]
    assert [e[0] for e in events] == ["gate", "evaluation", "gate_forced", "stage"]
    assert events[2] == ("gate_forced", "2", "Production", "accuracy >= 0.9 (measured 0.5)", "bob")
    assert json.loads(events[0][3]) == {"applies_to": ["Production"],
                                        "thresholds": {"accuracy": {"min": 0.9}}}
    with pytest.raises(InvalidParameterError, match="force must be True or False"):
        client.transition_model_version_stage("churn", 1, "Production", force="yes")


def test_a_deleted_evaluation_run_does_not_pass(client: Any) -> None:
    client.set_registered_model_gate("churn", {"accuracy": {"min": 0.9}}, ["Production"])
    run_id = evaluation(client, accuracy=0.99)
    client.attach_evaluation("churn", 1, run_id)
    client.delete_run(run_id)
    with pytest.raises(GateFailedError, match=f"its attached evaluation run {run_id} is deleted"):
        client.transition_model_version_stage("churn", 1, "Production")
    with pytest.raises(NotFoundError, match="abc"):
        client.attach_evaluation("churn", 1, "abc")


@pytest.mark.parametrize(("thresholds", "applies_to", "needle"), [
    ({}, ["Production"], "thresholds must be a non-empty dict"),
    ({"accuracy": 0.9}, ["Production"], """The gate on 'accuracy' must be {"min": number}"""),
    ({"accuracy": {"minimum": 0.9}}, ["Production"], "must be {\"min\": number}"),
    ({"accuracy": {"min": float("nan")}}, ["Production"], "min for 'accuracy' must be a finite number"),
    ({"accuracy": {"min": True}}, ["Production"], "must be a finite number, not True"),
    ({"acc": {"min": 0.9, "max": 0.1}}, ["Production"], "min 0.9 above max 0.1: no value could pass"),
    ({"accuracy": {"min": 0.9}}, [], "applies_to must name stages or aliases"),
    ({"accuracy": {"min": 0.9}}, ["pro duction"], "Alias 'pro duction' is not valid"),
])
def test_bad_gates_are_refused_and_nothing_is_stored(client: Any, thresholds: Any, applies_to: Any,
                                                      needle: str) -> None:
    with pytest.raises(InvalidParameterError) as refused:
        client.set_registered_model_gate("churn", thresholds, applies_to)
    assert needle in str(refused.value)
    assert client.get_registered_model_gate("churn") is None


def test_a_hand_edited_gate_tag_blocks_with_a_way_out(client: Any) -> None:
    client.set_registered_model_tag("churn", "mlnb.gate", "{not json")
    with pytest.raises(InvalidParameterError, match=r"is not a valid gate .* delete_registered_model_gate"):
        client.transition_model_version_stage("churn", 1, "Production")
    client.delete_registered_model_gate("churn")
    client.transition_model_version_stage("churn", 1, "Production")
    with pytest.raises(NotFoundError, match="has no gate"):
        client.delete_registered_model_gate("churn")


def test_evaluate_on_a_registered_uri_attaches_its_run(tracking: Any) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    train = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    with mlnb.start_run():
        mlnb.sklearn.log_model(LogisticRegression().fit(train, [0, 0, 0, 1, 1, 1]), "model",
                               registered_model_name="iris")
    client = mlnb.MlnbClient()
    client.set_registered_model_alias("iris", "candidate", 1)
    client.set_registered_model_gate("iris", {"accuracy_score": {"min": 0.99}}, ["champion"])
    data = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "y": [0, 0, 1, 1, 1, 1]})
    result = evaluate("models:/iris@candidate", data, targets="y", model_type="classifier",
                           evaluator_config={"log_model_explainability": False})
    assert client.get_model_version("iris", 1).tags["mlnb.evaluation_run_id"] == result.run_id
    measured = result.metrics["accuracy_score"]
    assert measured == pytest.approx(5 / 6)
    with pytest.raises(GateFailedError, match=rf"accuracy_score >= 0.99 \(measured {measured:g}\)"):
        client.set_registered_model_alias("iris", "champion", 1)


def test_the_mlflow_rest_api_is_gated_with_a_400_naming_the_reason(client: Any) -> None:
    client.set_registered_model_gate("churn", {"accuracy": {"min": 0.9}}, ["Production", "champion"])
    client.attach_evaluation("churn", 1, evaluation(client, accuracy=0.5))
    for path, body in [("/api/2.0/mlflow/model-versions/transition-stage",
                        {"name": "churn", "version": "1", "stage": "Production"}),
                       ("/api/2.0/mlflow/registered-models/alias",
                        {"name": "churn", "version": "1", "alias": "champion"})]:
        answer = handle(Context(client.store, "tester"),
                        ApiRequest("POST", path, {}, json.dumps(body).encode(), "application/json"))
        assert answer.status == 400 and answer.payload["error_code"] == "INVALID_STATE"
        assert "accuracy >= 0.9 (measured 0.5)" in answer.payload["message"]
    assert stage(client, 1) == "None" and client.get_model_version("churn", 1).aliases == []


def test_the_cli_is_gated_and_sets_gates(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "gate", "churn", "--min", "accuracy=0.9", "--max", "log_loss=0.4",
                 "--applies-to", "Production,champion"]) == 0
    assert capsys.readouterr().out == (
        "Gate of churn on Production, champion: accuracy >= 0.9; log_loss <= 0.4.\n")
    run_id = evaluation(client, accuracy=0.95, log_loss=0.5)
    assert main(["models", "attach-evaluation", "churn", "1", run_id]) == 0
    assert main(["models", "stage", "churn", "1", "Production"]) == 2
    assert "log_loss <= 0.4 (measured 0.5)" in capsys.readouterr().err
    assert main(["models", "stage", "churn", "1", "Production", "--force"]) == 0
    assert main(["models", "gate", "churn", "--min", "accuracy"]) == 2
    assert "--min takes METRIC=NUMBER (e.g. accuracy=0.9), not accuracy" in capsys.readouterr().err
    assert main(["models", "gate", "churn", "--delete"]) == 0
    assert main(["models", "gate", "churn"]) == 0
    assert capsys.readouterr().out.endswith("churn has no gate.\n")
