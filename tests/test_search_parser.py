"""The search grammar: every operator and form, errors with positions, and injection attempts."""

from __future__ import annotations

import pytest

from mlnb.entities import Metric, Param, RunTag
from mlnb.errors import FilterSyntaxError
from mlnb.store import Store
from mlnb.store.search import BoolOp, Comparison, Not, parse_filter, parse_order_by


def one(text: str) -> Comparison:
    node = parse_filter(text)
    assert isinstance(node, Comparison)
    return node


@pytest.mark.parametrize(
    ("text", "entity", "key", "op", "value"),
    [
        ("metrics.acc > 0.9", "metrics", "acc", ">", 0.9),
        ("metrics.acc >= 1", "metrics", "acc", ">=", 1),
        ("metrics.loss < -1e-3", "metrics", "loss", "<", -0.001),
        ("metrics.loss <= .5", "metrics", "loss", "<=", 0.5),
        ("metrics.loss = 2", "metrics", "loss", "=", 2),
        ("metrics.loss == 2", "metrics", "loss", "=", 2),
        ("metrics.loss != 2", "metrics", "loss", "!=", 2),
        ("metrics.loss <> 2", "metrics", "loss", "!=", 2),
        ("params.lr = '0.01'", "params", "lr", "=", "0.01"),
        ('params.lr = "0.01"', "params", "lr", "=", "0.01"),
        ("param.lr != 'x'", "params", "lr", "!=", "x"),
        ("tags.model LIKE 'res%'", "tags", "model", "LIKE", "res%"),
        ("tag.model ILIKE '%NET'", "tags", "model", "ILIKE", "%NET"),
        ("tags.model NOT LIKE 'a_c'", "tags", "model", "NOT LIKE", "a_c"),
        ("attributes.run_name = 'base'", "attributes", "run_name", "=", "base"),
        ("attributes.status = 'FINISHED'", "attributes", "status", "=", "FINISHED"),
        ("attributes.start_time > 1700000000000", "attributes", "start_time", ">", 1700000000000),
        ("attribute.end_time <= 5", "attributes", "end_time", "<=", 5),
        ("attr.run_id = 'abc'", "attributes", "run_id", "=", "abc"),
        ("run_name = 'bare'", "attributes", "run_name", "=", "bare"),
        ("params.`my key` = 'v'", "params", "my key", "=", "v"),
        ('params."my.dotted key" = \'v\'', "params", "my.dotted key", "=", "v"),
        ("`params.with space` = 'v'", "params", "with space", "=", "v"),
        ('"metrics.a.b" > 0', "metrics", "a.b", ">", 0),
        ("metrics.`val/loss` < 1", "metrics", "val/loss", "<", 1),
        ("params.s = 'it''s'", "params", "s", "=", "it's"),
        ("params.s = 'it\\'s'", "params", "s", "=", "it's"),
        ("METRICS.acc > 0", "metrics", "acc", ">", 0),
        ("metrics.acc>0", "metrics", "acc", ">", 0),
    ],
)
def test_comparisons(text: str, entity: str, key: str, op: str, value: object) -> None:
    node = one(text)
    assert (node.field.entity, node.field.key, node.op, node.value) == (entity, key, op, value)


def test_in_and_not_in() -> None:
    node = one("params.opt IN ('adam', 'sgd')")
    assert node.op == "IN" and node.value == ("adam", "sgd")
    node = one("attributes.run_id not in ('a','b', \"c\")")
    assert node.op == "NOT IN" and node.value == ("a", "b", "c")
    assert one("tags.t IN ('only')").value == ("only",)


def test_is_null_and_is_not_null() -> None:
    assert one("metrics.acc IS NULL").op == "IS NULL"
    assert one("params.lr is not null").op == "IS NOT NULL"
    assert one("attributes.end_time IS NULL").value is None


