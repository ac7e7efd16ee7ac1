"""The sidebar's prompt and GenAI evaluation routes through a real Jupyter Server and its SQLite
store: prompts, versions and aliases; an experiment's evaluation runs; compare; promote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from jupyter_server.utils import url_path_join
from test_server_api import fail, get_json

import mlnb
from mlnb.genai import compare, evaluate, get_prompt, load_prompt, register_prompt
from mlnb.genai.prompts import search_prompt_versions, search_prompts, set_prompt_alias
from mlnb.genai.scorers import ExactMatch
from mlnb.store import open_store
from mlnb.tracking.client import MlnbClient

pytest_plugins = ("pytest_jupyter.jupyter_server",)

XSS = '<img src=x onerror="window.__xss=1">'
DATA = [{"inputs": {"n": i}, "expectations": {"expected_response": str(i)}} for i in range(6)]


@pytest.fixture
def jp_server_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)  # the server finds <root>/.mlnb
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True}}}


@pytest.fixture
def genai(jp_root_dir: Path, jp_serverapp: Any) -> dict[str, Any]:
    """In the server's store: prompt "qa" (a text v1, a chat v2) and model "churn"; two
    evaluations of experiment "genai", v1 right on every input, v2 wrong on two."""
    mlnb.set_tracking_uri(str(jp_root_dir / ".mlnb"))
    eid = mlnb.set_experiment("genai").experiment_id
    v1 = register_prompt("qa", f"Say {{{{n}}}} {XSS}", commit_message=f"first {XSS}",
                         tags={"team": "search"})
    v2 = register_prompt("qa", [{"role": "system", "content": "Be brief"},
                                {"role": "user", "content": "Repeat {{n}}"}],
                         commit_message="chat", response_format={"title": XSS, "type": "object"},
                         model_config={"model_name": XSS, "temperature": 0.2, "seed": 7})
    mlnb.genai.set_prompt_alias("qa", "production", 2)
    mlnb.MlnbClient(str(jp_root_dir / ".mlnb")).create_registered_model("churn")
    runs = {}
    for prompt, wrong in ((v1, set()), (v2, {1, 4})):
        def predict(n: int, prompt: Any = prompt, wrong: set[int] = wrong) -> str:
            load_prompt(prompt.uri)
            return f"x {XSS}" if n in wrong else str(n)

        runs[prompt.version] = evaluate(DATA, scorers=[ExactMatch()], predict_fn=predict,
                                        model="small", run_name=f"v{prompt.version}").run_id
    with mlnb.start_run(run_name="not an evaluation"):
        mlnb.log_metric("acc", 1.0)
    plain = mlnb.last_active_run().info.run_id  # type: ignore[union-attr]
    # This process's own current store is now another one: the handlers must use the server's.
    mlnb.set_tracking_uri(str(jp_root_dir / "elsewhere" / ".mlnb"))
    return {"experiment_id": str(eid), "runs": runs, "plain": plain,
            "store": open_store(str(jp_root_dir / ".mlnb"))}


async def test_prompts_versions_and_one_version(jp_fetch: Any, genai: dict[str, Any]) -> None:
    listed = await get_json(jp_fetch, "prompts")
    assert [p["name"] for p in listed["prompts"]] == ["qa"]  # the model "churn" is no prompt
    assert listed["prompts"][0]["aliases"] == {"production": "2"}
    assert listed["prompts"][0]["latest_version"] == 2
    assert (await get_json(jp_fetch, "prompts", filter="name LIKE 'zz%'"))["prompts"] == []
    detail = await get_json(jp_fetch, "prompts", "qa")
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    v2, v1 = detail["versions"]
    assert v1["template"] == f"Say {{{{n}}}} {XSS}" and v1["prompt_type"] == "text"
    assert v1["commit_message"] == f"first {XSS}" and v1["tags"] == {"team": "search"}
    assert v2["template"] == [{"role": "system", "content": "Be brief"},
                              {"role": "user", "content": "Repeat {{n}}"}]
    assert v2["prompt_type"] == "chat" and v2["aliases"] == ["production"] and v1["aliases"] == []
    assert v2["model_config"] == {"model_name": XSS, "temperature": 0.2, "seed": 7}
    assert v2["response_format"] == {"title": XSS, "type": "object"}
    assert v1["model_config"] is None and v1["response_format"] is None
    one = await get_json(jp_fetch, "prompts", "qa", "versions", "1")
    assert one["version"] == v1


async def test_prompt_errors(jp_fetch: Any, genai: dict[str, Any]) -> None:
    code, body = await fail(jp_fetch, "prompts", "nope")
    assert code == 404 and "No prompt named 'nope'" in body["message"]
    code, body = await fail(jp_fetch, "prompts", "churn")
    assert code == 400 and "registered model, not a prompt" in body["message"]
    code, body = await fail(jp_fetch, "prompts", "qa", "versions", "9")
    assert code == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for bad in ("one", "0", "9" * 30, "١"):  # "١": an Arabic-Indic digit
        code, body = await fail(jp_fetch, "prompts", "qa", "versions", bad)
        assert code == 400 and "is a number" in body["message"], bad
    code, body = await fail(jp_fetch, "prompts", filter="name = ")
    assert code == 400


async def test_set_move_and_delete_an_alias(jp_fetch: Any, genai: dict[str, Any]) -> None:
    headers = {"Content-Type": "application/json"}
    moved = await jp_fetch("mlnb", "api", "prompts", "qa", "aliases", "production", method="PUT",
                           body=json.dumps({"version": 1}), headers=headers)
    assert json.loads(moved.body) == {"name": "qa", "alias": "production", "version": "1"}
    assert load_prompt("prompts:/qa@production", store=genai["store"]).version == 1  # type: ignore[union-attr]
    detail = await get_json(jp_fetch, "prompts", "qa")
    assert [v["aliases"] for v in detail["versions"]] == [[], ["production"]]
    await jp_fetch("mlnb", "api", "prompts", "qa", "aliases", "production", method="DELETE",
                   headers=headers)
    assert load_prompt("prompts:/qa@production", allow_missing=True, store=genai["store"]) is None
    code, body = await fail(jp_fetch, "prompts", "qa", "aliases", "production", method="DELETE",
                            headers=headers)
    assert code == 404
    code, body = await fail(jp_fetch, "prompts", "qa", "aliases", "production", method="PUT",
                            headers=headers, body=json.dumps({"version": 7}))
    assert code == 404
    code, body = await fail(jp_fetch, "prompts", "qa", "aliases", "production", method="PUT",
                            headers=headers, body=json.dumps({"version": True}))
    assert code == 400 and "version" in body["message"]
    for bad in ({}, {"version": 10 ** 30}, {"version": "1.5"}, {"version": None}):
        code, body = await fail(jp_fetch, "prompts", "qa", "aliases", "production", method="PUT",
                                headers=headers, body=json.dumps(bad))
        assert code == 400 and "version" in body["message"], bad
    code, _ = await fail(jp_fetch, "prompts", "qa", "aliases", "x", method="PUT",
                         headers={"Content-Type": "text/plain"}, body=json.dumps({"version": 1}))
    assert code == 415
    code, body = await fail(jp_fetch, "prompts", "churn", "aliases", "x", method="PUT",
                            headers=headers, body=json.dumps({"version": 1}))
    assert code == 400 and "not a prompt" in body["message"]


async def test_list_evaluations_of_an_experiment(jp_fetch: Any, genai: dict[str, Any]) -> None:
    page = await get_json(jp_fetch, "experiments", genai["experiment_id"], "genai-evaluations")
    assert [r["run_name"] for r in page["runs"]] == ["v2", "v1"]  # newest first, no other run
    v2 = page["runs"][0]
    assert v2["run_id"] == genai["runs"][2] and v2["model"] == "small"
    assert v2["prompt"] == "prompts:/qa/2"
    assert v2["linked_prompts"] == [{"name": "qa", "version": "2"}]
    assert v2["metrics"]["exact_match/mean"] == pytest.approx(4 / 6)
    code, body = await fail(jp_fetch, "experiments", "999", "genai-evaluations")
    assert code == 404 and "999" in body["message"]


async def compare_json(client: Any, base_url: str, auth: dict[str, str],
                       query: list[tuple[str, str]]) -> tuple[int, Any]:
    """GET genai/compare with repeated query keys (jp_fetch's params take one value per key)."""
    url = url_path_join(base_url, "mlnb", "api", "genai", "compare") + "?" + urlencode(query)
    response = await client.fetch(url, headers=auth, raise_error=False)
    return response.code, json.loads(response.body)


async def test_compare_as_json(http_server_client: Any, jp_base_url: str,
                               jp_auth_header: dict[str, str], genai: dict[str, Any]) -> None:
    a, b = genai["runs"][1], genai["runs"][2]
    code, data = await compare_json(http_server_client, jp_base_url, jp_auth_header,
                                    [("run_id", a), ("run_id", b)])
    assert code == 200
    assert [r["run_id"] for r in data["runs"]] == [a, b]
    assert data["scorers"] == ["exact_match"]
    assert [r["means"]["exact_match"] for r in data["runs"]] == [1.0, pytest.approx(4 / 6)]
    assert data["winners"] == {"exact_match": a}
    assert data["runs"][1]["prompt"] == "prompts:/qa/2" and data["runs"][1]["model"] == "small"
    rate = next(w for w in data["win_rates"] if w["run"] == a and w["other"] == b)
    assert (rate["pairs"], rate["wins"], rate["ties"], rate["losses"]) == (6, 2, 4, 0)
    assert rate["ci_low"] <= rate["win_rate"] <= rate["ci_high"]
    assert data["total_inputs"] == 6 and len(data["inputs"]) == 6
    second = data["inputs"][1]
    assert json.loads(second["inputs"]) == {"n": 1}
    assert second["outputs"] == {a: "1", b: f"x {XSS}"}
    assert second["scores"] == {a: {"exact_match": 1.0}, b: {"exact_match": 0.0}}
    _, short = await compare_json(http_server_client, jp_base_url, jp_auth_header,
                                  [("run_id", a), ("run_id", b), ("max_inputs", "2")])
    assert len(short["inputs"]) == 2 and short["total_inputs"] == 6
    # A lower exact match is better: now v2 wins.
    _, lower = await compare_json(http_server_client, jp_base_url, jp_auth_header,
                                  [("run_id", a), ("run_id", b), ("lower_is_better", "exact_match")])
    assert lower["winners"] == {"exact_match": b}
    assert lower["greater_is_better"] == {"exact_match": False}


async def test_compare_errors(jp_fetch: Any, http_server_client: Any, jp_base_url: str,
                              jp_auth_header: dict[str, str], genai: dict[str, Any]) -> None:
    code, body = await fail(jp_fetch, "genai", "compare")
    assert code == 400 and "run_id" in body["message"]
    code, body = await fail(jp_fetch, "genai", "compare", run_id=genai["runs"][1])
    assert code == 400 and "at least two" in body["message"]
    plain = genai["plain"]
    code, body = await compare_json(http_server_client, jp_base_url, jp_auth_header,
                                    [("run_id", genai["runs"][1]), ("run_id", plain)])
    assert code == 400 and "not a GenAI evaluation" in body["message"]
    code, body = await compare_json(http_server_client, jp_base_url, jp_auth_header,
                                    [("run_id", genai["runs"][1]), ("run_id", "f" * 32)])
    assert code == 404


async def test_promote_moves_the_alias_to_the_winner(jp_fetch: Any, genai: dict[str, Any]) -> None:
    runs = [genai["runs"][2], genai["runs"][1]]
    response = await jp_fetch("mlnb", "api", "genai", "promote", method="POST",
                              headers={"Content-Type": "application/json"},
                              body=json.dumps({"run_ids": runs, "alias": "production"}))
    assert json.loads(response.body) == {"name": "qa", "version": 1, "alias": "production",
                                         "run_id": genai["runs"][1], "scorer": "exact_match"}
    assert load_prompt("prompts:/qa@production", store=genai["store"]).version == 1  # type: ignore[union-attr]
    code, body = await fail(jp_fetch, "genai", "promote", method="POST",
                            headers={"Content-Type": "application/json"},
                            body=json.dumps({"run_ids": runs, "scorer": "nope"}))
    assert code == 400 and "No scorer 'nope'" in body["message"]
    code, body = await fail(jp_fetch, "genai", "promote", method="POST",
                            headers={"Content-Type": "application/json"},
                            body=json.dumps({"run_ids": "x"}))
    assert code == 400
    assert load_prompt("prompts:/qa@production", store=genai["store"]).version == 1  # type: ignore[union-attr]


def test_genai_functions_use_the_store_given(tmp_path: Path) -> None:
    """store= and client= reach the named store, never the current one."""
    mlnb.set_tracking_uri(str(tmp_path / "a" / ".mlnb"))
    register_prompt("qa", "Say {{n}}")
    register_prompt("qa", "Repeat {{n}}")
    runs = [evaluate(DATA[:3], scorers=[ExactMatch()], model="m",
                     predict_fn=lambda n, p=p: (load_prompt(p), str(n) if p.endswith("1") else "x")[1]
                     ).run_id for p in ("prompts:/qa/1", "prompts:/qa/2")]
    store = open_store(str(tmp_path / "a" / ".mlnb"))
    mlnb.set_tracking_uri(str(tmp_path / "b" / ".mlnb"))  # an empty current store
    assert search_prompts() == []
    assert [p.name for p in search_prompts(store=store)] == ["qa"]
    assert get_prompt("qa", store=store).latest_version == 2
    assert [v.version for v in search_prompt_versions("qa", store=store)] == [2, 1]
    set_prompt_alias("qa", "staging", 2, store=store, user_id="ann")
    assert load_prompt("prompts:/qa@staging", store=store).version == 2  # type: ignore[union-attr]
    assert store.get_model_version_history("qa", "2")[-1].user_id == "ann"
    client = MlnbClient(str(tmp_path / "a" / ".mlnb"))
    comparison = compare(runs, client=client)
    assert comparison.promote("staging").version == 1
    assert load_prompt("prompts:/qa@staging", store=store).version == 1  # type: ignore[union-attr]
    assert load_prompt("qa", allow_missing=True) is None  # the current store has no prompt
