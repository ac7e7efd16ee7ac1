"""The sidebar's trace routes through a real Jupyter Server: a page of an experiment's traces and
one trace with its spans (traces recorded by the tracing API into the server's store)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from test_server_api import fail, get_json, jp_server_config  # noqa: F401  (the server fixture)

import mlnb

pytestmark = pytest.mark.both_backends

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def traced(jp_root_dir: Path, backend: str, request: pytest.FixtureRequest) -> str:
    """Three traces (one raising) in experiment "genai" of the server's store; its id."""
    mlnb.set_tracking_uri(str(jp_root_dir / ".mlnb") if backend == "sqlite"
                          else request.getfixturevalue("store_uri"))
    eid = mlnb.set_experiment("genai").experiment_id

    @mlnb.trace(name="ask <b>")
    def ask(question: str) -> str:
        with mlnb.start_span("llm", span_type="LLM") as span:
            span.set_attribute("mlflow.chat.tokenUsage",
                               {"input_tokens": 2, "output_tokens": 1, "total_tokens": 3})
        if question == "boom":
            raise ValueError("no")
        return question.upper()

    for question in ("a", "boom", "c"):
        try:
            ask(question)
        except ValueError:
            pass
        time.sleep(0.002)  # distinct request times (milliseconds): newest first is then certain
    mlnb.flush_trace_async_logging()
    return str(eid)


async def test_list_and_open_traces(jp_fetch: Any, traced: str) -> None:
    page = await get_json(jp_fetch, "experiments", traced, "traces")
    assert [t["request_preview"] for t in page["traces"]] == [
        '{"question": "c"}', '{"question": "boom"}', '{"question": "a"}']
    assert [t["state"] for t in page["traces"]] == ["OK", "ERROR", "OK"]
    assert page["traces"][0]["name"] == "ask <b>"
    assert page["traces"][0]["token_usage"] == {"input_tokens": 2, "output_tokens": 1,
                                                "total_tokens": 3}
    assert "spans" not in page["traces"][0]
    errors = await get_json(jp_fetch, "experiments", traced, "traces", filter="status = 'ERROR'",
                            limit=1)
    assert len(errors["traces"]) == 1 and errors["next_offset"] == 1
    one = await get_json(jp_fetch, "traces", page["traces"][1]["trace_id"])
    spans = one["trace"]["data"]["spans"]
    assert [s["name"] for s in spans] == ["ask <b>", "llm"]
    assert spans[0]["status"]["code"] == "STATUS_CODE_ERROR"
    assert json.loads(spans[0]["attributes"]["mlflow.spanInputs"]) == {"question": "boom"}


async def test_bad_requests_are_clear(jp_fetch: Any, traced: str) -> None:
    code, body = await fail(jp_fetch, "traces", "nope")
    assert code == 400 and "'nope' is not a trace id" in body["message"]
    code, body = await fail(jp_fetch, "traces", "tr-" + "0" * 32)
    assert code == 404 and "No trace with id" in body["message"]
    code, body = await fail(jp_fetch, "experiments", "424242", "traces")
    assert code == 404
    code, body = await fail(jp_fetch, "experiments", traced, "traces", filter="nope = 1")
    assert code == 400 and "Unknown attribute 'nope'" in body["message"]


async def test_traces_of_every_experiment(jp_fetch: Any, traced: str) -> None:
    other = mlnb.set_experiment("other").experiment_id

    @mlnb.trace(name="elsewhere")
    def elsewhere() -> int:
        return 1

    time.sleep(0.002)
    elsewhere()
    mlnb.flush_trace_async_logging()
    every = await get_json(jp_fetch, "traces")
    assert [(t["name"], t["state"]) for t in every["traces"]] == [
        ("elsewhere", "OK"), ("ask <b>", "OK"), ("ask <b>", "ERROR"), ("ask <b>", "OK")]
    assert every["traces"][0]["trace_location"]["mlflow_experiment"]["experiment_id"] == other
    one = await get_json(jp_fetch, "traces", experiment_id=other)
    assert [t["name"] for t in one["traces"]] == ["elsewhere"]
    page = await get_json(jp_fetch, "traces", filter="status = 'OK'", limit=2)
    assert [t["name"] for t in page["traces"]] == ["elsewhere", "ask <b>"]
    assert page["next_offset"] == 2
    rest = await get_json(jp_fetch, "traces", filter="status = 'OK'", limit=2, offset=2)
    assert [t["name"] for t in rest["traces"]] == ["ask <b>"] and rest["next_offset"] is None
    code, body = await fail(jp_fetch, "traces", filter="nope = 1")
    assert code == 400 and "Unknown attribute 'nope'" in body["message"]
