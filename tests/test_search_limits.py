"""Filters too deep or too long get a FilterSyntaxError naming the limit, never a RecursionError or
SQLite's "Expression tree is too large" / "parser stack overflow"; huge offsets are refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlnb.entities import Metric
from mlnb.errors import FilterSyntaxError, InvalidParameterError
from mlnb.store import Store
from mlnb.store.search import MAX_COMPARISONS, MAX_NESTING, parse_filter

pytestmark = pytest.mark.both_backends

CMP = "metrics.a>0"
HOSTILE = {
    "parens": "(" * 400 + CMP + ")" * 400,
    "or-chain": " or ".join([CMP] * 1200),
    "and-chain": " and ".join([CMP] * 1200),
    "nots": "not " * 300 + CMP,
}


@pytest.fixture
def runs(store: Store) -> tuple[Store, str, list[str]]:
    eid = store.create_experiment("limits")
    ids = []
    for i in range(3):
        info = store.create_run(eid, run_name=f"r{i}")
        store.log_batch(info.run_id, metrics=[Metric("a", float(i), 1000, 0)])
        ids.append(info.run_id)
    return store, eid, ids


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_parser_names_the_limit_and_position(name: str) -> None:
    text = HOSTILE[name]
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    message = str(caught.value)
    assert "at most" in message and "position" in message, message
    assert caught.value.position is not None and 0 < caught.value.position < len(text)
    assert len(message) < 600  # the error quotes the place, not all 20 kB of the filter


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_store_search_runs_refuses_hostile_filters(runs: tuple[Store, str, list[str]], name: str) -> None:
    store, eid, _ = runs
    with pytest.raises(FilterSyntaxError):
        store.search_runs([eid], HOSTILE[name])
    with pytest.raises(FilterSyntaxError):
        store.count_runs([eid], HOSTILE[name])


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_fluent_search_runs_refuses_hostile_filters(tracking: Any, name: str) -> None:
    import mlnb

    with mlnb.start_run():
        mlnb.log_metric("a", 1.0)
    with pytest.raises(InvalidParameterError, match="at most"):
        mlnb.search_runs(filter_string=HOSTILE[name], output_format="list")


def test_limit_boundaries(runs: tuple[Store, str, list[str]]) -> None:
    """The largest allowed filters run against a real store and give the right answer."""
    store, eid, ids = runs
    widest = " or ".join([CMP] * MAX_COMPARISONS)  # metrics.a > 0: runs r1 and r2
    assert {r.info.run_id for r in store.search_runs([eid], widest)} == set(ids[1:])
    assert len(store.search_runs([eid], " and ".join([CMP] * MAX_COMPARISONS))) == 2
    with pytest.raises(FilterSyntaxError, match=f"at most {MAX_COMPARISONS} comparisons"):
        store.search_runs([eid], " or ".join([CMP] * (MAX_COMPARISONS + 1)))
    deepest = "(" * MAX_NESTING + CMP + ")" * MAX_NESTING
    assert len(store.search_runs([eid], deepest)) == 2
    with pytest.raises(FilterSyntaxError, match=f"at most {MAX_NESTING} levels"):
        store.search_runs([eid], "(" + deepest + ")")
    nots = "not " * MAX_NESTING + CMP  # an even number of NOTs: the same runs
    assert len(store.search_runs([eid], nots)) == (2 if MAX_NESTING % 2 == 0 else 1)
    with pytest.raises(FilterSyntaxError, match=f"at most {MAX_NESTING} levels"):
        store.search_runs([eid], "not " + nots)


def test_worst_case_shape_stays_within_sqlite_limits(runs: tuple[Store, str, list[str]]) -> None:
    """Every level a NOT and a parenthesised OR/AND chain, all comparisons spent: SQLite's
    expression depth and parser stack are reached by neither the deepest nor the widest shape."""
    store, eid, _ = runs
    levels = MAX_NESTING // 2  # 'not (' is two levels
    per_level = MAX_COMPARISONS // (levels + 1)
    chain = " or ".join(["metrics.a < -1"] * (per_level - 1))
    text = CMP
    for _ in range(levels):
        text = f"not ({chain} and {CMP} or {text})"
    # NOT(... or x) with x true is false; an even number of levels gives back 'metrics.a > 0'.
    found = store.search_runs([eid], text)
    assert len(found) == (2 if levels % 2 == 0 else 1)
    assert store.count_runs([eid], text) == len(found)


def test_staircase_of_equal_height_operands(runs: tuple[Store, str, list[str]]) -> None:
    """At each level the deep operand has a sibling as deep: the worst order for the parser."""
    store, eid, _ = runs

    def chain(height: int) -> str:
        text = CMP
        for _ in range(height):
            text = f"(metrics.a < -1 or {text})"
        return text

    text, levels = CMP, 0
    while True:
        bigger = f"not ({chain(levels + 1)} and {text})"
        try:
            parse_filter(bigger)
        except FilterSyntaxError:
            break
        text, levels = bigger, levels + 1
    assert levels >= 10
    assert len(store.search_runs([eid], text)) in (1, 2)


def test_in_list_size_is_capped(runs: tuple[Store, str, list[str]]) -> None:
    store, eid, _ = runs
    huge = "params.x IN (" + ", ".join(f"'{i}'" for i in range(40_000)) + ")"
    with pytest.raises(FilterSyntaxError, match="at most"):
        store.search_runs([eid], huge)


@pytest.mark.parametrize("offset", [10**23, 2**63, -(10**23)])
def test_huge_offset_is_invalid_parameter(runs: tuple[Store, str, list[str]], offset: int) -> None:
    store, eid, _ = runs
    if offset < 0:
        assert store.search_runs([eid], offset=offset) == store.search_runs([eid])  # as before
        return
    with pytest.raises(InvalidParameterError, match="offset"):
        store.search_runs([eid], offset=offset)
    with pytest.raises(InvalidParameterError, match="offset"):
        store.search_registered_models(None, 10, None, offset)
    with pytest.raises(InvalidParameterError, match="offset"):
        store.search_model_versions(None, 10, None, offset)


def test_huge_page_token_is_invalid_parameter(runs: tuple[Store, str, list[str]]) -> None:
    from mlnb.tracking.client import MlnbClient

    store, eid, _ = runs
    client = MlnbClient(store.location.uri)
    with pytest.raises(InvalidParameterError):
        client.search_registered_models(page_token="9" * 30)
    with pytest.raises(InvalidParameterError):
        client.search_runs([eid], page_token="9" * 30)


def test_a_hand_built_tree_too_deep_is_a_filter_error() -> None:
    from mlnb.store.runs import RUN_SCHEMA
    from mlnb.store.search import BoolOp, Not, compile_filter

    node: Any = parse_filter(CMP)
    for _ in range(5000):
        node = Not(BoolOp("AND", (node, parse_filter(CMP))))  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError, match="too deeply nested"):
        compile_filter(node, RUN_SCHEMA)


# Each search with its formerly-crashing number of key-value order terms (31 LEFT JOINs killed the
# process with a segmentation fault in SQLite 3.40.1): run in a subprocess, so that a crash shows
# up as a failed test rather than the end of pytest.
_ORDER_BY_SCRIPT = """
import sys
from pathlib import Path
from mlnb.entities import Metric, Param
from mlnb.errors import MlnbError
from mlnb.store import Store, StoreLocation

