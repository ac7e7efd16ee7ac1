"""Scorers and judges on single rows: deterministic values, rationales and error values."""

from __future__ import annotations

import pytest

from mlnb.errors import InvalidParameterError
from mlnb.genai import Feedback, make_judge, scorer
from mlnb.genai.judges import parse_verdict
from mlnb.genai.scorers import (
    Bleu,
    Contains,
    ExactMatch,
    JsonSchema,
    LatencyBudget,
    LengthBounds,
    RegexMatch,
    RougeL,
    Row,
    TokenBudget,
    ValidJson,
    aggregate,
)


def test_deterministic_builtins():
    exp = {"expected_response": "Paris"}
    assert ExactMatch()(outputs=" Paris ", expectations=exp) is True
    assert ExactMatch()(outputs="paris", expectations=exp) is False
    assert ExactMatch(case_sensitive=False)(outputs="paris", expectations=exp) is True
    assert Contains()(outputs="It is Paris.", expectations=exp) is True
    assert Contains(text="capital")(outputs="It is Paris.") is False
    assert RegexMatch(r"\d{4}-\d{2}")(outputs="due 2024-05") is True
    assert ValidJson()(outputs='{"a": 1}') is True
    bad = ValidJson()(outputs="{a: 1}")
    assert bad.value is False and "not valid JSON" in bad.rationale
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert JsonSchema(schema)(outputs='{"n": 3}') is True
    wrong = JsonSchema(schema)(outputs='{"n": "x"}')
    assert wrong.value is False and wrong.rationale == "at n: 'x' is not of type 'integer'"
    short = LengthBounds(max_length=3, unit="words")(outputs="one two three four")
    assert short.value is False and short.rationale == "4 words; bounds [, 3]"


def test_rouge_and_bleu_come_from_their_libraries():
    from rouge_score import rouge_scorer
    from sacrebleu import sentence_bleu

    ref, out = "the cat sat on the mat", "the cat lay on the mat"
    expected_rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(ref, out)
    assert RougeL()(outputs=out, expectations={"expected_response": ref}) == pytest.approx(
        expected_rouge["rougeL"].fmeasure)
    assert RougeL()(outputs=ref, expectations=ref) == pytest.approx(1.0)
    assert Bleu()(outputs=out, expectations={"expected_response": ref}) == pytest.approx(
        sentence_bleu(out, [ref]).score / 100)
    assert Bleu()(outputs=ref, expectations={"expected_response": [ref, "x"]}) == pytest.approx(1.0)


def test_budgets_read_the_rows_latency_and_tokens():
    assert LatencyBudget(0.5).score(Row(outputs="x", latency=0.2)).value is True
    slow = LatencyBudget(0.5).score(Row(outputs=None, latency=0.9, error="boom"))
    assert slow.value is False and "took 0.9000 s" in slow.rationale
    assert TokenBudget(100).score(Row(outputs="x", tokens=120)).value is False
    unknown = TokenBudget(100).score(Row(outputs="x"))
    assert unknown.value is None and "no token count" in unknown.error


def test_a_row_without_the_expectation_is_an_error_value_not_a_crash():
    feedback = ExactMatch().score(Row(outputs="x", expectations={"answer": "x"}))
    assert feedback.value is None
    assert feedback.error == ("InvalidParameterError: the row's expectations have no "
                              "'expected_response' (they have ['answer'])")


def test_custom_scorers_take_arguments_by_name():
    @scorer
    def shout(outputs):
        return outputs.isupper()

    @scorer(name="overlap", aggregations=["mean", "min"])
    def overlap(inputs, expectations, outputs):
        return Feedback(len(set(outputs) & set(expectations)), rationale=f"q={inputs['q']}")

    assert shout.name == "shout" and shout(outputs="HI") is True
    assert overlap.aggregations == ("mean", "min")
    got = overlap(inputs={"q": 1}, outputs="abc", expectations="bcd")
    assert got == Feedback(2, "q=1")
    with pytest.raises(InvalidParameterError, match="takes 'trace_id'"):
        scorer(lambda outputs, trace_id: 1)
    with pytest.raises(InvalidParameterError, match="Unknown aggregation"):
        scorer(lambda outputs: 1, aggregations=["p99"])
    weird = scorer(lambda outputs: object(), name="weird").score(Row(outputs="x"))
    assert "return a number, a bool, text" in weird.error


def test_aggregations():
    values = [1.0, 2.0, 3.0, 4.0]
    assert [aggregate(values, a) for a in ("mean", "min", "max", "median", "sum", "variance")] == [
        2.5, 1.0, 4.0, 2.5, 10.0, 1.25]
    assert aggregate(values, "p90") == pytest.approx(3.7)


@pytest.mark.parametrize(("reply", "value", "rationale"), [
    ('{"result": "yes", "rationale": "cites the source"}', "yes", "cites the source"),
    ('```json\n{"score": 4, "reason": "mostly"}\n```', 4, "mostly"),
    ("No. It invents a date.", "no", "It invents a date."),
    ("PASS", "yes", None),
    ("3.5 - fair", 3.5, "fair"),
])
def test_judge_verdicts_are_read_from_json_or_text(reply, value, rationale):
    assert parse_verdict(reply) == Feedback(value, rationale)


def test_judge_fills_its_template_and_keeps_unreadable_replies():
    prompts = []

    def model(prompt: str) -> str:
        prompts.append(prompt)
        return "I am not sure what you mean" if "blue" in prompt else '{"result": true}'

    judge = make_judge("Is {{ outputs }} an answer to {{ inputs }}?", model, name="answers")
    assert judge.score(Row(inputs={"q": "sky?"}, outputs="red")).value == "yes"
    assert prompts[0].startswith('Is red an answer to {\n "q": "sky?"\n}?')
    unread = judge.score(Row(inputs={"q": "sky?"}, outputs="blue"))
    assert unread.value is None and unread.rationale == "I am not sure what you mean"
    assert "could not read a verdict" in unread.error
    failing = make_judge("{{ outputs }}", lambda p: 1 / 0).score(Row(outputs="x"))
    assert failing.error == "ZeroDivisionError: division by zero"
    with pytest.raises(InvalidParameterError, match=r"only \{\{ inputs \}\}"):
        make_judge("Rate {{ output }}", model)
    with pytest.raises(InvalidParameterError, match="name nothing to judge"):
        make_judge("Rate it", model)
