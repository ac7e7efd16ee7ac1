"""The sidebar's REST API for MLflow 3's logged models and for sweeps, through a real Jupyter
Server (pytest-jupyter's ``jp_fetch``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from mlnb.entities import Metric, Param
from mlnb.store import Store, StoreLocation

pytest_plugins = ("pytest_jupyter.jupyter_server",)

XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def jp_server_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True}}}


@pytest.fixture
def store(jp_root_dir: Path) -> Store:
    return Store(StoreLocation(jp_root_dir / ".mlnb" / "mlnb.db", jp_root_dir / ".mlnb" / "artifacts"))


async def get_json(jp_fetch: Any, *parts: str, **params: Any) -> Any:
    response = await jp_fetch("mlnb", "api", *parts, params=params)
    assert response.code == 200
    return json.loads(response.body)


async def fail(jp_fetch: Any, *parts: str, **params: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlnb", "api", *parts, params=params)
    assert caught.value.response is not None
    return caught.value.code, json.loads(caught.value.response.body)["message"]


async def test_logged_models_list_detail_files(jp_fetch: Any, store: Store) -> None:
    eid = store.create_experiment("exp")
    run = store.create_run(eid, run_name="trainer")
    store.log_batch(run.run_id, metrics=[Metric("acc", 0.9, 1, 0)])
    store.put_artifact_bytes(run.run_id, "clf/MLmodel", b"flavors: {}\n")
    of_run = store.create_logged_model(eid, "clf", run.run_id, "clf", params={"C": "1"})
    solo = store.create_logged_model(eid, XSS, None, None, params={"p": XSS}, status="PENDING")
    store.put_artifact_bytes(solo.model_id, "weights/w.txt", b"0.5")
    store.set_logged_model_status(solo.model_id, "READY")
    listed = await get_json(jp_fetch, "logged-models", experiment_id=eid)
    by_id = {m["model_id"]: m for m in listed["models"]}
    assert [(m["name"], m["source_run_id"], m["status"]) for m in (by_id[solo.model_id], by_id[
        of_run.model_id])] == [(XSS, None, "READY"), ("clf", run.run_id, "READY")]
    assert by_id[of_run.model_id]["metrics"] == {"acc": 0.9}
    assert by_id[solo.model_id]["params"] == {"p": XSS} and by_id[solo.model_id]["metrics"] == {}
    detail = await get_json(jp_fetch, "logged-models", solo.model_id)
    assert [(f["path"], f["is_dir"]) for f in detail["files"]] == [("weights", True)]
    inner = await get_json(jp_fetch, "logged-models", solo.model_id, "artifacts", path="weights")
    assert [f["path"] for f in inner["files"]] == ["weights/w.txt"]
    response = await jp_fetch("mlnb", "api", "logged-models", solo.model_id, "artifact",
                              params={"path": "weights/w.txt"})
    assert response.body == b"0.5" and response.headers["Content-Security-Policy"].startswith("sandbox")
    of_run_detail = await get_json(jp_fetch, "logged-models", of_run.model_id)
    assert [f["path"] for f in of_run_detail["files"]] == ["MLmodel"]
    assert of_run_detail["model"]["metrics"] == {"acc": 0.9}
    code, message = await fail(jp_fetch, "logged-models", solo.model_id, "artifact", path="../x")
    assert code == 400 and "it contains a '..' part" in message
    code, message = await fail(jp_fetch, "logged-models", "m-12")
    assert code == 400 and "'m-12' is not a logged model id" in message
    code, message = await fail(jp_fetch, "logged-models", experiment_id="x")
    assert code == 400 and "?experiment_id=" in message


async def test_a_deleted_logged_model_leaves_the_sidebar(jp_fetch: Any, store: Store) -> None:
    eid = store.create_experiment("exp")
    kept = store.create_logged_model(eid, "kept", None, None)
    gone = store.create_logged_model(eid, "gone", None, None)
    store.delete_logged_model(gone.model_id)
    for params in ({"experiment_id": eid}, {}):
        listed = await get_json(jp_fetch, "logged-models", **params)
        assert [m["model_id"] for m in listed["models"]] == [kept.model_id]
    code, message = await fail(jp_fetch, "logged-models", gone.model_id)
    assert code == 404 and "was deleted" in message


async def test_sweep_of_a_parent_run(jp_fetch: Any, store: Store) -> None:
    eid = store.create_experiment("sweeps")
    parent = store.create_run(eid, run_name="search")
    values = [0.5, 0.3, 0.4, 0.1]
    for i, value in enumerate(values):
        child = store.create_run(eid, run_name=f"trial-{i}", parent_run_id=parent.run_id)
        store.log_batch(child.run_id, params=[Param("lr", str(i)), Param("depth", str(i % 2))],
                        metrics=[Metric("loss", value, 1000 + i, 0)])
        store.update_run(child.run_id, status="FINISHED", end_time=2000 + i)
    sweep = await get_json(jp_fetch, "runs", parent.run_id, "sweep")
    assert (sweep["metric"], sweep["direction"], sweep["direction_guessed"]) == ("loss", "minimize", True)
    assert [t["value"] for t in sweep["trials"]] == values
    assert [b["value"] for b in sweep["best_so_far"]] == [0.5, 0.3, 0.3, 0.1]
    assert sweep["best"]["run_name"] == "trial-3" and sweep["best"]["model_uri"] is None
    assert {i["param"] for i in sweep["importances"]} == {"lr", "depth"}
    assert sweep["importance_method"].startswith("correlation ratio")
    lonely = store.create_run(eid, run_name="alone")
    code, message = await fail(jp_fetch, "runs", lonely.run_id, "sweep")
    assert code == 400 and "has no child runs" in message
