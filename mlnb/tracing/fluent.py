"""The tracing API: ``@trace``, ``start_span``, the current span and trace, ``get_trace`` and
``search_traces`` (MLflow's names and arguments)."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from mlnb.errors import InvalidParameterError
from mlnb.store.paging import PagedList, page, token_offset
from mlnb.tracing import encode, writer
from mlnb.tracing.entities import Trace, trace_of
from mlnb.tracing.keys import SPAN_FUNCTION_NAME
from mlnb.tracing.span import (
    LiveSpan,
    SpanType,
    _current,
    current_span,
    last_trace_id,
    new_span,
)
from mlnb.tracking.client import current_client
from mlnb.tracking.experiment import active_experiment_id

if TYPE_CHECKING:
    import pandas

F = TypeVar("F", bound=Callable[..., Any])
SEARCH_TRACES_DEFAULT = 100


@overload
def trace(func: F, name: str | None = None, span_type: str = SpanType.UNKNOWN,
          attributes: dict[str, Any] | None = None) -> F: ...


@overload
def trace(func: None = None, name: str | None = None, span_type: str = SpanType.UNKNOWN,
          attributes: dict[str, Any] | None = None) -> Callable[[F], F]: ...


def trace(func: F | None = None, name: str | None = None, span_type: str = SpanType.UNKNOWN,
          attributes: dict[str, Any] | None = None) -> F | Callable[[F], F]:
    """Record each call of a function as a span: its arguments as inputs, its return value as
    outputs, an exception as an ERROR status with an ``exception`` event (then re-raised).

    Works on functions, methods, ``async def`` functions, generators and async generators (whose
    outputs, the list of what they yielded, are recorded when they are exhausted or closed).
    Used bare (``@mlnb.trace``) or with arguments (``@mlnb.trace(span_type="LLM")``).

    :param func: the function (when used bare).
    :param name: the span's name; default the function's ``__name__``.
    :param span_type: one of :class:`SpanType`.
    :param attributes: attributes set on every span of this function.
    """
    def decorate(fn: F) -> F:
        return _decorate(fn, name or str(getattr(fn, "__name__", "span")), span_type,
                         dict(attributes or {}))

    return decorate(func) if func is not None else decorate


class _Inputs:
    """Binds a call's arguments to parameter names fast: ``inspect.Signature.bind`` only for
    signatures with ``*args``/``**kwargs`` or keyword-only parameters."""

    __slots__ = ("defaults", "names", "signature", "simple", "skip_first")

    def __init__(self, fn: Callable[..., Any]) -> None:
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = None
        params = list(self.signature.parameters.values()) if self.signature else []
        self.skip_first = bool(params) and params[0].name in ("self", "cls")
        self.names = tuple(p.name for p in params)
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}
        self.simple = self.signature is not None and all(
            p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY) for p in params)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.simple and len(args) <= len(self.names):
            bound = dict(zip(self.names, args, strict=False))  # args may be fewer
            if len(args) < len(self.names):  # the rest in the signature's order
                for key in self.names[len(args):]:
                    if key in kwargs:
                        bound[key] = kwargs[key]
                    elif key in self.defaults:
                        bound[key] = self.defaults[key]
        elif self.signature is not None:
            try:
                found = self.signature.bind(*args, **kwargs)
                found.apply_defaults()
                bound = dict(found.arguments)
            except TypeError:  # the call itself is wrong: the function raises it
                bound = {"args": list(args), **kwargs}
        else:
            bound = {"args": list(args), **kwargs}
        if self.skip_first:
            bound.pop(self.names[0], None)
        return bound


def _decorate(fn: F, name: str, span_type: str, attributes: dict[str, Any]) -> F:
    inputs = _Inputs(fn)
    attrs = {SPAN_FUNCTION_NAME: getattr(fn, "__name__", name), **attributes}

    def opened(args: tuple[Any, ...], kwargs: dict[str, Any]) -> LiveSpan | None:
        try:
            span = new_span(name, span_type)
            span.set_inputs(inputs.bind(args, kwargs))
            span._attributes = dict(attrs)
            return span
        except Exception as exc:  # tracing never breaks the traced function
            _warn(exc)
            return None

    if inspect.isasyncgenfunction(fn):
        return _async_generator(fn, opened)  # type: ignore[no-any-return]
    if inspect.isgeneratorfunction(fn):
        return _generator(fn, opened)  # type: ignore[no-any-return]
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            span = opened(args, kwargs)
            if span is None:
                return await fn(*args, **kwargs)
            with span:
                result = await fn(*args, **kwargs)
                span._outputs = result
            return result
        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        span = opened(args, kwargs)
        if span is None:
            return fn(*args, **kwargs)
        with span:
            result = fn(*args, **kwargs)
            span._outputs = result
        return result
    return run  # type: ignore[return-value]


def _generator(fn: Callable[..., Any], opened: Callable[..., LiveSpan | None]) -> Any:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        span = opened(args, kwargs)
        gen = fn(*args, **kwargs)
        if span is None:
            return (yield from gen)
        outputs: list[Any] = []
        resume: Callable[[Any], Any] = gen.send
        arg: Any = None
        try:
            while True:
                token = _enter(span)
                try:
                    value = resume(arg)
                except StopIteration as stop:
                    return stop.value
                finally:
                    _leave(token)
                outputs.append(value)
                try:
                    arg = yield value
                    resume = gen.send
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:  # thrown in by the consumer: pass it on
                    resume, arg = gen.throw, exc
        except GeneratorExit:
            _end(span, outputs, None)
            raise
        except BaseException as exc:
            _end(span, outputs, exc)
            raise
        finally:
            _end(span, outputs, None)
    return run


def _async_generator(fn: Callable[..., Any], opened: Callable[..., LiveSpan | None]) -> Any:
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        span = opened(args, kwargs)
        agen = fn(*args, **kwargs)
        outputs: list[Any] = []
        try:
            while True:
                token = _enter(span)
                try:
                    value = await agen.__anext__()
                except StopAsyncIteration:
                    return
                finally:
                    _leave(token)
                outputs.append(value)
                yield value
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):
                _end(span, outputs, exc)
            await agen.aclose()
            raise
        finally:
            _end(span, outputs, None)
    return run


def _enter(span: LiveSpan | None) -> Any:
    return None if span is None else _current.set(span)


def _leave(token: Any) -> None:
    if token is not None:
        try:
            _current.reset(token)
        except ValueError:
            _current.set(None)


def _end(span: LiveSpan | None, outputs: list[Any], error: BaseException | None) -> None:
    if span is None or span.end_time_ns is not None:
        return
    if error is not None:
        span.record_exception(error)
    span._outputs = outputs
    span.end()


_warned: set[str] = set()


def _warn(exc: Exception) -> None:
    kind = type(exc).__name__
    if kind not in _warned:
        _warned.add(kind)
        warnings.warn(f"mlnb tracing failed ({kind}: {exc}); the function ran untraced.",
                      RuntimeWarning, stacklevel=3)


def start_span(name: str = "span", span_type: str = SpanType.UNKNOWN,
               attributes: dict[str, Any] | None = None) -> LiveSpan:
    """A span for a ``with`` block, a child of the current span (or the root of a new trace)::

        with mlnb.start_span("retrieve", span_type=mlnb.SpanType.RETRIEVER) as span:
            span.set_inputs({"query": q})
            docs = search(q)
            span.set_outputs(docs)

    An exception leaving the block marks the span ERROR (with an ``exception`` event) and goes
    on unchanged.

    :param name: the span's name.
    :param span_type: one of :class:`SpanType`.
    :param attributes: attributes to set now.
    """
    span = new_span(str(name), str(span_type))
    if attributes:
        span.set_attributes(attributes)
    return span


def get_current_active_span() -> LiveSpan | None:
    """The span of the running code (inside ``@trace`` or ``start_span``), or None."""
    return current_span()


def get_active_trace_id() -> str | None:
    """The id of the trace being recorded by the running code, or None."""
    span = current_span()
    return None if span is None else span.trace_id


def get_last_active_trace_id() -> str | None:
    """The id of the trace that most recently finished in this process, or None."""
    return last_trace_id()


def update_current_trace(tags: dict[str, Any] | None = None,
                         metadata: dict[str, Any] | None = None) -> None:
    """Add tags and metadata to the trace being recorded (stored when it finishes).

    :param tags: tags (values become text).
    :param metadata: request metadata (values become text).
    :raises InvalidParameterError: outside a traced function or span.
    """
    span = current_span()
    if span is None:
        raise InvalidParameterError(
            "update_current_trace() needs an active trace: call it inside a function decorated "
            "with @mlnb.trace or inside `with mlnb.start_span(...)`.")
    trace = span._trace
    with trace.lock:
        trace.tags.update({str(k): str(v) for k, v in (tags or {}).items()})
        trace.metadata.update({str(k): str(v) for k, v in (metadata or {}).items()})


def flush_trace_async_logging() -> None:
    """Write every finished trace now (MLflow's name): on return, they are in the store."""
    writer.flush()


def get_trace(trace_id: str) -> Trace:
    """A trace with its spans, read from the current store (traces finished before are written
    first).

    :param trace_id: ``tr-`` and 32 hex digits (``get_last_active_trace_id()`` gives one).
    :raises NotFoundError: when the store has no such trace.
    """
    writer.flush()
    return trace_of(current_client().store.get_trace(trace_id))


def search_traces(
    experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
    order_by: Sequence[str] | None = None, max_results: int | None = None,
    run_id: str | None = None, return_type: str = "pandas", page_token: str | None = None,
    include_spans: bool = True,
) -> pandas.DataFrame | PagedList:
    """Traces matching a filter, newest first (MLflow's ``search_traces``).

    The DataFrame has MLflow's columns ``trace_id, trace, client_request_id, state,
    request_time, execution_duration, request, response, trace_metadata, tags, spans,
    assessments``, and ``tokens`` (the trace's token usage, or None).

    :param experiment_ids: the experiments; default the active one (or the run's, with
        ``run_id``).
    :param filter_string: e.g. ``"status = 'ERROR' and tags.user = 'ann'"`` over ``trace_id``,
        ``timestamp_ms``, ``execution_time_ms``, ``status``, ``name``, ``run_id``, ``tags.*``
        and ``metadata.*``.
    :param order_by: e.g. ``["timestamp_ms DESC"]``, ``["execution_time_ms"]``.
    :param max_results: at most this many (default 100 per page).
    :param run_id: only the traces recorded while this run was active.
    :param return_type: ``"pandas"`` or ``"list"`` (of :class:`Trace`, with a ``token``).
    :param page_token: the ``token`` of a previous ``"list"`` page.
    :param include_spans: read each trace's spans too.
    """
    if return_type not in ("pandas", "list"):
        raise InvalidParameterError(
            f"return_type must be 'pandas' or 'list', not {return_type!r}.")
    writer.flush()
    store = current_client().store
    if experiment_ids is None:
        experiment_ids = ([store.get_run(run_id).info.experiment_id] if run_id
                          else [active_experiment_id()])
    elif isinstance(experiment_ids, str):
        raise InvalidParameterError(
            f"experiment_ids takes a list of ids, such as [{experiment_ids!r}].")
    limit = SEARCH_TRACES_DEFAULT if max_results is None else max_results
    offset = token_offset(page_token)
    found = [trace_of(t) for t in store.search_traces(
        [str(e) for e in experiment_ids], filter_string, limit, order_by, offset, run_id,
        include_spans)]
    if return_type == "list":
        return page(found, offset, limit)
    return traces_to_frame(found)


def traces_to_frame(traces: list[Trace]) -> pandas.DataFrame:
    """Traces as MLflow's ``search_traces`` DataFrame (pandas imported on use).

    :param traces: the traces, one row each.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    columns = ["trace_id", "trace", "client_request_id", "state", "request_time",
               "execution_duration", "request", "response", "trace_metadata", "tags", "spans",
               "assessments", "tokens"]
    rows = [[t.info.trace_id, t, None, t.info.state, t.info.request_time,
             t.info.execution_duration, encode.loads(t.data.request),
             encode.loads(t.data.response), t.info.trace_metadata, t.info.tags, t.data.spans, [],
             t.info.token_usage] for t in traces]
    return pd.DataFrame(rows, columns=columns)


def delete_traces(experiment_id: str, trace_ids: Sequence[str] | None = None,
                  max_timestamp_millis: int | None = None) -> int:
    """Delete traces of an experiment: these ids, or those that started at or before a time.

    :param experiment_id: the experiment.
    :param trace_ids: the traces.
    :param max_timestamp_millis: the time, in milliseconds since the epoch.
    :returns: how many were deleted.
    """
    writer.flush()
    return int(current_client().store.delete_traces(experiment_id, trace_ids,
                                                    max_timestamp_millis))


def set_trace_tag(trace_id: str, key: str, value: Any) -> None:
    """Set a tag of a stored trace.

    :param trace_id: the trace.
    :param key: the tag's name.
    :param value: its value (becomes text).
    """
    writer.flush()
    current_client().store.set_trace_tag(trace_id, key, value)
