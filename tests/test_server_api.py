"""The sidebar's REST API through a real Jupyter Server (pytest-jupyter's ``jp_fetch``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from mlnb.entities import Metric, Param, RunTag
from mlnb.store import Store, StoreLocation
from mlnb.store.location import database_location

pytestmark = pytest.mark.both_backends

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(monkeypatch: pytest.MonkeyPatch, backend: str,
                     request: pytest.FixtureRequest) -> dict[str, Any]:
    # The extension exports MLNB_TRACKING_URI into os.environ; monkeypatch restores it afterwards.
    # On SQLite the server finds <root>/.mlnb; the team store is named in its environment.
    if backend == "sqlite":
        monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLNB_TRACKING_URI", request.getfixturevalue("store_uri"))
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True}}}


@pytest.fixture
def filled(jp_root_dir: Path, backend: str, request: pytest.FixtureRequest) -> Store:
    """The store the server uses (``<root>/.mlnb``, or the PostgreSQL database it is given),
    with a few runs."""
    if backend == "sqlite":
        store = Store(StoreLocation(jp_root_dir / ".mlnb" / "mlnb.db",
                                    jp_root_dir / ".mlnb" / "artifacts"))
    else:
        store = Store(database_location(request.getfixturevalue("store_uri")))
    eid = store.create_experiment("exp-a")
    for i in range(12):
        info = store.create_run(eid, run_name=f"run-{i:02d}", tags={"team": "blue" if i % 2 else "red"})
        store.log_batch(info.run_id, params=[Param("lr", str(0.1 * (i + 1)))],
                        metrics=[Metric("acc", i / 10, 1000 + i, 0), Metric("loss", 1 - i / 20, 1000 + i, 0)])
        store.update_run(info.run_id, status="FINISHED", end_time=2000 + i)
    return store


async def get_json(jp_fetch: Any, *parts: str, **params: Any) -> Any:
    response = await jp_fetch("mlnb", "api", *parts, params=params)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def fail(jp_fetch: Any, *parts: str, method: str = "GET", body: Any = None,
               headers: dict[str, str] | None = None, **params: Any) -> tuple[int, dict[str, Any]]:
    kwargs: dict[str, Any] = {"method": method, "params": params, "headers": headers or {}}
    if body is not None:
        kwargs["body"] = body
    elif method in ("POST", "PUT"):
        kwargs["body"] = "{}"
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlnb", "api", *parts, **kwargs)
    error = caught.value
    assert error.response is not None
    return error.code, json.loads(error.response.body or b"{}")


def json_headers() -> dict[str, str]:
    # A fresh dict each time: jp_fetch adds its token to the dict it is given.
    return {"Content-Type": "application/json"}


async def test_version_handshake_and_shared_store(jp_fetch: Any, filled: Store, jp_root_dir: Path) -> None:
    import os

    import mlnb

    body = await get_json(jp_fetch, "version")
    assert body["mlnb_version"] == mlnb.__version__ and body["api_version"] == 1
    if filled.location.is_sqlite:
        assert Path(body["store"]) == jp_root_dir / ".mlnb"
        # Kernels started by this server inherit the store through the environment.
        assert os.environ["MLNB_TRACKING_URI"] == body["store"]
    else:  # the team store: named, never with its password, to the browser
        assert body["store"] == filled.location.display and ":***@" in body["store"]
        assert os.environ["MLNB_TRACKING_URI"] == filled.location.uri


async def test_runs_page_filter_order_total(jp_fetch: Any, filled: Store) -> None:
    experiments = await get_json(jp_fetch, "experiments")
    eid = next(e["experiment_id"] for e in experiments["experiments"] if e["name"] == "exp-a")
    page = await get_json(jp_fetch, "runs", experiment_id=eid, limit=5, offset=0,
                          order_by="metrics.acc DESC")
    assert page["total"] == 12 and len(page["runs"]) == 5
    assert [r["run_name"] for r in page["runs"]] == ["run-11", "run-10", "run-09", "run-08", "run-07"]
    assert page["metric_keys"] == ["acc", "loss"] and page["param_keys"] == ["lr"]
    last = await get_json(jp_fetch, "runs", experiment_id=eid, limit=5, offset=10,
                          order_by="metrics.acc DESC")
    assert [r["run_name"] for r in last["runs"]] == ["run-01", "run-00"]
    blue = await get_json(jp_fetch, "runs", experiment_id=eid,
                          filter="tags.team = 'blue' and metrics.acc > 0.5")
    assert sorted(r["run_name"] for r in blue["runs"]) == ["run-07", "run-09", "run-11"]
    assert blue["total"] == 3


async def test_page_size_is_capped(jp_fetch: Any, filled: Store) -> None:
    page = await get_json(jp_fetch, "runs", experiment_id="1", limit=100000)
    assert page["limit"] == 500
    default = await get_json(jp_fetch, "runs", experiment_id="1")
    assert default["limit"] == 50
    code, body = await fail(jp_fetch, "runs", experiment_id="1", limit="many")
    assert code == 400 and "limit" in body["message"]


async def test_bad_filter_is_a_400_with_position(jp_fetch: Any, filled: Store) -> None:
    code, body = await fail(jp_fetch, "runs", experiment_id="1", filter="metrics.acc >> 1")
    assert code == 400
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "^" in body["message"] and "traceback" not in body


async def test_run_detail_and_unknown_run(jp_fetch: Any, filled: Store) -> None:
    run = filled.search_runs(["1"], "attributes.run_name = 'run-03'")[0]
    filled.log_batch(run.info.run_id, tags=[RunTag("mlnb.notebook.path", "work/nb.ipynb"),
                                           RunTag("mlnb.cell.id", "cell-1")])
    body = await get_json(jp_fetch, "runs", run.info.run_id)
    assert body["run_name"] == "run-03" and body["params"] == {"lr": str(0.1 * 4)}
    assert body["experiment_name"] == "exp-a" and body["notebook_path"] == "work/nb.ipynb"
    code, err = await fail(jp_fetch, "runs", "f" * 32)
    assert code == 404 and err["error_code"] == "RESOURCE_DOES_NOT_EXIST"


async def test_nan_and_infinity_are_valid_json(jp_fetch: Any, filled: Store) -> None:
    eid = filled.create_experiment("nan")
    info = filled.create_run(eid, run_name="weird")
    filled.log_batch(info.run_id, metrics=[Metric("a", math.nan, 1, 0), Metric("b", math.inf, 1, 0),
                                           Metric("c", -math.inf, 1, 0)])
    response = await jp_fetch("mlnb", "api", "runs", params={"experiment_id": eid})
    text = response.body.decode()
    assert "NaN" in text and json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    metrics = json.loads(text)["runs"][0]["metrics"]
    assert metrics == {"a": "NaN", "b": "Infinity", "c": "-Infinity"}


async def test_metric_history_downsampled_keeps_extremes(jp_fetch: Any, filled: Store) -> None:
    info = filled.create_run("1", run_name="long")
    values = [math.sin(i / 50) for i in range(20_000)]
    values[12_345] = 99.0  # a spike that must survive downsampling
    points = [Metric("loss", v, i, i) for i, v in enumerate(values)]
    for start in range(0, len(points), 10_000):
        filled.log_batch(info.run_id, metrics=points[start:start + 10_000])
    body = await get_json(jp_fetch, "runs", info.run_id, "metrics", key="loss", max_points=200)
    assert body["total"] == 20_000 and body["downsampled"] is True
    points = body["points"]
    assert len(points) <= 200
    assert points[0]["step"] == 0 and points[-1]["step"] == 19_999
    assert max(p["value"] for p in points) == 99.0
    full = await get_json(jp_fetch, "runs", info.run_id, "metrics", key="loss", max_points=100_000)
    assert len(full["points"]) == 20_000
    both = await get_json(jp_fetch, "metric-histories", run_id=info.run_id, key="loss", max_points=100)
    assert len(both["histories"][info.run_id]["loss"]) <= 100


async def test_metric_histories_as_columns(jp_fetch: Any, filled: Store) -> None:
    info = filled.create_run("1", run_name="columns")
    values = [math.cos(i / 30) for i in range(9_000)]
    values[0], values[4_000], values[8_999] = math.nan, math.inf, -math.inf
    filled.log_batch(info.run_id, metrics=[Metric("loss", v, 7 + i, i) for i, v in enumerate(values)]
                     + [Metric("acc", 0.5, 1, 0)])
    other = filled.create_run("1", run_name="no metrics").run_id
    response = await jp_fetch("mlnb", "api", "metric-histories", params=[
        ("run_id", info.run_id), ("run_id", other), ("max_points", "400"), ("columns", "1")])
    text = response.body.decode()
    body = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))["histories"]
    assert body[other] == {} and body[info.run_id]["acc"] == {"step": [0], "timestamp": [1],
                                                              "value": [0.5]}
    loss = body[info.run_id]["loss"]
    points = await get_json(jp_fetch, "metric-histories", run_id=info.run_id, key="loss",
                            max_points=400)
    # the same points as the point form, the non-finite ones spelt alike
    assert [{"step": s, "value": v, "timestamp": t} for s, t, v in zip(
        loss["step"], loss["timestamp"], loss["value"], strict=True)] == \
        points["histories"][info.run_id]["loss"]
    assert 4 < len(loss["step"]) <= 400 and loss["step"][0] == 0 and loss["step"][-1] == 8_999
    assert {"NaN", "Infinity", "-Infinity"} <= set(loss["value"])
    finite = [v for v in loss["value"] if isinstance(v, float)]
    assert min(finite) == min(v for v in values if math.isfinite(v))
    code, error = await fail(jp_fetch, "metric-histories", run_id=info.run_id, columns="yes")
    assert code == 400 and "columns must be 1 or 0" in error["message"]


async def test_delete_and_restore(jp_fetch: Any, filled: Store) -> None:
    run_id = filled.search_runs(["1"], "attributes.run_name = 'run-05'")[0].info.run_id
    response = await jp_fetch("mlnb", "api", "runs", run_id, method="DELETE", headers=json_headers())
    assert response.code == 200
    assert filled.get_run_info(run_id).lifecycle_stage == "deleted"
    deleted = await get_json(jp_fetch, "runs", experiment_id="1", view="deleted")
    assert [r["run_id"] for r in deleted["runs"]] == [run_id]
    response = await jp_fetch("mlnb", "api", "runs", run_id, "restore", method="POST", body="{}",
                              headers=json_headers())
    assert response.code == 200
    assert filled.get_run_info(run_id).lifecycle_stage == "active"


async def test_writes_need_json_content_type(jp_fetch: Any, filled: Store) -> None:
    run_id = filled.search_runs(["1"], max_results=1)[0].info.run_id
    code, body = await fail(jp_fetch, "runs", run_id, "restore", method="POST", body="{}",
                            headers={"Content-Type": "text/plain"})
    assert code == 415 and body["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    code, _ = await fail(jp_fetch, "runs", run_id, method="DELETE", headers={"Content-Type": "text/plain"})
    assert code == 415
    assert filled.get_run_info(run_id).lifecycle_stage == "active"


async def test_artifacts_list_preview_and_dangerous_types(jp_fetch: Any, filled: Store) -> None:
    run_id = filled.search_runs(["1"], max_results=1)[0].info.run_id
    filled.put_artifact_bytes(run_id, "plots/curve.png", b"\x89PNG\r\n\x1a\nfake")
    filled.put_artifact_bytes(run_id, "table.csv", b"a,b\n1,2\n")
    filled.put_artifact_bytes(run_id, "evil.html", b"<script>alert(1)</script>")
    filled.put_artifact_bytes(run_id, "evil.svg", b"<svg onload=alert(1)></svg>")
    listing = await get_json(jp_fetch, "runs", run_id, "artifacts")
    assert {f["path"]: f["is_dir"] for f in listing["files"]} == {
        "evil.html": False, "evil.svg": False, "plots": True, "table.csv": False}
    inner = await get_json(jp_fetch, "runs", run_id, "artifacts", path="plots")
    assert [f["path"] for f in inner["files"]] == ["plots/curve.png"]
    csv = await jp_fetch("mlnb", "api", "runs", run_id, "artifact", params={"path": "table.csv"})
    assert csv.body == b"a,b\n1,2\n" and csv.headers["Content-Type"].startswith("text/csv")
    png = await jp_fetch("mlnb", "api", "runs", run_id, "artifact", "plots", "curve.png")
    assert png.headers["Content-Type"] == "image/png"
    for name in ("evil.html", "evil.svg"):
        response = await jp_fetch("mlnb", "api", "runs", run_id, "artifact", params={"path": name})
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        assert "svg" not in response.headers["Content-Type"] or name.endswith("svg")


async def test_registry_endpoints(jp_fetch: Any, filled: Store, jp_root_dir: Path) -> None:
    from mlnb.tracking.client import MlnbClient

    client = MlnbClient(filled.location.uri)
    if not hasattr(client, "transition_model_version_stage"):
        pytest.skip("mlnb.registry has no transition_model_version_stage yet")
    run_id = filled.search_runs(["1"], max_results=1)[0].info.run_id
    filled.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    client.create_registered_model("iris")
    v1 = client.create_model_version("iris", f"runs:/{run_id}/model", run_id)
    v2 = client.create_model_version("iris", f"runs:/{run_id}/model", run_id)
    models = await get_json(jp_fetch, "models")
    assert [m["name"] for m in models["models"]] == ["iris"]
    for version in (v1.version, v2.version):
        response = await jp_fetch("mlnb", "api", "models", "iris", "versions", str(version), "stage",
                                  method="POST", headers=json_headers(),
                                  body=json.dumps({"stage": "Production", "archive_existing_versions": True}))
        assert response.code == 200
    detail = await get_json(jp_fetch, "models", "iris")
    stages = {str(v["version"]): v["current_stage"] for v in detail["versions"]}
    assert stages == {str(v1.version): "Archived", str(v2.version): "Production"}
    code, body = await fail(jp_fetch, "models", "iris", "versions", str(v1.version), "stage", method="POST",
                            headers=json_headers(), body=json.dumps({"stage": "Prod"}))
    assert code == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    response = await jp_fetch("mlnb", "api", "models", "iris", "aliases", "champion", method="PUT",
                              headers=json_headers(), body=json.dumps({"version": str(v2.version)}))
    assert response.code == 200
    assert str(client.get_model_version_by_alias("iris", "champion").version) == str(v2.version)
    history = await get_json(jp_fetch, "models", "iris", "versions", str(v2.version), "history")
    assert history["history"]


async def test_a_gated_promotion_is_a_409_naming_why_and_the_version_shows_its_gate(
        jp_fetch: Any, filled: Store) -> None:
    from mlnb.tracking.client import MlnbClient

    client = MlnbClient(filled.location.uri)
    run_id = filled.create_run("1", run_name="evaluation").run_id
    filled.log_batch(run_id, metrics=[Metric("acc", 0.9, 1000, 0), Metric("loss", 0.45, 1000, 0)])
    filled.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    client.create_registered_model("iris")
    client.create_model_version("iris", f"runs:/{run_id}/model", run_id)
    client.set_registered_model_gate("iris", {"loss": {"max": 0.1}, "acc": {"min": 0.5}},
                                     ["Production", "champion"])
    blocked = await get_json(jp_fetch, "models", "iris", "versions", "1", "evaluation")
    assert (blocked["evaluation_run_id"], blocked["metrics"]) == (None, None)
    assert [c["target"] for c in blocked["checks"]] == ["Production", "champion"]
    assert "no evaluation is attached" in blocked["checks"][0]["reason"]
    client.attach_evaluation("iris", 1, run_id)
    for parts, method, body in [(("versions", "1", "stage"), "POST", {"stage": "Production"}),
                                (("aliases", "champion"), "PUT", {"version": "1"})]:
        code, error = await fail(jp_fetch, "models", "iris", *parts, method=method,
                                 headers=json_headers(), body=json.dumps(body))
        assert code == 409 and error["error_code"] == "INVALID_STATE"
        assert "loss <= 0.1 (measured 0.45)" in error["message"]
    detail = await get_json(jp_fetch, "models", "iris", "versions", "1", "evaluation")
    assert detail["evaluation_run_id"] == run_id and detail["metrics"]["loss"] == 0.45
    assert detail["gate"]["thresholds"] == {"acc": {"min": 0.5}, "loss": {"max": 0.1}}
    check = detail["checks"][0]
    assert (check["passed"], [(r["metric"], r["passed"]) for r in check["results"]]) == (
        False, [("acc", True), ("loss", False)])
    assert check["reason"].endswith("loss <= 0.1 (measured 0.45)")
    code, error = await fail(jp_fetch, "models", "iris", "versions", "1", "stage", method="POST",
                             headers=json_headers(), body=json.dumps({"stage": "Production",
                                                                      "force": "yes"}))
    assert code == 400 and '"force" must be true or false' in error["message"]
    response = await jp_fetch("mlnb", "api", "models", "iris", "versions", "1", "stage", method="POST",
                              headers=json_headers(),
                              body=json.dumps({"stage": "Production", "force": True}))
    assert json.loads(response.body)["model_version"]["current_stage"] == "Production"
    assert [e.kind for e in client.get_model_version_history("iris", 1)][-2:] == ["gate_forced", "stage"]


async def test_model_monitoring_shows_drift_per_window_and_the_latest_report(
        jp_fetch: Any, filled: Store, tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    import mlnb
    from mlnb.monitor.watch import monitor
    from mlnb.store.predictions import PredictionRow

    mlnb.set_tracking_uri(filled.location.uri)
    client = mlnb.MlnbClient()
    run_id = client.create_run("1").info.run_id
    filled.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    client.create_registered_model("iris")
    client.create_model_version("iris", f"runs:/{run_id}/model", run_id)
    empty = await get_json(jp_fetch, "models", "iris", "monitoring")
    assert empty == {"name": "iris", "runs": []}
    xss = "<img src=x onerror=alert(1)>"
    rng = np.random.default_rng(3)  # window 0's KS p-value 0.39: no drift, by a margin
    pd.DataFrame({xss: rng.normal(0, 1, 200)}).to_csv(tmp_path / "ref.csv", index=False)
    day = 86_400_000
    for d, shift in ((0, 0.0), (1, 3.0)):
        filled.append_predictions("models:/iris/1", "iris", "1", [
            PredictionRow(d * day + i, f"{d}-{i}", json.dumps({xss: float(v) + shift}), "0", 1.0)
            for i, v in enumerate(rng.normal(0, 1, 100))])
    monitor("models:/iris/1", reference=str(tmp_path / "ref.csv"), window="1d", now_ms=5 * day)
    body = await get_json(jp_fetch, "models", "iris", "monitoring")
    (run,) = body["runs"]
    assert (run["model_uri"], run["window_ms"]) == ("models:/iris/1", day)
    assert [(p["step"], p["timestamp"], p["value"]) for p in run["points"]] == [(0, 0, 0.0),
                                                                                (1, day, 1.0)]
    latest = run["latest"]
    assert (latest["index"], latest["rows"]) == (1, 100)
    assert latest["report"]["columns"][0]["column"] == xss  # data: the sidebar renders it as text
    code, error = await fail(jp_fetch, "models", "nope", "monitoring")
    assert code == 404 and "nope" in error["message"]


async def test_polled_page_sees_writes_from_another_connection(jp_fetch: Any, filled: Store) -> None:
    """Pages are cached while the store is unchanged; a kernel's commit must show at once."""
    first = await get_json(jp_fetch, "runs", experiment_id="1", limit=5)
    again = await get_json(jp_fetch, "runs", experiment_id="1", limit=5)
    assert first == again and first["total"] == 12
    info = filled.create_run("1", run_name="from-a-kernel")  # another connection, as a kernel's
    fresh = await get_json(jp_fetch, "runs", experiment_id="1", limit=5)
    assert fresh["total"] == 13 and fresh["runs"][0]["run_name"] == "from-a-kernel"
    assert fresh["runs"][0]["status"] == "RUNNING"
    filled.update_run(info.run_id, status="FINISHED", end_time=5000)
    done = await get_json(jp_fetch, "runs", experiment_id="1", limit=5)
    assert done["runs"][0]["status"] == "FINISHED"


