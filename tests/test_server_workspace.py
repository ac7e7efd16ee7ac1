"""The Experiments workspace's routes through a real Jupyter Server, on SQLite and PostgreSQL:
runs with each metric's min and max (aggregated in the store's SQL over packed chunks and tail
rows), and saved views (list, create, read, rename, replace, delete, clear errors)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from test_server_api import (  # noqa: F401  (the server fixture)
    fail,
    get_json,
    jp_server_config,
    json_headers,
)

from mlnb.store import Store, StoreLocation
from mlnb.store.location import database_location

pytestmark = pytest.mark.both_backends

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def server_store(jp_root_dir: Path, backend: str, request: pytest.FixtureRequest) -> Store:
    """The store the server uses."""
    if backend == "sqlite":
        return Store(StoreLocation(jp_root_dir / ".mlnb" / "mlnb.db",
                                   jp_root_dir / ".mlnb" / "artifacts"))
    return Store(database_location(request.getfixturevalue("store_uri")))


def _log(store: Store, run_id: str, key: str, values: list[float]) -> None:
    from mlnb.entities import Metric

    store.log_batch(run_id, metrics=[Metric(key, v, 1000 + i, i) for i, v in enumerate(values)])


async def test_runs_with_min_and_max_of_each_metric(jp_fetch: Any, server_store: Store) -> None:
    eid = server_store.create_experiment("ws")
    long_run = server_store.create_run(eid, run_name="long").run_id
    # 5,000 points in one batch are packed into chunks (min and max inside them, not in the tail),
    # then a few more go to the tail, one of them the new lowest.
    wave = [math.sin(i / 50) * 10 for i in range(5000)]
    _log(server_store, long_run, "loss", wave)
    from mlnb.entities import Metric

    server_store.log_batch(long_run, metrics=[Metric("loss", -42.5, 9000, 6000),
                                              Metric("loss", 3.0, 9001, 6001),
                                              Metric("loss", float("nan"), 9002, 6002)])
    short = server_store.create_run(eid, run_name="short").run_id
    _log(server_store, short, "loss", [0.5, 0.25, 0.75])
    _log(server_store, short, "acc", [float("inf"), 0.5])
    plain = await get_json(jp_fetch, "runs", experiment_id=eid)
    assert "metric_min" not in plain["runs"][0]
    page = await get_json(jp_fetch, "runs", experiment_id=eid, extremes="1")
    by_name = {r["run_name"]: r for r in page["runs"]}
    assert by_name["long"]["metric_min"] == {"loss": -42.5}
    assert by_name["long"]["metric_max"] == {"loss": max(wave)}
    assert by_name["long"]["metrics"]["loss"] == "NaN"  # the last value, as before
    assert by_name["short"]["metric_min"] == {"loss": 0.25, "acc": 0.5}
    assert by_name["short"]["metric_max"] == {"loss": 0.75, "acc": "Infinity"}
    assert set(page["tag_keys"]) >= {"mlflow.runName"}


async def test_saved_views_round_trip(jp_fetch: Any, server_store: Store) -> None:
    eid = server_store.create_experiment("views")
    other = server_store.create_experiment("other")
    state = {"version": 1, "columns": [{"kind": "metric", "key": "<img src=x>", "agg": "min"}],
             "filter": "params.seed = '1'", "groupBy": {"kind": "param", "key": "seed"},
             "charts": [{"type": "line", "metric": "loss", "width": 2}]}
    assert (await get_json(jp_fetch, "experiments", eid, "views")) == {"views": []}
    created = await jp_fetch("mlnb", "api", "experiments", eid, "views", method="POST",
                             headers=json_headers(), body=json.dumps({"name": " seeds ",
                                                                      "state": state}))
    assert created.code == 201
    view = json.loads(created.body)
    assert view["name"] == "seeds" and view["state"] == state and view["experiment_id"] == eid
    listed = await get_json(jp_fetch, "experiments", eid, "views")
    assert [v["name"] for v in listed["views"]] == ["seeds"] and "state" not in listed["views"][0]
    assert (await get_json(jp_fetch, "experiments", other, "views")) == {"views": []}
    assert (await get_json(jp_fetch, "views", view["view_id"]))["state"] == state

    code, body = await fail(jp_fetch, "experiments", eid, "views", method="POST",
                            headers=json_headers(), body=json.dumps({"name": "seeds", "state": {}}))
    assert code == 409 and "already has a saved view named 'seeds'" in body["message"]

    changed = {**state, "filter": ""}
    patched = await jp_fetch("mlnb", "api", "views", view["view_id"], method="PATCH",
                             headers=json_headers(), body=json.dumps({"state": changed}))
    assert json.loads(patched.body)["state"] == changed
    renamed = await jp_fetch("mlnb", "api", "views", view["view_id"], method="PATCH",
                             headers=json_headers(), body=json.dumps({"name": "by seed"}))
    assert json.loads(renamed.body)["name"] == "by seed"
    assert json.loads(renamed.body)["state"] == changed

    deleted = await jp_fetch("mlnb", "api", "views", view["view_id"], method="DELETE",
                             headers=json_headers(), body="{}", allow_nonstandard_methods=True)
    assert json.loads(deleted.body) == {"view_id": view["view_id"], "deleted": True}
    code, body = await fail(jp_fetch, "views", view["view_id"])
    assert code == 404 and "No saved view" in body["message"]


async def test_saved_view_mistakes_are_clear(jp_fetch: Any, server_store: Store) -> None:
    eid = server_store.create_experiment("bad")
    post = {"method": "POST", "headers": json_headers()}
    code, body = await fail(jp_fetch, "experiments", eid, "views", body=json.dumps({"name": "x"}),
                            **post)
    assert code == 400 and '"name" and "state"' in body["message"]
    code, body = await fail(jp_fetch, "experiments", eid, "views",
                            body=json.dumps({"name": "", "state": {}}), **post)
    assert code == 400 and "needs a name" in body["message"]
    code, body = await fail(jp_fetch, "experiments", eid, "views",
                            body=json.dumps({"name": "x" * 201, "state": {}}), **post)
    assert code == 400 and "at most 200 characters" in body["message"]
    code, body = await fail(jp_fetch, "experiments", eid, "views",
                            body=json.dumps({"name": "x", "state": [1]}), **post)
    assert code == 400 and "must be a JSON object, not list" in body["message"]
    code, body = await fail(jp_fetch, "experiments", "424242", "views",
                            body=json.dumps({"name": "x", "state": {}}), **post)
    assert code == 404
    code, body = await fail(jp_fetch, "experiments", "424242", "views")
    assert code == 404
    code, body = await fail(jp_fetch, "experiments", "abc", "views")
    assert code == 404
    code, body = await fail(jp_fetch, "experiments", eid, "views", method="POST",
                            headers={"Content-Type": "text/plain"},
                            body=json.dumps({"name": "x", "state": {}}))
    assert code == 415
    code, body = await fail(jp_fetch, "views", "nope", method="PATCH", headers=json_headers(),
                            body=json.dumps({"colour": "red"}))
    assert code == 400 and "no field 'colour'" in body["message"]
    code, body = await fail(jp_fetch, "views", "nope", method="PATCH", headers=json_headers(),
                            body=json.dumps({}))
    assert code == 400 and "Give a new name or state" in body["message"]
    code, body = await fail(jp_fetch, "views", "nope", method="PATCH", headers=json_headers(),
                            body=json.dumps({"name": "y"}))
    assert code == 404
