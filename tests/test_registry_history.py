"""Who made each registry change, and the history of versions that do not exist."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

import pytest
from pg_server import SUPERUSER

import mlnb
from mlnb.errors import NotFoundError

pytestmark = pytest.mark.both_backends

NO_USER_VARS = ("USER", "USERNAME", "LOGNAME", "LNAME")


@pytest.fixture
def who(backend: str) -> Callable[[str], str]:
    """How an event records ``user``: as given on SQLite; with the database role the change was
    made as on PostgreSQL ("login (role)"), where the login could be anything."""
    return (lambda user: user) if backend == "sqlite" else (lambda user: f"{user} ({SUPERUSER})")


@pytest.fixture
def client(tracking: Any) -> Any:
    client = mlnb.MlnbClient()
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    client.store.put_artifact_bytes(run.info.run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    client.create_registered_model("plain")
    client.source = f"runs:/{run.info.run_id}/model"
    return client


def users(client: Any, name: str = "plain") -> dict[str, str]:
    return {e.kind: e.user_id for e in client.get_model_version_history(name)}


def test_without_user_variables_the_process_user_is_recorded(
        client: Any, monkeypatch: pytest.MonkeyPatch, who: Callable[[str], str]) -> None:
    for var in NO_USER_VARS:
        monkeypatch.delenv(var, raising=False)
    expected = getpass.getuser()  # from the password database (root in this container)
    assert expected
    client.create_model_version("plain", client.source)
    client.transition_model_version_stage("plain", 1, "Staging")
    client.set_registered_model_alias("plain", "champion", 1)
    client.delete_registered_model_alias("plain", "champion")
    mlnb.register_model(client.source, "plain")
    history = client.get_model_version_history("plain")
    assert len(history) == 5 and {e.user_id for e in history} == {who(expected)}


def test_user_id_keyword_names_who_made_each_change(client: Any, who: Callable[[str], str]
                                                    ) -> None:
    client.create_model_version("plain", client.source, user_id="ann")
    client.create_model_version("plain", client.source, user_id="bob")
    client.transition_model_version_stage("plain", "1", "Production", user_id="cy")
    client.transition_model_version_stage("plain", "2", "Production", True, user_id="dee")
    client.set_registered_model_alias("plain", "champion", "2", user_id="eve")
    client.delete_registered_model_alias("plain", "champion", user_id="fay")
    client.delete_model_version("plain", "1", user_id="gus")
    client.rename_registered_model("plain", "renamed", user_id="hal")
    seen = [(e.kind, e.version, e.user_id) for e in client.get_model_version_history("renamed")]
    assert seen == [(kind, version, who(user)) for kind, version, user in [
        ("create_version", "1", "ann"), ("create_version", "2", "bob"), ("stage", "1", "cy"),
        ("stage", "1", "dee"), ("stage", "2", "dee"),  # archive-existing is part of dee's change
        ("alias:champion", "2", "eve"), ("alias:champion", "2", "fay"),
        ("delete_version", "1", "gus"), ("rename", None, "hal"),
    ]]
    client.delete_registered_model("renamed", user_id="ivy")
    assert client.get_model_version_history("renamed")[-1].user_id == who("ivy")


def test_history_of_a_missing_version_is_not_found(client: Any) -> None:
    client.create_model_version("plain", client.source)
    client.create_model_version("plain", client.source)
    assert [e.kind for e in client.get_model_version_history("plain", 1)] == ["create_version"]
    with pytest.raises(NotFoundError, match="no version 99"):
        client.get_model_version_history("plain", 99)
    with pytest.raises(NotFoundError):
        client.get_model_version_history("nosuchmodel", 1)
    client.delete_model_version("plain", 2)  # a deleted version keeps its history
    assert [e.kind for e in client.get_model_version_history("plain", 2)] == [
        "create_version", "delete_version"]
