"""``evaluate``: run a GenAI function over a dataset, score every row, and log one run.

MLflow's data contract (``mlflow.genai.evaluate``): each row has ``inputs`` (a dict passed to
``predict_fn`` as keyword arguments), optional ``expectations``, or precomputed ``outputs``
instead of a ``predict_fn``. The run gets the tag ``mlflow.runType = genai_evaluate``, a metric
``<scorer>/<aggregation>`` per scorer (``mean`` unless asked otherwise), latency and token
totals, the prompt versions used (``mlflow.linkedPrompts``) and one artifact,
``eval_results_table.json``: a row per input with its output, each score and rationale.

All rows are scored first; the store is written once at the end (one ``log_batch``, one
artifact), so an evaluation makes a handful of store round trips whatever its size. A
``predict_fn`` that raises on a row records the error on that row and the evaluation goes on.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mlnb.entities import Metric, RunTag
from mlnb.errors import InvalidParameterError
from mlnb.genai.prompts import LINKED_PROMPTS_TAG, PromptVersion, load_prompt, recording_loads
from mlnb.genai.scorers import Feedback, FunctionScorer, Row, Scorer, aggregate, as_number
from mlnb.store.sql import now_ms
from mlnb.tracing.fluent import start_span
from mlnb.tracing.span import SpanType
from mlnb.tracking import fluent
from mlnb.tracking.client import current_client

__all__ = ["RESULTS_FILE", "EvaluationResult", "evaluate"]

RESULTS_FILE = "eval_results_table.json"
"""The per-row results artifact (MLflow's table JSON: ``{"columns": [...], "data": [...]}``)."""
RUN_TYPE_TAG = "mlflow.runType"
RUN_TYPE = "genai_evaluate"
PROMPT_TAG = "mlnb.genai.prompt"
"""Run tag: the ``prompts:/`` URIs of the prompt versions the evaluation used (comma-separated)."""
MODEL_TAG = "mlnb.genai.model"
"""Run tag: the model's name (``model=``, else ``model_id``) for :func:`mlnb.genai.compare`."""
_ROW_FIELDS = ("inputs", "outputs", "expectations")


@dataclass
class EvaluationResult:
    """What :func:`evaluate` returns (MLflow's names).

    :param run_id: the run the evaluation logged.
    :param metrics: the aggregate metrics logged.
    :param result_df: a pandas DataFrame, one row per input: ``inputs``, ``outputs``,
        ``expectations``, ``error``, ``latency_seconds``, ``tokens``, ``trace_id`` and for each scorer
        ``<name>/value``, ``<name>/rationale`` and ``<name>/error``.
    """

    run_id: str
    metrics: dict[str, float]
    result_df: Any = field(repr=False)


@dataclass
class Called:
    """One ``predict_fn`` call: its output or error, wall time and reported tokens."""

    output: Any = None
    error: str | None = None
    latency: float | None = None
    tokens: int | None = None
    trace_id: str | None = None


def _call_row(predict_fn: Callable[..., Any], inputs: dict[str, Any]) -> Called:
    """Call ``predict_fn(**inputs)`` for one row in a trace of its own, timing it and catching
    its exception.

    The one place a row's call happens: its span (``predict``, of type CHAIN) has the row's
    inputs, the returned output, or the exception as its ERROR status; spans ``predict_fn``
    makes (``@mlnb.trace``, autotraced clients) are its children. The trace belongs to the
    evaluation's run, the active run while rows run.
    """
    start = time.perf_counter()
    span = start_span("predict", span_type=SpanType.CHAIN)
    try:
        with span:
            span.set_inputs(inputs)
            output = predict_fn(**inputs)
            span.set_outputs(output)
    except Exception as exc:  # the user's function failing on one row is a result, not a crash
        return Called(error=f"{type(exc).__name__}: {exc}", latency=time.perf_counter() - start,
                      trace_id=span.trace_id)
    return Called(output, None, time.perf_counter() - start, usage_tokens(output), span.trace_id)


def usage_tokens(output: Any) -> int | None:
    """The total tokens an output reports, as OpenAI-style clients report them: a ``usage`` (dict
    key or attribute) with ``total_tokens``, or input/output (prompt/completion) token counts.

    :param output: what ``predict_fn`` returned.
    """
    usage = output.get("usage") if isinstance(output, dict) else getattr(output, "usage", None)
    if usage is None:
        return None

    def count(name: str) -> int | None:
        value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    total = count("total_tokens")
    if total is not None:
        return total
    parts = [count(a) or count(b) for a, b in (("input_tokens", "prompt_tokens"),
                                               ("output_tokens", "completion_tokens"))]
    return sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None


# --- the arguments --------------------------------------------------------------------------


def rows_of(data: Any) -> list[dict[str, Any]]:
    """The rows of ``data``: a pandas DataFrame or a list of dicts, each checked.

    :param data: the evaluation data.
    :raises InvalidParameterError: for other data, no rows, or a row with unknown fields.
    """
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        # A DataFrame holds a missing cell as NaN: such a row simply lacks that field.
        rows = [{k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
                for r in data.to_dict("records")]
    elif isinstance(data, (list, tuple)):
        rows = list(data)
    else:
        raise InvalidParameterError(
            "data must be a pandas DataFrame or a list of dicts with 'inputs' (and optionally "
            f"'expectations' or 'outputs'), not {type(data).__name__}.")
    if not rows:
        raise InvalidParameterError("data has no rows to evaluate.")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidParameterError(f"Row {i} of data is {type(row).__name__}, not a dict.")
        unknown = sorted(str(k) for k in row if k not in _ROW_FIELDS)
        if unknown:
            raise InvalidParameterError(
                f"Row {i} of data has unknown field(s) {unknown}; a row has 'inputs', and "
                "optionally 'expectations' or precomputed 'outputs'.")
    return rows


def check_rows(rows: list[dict[str, Any]], predict_fn: Callable[..., Any] | None) -> None:
    """Refuse data and ``predict_fn`` that do not fit together, before anything runs.

    :param rows: the rows.
    :param predict_fn: the function, or None.
    :raises InvalidParameterError: naming the first row that does not fit.
    """
    for i, row in enumerate(rows):
        if predict_fn is None and "outputs" not in row:
            raise InvalidParameterError(
                f"Row {i} has no 'outputs' and there is no predict_fn: pass predict_fn, or "
                "give every row its precomputed 'outputs'.")
        if predict_fn is not None:
            if "outputs" in row:
                raise InvalidParameterError(
                    f"Row {i} has precomputed 'outputs' and a predict_fn was passed: use one or "
                    "the other.")
            if not isinstance(row.get("inputs"), dict):
                raise InvalidParameterError(
                    f"Row {i}'s 'inputs' must be a dict of predict_fn's keyword arguments, not "
                    f"{type(row.get('inputs')).__name__}.")
    if predict_fn is not None:
        if not callable(predict_fn):
            raise InvalidParameterError(f"predict_fn must be callable, not {type(predict_fn).__name__}.")
        try:
            signature = inspect.signature(predict_fn)
        except (TypeError, ValueError):
            return  # a builtin without a signature: its own error shows on the rows
        try:
            signature.bind(**rows[0]["inputs"])
        except TypeError as exc:
            names = ", ".join(signature.parameters)
            raise InvalidParameterError(
                f"predict_fn's parameters ({names}) do not fit row 0's inputs "
                f"{sorted(rows[0]['inputs'])}: {exc}. Name predict_fn's parameters after the "
                "keys of 'inputs'.") from None


def check_scorers(scorers: Iterable[Any] | None) -> list[Scorer]:
    """The scorers, each a :class:`Scorer` (a plain function is wrapped as ``@scorer`` would).

    :param scorers: scorers or functions.
    :raises InvalidParameterError: for anything else or two scorers of one name.
    """
    found: list[Scorer] = []
    for item in scorers or []:
        if isinstance(item, Scorer):
            found.append(item)
        elif callable(item):
            found.append(FunctionScorer(item))
        else:
            raise InvalidParameterError(
                f"scorers must be mlnb.genai scorers or functions, not {type(item).__name__}.")
    names = [s.name for s in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidParameterError(
            f"Two scorers are named {twice}; give one another name (e.g. RegexMatch(..., "
            "name='has_date')).")
    return found


def prompt_versions(prompt: Any) -> list[PromptVersion]:
    """The prompt versions ``prompt=`` names: a PromptVersion, a ``prompts:/`` URI, or a list.

    :param prompt: what the user passed (None for none).
    """
    items = prompt if isinstance(prompt, (list, tuple)) else [] if prompt is None else [prompt]
    out = []
    for item in items:
        if isinstance(item, PromptVersion):
            out.append(item)
        elif isinstance(item, str):
            loaded = load_prompt(item)
            assert loaded is not None
            out.append(loaded)
        else:
            raise InvalidParameterError(
                f"prompt must be a PromptVersion or a prompts:/ URI, not {type(item).__name__}.")
    return out


# --- scoring ---------------------------------------------------------------------------------


@dataclass
class Scored:
    """One row's call and its scores."""

    row: Row
    feedback: dict[str, Feedback]
    trace_id: str | None = None


def score_row(raw: dict[str, Any], predict_fn: Callable[..., Any] | None,
              scorers: Sequence[Scorer]) -> Scored:
    """Run one row: the call (if any) and every scorer.

    :param raw: the row of data.
    :param predict_fn: the function, or None for precomputed outputs.
    :param scorers: the scorers.
    """
    if predict_fn is not None:
        called = _call_row(predict_fn, raw["inputs"])
    else:
        called = Called(raw.get("outputs"), None, None, usage_tokens(raw.get("outputs")))
    row = Row(raw.get("inputs"), called.output, raw.get("expectations"), called.latency,
              called.tokens, called.error)
    return Scored(row, {s.name: s.score(row) for s in scorers}, called.trace_id)


def run_rows(rows: list[dict[str, Any]], predict_fn: Callable[..., Any] | None,
             scorers: Sequence[Scorer], max_workers: int) -> list[Scored]:
    """Every row, in order; with ``max_workers`` > 1 in threads (each in a copy of this context,
    so prompt loads are still recorded).

    :param rows: the rows.
    :param predict_fn: the function, or None.
    :param scorers: the scorers.
    :param max_workers: threads to run rows in.
    """
    if max_workers <= 1:
        return [score_row(r, predict_fn, scorers) for r in rows]
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mlnb-genai-eval") as pool:
        futures = [pool.submit(contextvars.copy_context().run, score_row, r, predict_fn, scorers)
                   for r in rows]
        return [f.result() for f in futures]


def aggregates(scored: list[Scored], scorers: Sequence[Scorer]) -> dict[str, float]:
    """The metrics: ``<scorer>/<aggregation>``, latency, tokens, error and row counts.

    :param scored: the scored rows.
    :param scorers: the scorers.
    """
    metrics: dict[str, float] = {}
    for s in scorers:
        values = [v for v in (as_number(x.feedback[s.name].value) for x in scored) if v is not None]
        for how in s.aggregations:
            metrics[f"{s.name}/{how}"] = aggregate(values, how)
        errors = sum(1 for x in scored if x.feedback[s.name].error is not None)
        if errors:
            metrics[f"{s.name}/error_count"] = float(errors)
    latencies = [x.row.latency for x in scored if x.row.latency is not None]
    if latencies:
        metrics["latency_seconds/mean"] = aggregate(latencies, "mean")
        metrics["latency_seconds/p90"] = aggregate(latencies, "p90")
        metrics["latency_seconds/total"] = float(sum(latencies))
    tokens = [x.row.tokens for x in scored if x.row.tokens is not None]
    if tokens:
        metrics["tokens/total"] = float(sum(tokens))
        metrics["tokens/mean"] = sum(tokens) / len(tokens)
    metrics["rows/count"] = float(len(scored))
    metrics["rows/error_count"] = float(sum(1 for x in scored if x.row.error is not None))
    return metrics


def results_columns(scored: list[Scored], scorers: Sequence[Scorer]) -> dict[str, list[Any]]:
    """The per-row results, by column.

    :param scored: the scored rows.
    :param scorers: the scorers.
    """
    columns: dict[str, list[Any]] = {
        "inputs": [x.row.inputs for x in scored],
        "outputs": [x.row.outputs for x in scored],
        "expectations": [x.row.expectations for x in scored],
        "error": [x.row.error for x in scored],
        "latency_seconds": [x.row.latency for x in scored],
        "tokens": [x.row.tokens for x in scored],
        "trace_id": [x.trace_id for x in scored],
    }
    for s in scorers:
        columns[f"{s.name}/value"] = [x.feedback[s.name].value for x in scored]
        columns[f"{s.name}/rationale"] = [x.feedback[s.name].rationale for x in scored]
        columns[f"{s.name}/error"] = [x.feedback[s.name].error for x in scored]
    return columns


# --- the public function ------------------------------------------------------------------------


def evaluate(data: Any, scorers: Sequence[Any] | None = None,
             predict_fn: Callable[..., Any] | None = None, model_id: str | None = None, *,
             model: str | None = None, prompt: Any = None, experiment: str | None = None,
             run_name: str | None = None, max_workers: int = 1) -> EvaluationResult:
    """Evaluate a GenAI function (or precomputed outputs) on a dataset with scorers, and log a run.

    Logs into the active run when there is one (unless ``experiment`` or ``run_name`` is given,
    or it holds another evaluation), else into a new run (nested under the active one) that is
    ended afterwards.

    :param data: a pandas DataFrame or a list of dicts: ``inputs`` (a dict of ``predict_fn``'s
        keyword arguments), optional ``expectations``, or precomputed ``outputs``.
    :param scorers: scorers from :mod:`mlnb.genai.scorers`, ``@scorer`` functions, judges made
        with :func:`~mlnb.genai.judges.make_judge`, or plain functions.
    :param predict_fn: any callable, called as ``predict_fn(**inputs)`` once per row; None when
        every row has ``outputs``.
    :param model_id: MLflow's model id (or any name) of what is evaluated; recorded on the run.
    :param model: mlnb-only: the model's name, shown by :func:`mlnb.genai.compare` (default
        ``model_id``).
    :param prompt: mlnb-only: the prompt version(s) evaluated (PromptVersion or ``prompts:/``
        URI), recorded with those ``predict_fn`` loads with :func:`load_prompt`.
    :param experiment: mlnb-only: the experiment's name for a new run (created if missing).
    :param run_name: mlnb-only: a name for the evaluation's run (always a new run).
    :param max_workers: mlnb-only: rows run in this many threads (1: one after another).
    :raises InvalidParameterError: for data, scorers or a ``predict_fn`` that do not fit (before
        anything is logged).
    """
    rows = rows_of(data)
    check_rows(rows, predict_fn)
    checked = check_scorers(scorers)
    if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
        raise InvalidParameterError(f"max_workers must be a positive integer, not {max_workers!r}.")
    given = prompt_versions(prompt)
    run_id, started = _open_run(experiment, run_name)
    status = "FAILED"
    try:  # rows run inside the run, so each row's trace belongs to it
        with recording_loads() as loaded:
            scored = run_rows(rows, predict_fn, checked, max_workers)
        used = list({p.uri: p for p in [*given, *loaded]}.values())
        metrics = aggregates(scored, checked)
        columns = results_columns(scored, checked)
        _log(run_id, metrics, columns, used, model or model_id, model_id)
        status = "FINISHED"
    finally:
        if started:
            fluent.end_run(status)
    return EvaluationResult(run_id, metrics, _frame(columns))


def _frame(columns: dict[str, list[Any]]) -> Any:
    import pandas as pd  # pandas: loaded when an evaluation returns, not by import mlnb

    # Object columns keep each value as the row had it (None stays None, a bool stays a bool);
    # the latency is a float column for arithmetic.
    return pd.DataFrame({name: pd.Series(values, dtype=float if name == "latency_seconds"
                                         else object) for name, values in columns.items()})


def _tags(used: list[PromptVersion], model: str | None, model_id: str | None) -> dict[str, str]:
    tags = {RUN_TYPE_TAG: RUN_TYPE}
    if used:
        tags[LINKED_PROMPTS_TAG] = json.dumps([{"name": p.name, "version": str(p.version)}
                                               for p in used])
        tags[PROMPT_TAG] = ",".join(p.uri for p in used)
    if model:
        tags[MODEL_TAG] = model
    if model_id:
        tags["mlflow.modelId"] = model_id
    return tags


def _open_run(experiment: str | None, run_name: str | None) -> tuple[str, bool]:
    """The evaluation's run: the active one, unless it holds an evaluation already (then a
    nested one) or ``experiment``/``run_name`` ask for a new one. Returns (run id, started)."""
    client = current_client()
    active = fluent.active_run()
    active_is_free = active is not None and RUN_TYPE_TAG not in client.get_run(
        active.info.run_id).data.tags
    if active is not None and active_is_free and experiment is None and run_name is None:
        return active.info.run_id, False
    experiment_id = (client.get_or_create_experiment(experiment).experiment_id
                     if experiment is not None else None)
    started = fluent.start_run(experiment_id=experiment_id, run_name=run_name,
                               nested=active is not None)
    return started.info.run_id, True


def _log(run_id: str, metrics: dict[str, float], columns: dict[str, list[Any]],
         used: list[PromptVersion], model: str | None, model_id: str | None) -> None:
    """Log the evaluation: one log_batch (metrics and tags) and one artifact."""
    client = current_client()
    t = now_ms()
    client.log_batch(run_id, metrics=[Metric(k, v, t, 0) for k, v in metrics.items()],
                     tags=[RunTag(k, v) for k, v in _tags(used, model, model_id).items()])
    client.log_table(run_id, columns, RESULTS_FILE)
