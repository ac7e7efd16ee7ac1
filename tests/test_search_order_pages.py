"""Pages of runs ordered by metrics, params and tags: the same runs, in the same order, whatever
the page size and offset, as an independent sort of every run says (numbers, then NaN, then
runs without the key; ties by the next terms, then newest first, then run id)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import open_uri

from mlnb.entities import Metric, Param, Run, RunTag
from mlnb.store import Store

pytestmark = pytest.mark.both_backends

RUNS = 45


@pytest.fixture(scope="module")
def store(module_store_uri: str) -> Iterator[Store]:
    s = open_uri(module_store_uri)
    rng = random.Random(12)
    for i in range(RUNS):
        run_id = s.create_run("0", start_time=1_000 + rng.randrange(10)).run_id
        metrics = []
        for key in ("a", "b"):
            roll = rng.random()
            if roll < 0.6:
                metrics.append(Metric(key, float(rng.randrange(5)), 1, 0))
            elif roll < 0.8:
                metrics.append(Metric(key, math.nan, 1, 0))
        params = [Param("p", rng.choice(["x", "y", "z"]))] if rng.random() < 0.7 else []
        tags = [RunTag("t", rng.choice(["k", "l"]))] if rng.random() < 0.5 else []
        s.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        if i % 9 == 0:
            s.set_run_lifecycle(run_id, "deleted")
    yield s
    s.close()


def _term_key(run: Run, term: str) -> tuple[Any, ...]:
    field, _, direction = term.partition(" ")
    entity, key = field.split(".")
    descending = direction == "DESC"
    values: dict[str, Any] = {"metrics": run.data.metrics, "params": run.data.params,
                              "tags": run.data.tags}[entity]
    if key not in values:
        return (2, 0)
    value = values[key]
    if isinstance(value, float) and math.isnan(value):
        return (1, 0)
    if isinstance(value, float):
        return (0, -value if descending else value)
    return (0, _Reversed(value) if descending else value)


class _Reversed:
    def __init__(self, text: str) -> None:
        self.text = text

    def __lt__(self, other: _Reversed) -> bool:
        return self.text > other.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.text == other.text


def _expected(store: Store, order_by: list[str], flt: str | None) -> list[str]:
    runs = store.search_runs(["0"], flt, max_results=1000)  # default order: newest, then id
    runs.sort(key=lambda r: r.info.run_id)
    runs.sort(key=lambda r: -r.info.start_time)
    for term in reversed(order_by):  # stable sorts, last term first
        runs.sort(key=lambda r, t=term: _term_key(r, t))  # type: ignore[misc]
    return [r.info.run_id for r in runs]


ORDERS = [["metrics.a DESC"], ["metrics.a ASC"], ["metrics.a DESC", "metrics.b ASC"],
          ["params.p ASC"], ["params.p DESC", "metrics.a DESC"], ["tags.t DESC", "params.p ASC"],
          ["metrics.b ASC", "metrics.b DESC"]]


@pytest.mark.parametrize("order_by", ORDERS)
@pytest.mark.parametrize("flt", [None, "metrics.a >= 1 or params.p = 'x'"])
def test_every_page_matches_a_sort_of_all_runs(store: Store, order_by: list[str],
                                               flt: str | None) -> None:
    expected = _expected(store, order_by, flt)
    assert len(expected) > 10
    for limit in (1, 7, 50):
        for offset in (0, 3, 11, 25, len(expected) - 2, len(expected) + 5):
            page = store.search_runs(["0"], flt, max_results=limit, order_by=order_by,
                                     offset=offset)
            assert [r.info.run_id for r in page] == expected[offset:offset + limit], \
                (order_by, flt, limit, offset)


@pytest.mark.parametrize("flt", [
    None, "params.p = 'x'", "params.p = 'x' and metrics.a > 1", "metrics.a = 2", "metrics.a != 2",
    "metrics.a <= 3 and metrics.b > 0", "tags.t = 'k' or params.p = 'y'",
    "metrics.a >= 0 and tags.t = 'k' and params.p != 'z'", "params.p = 'x' and not metrics.b < 3",
    "params.p = 'nothing'", "metrics.a > 1 and params.p IN ('x', 'y')",
])
@pytest.mark.parametrize("view", [1, 2, 3])
def test_counts_match_the_runs_a_search_returns(store: Store, flt: str | None, view: int) -> None:
    # A count may start from an index of one comparison; it must count what the search returns.
    assert store.count_runs(["0"], flt, view) == len(store.search_runs(["0"], flt, view, 1000))


def test_newest_first_pages_across_experiments_and_stages(store_uri: str) -> None:
    s = open_uri(store_uri)
    rng = random.Random(5)
    experiments = ["0", s.create_experiment("b"), s.create_experiment("c")]
    everything = []
    for i in range(60):
        info = s.create_run(rng.choice(experiments), start_time=1_000 + rng.randrange(8))
        s.log_batch(info.run_id, params=[Param("p", rng.choice("xy"))])
        if i % 4 == 0:
            s.set_run_lifecycle(info.run_id, "deleted")
        everything.append(info)
    try:
        for view, stages in ((1, {"active"}), (3, {"active", "deleted"})):
            for flt in (None, "params.p = 'x'"):
                matching = {r.info.run_id for r in s.search_runs(experiments, flt, view, 1000)}
                assert len(matching) == s.count_runs(experiments, flt, view)  # none left out
                expected = [i.run_id for i in sorted(
                    (i for i in everything if i.run_id in matching),
                    key=lambda i: (-i.start_time, i.run_id))]
                assert len(expected) > 10 and {s.get_run(r).info.lifecycle_stage
                                               for r in expected} == stages
                for limit, offset in ((5, 0), (7, 4), (50, 0), (3, len(expected) - 1),
                                      (10, 30_000)):
                    page = s.search_runs(experiments, flt, view, limit, offset=offset)
                    assert [r.info.run_id for r in page] == expected[offset:offset + limit]
    finally:
        s.close()
