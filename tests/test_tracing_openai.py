"""``mlnb.openai.autolog()``: the real ``openai`` package calls a small OpenAI-compatible HTTP
server on 127.0.0.1 (deterministic replies, SSE streaming included); each call is a span."""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")

import mlnb  # noqa: E402
from mlnb.tracing import Trace  # noqa: E402

USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def _completion(model: str, text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text}}],
            "usage": USAGE}


def _response(model: str, text: str) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
            "model": model, "parallel_tool_calls": False, "tool_choice": "auto", "tools": [],
            "output": [{"type": "message", "id": "msg_1", "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}],
            "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}


class FakeOpenAI(BaseHTTPRequestHandler):
    """Replies "echo: <last user message>" (split in chunks when streaming); a model named
    "broken" gets a 500."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = body["model"]
        if model == "broken":
            self._json(500, {"error": {"message": "model exploded", "type": "server_error"}})
            return
        if self.path == "/v1/chat/completions":
            text = "echo: " + body["messages"][-1]["content"]
            if body.get("stream"):
                self._sse([{"id": "c1", "object": "chat.completion.chunk", "created": 1,
                            "model": model, "choices": [{"index": 0, "delta": {
                                **({"role": "assistant"} if i == 0 else {}), "content": part},
                                "finish_reason": None}]}
                           for i, part in enumerate(text.split(" "))]
                          + [{"id": "c1", "object": "chat.completion.chunk", "created": 1,
                              "model": model, "choices": [{"index": 0, "delta": {},
                                                           "finish_reason": "stop"}]},
                             {"id": "c1", "object": "chat.completion.chunk", "created": 1,
                              "model": model, "choices": [], "usage": USAGE}], done=True)
            else:
                self._json(200, _completion(model, text))
        elif self.path == "/v1/responses":
            text = "echo: " + str(body["input"])
            if body.get("stream"):
                final = _response(model, text)
                self._sse([{"type": "response.created", "sequence_number": 0,
                            "response": {**final, "status": "in_progress", "output": []}},
                           *[{"type": "response.output_text.delta", "sequence_number": 1 + i,
                              "item_id": "msg_1", "output_index": 0, "content_index": 0,
                              "delta": part, "logprobs": []}
                             for i, part in enumerate([text[:4], text[4:]])],
                           {"type": "response.completed", "sequence_number": 9,
                            "response": final}], done=False)
            else:
                self._json(200, _response(model, text))
        else:
            self._json(404, {"error": {"message": "no route"}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[dict[str, Any]], done: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for event in events:
            kind = f"event: {event['type']}\n" if "type" in event else ""
            self.wfile.write(f"{kind}data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        if done:
            self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def autologged(tracking: Path) -> Iterator[None]:
    mlnb.openai.autolog()
    yield
    mlnb.openai.autolog(disable=True)


def _client(base_url: str) -> Any:
    return openai.OpenAI(base_url=base_url, api_key="dummy", max_retries=0)


def _last() -> Trace:
    return mlnb.get_trace(mlnb.get_last_active_trace_id() or "")


def test_chat_completion_is_a_chat_model_span_with_model_params_and_usage(
        base_url: str, autologged: None) -> None:
    reply = _client(base_url).chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hello"}], temperature=0.2)
    assert reply.choices[0].message.content == "echo: hello"
    (span,) = _last().data.spans
    assert (span.name, span.span_type) == ("Completions", "CHAT_MODEL")
    assert span.inputs["messages"] == [{"role": "user", "content": "hello"}]
    assert span.get_attribute("mlflow.llm.model") == "tiny"
    assert span.get_attribute("invocation_params") == {"model": "tiny", "temperature": 0.2}
    assert span.outputs["choices"][0]["message"]["content"] == "echo: hello"
    assert span.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert _last().info.token_usage == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}


def test_streamed_chat_ends_when_consumed_with_the_assembled_reply(
        base_url: str, autologged: None) -> None:
    with mlnb.start_span("agent") as outer:
        stream = _client(base_url).chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "a b c"}], stream=True,
            stream_options={"include_usage": True})
        assert isinstance(stream, openai.Stream)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo:abc"  # the server splits "echo: a b c" on spaces
    trace = _last()
    assert trace.trace_id == outer.trace_id
    chat = trace.search_spans(name="Completions")[0]
    assert chat.parent_id == trace.search_spans(name="agent")[0].span_id
    assert chat.outputs["choices"][0]["message"] == {"role": "assistant", "content": "echo:abc"}
    assert chat.outputs["choices"][0]["finish_reason"] == "stop"
    assert chat.get_attribute("mlflow.chat.tokenUsage")["total_tokens"] == 10
    assert chat.end_time_ns is not None and chat.end_time_ns <= trace.data.spans[0].end_time_ns


def test_async_chat_and_streamed_responses(base_url: str, autologged: None) -> None:
    async def main() -> str:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="dummy", max_retries=0)
        reply = await client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "async"}])
        return str(reply.choices[0].message.content)

    assert asyncio.run(main()) == "echo: async"
    assert _last().data.spans[0].name == "AsyncCompletions"
    assert _last().data.spans[0].outputs["choices"][0]["message"]["content"] == "echo: async"

    client = _client(base_url)
    response = client.responses.create(model="tiny", input="hi")
    assert response.output_text == "echo: hi"
    span = _last().data.spans[0]
    assert (span.name, span.inputs) == ("Responses", {"model": "tiny", "input": "hi"})
    assert span.outputs["output"][0]["content"][0]["text"] == "echo: hi"
    assert span.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 5, "output_tokens": 2, "total_tokens": 7}

    events = list(client.responses.create(model="tiny", input="yo", stream=True))
    assert [e.type for e in events][-1] == "response.completed"
    span = _last().data.spans[0]
    assert span.outputs["output"][0]["content"][0]["text"] == "echo: yo"
    assert span.get_attribute("mlnb.openai.stream_chunks") == 4


def test_an_api_error_is_an_error_span_and_reaches_the_caller(base_url: str, autologged: None
                                                              ) -> None:
    with pytest.raises(openai.InternalServerError, match="model exploded"):
        _client(base_url).chat.completions.create(
            model="broken", messages=[{"role": "user", "content": "x"}])
    span = _last().data.spans[0]
    assert span.status.status_code == "ERROR"
    assert span.events[0].attributes["exception.type"] == "InternalServerError"


def test_a_tracing_failure_never_breaks_the_call(base_url: str, autologged: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from mlnb.autolog import openai as traced

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracing is broken")

    monkeypatch.setattr(traced, "new_span", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reply = _client(base_url).chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "still"}])
    assert reply.choices[0].message.content == "echo: still"
    assert [str(w.message) for w in caught] == [
        "mlnb could not trace an openai call (RuntimeError: tracing is broken); the call "
        "itself was not affected."]


def test_disable_restores_the_package(base_url: str, autologged: None) -> None:
    from openai.resources.chat.completions.completions import Completions

    assert hasattr(Completions.create, "_mlnb_original")
    mlnb.openai.autolog(disable=True)
    assert not hasattr(Completions.create, "_mlnb_original")
    before = mlnb.get_last_active_trace_id()
    _client(base_url).chat.completions.create(model="tiny",
                                              messages=[{"role": "user", "content": "x"}])
    assert mlnb.get_last_active_trace_id() == before