def test_and_or_not_and_parentheses_precedence() -> None:
    node = parse_filter("metrics.a > 1 and metrics.b > 2 or not params.c = 'x'")
    assert isinstance(node, BoolOp) and node.op == "OR"
    left, right = node.children
    assert isinstance(left, BoolOp) and left.op == "AND" and len(left.children) == 2
    assert isinstance(right, Not) and isinstance(right.child, Comparison)
    grouped = parse_filter("metrics.a > 1 AND (metrics.b > 2 OR metrics.c > 3)")
    assert isinstance(grouped, BoolOp) and grouped.op == "AND"
    assert isinstance(grouped.children[1], BoolOp) and grouped.children[1].op == "OR"
    nested = parse_filter("not (metrics.a > 1 and (params.b = 'x'))")
    assert isinstance(nested, Not)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_blank_filter_is_none(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("metrics.acc >", 13, "end of the filter"),
        ("metrics.acc > 0.9 and", 21, "end of the filter"),
        ("metrics.acc 0.9", 12, "'0.9'"),
        ("metrics.acc > 0.9 params.lr = '1'", 18, "'params.lr'"),
        ("foo.acc > 1", 0, "'foo.acc'"),
        ("metrics.acc > > 1", 14, "'>'"),
        ("(metrics.acc > 1", 16, "')'"),
        ("metrics.acc > 1)", 15, "')'"),
        ("params.x = 'unterminated", 11, "\"'\""),
        ("params.x IN 'a'", 12, "\"'a'\""),
        ("params.x IN ('a' 'b')", 17, "\"'b'\""),
        ("params.x IS 'a'", 12, "IS"),
        ("metrics.a > 1 and or metrics.b > 1", 18, "'or'"),
        ("params.x LIKE 5", 14, "'5'"),
        ("metrics. > 1", 0, "'metrics.'"),
        ("params.x = 'a' ; DROP TABLE runs", 15, "';'"),
    ],
)
def test_malformed_filters_name_token_and_position(text: str, position: int, token: str) -> None:
    with pytest.raises(FilterSyntaxError) as err:
        parse_filter(text)
    assert err.value.position == position
    message = str(err.value)
    if token != "IS":
        assert token in message, message
    # The message shows the filter with a caret under the offending position.
    lines = message.splitlines()
    assert lines[-2].strip() == text.strip() or lines[-2] == f"  {text}"
    assert lines[-1] == "  " + " " * position + "^"


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("attributes.colour = 'red'", "Unknown attribute 'colour'"),
        ("metrics.acc LIKE 'a%'", "LIKE does not apply to numbers"),
        ("metrics.acc > 'high'", "Expected a number"),
        ("attributes.start_time LIKE '1%'", "LIKE does not apply to numbers"),
        ("params.lr IS NULL and attributes.status > 'A'", "> does not apply to text"),
    ],
)
def test_semantic_errors_are_filter_syntax_errors(store: Store, text: str, word: str) -> None:
    with pytest.raises(FilterSyntaxError, match=word) as err:
        store.search_runs(["0"], filter_string=text)
    assert err.value.position is not None


def test_order_by_parsing() -> None:
    terms = parse_order_by(["metrics.acc DESC", "params.lr", "attributes.start_time asc",
                            "params.`my key` DESC"])
    assert [(t.field.entity, t.field.key, t.ascending) for t in terms] == [
        ("metrics", "acc", False), ("params", "lr", True), ("attributes", "start_time", True),
        ("params", "my key", False)]
    with pytest.raises(FilterSyntaxError, match="ASC or DESC") as err:
        parse_order_by(["metrics.acc DOWN"])
    assert err.value.position == 12
    with pytest.raises(FilterSyntaxError):
        parse_order_by(["metrics.acc DESC extra"])


# --- against a store: values are bound, never spliced into SQL -------------------------------


