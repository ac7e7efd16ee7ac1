"""The sidebar's REST API on a PostgreSQL store as a reader role: reads work, every write is a
403 naming the role and the fix, and the handshake tells the panel (password masked)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_access import Team, owner_trains_and_registers, team  # noqa: F401
from test_server_api import fail, get_json, json_headers

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def who(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "reader"))


@pytest.fixture
def served(team: Team, who: str) -> dict[str, str]:  # noqa: F811
    """The owner's run and model, and the role the server will connect as."""
    run_id, _, _ = owner_trains_and_registers(team)
    team.owner.set_registered_model_alias("m", "champion", "1")
    role = team.role("reader", "reader") if who == "reader" else None
    return {"run_id": run_id, "role": role or "", "url": team.url(role) if role else team.owner_url}


@pytest.fixture
def jp_server_config(served: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("MLNB_TRACKING_URI", served["url"])  # the server's store, as a user sets it
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True}}}


async def test_a_reader_reads_everything_and_each_write_is_a_403_saying_why(
        jp_fetch: Any, served: dict[str, str], team: Team) -> None:  # noqa: F811
    role, run_id = served["role"], served["run_id"]
    version = await get_json(jp_fetch, "version")
    assert version["store_kind"] == "postgresql" and version["db_role"] == role
    assert version["can_write"] is False
    assert f"role '{role}' may read but not change" in version["read_only_reason"]
    assert f"mlnb db grant --writer {role}" in version["read_only_reason"]
    assert version["store"].startswith(f"postgresql://{role}:***@")

    runs = await get_json(jp_fetch, "runs")
    assert [r["run_id"] for r in runs["runs"]] == [run_id] and runs["total"] == 1
    detail = await get_json(jp_fetch, "runs", run_id)
    assert detail["metrics"] == {"acc": 0.9}
    assert [m["name"] for m in (await get_json(jp_fetch, "models"))["models"]] == ["m"]
    history = await get_json(jp_fetch, "models", "m", "versions", "1", "history")
    assert history["history"]

    writes = [
        (("runs", run_id), "DELETE", None),
        (("runs", run_id, "restore"), "POST", "{}"),
        (("models", "m", "versions", "1", "stage"), "POST",
         json.dumps({"stage": "Production", "archive_existing_versions": True})),
        (("models", "m", "aliases", "best"), "PUT", json.dumps({"version": "1"})),
        (("models", "m", "aliases", "champion"), "DELETE", None),
    ]
    for parts, method, body in writes:
        status, error = await fail(jp_fetch, *parts, method=method, body=body,
                                   headers=json_headers())
        assert status == 403, (parts, error)
        assert error["error_code"] == "PERMISSION_DENIED"
        assert error["message"] == version["read_only_reason"]
    assert team.owner.get_run(run_id).info.lifecycle_stage == "active"
    version_1 = team.owner.get_model_version("m", "1")
    assert version_1.current_stage == "None" and version_1.aliases == ["champion"]


@pytest.mark.parametrize("who", ["owner"], indirect=True)
async def test_the_handshake_masks_the_password_and_says_an_owner_may_write(
        jp_fetch: Any, served: dict[str, str]) -> None:
    response = await jp_fetch("mlnb", "api", "version")
    text = response.body.decode()
    assert "s3cret" not in text  # the URL the server was given holds the password
    version = json.loads(text)
    assert version["store"].startswith("postgresql://mlnb_admin:***@127.0.0.1:")
    assert (version["can_write"], version["read_only_reason"]) == (True, None)
