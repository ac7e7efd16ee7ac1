"""User mistakes in the tracking API fail at the call that made them, with MLflow's exception."""

import pytest

import mlnb
from mlnb.cli import main
from mlnb.errors import InvalidParameterError, MlflowException, NotFoundError, RunStateError

pytestmark = pytest.mark.both_backends


def test_metric_for_a_missing_run_fails_at_the_call(tracking):
    with pytest.raises(NotFoundError, match="deadbeef"):
        mlnb.MlflowClient().log_metric("deadbeef", "x", 1.0)


def test_metric_for_a_deleted_run_fails_at_the_call(tracking):
    client = mlnb.MlflowClient()
    with mlnb.start_run() as run:
        mlnb.log_metric("x", 1.0)
    client.delete_run(run.run_id)
    with pytest.raises(RunStateError, match="deleted"):
        client.log_metric(run.run_id, "x", 2.0)


def test_metric_for_a_run_of_a_deleted_experiment_fails_at_the_call(tracking):
    client = mlnb.MlflowClient()
    experiment_id = client.create_experiment("doomed")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "x", 1.0)
    client.delete_experiment(experiment_id)
    with pytest.raises(RunStateError):
        client.log_metric(run.info.run_id, "x", 2.0)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"value": "abc"}, "must be a number"),
    ({"value": 1.0, "step": 1.5}, "step must be an integer"),
    ({"value": 1.0, "step": "a"}, "step must be an integer"),
    ({"value": 1.0, "timestamp": "now"}, "timestamp must be an integer"),
])
def test_bad_metric_values_are_mlflow_exceptions_and_type_errors(tracking, kwargs, words):
    with mlnb.start_run():
        with pytest.raises(MlflowException, match=words) as caught:
            mlnb.log_metric("m", **kwargs)
    assert isinstance(caught.value, TypeError)


@pytest.mark.parametrize("call", [
    lambda: mlnb.log_metrics([("a", 1)]),
    lambda: mlnb.log_params([("a", 1)]),
    lambda: mlnb.set_tags(["a"]),
])
def test_log_calls_given_a_list_name_the_expected_dict(tracking, call):
    with mlnb.start_run():
        with pytest.raises(InvalidParameterError, match="takes a dict"):
            call()


def test_fluent_runs_record_the_user_when_USER_is_unset(tracking, monkeypatch):
    import getpass

    monkeypatch.delenv("USER", raising=False)
    monkeypatch.delenv("USERNAME", raising=False)
    with mlnb.start_run() as run:
        pass
    assert mlnb.get_run(run.run_id).info.user_id == getpass.getuser() != ""


def test_run_to_dictionary_is_mlflows_name(tracking):
    with mlnb.start_run() as run:
        mlnb.log_param("lr", 0.1)
    as_dict = mlnb.get_run(run.run_id).to_dictionary()
    assert as_dict["data"]["params"] == {"lr": "0.1"}
    assert as_dict["info"]["run_id"] == run.run_id


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_search_runs_refuses_a_bad_max_results(tracking, bad):
    with pytest.raises(InvalidParameterError, match="max_results"):
        mlnb.search_runs(max_results=bad)


def test_cli_shows_metric_values_without_losing_digits(tracking, capsys):
    with mlnb.start_run():
        mlnb.log_metric("x", 59999)
    assert main(["runs", "ls"]) == 0
    assert "59999" in capsys.readouterr().out
