"""Each metric's min and max, aggregated in SQL (``Store.metric_extremes``): over packed chunks
and tail rows, NaN ignored, and for chunks written before migration ``0015_chunk_extremes``
(filled from their summaries when the store is opened)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from old_stores import add_run, store_before

from mlnb.entities import Metric
from mlnb.store import Store, StoreLocation, point_codec


def test_chunks_written_before_the_migration_get_their_extremes(tmp_path: Path) -> None:
    cx = store_before(tmp_path, "0015_chunk_extremes")
    run_id = add_run(cx)
    series = {}
    for key, values in (("wave", [math.sin(i / 7) * 3 for i in range(500)]),
                        ("nan", [float("nan")] * 200)):
        series[key] = values
        series_id = cx.execute(
            "INSERT INTO metric_series (run_id, key, value, is_nan, step, timestamp) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING series_id",
            [run_id, key, None, 1, len(values) - 1, 1000]).fetchone()[0]
        packed = point_codec.pack(list(range(len(values))), [1000] * len(values), values)
        cx.execute("INSERT INTO metric_chunks (series_id, points, min_step, max_step, in_step_order, "
                   "summary, steps, timestamps, vals) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [series_id, packed.points, packed.min_step, packed.max_step, 1, packed.summary,
                    packed.steps, packed.timestamps, packed.values])
    cx.close()
    store = Store(StoreLocation(tmp_path / "mlnb.db", tmp_path / "artifacts"))  # migrates
    found = store.metric_extremes([run_id])[run_id]
    assert found["wave"] == (min(series["wave"]), max(series["wave"]))
    assert found["nan"] == (None, None)


@pytest.mark.both_backends
def test_min_and_max_over_chunks_and_tail(store: Store) -> None:
    eid = store.create_experiment("x")
    run = store.create_run(eid).run_id
    other = store.create_run(eid).run_id
    values = [math.cos(i / 13) for i in range(4500)]  # one batch: packed in two chunks
    store.log_batch(run, metrics=[Metric("m", v, i, i) for i, v in enumerate(values)])
    store.log_batch(run, metrics=[Metric("m", 7.5, 9, 9000), Metric("m", float("nan"), 9, 9001),
                                  Metric("k", -1.0, 0, 0)])
    store.log_batch(other, metrics=[Metric("m", 0.5, 0, 0)])
    assert store.metric_extremes([run, other, "nope"]) == {
        run: {"m": (min(values), 7.5), "k": (-1.0, -1.0)},
        other: {"m": (0.5, 0.5)},
        "nope": {},
    }
    assert store.metric_extremes([run], ["k"]) == {run: {"k": (-1.0, -1.0)}}
