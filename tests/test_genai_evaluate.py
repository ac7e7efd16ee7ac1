"""mlnb.genai.evaluate: rows run and scored, one run logged with the results table and metrics."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.genai import evaluate, load_prompt, register_prompt, scorer
from mlnb.genai.scorers import Contains, ExactMatch, TokenBudget

pytestmark = pytest.mark.both_backends

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Peru": "Lima"}
DATA = [{"inputs": {"country": c}, "expectations": {"expected_response": a}}
        for c, a in CAPITALS.items()]


def capital(country: str) -> str:
    if country == "Peru":
        raise RuntimeError("no idea")
    return CAPITALS[country] if country == "France" else "Kyoto"


def test_rows_scores_metrics_and_one_run(tracking):
    @scorer(aggregations=["mean", "sum"])
    def short(outputs):
        return len(outputs) < 6

    result = evaluate(DATA, scorers=[ExactMatch(), short], predict_fn=capital, model="geo-1")
    df = result.result_df
    assert list(df["outputs"]) == ["Paris", "Kyoto", None]
    assert list(df["exact_match/value"]) == [True, False, None]
    assert df["error"].iloc[2] == "RuntimeError: no idea"
    assert df["exact_match/error"].iloc[2] == "no output to score: predict_fn raised on this row"
    assert (df["latency_seconds"].iloc[:2] >= 0).all()
    assert result.metrics["exact_match/mean"] == 0.5
    assert result.metrics["short/sum"] == 2.0 and result.metrics["rows/error_count"] == 1.0
    run = mlnb.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.runType"] == "genai_evaluate"
    assert run.data.tags["mlnb.genai.model"] == "geo-1"
    assert run.data.metrics["exact_match/mean"] == 0.5
    assert set(run.data.metrics) == set(result.metrics)
    path = mlnb.MlnbClient().download_artifacts(result.run_id, "eval_results_table.json")
    with open(path) as fh:
        table = json.load(fh)
    assert table["columns"][:6] == ["inputs", "outputs", "expectations", "error",
                                    "latency_seconds", "tokens"]
    assert table["data"][1][:3] == [{"country": "Japan"}, "Kyoto", {"expected_response": "Tokyo"}]
    assert mlnb.active_run() is None


def test_precomputed_outputs_dataframe_and_tokens(tracking):
    data = pd.DataFrame({
        "inputs": [{"q": "a"}, {"q": "b"}],
        "outputs": [{"text": "yes", "usage": {"prompt_tokens": 7, "completion_tokens": 5}},
                    {"text": "no", "usage": {"total_tokens": 40}}],
        "expectations": [{"expected_response": "yes"}, float("nan")],
    })
    result = evaluate(data, scorers=[TokenBudget(20), Contains(text="yes")])
    assert list(result.result_df["tokens"]) == [12, 40]
    assert list(result.result_df["token_budget/value"]) == [True, False]
    assert result.metrics["tokens/total"] == 52.0
    assert "latency_seconds/mean" not in result.metrics  # nothing was timed


def test_prompts_loaded_by_predict_fn_are_recorded(tracking):
    register_prompt("geo", "Capital of {{country}}?")
    register_prompt("geo", "Name the capital city of {{country}}.")

    def predict(country: str) -> str:
        prompt = load_prompt("prompts:/geo/2")
        assert prompt is not None
        return prompt.format(country=country)

    result = evaluate(DATA[:2], scorers=[Contains(text="capital")], predict_fn=predict,
                      prompt="prompts:/geo/1")
    tags = mlnb.get_run(result.run_id).data.tags
    assert json.loads(tags["mlflow.linkedPrompts"]) == [{"name": "geo", "version": "1"},
                                                        {"name": "geo", "version": "2"}]
    assert tags["mlnb.genai.prompt"] == "prompts:/geo/1,prompts:/geo/2"


def test_threads_keep_order_and_prompt_records(tracking):
    register_prompt("p", "{{x}}")

    def predict(x: int) -> int:
        load_prompt("p")
        return x * 2

    data = [{"inputs": {"x": i}} for i in range(40)]
    result = evaluate(data, scorers=[scorer(lambda outputs: outputs, name="v")], predict_fn=predict,
                      max_workers=4)
    assert list(result.result_df["outputs"]) == [2 * i for i in range(40)]
    assert mlnb.get_run(result.run_id).data.tags["mlnb.genai.prompt"] == "prompts:/p/1"


def test_active_run_takes_the_evaluation_then_a_nested_run(tracking):
    with mlnb.start_run() as run:
        first = evaluate(DATA[:1], scorers=[ExactMatch()], predict_fn=capital)
        second = evaluate(DATA[:1], scorers=[ExactMatch()], predict_fn=capital)
        named = evaluate(DATA[:1], scorers=[ExactMatch()], predict_fn=capital, run_name="v2")
    assert mlnb.get_run(named.run_id).info.run_name == "v2" and named.run_id != run.info.run_id
    assert first.run_id == run.info.run_id
    assert second.run_id != run.info.run_id
    assert mlnb.get_run(second.run_id).data.tags["mlflow.parentRunId"] == run.info.run_id
    other = evaluate(DATA[:1], scorers=[ExactMatch()], predict_fn=capital, experiment="llm-evals")
    exp = mlnb.get_experiment_by_name("llm-evals")
    assert mlnb.get_run(other.run_id).info.experiment_id == exp.experiment_id


@pytest.mark.parametrize(("data", "kwargs", "message"), [
    ([], {}, "data has no rows"),
    ("rows", {}, "data must be a pandas DataFrame or a list of dicts"),
    ([{"inputs": {"country": "x"}, "answer": 1}], {}, r"unknown field\(s\) \['answer'\]"),
    ([{"inputs": {"country": "x"}}], {"predict_fn": None}, "has no 'outputs' and there is no"),
    ([{"inputs": {"city": "x"}}], {}, r"parameters \(country\) do not fit row 0's inputs \['city'\]"),
    ([{"inputs": "France"}], {}, "must be a dict of predict_fn's keyword arguments"),
    ([{"inputs": {"country": "x"}, "outputs": "y"}], {}, "use one or the other"),
    (DATA, {"scorers": [ExactMatch(), ExactMatch()]}, "Two scorers are named"),
    (DATA, {"scorers": ["exact"]}, "scorers must be mlnb.genai scorers or functions"),
])
def test_mistakes_are_refused_before_anything_is_logged(tracking, data, kwargs, message):
    args = {"predict_fn": capital, "scorers": [ExactMatch()], **kwargs}
    with pytest.raises(InvalidParameterError, match=message):
        evaluate(data, **args)
    assert mlnb.search_runs(search_all_experiments=True, output_format="list") == []


def test_each_row_is_a_trace_of_the_evaluation_run(tracking):
    @mlnb.trace(span_type="LLM")
    def ask(country: str) -> str:
        return capital(country)

    result = evaluate(DATA, scorers=[ExactMatch()], predict_fn=ask, max_workers=2)
    ids = list(result.result_df["trace_id"])
    assert all(i and i.startswith("tr-") for i in ids) and len(set(ids)) == 3
    traces = mlnb.search_traces(run_id=result.run_id, return_type="list")
    assert sorted(t.info.trace_id for t in traces) == sorted(ids)
    peru = mlnb.get_trace(ids[2])
    assert peru.info.state == "ERROR"
    spans = {s.name: s for s in peru.data.spans}
    assert set(spans) == {"predict", "ask"}
    assert spans["ask"].parent_id == spans["predict"].span_id
    assert spans["predict"].inputs == {"country": "Peru"}
    assert mlnb.get_trace(ids[0]).data.spans[0].outputs == "Paris"
