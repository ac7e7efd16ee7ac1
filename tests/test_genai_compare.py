"""mlnb.genai.compare: the prompt x model grid, win rates paired by input, promotion, escaping."""

from __future__ import annotations

import math

import pytest

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.genai import compare, evaluate, load_prompt, promote_winner, register_prompt
from mlnb.genai.compare import word_diff_html
from mlnb.genai.scorers import ExactMatch, scorer

pytestmark = pytest.mark.both_backends

DATA = [{"inputs": {"n": i}, "expectations": {"expected_response": str(i)}} for i in range(10)]


def model(wrong: set[int]):
    """A fake model that answers n, except for the inputs in ``wrong``."""
    return lambda text: "x" if int(text.split()[-1]) in wrong else text.split()[-1]


@pytest.fixture
def grid(tracking):
    """Two prompt versions x two fake models, each evaluated on the same 10 inputs."""
    p1 = register_prompt("num", "Say {{n}}")
    p2 = register_prompt("num", "Repeat {{n}}")
    models = {"small": model({0, 1, 2, 3}), "large": model({0})}
    runs = {}
    for prompt in (p1, p2):
        for name, fn in models.items():
            wrong_extra = {5} if prompt.version == 2 else set()

            def predict(n, prompt=prompt, fn=fn, extra=wrong_extra):
                return "x" if n in extra else fn(prompt.format(n=n))

            runs[(prompt.version, name)] = evaluate(
                DATA, scorers=[ExactMatch()], predict_fn=predict, prompt=prompt, model=name).run_id
    return runs


def test_grid_summary_and_win_rates(grid):
    comparison = compare([grid[(1, "small")], grid[(1, "large")], grid[(2, "small")],
                          grid[(2, "large")]])
    assert list(comparison.summary["exact_match/mean"]) == [0.6, 0.9, 0.5, 0.8]
    table = comparison.grid()
    assert table.loc["prompts:/num/1", "large"] == 0.9
    assert table.loc["prompts:/num/2", "small"] == 0.5
    wins = comparison.win_rates.set_index(["run", "other"]).loc[(grid[(1, "large")],
                                                                  grid[(1, "small")])]
    # large beats small on inputs 1, 2, 3 and ties on the other 7.
    assert (wins["pairs"], wins["wins"], wins["ties"], wins["losses"]) == (10, 3, 7, 0)
    assert wins["win_rate"] == pytest.approx(0.65)
    assert wins["ci_low"] <= 0.65 <= wins["ci_high"] and wins["ci_high"] <= 0.85
    assert wins["mean_diff"] == pytest.approx(0.3)
    again = compare([grid[(1, "large")], grid[(1, "small")]]).win_rates
    assert again.iloc[0]["ci_low"] == wins["ci_low"]  # seeded: the same interval each time
    assert comparison.winner().run_id == grid[(1, "large")]


def test_promote_moves_the_alias_to_the_winners_prompt(grid):
    comparison = compare([grid[(2, "large")], grid[(1, "large")]])
    promoted = comparison.promote("production")
    assert promoted.uri == "prompts:/num/1"
    assert load_prompt("prompts:/num@production").version == 1  # type: ignore[union-attr]
    mlnb.genai.set_prompt_alias("num", "staging", 2)
    assert promote_winner(compare([grid[(1, "small")], grid[(2, "large")]]), alias="staging").version == 2
    assert load_prompt("prompts:/num@staging").version == 2  # type: ignore[union-attr]


def test_promote_needs_one_prompt_version(tracking):
    plain = evaluate(DATA[:2], scorers=[ExactMatch()], predict_fn=lambda n: str(n))
    other = evaluate(DATA[:2], scorers=[ExactMatch()], predict_fn=lambda n: "x")
    with pytest.raises(InvalidParameterError, match="used 0 prompt versions"):
        compare([plain, other]).promote()


def test_lower_is_better_and_inputs_missing_from_one_run(tracking):
    cost = scorer(lambda outputs: len(outputs), name="cost")
    a = evaluate(DATA[:4], scorers=[cost], predict_fn=lambda n: "a" * n)
    b = evaluate(DATA[2:6], scorers=[cost], predict_fn=lambda n: "b")
    comparison = compare([a, b], greater_is_better={"cost": False})
    first = comparison.win_rates.iloc[0]
    assert first["pairs"] == 2 and first["losses"] == 2  # a is longer on inputs 2 and 3
    assert comparison.winner().run_id == b.run_id  # mean 1.0 beats 1.5
    assert comparison.outputs.shape == (6, 3)
    assert comparison.outputs[b.run_id].iloc[0] is None


def test_word_diff_marks_changed_words():
    assert word_diff_html("the cat sat", "the dog sat") == (
        'the <del style="background:#fdd">cat</del><ins style="background:#dfd">dog</ins> sat')
    assert word_diff_html("a <b>", "a <b> c") == 'a &lt;b&gt;<ins style="background:#dfd"> c</ins>'


def test_every_user_string_is_escaped(tracking):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    prompt = register_prompt("xss", "{{q}} " + evil)
    runs = [evaluate([{"inputs": {"q": evil}, "expectations": {"expected_response": evil}}],
                     scorers=[ExactMatch()], predict_fn=lambda q, i=i: prompt.format(q=q) + " " * i,
                     prompt=prompt, model=evil + str(i)) for i in range(2)]
    html = compare(runs)._repr_html_()
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 4  # model, input, both outputs


def test_compare_refuses_what_it_cannot_compare(tracking):
    one = evaluate(DATA[:1], scorers=[ExactMatch()], predict_fn=lambda n: "0")
    with pytest.raises(InvalidParameterError, match="at least two"):
        compare([one])
    with mlnb.start_run() as plain:
        pass
    with pytest.raises(InvalidParameterError, match="is not a GenAI evaluation"):
        compare([one, plain.info.run_id])
    with pytest.raises(InvalidParameterError, match="same run twice"):
        compare([one, one.run_id])
    nan = compare([one, evaluate(DATA[:1], scorers=[ExactMatch()], predict_fn=lambda n: "0")])
    assert not math.isnan(nan.win_rates.iloc[0]["win_rate"])
