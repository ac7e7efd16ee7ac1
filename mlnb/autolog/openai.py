"""Autotracing for the ``openai`` client package: each ``chat.completions.create`` and
``responses.create`` call (sync and async, streaming included) becomes a ``CHAT_MODEL`` span.

The span records the call's arguments as inputs (model, messages or input, parameters), the
model's name (``mlflow.llm.model``), the reply as outputs and the token usage
(``mlflow.chat.tokenUsage``), under the caller's current span. A streamed reply's span ends when
the stream is consumed (or closed), its output assembled from the chunks. Whatever goes wrong
inside tracing is one warning: the user's call and its result are never touched.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from mlnb.tracing import SpanType
from mlnb.tracing.keys import CHAT_USAGE
from mlnb.tracing.span import LiveSpan, new_span

MODEL = "mlflow.llm.model"
#: (module, class, method, what it returns)
TARGETS = (
    ("openai.resources.chat.completions.completions", "Completions", "create", "chat"),
    ("openai.resources.chat.completions.completions", "AsyncCompletions", "create", "chat"),
    ("openai.resources.responses.responses", "Responses", "create", "responses"),
    ("openai.resources.responses.responses", "AsyncResponses", "create", "responses"),
)
_PARAMS_LEFT_OUT = ("messages", "input", "extra_headers", "extra_query", "extra_body", "timeout")

_originals: dict[tuple[type, str], Any] = {}
_warned: set[str] = set()


def autolog(disable: bool = False, log_traces: bool = True, silent: bool = False) -> None:
    """Trace every call of the ``openai`` package's ``chat.completions.create`` and
    ``responses.create`` (``disable=True``: stop, and restore the package's methods).

    :param disable: turn autotracing off.
    :param log_traces: MLflow's switch: False is the same as ``disable=True``.
    :param silent: no warnings from autotracing itself.
    :raises ModuleNotFoundError: when the ``openai`` package is not installed.
    """
    _warned.discard("silent")
    if silent:
        _warned.add("silent")
    if disable or not log_traces:
        for (owner, name), original in list(_originals.items()):
            setattr(owner, name, original)
        _originals.clear()
        return
    for module_name, class_name, method, kind in TARGETS:
        owner = getattr(importlib.import_module(module_name), class_name)
        if (owner, method) in _originals:
            continue
        original = getattr(owner, method)
        _originals[(owner, method)] = original
        wrap = _wrap_async if class_name.startswith("Async") else _wrap_sync
        setattr(owner, method, wrap(original, class_name, kind))


def _warn(exc: BaseException) -> None:
    kind = type(exc).__name__
    if kind in _warned or "silent" in _warned:
        return
    _warned.add(kind)
    warnings.warn(f"mlnb could not trace an openai call ({kind}: {exc}); the call itself was "
                  "not affected.", RuntimeWarning, stacklevel=4)


def _open(name: str, kind: str, kwargs: dict[str, Any]) -> LiveSpan | None:
    try:
        span = new_span(name, SpanType.CHAT_MODEL)
        span.set_inputs(dict(kwargs))
        span.set_attribute(MODEL, kwargs.get("model"))
        span.set_attribute("invocation_params", {
            k: v for k, v in kwargs.items() if k not in _PARAMS_LEFT_OUT})
        span.set_attribute("mlnb.openai.api", kind)
        return span
    except Exception as exc:
        _warn(exc)
        return None


def _failed(span: LiveSpan | None, error: BaseException) -> None:
    if span is None:
        return
    try:
        span.record_exception(error)
        span.end()
    except Exception as exc:
        _warn(exc)


def _finish(span: LiveSpan | None, kind: str, result: Any) -> Any:
    """End the span of a call that returned: at once, or when its stream is consumed."""
    if span is None:
        return result
    try:
        if hasattr(result, "_iterator"):  # openai.Stream / AsyncStream
            _watch_stream(span, kind, result)
            return result
        dumped = result.model_dump() if hasattr(result, "model_dump") else result
        span.set_outputs(dumped)
        _usage(span, dumped)
        span.end()
    except Exception as exc:
        _warn(exc)
    return result


def _wrap_sync(original: Callable[..., Any], name: str, kind: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _open(name, kind, kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as error:
            _failed(span, error)
            raise
        return _finish(span, kind, result)

    create._mlnb_original = original  # type: ignore[attr-defined]
    return create


def _wrap_async(original: Callable[..., Any], name: str, kind: str) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _open(name, kind, kwargs)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as error:
            _failed(span, error)
            raise
        return _finish(span, kind, result)

    create._mlnb_original = original  # type: ignore[attr-defined]
    return create


def _usage(span: LiveSpan, reply: Any) -> None:
    """Token usage in MLflow's keys, from a chat completion's or a response's ``usage``."""
    usage = reply.get("usage") if isinstance(reply, dict) else None
    if not isinstance(usage, dict):
        return
    given = usage.get("input_tokens", usage.get("prompt_tokens"))
    got = usage.get("output_tokens", usage.get("completion_tokens"))
    if isinstance(given, int) and isinstance(got, int):
        total = usage.get("total_tokens")
        span.set_attribute(CHAT_USAGE, {
            "input_tokens": given, "output_tokens": got,
            "total_tokens": total if isinstance(total, int) else given + got})
    if reply.get("model"):
        span.set_attribute(MODEL, reply["model"])


class _Assembler:
    """Collects a stream's chunks and builds the reply they add up to."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.chunks = 0
        self.text: dict[int, list[str]] = {}
        self.finish: dict[int, Any] = {}
        self.role: dict[int, str] = {}
        self.last: dict[str, Any] = {}
        self.completed: dict[str, Any] | None = None

    def add(self, chunk: Any) -> None:
        data = chunk.model_dump() if hasattr(chunk, "model_dump") else dict(chunk)
        self.chunks += 1
        if self.kind == "chat":
            self.last = data
            for choice in data.get("choices") or []:
                index = int(choice.get("index") or 0)
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    self.text.setdefault(index, []).append(delta["content"])
                if delta.get("role"):
                    self.role[index] = delta["role"]
                if choice.get("finish_reason"):
                    self.finish[index] = choice["finish_reason"]
        elif data.get("type") == "response.output_text.delta":
            self.text.setdefault(0, []).append(str(data.get("delta") or ""))
        elif data.get("type") == "response.completed":
            self.completed = data.get("response")

    def reply(self) -> dict[str, Any]:
        if self.kind == "responses":
            if self.completed is not None:
                return self.completed
            return {"object": "response", "output_text": "".join(self.text.get(0, []))}
        indexes = sorted(set(self.text) | set(self.finish) | set(self.role))
        return {
            "id": self.last.get("id"), "object": "chat.completion", "model": self.last.get("model"),
            "created": self.last.get("created"),
            "choices": [{"index": i, "message": {"role": self.role.get(i, "assistant"),
                                                 "content": "".join(self.text.get(i, []))},
                         "finish_reason": self.finish.get(i)} for i in indexes],
            "usage": self.last.get("usage"),
        }


def _watch_stream(span: LiveSpan, kind: str, stream: Any) -> None:
    """Put a recording iterator in the stream's place (the stream object stays openai's own)."""
    assembler = _Assembler(kind)
    inner = stream._iterator

    def done(error: BaseException | None) -> None:
        if span.end_time_ns is not None:
            return
        try:
            reply = assembler.reply()
            span.set_outputs(reply)
            span.set_attribute("mlnb.openai.stream_chunks", assembler.chunks)
            _usage(span, reply)
            if error is not None:
                span.record_exception(error)
            span.end()
        except Exception as exc:
            _warn(exc)

    def note(chunk: Any) -> None:
        try:
            assembler.add(chunk)
        except Exception as exc:
            _warn(exc)

    if hasattr(inner, "__anext__"):
        async def arecording() -> AsyncIterator[Any]:
            try:
                async for chunk in inner:
                    note(chunk)
                    yield chunk
            except BaseException as error:
                done(None if isinstance(error, GeneratorExit) else error)
                raise
            done(None)
        stream._iterator = arecording()
        close = stream.close

        async def aclose() -> None:
            done(None)
            await close()
        stream.close = aclose
        return

    def recording() -> Iterator[Any]:
        try:
            for chunk in inner:
                note(chunk)
                yield chunk
        except BaseException as error:
            done(None if isinstance(error, GeneratorExit) else error)
            raise
        done(None)
    stream._iterator = recording()
    sync_close = stream.close

    def close_now() -> None:
        done(None)
        sync_close()
    stream.close = close_now