async def test_polled_page_sees_the_servers_own_delete(jp_fetch: Any, filled: Store) -> None:
    first = await get_json(jp_fetch, "runs", experiment_id="1", limit=5)
    doomed = first["runs"][0]["run_id"]
    await jp_fetch("mlnb", "api", "runs", doomed, method="DELETE", headers=json_headers())
    after = await get_json(jp_fetch, "runs", experiment_id="1", limit=5)
    assert after["total"] == first["total"] - 1
    assert doomed not in [r["run_id"] for r in after["runs"]]


# --- review fixes: bad input is a 4xx JSON answer, never a 500 --------------------------------

HOSTILE_FILTERS = {
    "parens": "(" * 400 + "metrics.a>0" + ")" * 400,
    "or-chain": " or ".join(["metrics.a>0"] * 1200),
    "and-chain": " and ".join(["metrics.a>0"] * 1200),
    "nots": "not " * 300 + "metrics.a>0",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILTERS))
async def test_hostile_filters_are_400(jp_fetch: Any, filled: Store, name: str) -> None:
    code, body = await fail(jp_fetch, "runs", experiment_id="1", filter=HOSTILE_FILTERS[name])
    assert code == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert "at most" in body["message"] and "position" in body["message"]


async def test_huge_int_arguments_are_400(jp_fetch: Any, filled: Store) -> None:
    for offset in ("99999999999999999999999", str(2**63), "1" * 5000):
        code, body = await fail(jp_fetch, "runs", experiment_id="1", offset=offset)
        assert code == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", body
        assert "offset" in body["message"]
    code, body = await fail(jp_fetch, "runs", experiment_id="1", limit="9" * 30)
    assert code == 400 and "limit" in body["message"]
    run_id = filled.search_runs(["1"], max_results=1)[0].info.run_id
    code, body = await fail(jp_fetch, "runs", run_id, "metrics", key="acc", max_points="9" * 30)
    assert code == 400 and "max_points" in body["message"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
async def test_unknown_api_path_is_a_json_404(jp_fetch: Any, filled: Store, method: str) -> None:
    code, body = await fail(jp_fetch, "nosuchroute", "deeper", method=method, headers=json_headers(),
                            body="{}" if method in ("POST", "PUT", "PATCH") else None)
    assert code == 404
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST" and "nosuchroute" in body["message"]


@pytest.fixture
def registered(filled: Store, jp_root_dir: Path) -> Any:
    from mlnb.tracking.client import MlnbClient

    client = MlnbClient(filled.location.uri)
    run_id = filled.search_runs(["1"], max_results=1)[0].info.run_id
    filled.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    client.create_registered_model("plain")
    client.create_model_version("plain", f"runs:/{run_id}/model", run_id)
    return client


async def test_history_of_a_missing_version_or_model_is_404(jp_fetch: Any, registered: Any) -> None:
    history = await get_json(jp_fetch, "models", "plain", "versions", "1", "history")
    assert [e["kind"] for e in history["history"]] == ["create_version"]
    for parts in (("plain", "versions", "99"), ("nosuchmodel", "versions", "1")):
        code, body = await fail(jp_fetch, "models", *parts, "history")
        assert code == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST", body
    code, body = await fail(jp_fetch, "models", "plain", "versions", "99", "stage", method="POST",
                            headers=json_headers(), body=json.dumps({"stage": "Staging"}))
    assert code == 404


async def test_registry_changes_record_the_jupyter_user(jp_fetch: Any, registered: Any,
                                                       backend: str) -> None:
    # Token auth: Jupyter makes up an anonymous user and keeps it in a login cookie.
    me = await jp_fetch("api", "me")
    username = json.loads(me.body)["identity"]["username"]
    cookies = "; ".join(c.split(";", 1)[0] for c in me.headers.get_list("Set-Cookie"))
    assert username and cookies

    def headers() -> dict[str, str]:
        return {"Content-Type": "application/json", "Cookie": cookies}

    again = await jp_fetch("api", "me", headers={"Cookie": cookies})
    assert json.loads(again.body)["identity"]["username"] == username
    await jp_fetch("mlnb", "api", "models", "plain", "versions", "1", "stage", method="POST",
                   headers=headers(), body=json.dumps({"stage": "Staging"}))
    await jp_fetch("mlnb", "api", "models", "plain", "aliases", "champion", method="PUT",
                   headers=headers(), body=json.dumps({"version": "1"}))
    await jp_fetch("mlnb", "api", "models", "plain", "aliases", "champion", method="DELETE",
                   headers=headers())
    history = await get_json(jp_fetch, "models", "plain", "versions", "1", "history")
    events = {e["kind"]: e["user_id"] for e in history["history"]}
    # On the team store, the database role the server acts as is recorded beside the user.
    who = username if backend == "sqlite" else f"{username} (mlnb_admin)"
    assert events["stage"] == events["alias:champion"] == who
    changes = [e for e in history["history"] if e["kind"] != "create_version"]
    assert len(changes) == 3 and all(e["user_id"] == who for e in changes)


async def test_many_order_by_terms_are_400_and_the_server_lives(jp_fetch: Any, filled: Store) -> None:
    """31 key-value order terms used to crash SQLite, and with it the whole Jupyter server."""
    from mlnb.store.search import MAX_ORDER_TERMS

    for n in (31, 64):
        params = [("experiment_id", "1")] + [("order_by", f"metrics.m{i} DESC") for i in range(n)]
        with pytest.raises(HTTPClientError) as caught:
            await jp_fetch("mlnb", "api", "runs", params=params)
        assert caught.value.response is not None
        code, body = caught.value.code, json.loads(caught.value.response.body)
        assert code == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", body
        assert body["message"].startswith(
            f"Too many order-by terms: at most {MAX_ORDER_TERMS}, not {n}."), body
    page = await get_json(jp_fetch, "runs", experiment_id="1", order_by="metrics.acc DESC")
    assert page["total"] == 12


def test_a_slow_count_is_reused_for_a_while_and_says_so() -> None:
    import time as clock

    from mlnb.server.runs import SLOW_COUNT_S, CountCache

    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        clock.sleep(SLOW_COUNT_S * 1.5)
        return 100 + len(calls)

    counts = CountCache()
    assert counts.count("q", slow) == (101, False)
    assert counts.count("q", slow) == (101, True)  # reused: the answer says it may be stale
    assert counts.count("other", lambda: 7) == (7, False)
    assert counts.count("other", lambda: 8) == (8, False)  # a quick count is never reused
    counts.clear()
    assert counts.count("q", slow) == (102, False)
