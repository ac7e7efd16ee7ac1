"""GenAI tracing (issue 17): spans by call context, stored as traces on both engines, searched,
exported in OTLP JSON and MLflow's JSON, and never breaking the traced code."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

import mlnb
from mlnb.errors import FilterSyntaxError, InvalidParameterError, NotFoundError
from mlnb.tracing import SpanType, Trace

pytestmark = pytest.mark.both_backends


def _last() -> Trace:
    trace_id = mlnb.get_last_active_trace_id()
    assert trace_id is not None
    return mlnb.get_trace(trace_id)


def _tree(trace: Trace) -> dict[str, str | None]:
    names = {s.span_id: s.name for s in trace.data.spans}
    return {s.name: names.get(s.parent_id or "") for s in trace.data.spans}


@mlnb.trace(span_type=SpanType.CHAIN, attributes={"team": "qa"})
def pipeline(question: str, k: int = 2) -> str:
    docs = retrieve(question, k=k)
    with mlnb.start_span("generate", span_type=SpanType.LLM) as span:
        span.set_inputs({"docs": docs})
        span.set_attribute("mlflow.chat.tokenUsage",
                           {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
        span.add_event("chunk", {"index": 0})
        answer = f"{question}: {len(docs)} docs"
        span.set_outputs(answer)
    return answer


@mlnb.trace(span_type=SpanType.RETRIEVER)
def retrieve(query: str, k: int) -> list[str]:
    return [f"{query}-{i}" for i in range(k)]


def test_nested_spans_are_stored_with_parents_inputs_outputs_and_mlflow_keys(tracking: Path
                                                                             ) -> None:
    assert pipeline("why", k=3) == "why: 3 docs"
    trace = _last()
    assert trace.info.state == "OK" and trace.info.trace_id.startswith("tr-")
    assert len(trace.info.trace_id) == 35
    assert _tree(trace) == {"pipeline": None, "retrieve": "pipeline", "generate": "pipeline"}
    root, retrieve_span = trace.data.spans[0], trace.search_spans(name="retrieve")[0]
    assert root.inputs == {"question": "why", "k": 3} and root.outputs == "why: 3 docs"
    assert root.span_type == "CHAIN" and root.get_attribute("team") == "qa"
    assert root.raw_attributes["mlflow.spanType"] == '"CHAIN"'
    assert root.raw_attributes["mlflow.spanFunctionName"] == '"pipeline"'
    assert retrieve_span.inputs == {"query": "why", "k": 3}
    assert retrieve_span.outputs == ["why-0", "why-1", "why-2"]
    generate = trace.search_spans(span_type="LLM")[0]
    assert [e.name for e in generate.events] == ["chunk"]
    assert trace.info.token_usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert trace.info.request_preview == '{"question": "why", "k": 3}'
    assert trace.info.response_preview == '"why: 3 docs"'
    assert trace.info.tags["mlflow.traceName"] == "pipeline"
    assert all(s.start_time_ns <= (s.end_time_ns or 0) for s in trace.data.spans)


class Agent:
    @mlnb.trace
    def act(self, task: str, *extra: int, **options: Any) -> str:
        return task.upper()


def test_token_usage_and_cost_roll_up_without_counting_twice(tracking: Path) -> None:
    usage = "mlflow.chat.tokenUsage"

    @mlnb.trace(span_type=SpanType.AGENT)
    def agent() -> None:
        for n in (1, 2):
            with mlnb.start_span("call", span_type=SpanType.LLM) as call:
                call.set_attribute(usage, {"input_tokens": n, "output_tokens": n,
                                           "total_tokens": 2 * n})
                call.set_attribute("mlflow.llm.cost", {"input_cost": 0.5, "output_cost": 0.25,
                                                       "total_cost": 0.75})
        with mlnb.start_span("wrapper") as wrapper:  # reports its own total, child included
            wrapper.set_attribute(usage, {"input_tokens": 10, "output_tokens": 1,
                                          "total_tokens": 11})
            with mlnb.start_span("inner") as inner:
                inner.set_attribute(usage, {"input_tokens": 10, "output_tokens": 1,
                                            "total_tokens": 11})

    agent()
    info = _last().info
    assert info.token_usage == {"input_tokens": 13, "output_tokens": 4, "total_tokens": 17}
    assert info.cost == {"input_cost": 1.0, "output_cost": 0.5, "total_cost": 1.5}


def test_methods_record_arguments_without_self(tracking: Path) -> None:
    assert Agent().act("go", 1, 2, mode="fast") == "GO"
    span = _last().data.spans[0]
    assert span.inputs == {"task": "go", "extra": [1, 2], "options": {"mode": "fast"}}


def test_a_raising_function_leaves_an_error_span_and_the_same_exception(tracking: Path) -> None:
    class Boom(ValueError):
        pass

    error = Boom("bad <input>")

    @mlnb.trace
    def outer() -> None:
        inner()

    @mlnb.trace
    def inner() -> None:
        raise error

    with pytest.raises(Boom) as caught:
        outer()
    assert caught.value is error
    trace = _last()
    assert trace.info.state == "ERROR"
    for span in trace.data.spans:
        assert span.status.status_code == "ERROR"
        assert span.status.description == "Boom: bad <input>"
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes["exception.type"] == "Boom"
        assert event.attributes["exception.message"] == "bad <input>"
        assert "raise error" in event.attributes["exception.stacktrace"]


def test_threads_start_with_no_parent_unless_the_context_is_copied(tracking: Path) -> None:
    @mlnb.trace
    def work(n: int) -> int:
        return n * 2

    with mlnb.start_span("main") as main:
        plain = threading.Thread(target=work, args=(1,))
        plain.start()
        plain.join()
        lone = mlnb.get_last_active_trace_id()
        context = contextvars.copy_context()
        carried = threading.Thread(target=context.run, args=(work, 2))
        carried.start()
        carried.join()
    lone_trace = mlnb.get_trace(lone or "")
    assert lone_trace.trace_id != main.trace_id
    assert _tree(lone_trace) == {"work": None}
    assert _tree(_last()) == {"main": None, "work": "main"}
    assert _last().search_spans(name="work")[0].inputs == {"n": 2}


def test_concurrent_asyncio_tasks_keep_their_own_parents(tracking: Path) -> None:
    @mlnb.trace
    async def step(label: str) -> str:
        await asyncio.sleep(0.01)
        return label

    @mlnb.trace
    async def branch(label: str) -> str:
        first = await step(label + "1")
        await asyncio.sleep(0)
        return first + await step(label + "2")

    async def main() -> list[str]:
        with mlnb.start_span("root"):
            return list(await asyncio.gather(branch("a"), branch("b")))

    assert asyncio.run(main()) == ["a1a2", "b1b2"]
    trace = _last()
    by_id = {s.span_id: s for s in trace.data.spans}
    for span in trace.search_spans(name="step"):
        parent = by_id[span.parent_id or ""]
        assert parent.name == "branch"
        assert str(span.inputs["label"]).startswith(str(parent.inputs["label"]))
    assert {by_id[s.parent_id or ""].name for s in trace.search_spans(name="branch")} == {"root"}


def test_generators_record_what_they_yielded_when_exhausted(tracking: Path) -> None:
    @mlnb.trace
    def child(x: int) -> int:
        return x

    @mlnb.trace
    def numbers(n: int) -> Any:
        for i in range(n):
            yield child(i)

    @mlnb.trace
    async def letters(n: int) -> Any:
        for i in range(n):
            await asyncio.sleep(0)
            yield "abc"[i]

    assert list(numbers(3)) == [0, 1, 2]
    trace = _last()
    assert trace.data.spans[0].outputs == [0, 1, 2]
    assert _tree(trace) == {"numbers": None, "child": "numbers"}
    assert len(trace.search_spans(name="child")) == 3

    async def consume() -> list[str]:
        return [c async for c in letters(2)]

    assert asyncio.run(consume()) == ["a", "b"]
    assert _last().data.spans[0].outputs == ["a", "b"]

    gen = numbers(5)
    assert next(gen) == 0
    gen.close()  # stopped early: the span ends with what was yielded
    assert _last().data.spans[0].outputs == [0]


def test_odd_inputs_are_stored_as_repr_and_never_break_the_call(tracking: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque thing>"

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @mlnb.trace
    def use(a: Any, b: Any, c: float) -> Any:
        return {"set": {1}, "obj": a}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert use(Opaque(), Hostile(), float("nan"))["obj"].__class__ is Opaque
    span = _last().data.spans[0]
    assert span.inputs == {"a": "<Opaque thing>", "b": "<unprintable Hostile>", "c": "nan"}
    assert span.outputs == {"set": [1], "obj": "<Opaque thing>"}


def test_a_trace_links_to_the_active_run_and_is_found_by_it(tracking: Path) -> None:
    mlnb.set_experiment("genai")
    with mlnb.start_run() as run:
        pipeline("q")
    pipeline("outside")
    trace = mlnb.search_traces(run_id=run.info.run_id, return_type="list")
    assert [t.data.spans[0].inputs["question"] for t in trace] == ["q"]
    assert trace[0].info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    assert trace[0].info.experiment_id == run.info.experiment_id
    assert trace[0].info.run_id == run.info.run_id
    assert "mlflow.sourceRun" not in _last().info.trace_metadata
    mlnb.delete_run(run.info.run_id)  # a deleted run's traces still read back
    assert len(mlnb.search_traces(run_id=run.info.run_id, return_type="list")) == 1


def test_update_current_trace_tags_and_metadata(tracking: Path) -> None:
    @mlnb.trace
    def answer() -> str:
        mlnb.update_current_trace(tags={"user": "ann"}, metadata={"session": 7})
        span = mlnb.get_current_active_span()
        assert span is not None and span.name == "answer"
        return "ok"

    answer()
    info = _last().info
    assert info.tags["user"] == "ann" and info.trace_metadata["session"] == "7"
    assert mlnb.get_current_active_span() is None
    with pytest.raises(InvalidParameterError, match="needs an active trace"):
        mlnb.update_current_trace(tags={"a": "b"})


def test_search_traces_filters_orders_and_pages(tracking: Path) -> None:
    import time

    @mlnb.trace
    def slow(i: int) -> int:
        mlnb.update_current_trace(tags={"parity": "even" if i % 2 == 0 else "odd"},
                                  metadata={"i": i})
        time.sleep(0.002 * i)
        if i == 3:
            raise KeyError(i)
        return i

    for i in range(5):
        try:
            slow(i)
        except KeyError:
            pass
        time.sleep(0.002)
    frame = mlnb.search_traces()
    assert list(frame.columns) == [
        "trace_id", "trace", "client_request_id", "state", "request_time", "execution_duration",
        "request", "response", "trace_metadata", "tags", "spans", "assessments", "tokens"]
    assert [r["i"] for r in frame["request"]] == [4, 3, 2, 1, 0]  # newest first

    def inputs(filter_string: str | None = None, **kwargs: Any) -> list[int]:
        found = mlnb.search_traces(filter_string=filter_string, return_type="list", **kwargs)
        return [t.data.spans[0].inputs["i"] for t in found]

    assert inputs("status = 'ERROR'") == [3]
    assert inputs("tags.parity = 'even'") == [4, 2, 0]
    assert inputs("metadata.i = '1'") == [1]
    assert inputs("name = 'slow' and trace.status != 'ERROR'") == [4, 2, 1, 0]
    assert inputs("execution_time_ms >= 0", order_by=["timestamp_ms ASC"]) == [0, 1, 2, 3, 4]
    assert inputs(order_by=["tags.parity ASC", "timestamp_ms DESC"]) == [4, 2, 0, 3, 1]
    first = mlnb.search_traces(max_results=2, return_type="list")
    assert first.token is not None
    second = mlnb.search_traces(max_results=2, page_token=first.token, return_type="list")
    assert [t.trace_id for t in [*first, *second]] == list(frame["trace_id"][:4])
    one = first[0].trace_id
    assert inputs(f"request_id = '{one}'") == [4]
    with pytest.raises(FilterSyntaxError, match="Unknown attribute 'nope'"):
        mlnb.search_traces(filter_string="nope = 1")


def test_delete_traces_and_a_vanished_experiment(tracking: Path) -> None:
    pipeline("a")
    first = mlnb.get_last_active_trace_id()
    pipeline("b")
    exp = _last().info.experiment_id
    assert mlnb.delete_traces(exp, trace_ids=[first or ""]) == 1
    with pytest.raises(NotFoundError, match="No trace with id"):
        mlnb.get_trace(first or "")
    assert len(mlnb.search_traces(return_type="list")) == 1
    with pytest.raises(InvalidParameterError, match="is not a trace id"):
        mlnb.get_trace("abc")
    with pytest.raises(InvalidParameterError, match="exactly one of"):
        mlnb.delete_traces(exp)
    from mlnb.store.traces import StoredTrace
    from mlnb.tracking.client import current_store

    gone = StoredTrace("tr-" + "0" * 32, "987654", None, "x", 1, 1, "OK", None, None, spans=[])
    assert current_store().write_traces([gone]) == [gone.trace_id]


def test_exports_read_back_as_otlp_and_as_mlflow_traces(tracking: Path) -> None:
    from google.protobuf.json_format import Parse
    from mlflow.entities import Trace as MlflowTrace
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from mlnb.tracing.export import export_traces

    pipeline("x <y>")
    ours = _last()
    otlp = json.loads(export_traces(format="otlp-json"))
    request = Parse(json.dumps(otlp_ids_as_base64(otlp)), ExportTraceServiceRequest())
    spans = request.resource_spans[0].scope_spans[0].spans
    assert {s.name for s in spans} == {"pipeline", "retrieve", "generate"}
    root = next(s for s in spans if s.name == "pipeline")
    assert root.trace_id.hex() == ours.trace_id[3:] and root.parent_span_id == b""
    assert next(s for s in spans if s.name == "retrieve").parent_span_id == root.span_id
    assert root.start_time_unix_nano == ours.data.spans[0].start_time_ns
    attrs = {a.key: a.value.string_value for a in root.attributes}
    assert json.loads(attrs["mlflow.spanInputs"]) == {"question": "x <y>", "k": 2}
    generate = next(s for s in spans if s.name == "generate")
    assert generate.events[0].attributes[0].value.int_value == 0

    (item,) = json.loads(export_traces(format="mlflow-json"))
    theirs = MlflowTrace.from_json(json.dumps(item))
    assert theirs.info.trace_id == ours.trace_id
    assert theirs.info.request_time == ours.info.request_time
    assert theirs.info.token_usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    by_name = {s.name: s for s in theirs.data.spans}
    assert by_name["pipeline"].inputs == {"question": "x <y>", "k": 2}
    assert by_name["pipeline"].span_type == "CHAIN"
    assert by_name["retrieve"].parent_id == by_name["pipeline"].span_id
    assert by_name["generate"].events[0].attributes == {"index": 0}
    assert MlflowTrace.from_json(ours.to_json()).info.trace_id == ours.trace_id


def otlp_ids_as_base64(document: Any) -> Any:
    """OTLP/JSON writes trace and span ids in hex, where protobuf's standard JSON mapping (what
    json_format.Parse reads) has base64: the one difference the OTLP spec lists, undone here as
    an OTLP receiver does. A non-hex id fails here."""
    import base64

    if isinstance(document, list):
        return [otlp_ids_as_base64(v) for v in document]
    if not isinstance(document, dict):
        return document
    return {k: base64.b64encode(bytes.fromhex(v)).decode() if k in (
        "traceId", "spanId", "parentSpanId") else otlp_ids_as_base64(v)
        for k, v in document.items()}


def test_cli_exports_a_file_and_refuses_a_bad_format(tracking: Path, capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    from mlnb.cli import main

    mlnb.set_experiment("cli-traces")
    with mlnb.start_run() as run:
        pipeline("in run")
    pipeline("not in run")
    out = tracking.parent / "traces.json"
    assert main(["traces", "export", "--run", run.info.run_id, "--format", "mlflow-json",
                 "-o", str(out)]) == 0
    exported = json.loads(out.read_text())
    assert [t["info"]["request_preview"] for t in exported] == ['{"question": "in run", "k": 2}']
    assert main(["traces", "export", "-e", "cli-traces", "--format", "otlp-json"]) == 0
    text = capsys.readouterr().out
    assert len(json.loads(text)["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 6
    with pytest.raises(SystemExit):
        main(["traces", "export", "--format", "yaml"])
    assert "invalid choice: 'yaml'" in capsys.readouterr().err
    assert main(["traces", "export", "-e", "nope", "--format", "otlp-json"]) == 2
    assert "No experiment named 'nope'" in capsys.readouterr().err


@pytest.mark.sqlite_only
def test_a_store_that_cannot_be_written_is_one_warning_and_the_traces_wait(tracking: Path
                                                                            ) -> None:
    from mlnb.tracing import writer
    from mlnb.tracking.client import current_store

    @mlnb.trace
    def work(x: int) -> int:
        return x + 1

    work(0)
    mlnb.flush_trace_async_logging()
    current_store().cx.close()  # the store goes away under the tracer
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert work(1) == 2
            mlnb.flush_trace_async_logging()
            assert work(2) == 3
            mlnb.flush_trace_async_logging()
        assert len(caught) == 1
        assert "mlnb could not write traces yet" in str(caught[0].message)
        assert "kept in memory and retried" in str(caught[0].message)
        assert len(writer._queue) == 2
    finally:
        writer._queue.clear()
        writer._warned.discard("store")