@pytest.fixture
def three_runs(store: Store) -> dict[str, str]:
    ids = {}
    for name, lr, model, acc in (("a", "0.1", "resnet", 0.7), ("b", "0.01", "ResNet50", 0.9),
                                 ("c", "it's", "vit", 0.8)):
        run_id = store.create_run("0", run_name=name).run_id
        store.log_batch(run_id, metrics=[Metric("acc", acc, 1, 0)], params=[Param("lr", lr)],
                        tags=[RunTag("model", model), RunTag("my key", name)])
        ids[name] = run_id
    return ids


def names(store: Store, text: str) -> list[str]:
    return sorted(r.info.run_name for r in store.search_runs(["0"], filter_string=text))


def test_every_form_against_real_runs(store: Store, three_runs: dict[str, str]) -> None:
    assert names(store, "metrics.acc > 0.75") == ["b", "c"]
    assert names(store, "metrics.acc > 0.75 or params.lr = '0.1'") == ["a", "b", "c"]
    assert names(store, "not metrics.acc > 0.75") == ["a"]
    assert names(store, "(metrics.acc < 0.75 or metrics.acc > 0.85) and tags.model LIKE 'res%'") == [
        "a"]
    assert names(store, "tags.model ILIKE 'res%'") == ["a", "b"]
    assert names(store, "tags.model LIKE '%Net%'") == ["b"]
    assert names(store, "tags.model LIKE 'v_t'") == ["c"]
    assert names(store, "tags.`my key` = 'b'") == ["b"]
    assert names(store, "params.lr = 'it''s'") == ["c"]
    assert names(store, "params.lr > 0.05") == ["a"]
    assert names(store, "params.lr IN ('0.1', '0.01')") == ["a", "b"]
    assert names(store, "params.lr NOT IN ('0.1')") == ["b", "c"]
    assert names(store, "params.missing IS NULL") == ["a", "b", "c"]
    assert names(store, "params.lr IS NOT NULL and metrics.acc IS NOT NULL") == ["a", "b", "c"]
    assert names(store, f"attributes.run_id = '{three_runs['a']}'") == ["a"]
    assert names(store, "attributes.status = 'RUNNING'") == ["a", "b", "c"]
    assert names(store, "attributes.end_time IS NULL") == ["a", "b", "c"]
    assert names(store, "attributes.start_time > 0") == ["a", "b", "c"]
    assert names(store, "run_name != 'a'") == ["b", "c"]


@pytest.mark.parametrize(
    "text",
    [
        "params.lr = 'a'' OR 1=1 --'",
        "params.lr = '0.1'' OR ''1''=''1'",
        "params.lr = \"x\"\" OR 1=1 --\"",
        "tags.`model'; DROP TABLE runs; --` = 'x'",
        "params.\"lr' OR '1'='1\" = '0.1'",
        "tags.model LIKE '%'' OR 1=1 --'",
        "params.lr IN ('x'') OR 1=1 --')",
        "attributes.run_name = 'a' AND params.`a\"b` = 'c'",
    ],
)
def test_injection_attempts_match_nothing(store: Store, three_runs: dict[str, str], text: str) -> None:
    assert names(store, text) == []
    assert store.count_runs(["0"]) == 3
    assert {r[0] for r in store.cx.query("SELECT name FROM sqlite_master WHERE type='table'")} >= {
        "runs", "params", "tags", "metric_series", "metric_chunks", "metric_tail"}


def test_percent_and_underscore_and_glob_chars_are_literal_in_like(store: Store) -> None:
    run_id = store.create_run("0", run_name="x").run_id
    store.log_batch(run_id, tags=[RunTag("p", "a*b?[c]")])
    assert names(store, "tags.p LIKE 'a*b?[c]'") == ["x"]
    assert names(store, "tags.p LIKE 'aXb?[c]'") == []
    assert names(store, "tags.p LIKE 'a_b_[c]'") == ["x"]


def test_order_by_errors_point_into_the_clause(store):
    with pytest.raises(FilterSyntaxError) as caught:
        store.search_runs(["0"], order_by=["metrics.acc DESC", "bogus"])
    assert "Unknown attribute 'bogus'" in str(caught.value)
    assert str(caught.value).endswith("\n  bogus\n  ^")