root = Path(sys.argv[1])
store = Store(StoreLocation(root / "mlnb.db", root / "artifacts"))
eid = store.create_experiment("x")
store.set_experiment_tag(eid, "t0", "v")
info = store.create_run(eid, run_name="r")
store.log_batch(info.run_id, metrics=[Metric(f"m{i}", 1.0, 1000, 0) for i in range(40)],
                params=[Param(f"p{i}", "1") for i in range(40)])
store.create_registered_model("model")
store.create_model_version("model", f"runs:/{info.run_id}/model", tags={"t0": "v"})
shapes = {
    "run metrics": lambda n: store.search_runs([eid], order_by=[f"metrics.m{i}" for i in range(n)]),
    "run params": lambda n: store.search_runs([eid], order_by=[f"params.p{i} DESC" for i in range(n)]),
    "one metric repeated": lambda n: store.search_runs([eid], order_by=["metrics.m0"] * n),
    "experiment tags": lambda n: store.search_experiments(order_by=[f"tags.t{i}" for i in range(n)]),
    "model tags": lambda n: store.search_registered_models(order_by=[f"tags.t{i}" for i in range(n)]),
    "version tags": lambda n: store.search_model_versions(order_by=[f"tags.t{i}" for i in range(n)]),
}
for name, search in shapes.items():
    print(name, "allowed:", len(search(int(sys.argv[2]))), flush=True)
    for n in (31, 32, 40, 63):
        try:
            search(n)
            print(name, n, "no error", flush=True)
        except MlnbError as exc:
            print(name, n, type(exc).__name__, str(exc).splitlines()[0], flush=True)
"""


def test_many_order_terms_are_a_clean_error_not_a_crash(tmp_path: Path) -> None:
    from mlnb.store.search import MAX_ORDER_TERMS

    result = subprocess.run(
        [sys.executable, "-c", _ORDER_BY_SCRIPT, str(tmp_path / "store"), str(MAX_ORDER_TERMS)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr[-2000:])
    names = ["run metrics", "run params", "one metric repeated", "experiment tags", "model tags",
             "version tags"]
    expected = []
    for name in names:
        expected.append(f"{name} allowed: {2 if name == 'experiment tags' else 1}")
        expected += [f"{name} {n} FilterSyntaxError Too many order-by terms: at most "
                     f"{MAX_ORDER_TERMS}, not {n}. Order by fewer fields." for n in (31, 32, 40, 63)]
    assert result.stdout.splitlines() == expected


def test_order_by_same_field_twice_is_joined_once(runs: tuple[Store, str, list[str]]) -> None:
    from mlnb.store.runs import RUN_SCHEMA
    from mlnb.store.search import MAX_ORDER_TERMS, compile_order_by, parse_order_by

    store, eid, ids = runs
    terms = parse_order_by(["metrics.a DESC", "metrics.a ASC", "attributes.run_name"])
    compiled = compile_order_by(terms, RUN_SCHEMA)
    assert compiled.joins.count("LEFT JOIN") == 1 and compiled.join_params == ["a"]
    # The second term cannot change the order: the first direction wins.
    found = store.search_runs([eid], order_by=["metrics.a DESC", "metrics.a ASC"])
    assert [r.info.run_id for r in found] == ids[::-1]
    # A hand-built term list past the parser's cap is refused too.
    many = parse_order_by([f"metrics.k{i}" for i in range(MAX_ORDER_TERMS)]) * 2
    assert len(compile_order_by(many, RUN_SCHEMA).join_params) == MAX_ORDER_TERMS
    wide = many + parse_order_by(["params.extra"])
    with pytest.raises(FilterSyntaxError, match=f"at most {MAX_ORDER_TERMS}"):
        compile_order_by(wide, RUN_SCHEMA)
