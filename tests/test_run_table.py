"""mlnb.search_runs' DataFrame, built column by column, equals the one built run by run, whichever
way the store reads the runs' values (whole tables, joined to the search, or by id)."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

import mlnb
from mlnb.entities import Metric, Param, RunTag
from mlnb.tracking.frames import runs_to_frame

pytestmark = pytest.mark.both_backends


@pytest.fixture
def client(store_uri: str) -> mlnb.MlnbClient:
    mlnb.set_tracking_uri(store_uri)
    c = mlnb.MlnbClient()
    rng = random.Random(3)
    for experiment, count in (("0", 40), (c.create_experiment("other"), 12)):
        for i in range(count):
            run_id = c.create_run(experiment).info.run_id
            c.log_batch(run_id, metrics=[Metric("m", math.nan if i % 7 == 0 else rng.random(), 1, 0)]
                        * (i % 5 != 0),
                        params=[Param("p", rng.choice("xyz")), Param(f"only{i % 3}", "1"),
                                Param(f"in-{experiment}", "1")],
                        tags=[RunTag("t", str(i))])
            if i % 9 == 0:
                c.delete_run(run_id)
    return c


@pytest.mark.parametrize(("experiments", "flt", "max_results"), [
    (["0", "1"], "", 1000),  # most of the store: tables read straight through
    (["0"], "", 1000),  # most of it, read the same way: the other runs' values left out
    (["0"], "params.p = 'x'", 1000),  # a part of it: values joined to the search
    (["0", "1"], "", 25),  # a search cut short: values read by run id
    (["1"], "metrics.m > 0.5", 5),
])
def test_columns_equal_the_frame_built_run_by_run(client: mlnb.MlnbClient, experiments: list[str],
                                                  flt: str, max_results: int) -> None:
    frame = mlnb.search_runs(experiment_ids=experiments, filter_string=flt,
                             max_results=max_results, order_by=["params.p DESC"])
    runs = mlnb.search_runs(experiment_ids=experiments, filter_string=flt, max_results=max_results,
                            order_by=["params.p DESC"], output_format="list")
    expected = runs_to_frame(runs)
    assert len(frame) == len(runs) > 0
    assert {f"params.in-{e}" for e in experiments} <= set(frame.columns)
    assert not {"params.in-0", "params.in-1"} - {f"params.in-{e}" for e in experiments} \
        & set(frame.columns)
    pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize("experiments", [["0", "1"], ["1"]])
@pytest.mark.sqlite_only  # PostgreSQL's typed columns cannot hold a malformed value
def test_malformed_values_are_left_out_with_a_warning_naming_them(
        client: mlnb.MlnbClient, experiments: list[str]) -> None:
    from mlnb.errors import MalformedRowWarning

    run_id = mlnb.search_runs(experiment_ids=["1"], filter_string="metrics.m >= 0",
                              output_format="list")[0].info.run_id
    with client.store.cx.write() as conn:
        conn.execute("UPDATE params SET value = x'00' WHERE run_id = ? AND key = 'p'", [run_id])
        conn.execute("UPDATE metric_series SET is_nan = 0, value = NULL WHERE run_id = ?", [run_id])
    with pytest.warns(MalformedRowWarning) as caught:
        frame = mlnb.search_runs(experiment_ids=experiments)
    said = " ".join(str(w.message) for w in caught)
    assert f"param 'p' of run {run_id}" in said and f"metric 'm' of run {run_id}" in said
    row = frame[frame["run_id"] == run_id].iloc[0]
    assert pd.isna(row["params.p"]) and math.isnan(row["metrics.m"])
    assert frame["params.p"].notna().sum() == len(frame) - 1
