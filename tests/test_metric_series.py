"""Metric series: points packed in chunks and kept in rows, read back exactly, in MLflow's order."""

from __future__ import annotations

import math
import random
from itertools import pairwise
from pathlib import Path

import pytest

from mlnb.entities import Metric
from mlnb.errors import MalformedRowWarning
from mlnb.store import Store, StoreLocation, point_codec
from mlnb.store.metrics import CHUNK_MAX, DIRECT_MIN, END_FOLD, TAIL_FOLD, thin
from mlnb.store.records import MalformedRow

pytestmark = pytest.mark.both_backends

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, 1e-308, -1.5e308, 5e-324, 0.1]


def _run(store: Store) -> str:
    return store.create_run("0").run_id


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def _expected(logged: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """MLflow's order: by step, equal steps in logging order (a stable sort)."""
    return sorted(logged, key=lambda p: p[0])


def _as_tuples(history: list[Metric]) -> list[tuple[int, int, float]]:
    return [(m.step, m.timestamp, m.value) for m in history]


def _assert_history(store: Store, run_id: str, key: str, logged: list[tuple[int, int, float]]) -> None:
    got = _as_tuples(store.get_metric_history(run_id, key))
    want = _expected(logged)
    assert [(s, t) for s, t, _ in got] == [(s, t) for s, t, _ in want]
    assert all(_same(a[2], b[2]) for a, b in zip(got, want, strict=True)), (got[:10], want[:10])
    steps, stamps, values = store.metric_columns(run_id, key)
    assert list(zip(steps, stamps, strict=True)) == [(s, t) for s, t, _ in want]
    assert all(_same(a, b[2]) for a, b in zip(values, want, strict=True))


def _log(store: Store, run_id: str, key: str, points: list[tuple[int, int, float]]) -> None:
    store.log_batch(run_id, metrics=[Metric(key, v, t, s) for s, t, v in points])


@pytest.mark.parametrize("batch", [1, 7, DIRECT_MIN, 2_500])
def test_special_values_round_trip_exactly(store: Store, batch: int) -> None:
    run_id = _run(store)
    logged = [(i, 1_000 + i, SPECIAL[i % len(SPECIAL)]) for i in range(3 * len(SPECIAL) + 50)]
    for start in range(0, len(logged), batch):
        _log(store, run_id, "x", logged[start:start + batch])
    _assert_history(store, run_id, "x", logged)
    store.update_run(run_id, status="FINISHED")  # packs the tail
    _assert_history(store, run_id, "x", logged)


def test_negative_zero_and_huge_steps_in_a_chunk(store: Store) -> None:
    run_id = _run(store)
    extremes = [-(2**63), 2**63 - 1, 0, -1, 2**62]
    logged = [(extremes[i % 5], -(2**40) + i, -0.0 if i % 2 else 0.0) for i in range(DIRECT_MIN)]
    _log(store, run_id, "z", logged)  # one chunk: deltas of these steps overflow 64 bits
    _assert_history(store, run_id, "z", logged)


@pytest.mark.parametrize("batches", [[1] * 40, [3, 250, 1, 1, 400, 2], [TAIL_FOLD + 5]])
def test_repeated_and_out_of_order_steps_keep_mlflows_order(store: Store, batches: list[int]) -> None:
    rng = random.Random(len(batches))
    run_id = _run(store)
    logged = []
    for size in batches:
        points = [(rng.randrange(30), rng.randrange(5), rng.random()) for _ in range(size)]
        _log(store, run_id, "loss", points)
        logged += points
    _assert_history(store, run_id, "loss", logged)
    store.update_run(run_id, status="FINISHED")
    _assert_history(store, run_id, "loss", logged)


def test_latest_value_follows_the_rule_across_rows_and_chunks(store: Store) -> None:
    run_id = _run(store)
    _log(store, run_id, "m", [(5, 100, 1.0)])
    _log(store, run_id, "m", [(i - DIRECT_MIN, 50, 9.0) for i in range(DIRECT_MIN)])  # lower steps
    assert store.get_run(run_id).data.metrics == {"m": 1.0}
    _log(store, run_id, "m", [(5, 100, 0.5), (5, 100, math.nan)])  # tie: the greater value wins
    assert store.get_run(run_id).data.metrics == {"m": 1.0}
    _log(store, run_id, "m", [(5, 101, math.nan)])  # a later time wins, even NaN
    assert math.isnan(store.get_run(run_id).data.metrics["m"])
    _log(store, run_id, "m", [(6, 0, -2.0)] * DIRECT_MIN)
    assert store.get_run(run_id).data.metrics == {"m": -2.0}
    assert store.search_runs(["0"], "metrics.m < -1") != []


def test_small_batches_are_packed_when_the_tail_fills_and_at_the_end(store: Store) -> None:
    run_id = _run(store)
    for i in range(TAIL_FOLD + END_FOLD):
        _log(store, run_id, "a", [(i, i, float(i))])
    for i in range(END_FOLD):
        _log(store, run_id, "b", [(i, i, float(i))])
    _log(store, run_id, "c", [(0, 0, 1.0)])

    def placement(key: str) -> tuple[int, int]:
        return store.cx.query(
            "SELECT (SELECT count(*) FROM metric_chunks c WHERE c.series_id = s.series_id), "
            "(SELECT count(*) FROM metric_tail t WHERE t.series_id = s.series_id) "
            "FROM metric_series s WHERE run_id = ? AND key = ?", [run_id, key])[0]

    assert placement("a") == (1, END_FOLD) and placement("b") == (0, END_FOLD)
    store.update_run(run_id, status="FINISHED")
    assert placement("a") == (2, 0) and placement("b") == (1, 0) and placement("c") == (0, 1)
    assert store.count_points(run_id) == TAIL_FOLD + 2 * END_FOLD + 1
    assert store.count_points(run_id, "b") == END_FOLD


@pytest.mark.sqlite_only
def test_a_long_series_takes_few_bytes_a_point(tmp_path: Path) -> None:
    store = Store(StoreLocation(tmp_path / "mlnb.db", tmp_path / "artifacts"))
    run_id = _run(store)
    store.cx.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = (tmp_path / "mlnb.db").stat().st_size
    rng = random.Random(1)
    for start in range(0, 200_000, 1_000):
        _log(store, run_id, "loss", [(s, 1_700_000_000_000 + 37 * s, rng.random())
                                     for s in range(start, start + 1_000)])
    store.update_run(run_id, status="FINISHED")
    store.cx.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = (tmp_path / "mlnb.db").stat().st_size - before
    store.close()
    assert size / 200_000 < 12  # 8 bytes of value, the rest packed (0.1 took 120)


def test_a_damaged_chunk_is_skipped_with_a_warning_naming_it(store: Store) -> None:
    run_id = _run(store)
    _log(store, run_id, "x", [(i, i, 1.0) for i in range(CHUNK_MAX, CHUNK_MAX + DIRECT_MIN)])
    _log(store, run_id, "x", [(i, i, 2.0) for i in range(DIRECT_MIN)])
    with store.cx.write() as conn:
        conn.execute("UPDATE metric_chunks SET vals = ? WHERE chunk_id = "
                     "(SELECT min(chunk_id) FROM metric_chunks)", [b"\x02\xff\xff"])
    with pytest.warns(MalformedRowWarning,
                      match="a chunk of metric series 1 of the store: a damaged values blob"):
        history = store.get_metric_history(run_id, "x")
    assert [m.value for m in history] == [2.0] * DIRECT_MIN


# --- charts: downsampled reads ------------------------------------------------------------------


def _spiky(count: int, seed: int) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    points = [(i, i, rng.random()) for i in range(count)]
    low, high = rng.randrange(count), rng.randrange(count)
    points[low] = (low, low, -50.0)
    points[high] = (high, high, 75.0)
    return points


@pytest.mark.parametrize(("count", "batch", "shuffle"), [
    (60_000, DIRECT_MIN, False),  # many chunks in step order: drawn from their summaries
    (120_000, 10_000, False),  # few big chunks: drawn from the stretches of their summaries
    (30_000, 500, True),  # out of step order: read whole, then thinned
])
def test_downsampled_read_keeps_the_global_min_and_max(store: Store, count: int, batch: int,
                                                       shuffle: bool) -> None:
    run_id = _run(store)
    points = _spiky(count, count + batch)
    if shuffle:
        random.Random(3).shuffle(points)
    for start in range(0, count, batch):
        _log(store, run_id, "loss", points[start:start + batch])
    _log(store, run_id, "loss", [(count + 5, count + 5, 0.5)])  # a point in the tail
    total, kept = store.sampled_history(run_id, "loss", 2_000)
    assert total == count + 1
    assert 500 <= len(kept) <= 2_000
    values = [m.value for m in kept]
    assert min(values) == -50.0 and max(values) == 75.0
    steps = [m.step for m in kept]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == count + 5
    full = {(m.step, m.timestamp, m.value) for m in store.get_metric_history(run_id, "loss")}
    assert all((m.step, m.timestamp, m.value) in full for m in kept)  # real points, none made up


def test_a_chart_of_many_chunks_reads_their_summaries_alone(store: Store) -> None:
    run_id = _run(store)
    points = _spiky(50_000, 5)
    for start in range(0, len(points), DIRECT_MIN):
        _log(store, run_id, "loss", points[start:start + DIRECT_MIN])
    with store.cx.write() as conn:  # with the points themselves gone, only summaries are left
        conn.execute("UPDATE metric_chunks SET steps = ?, timestamps = ?, vals = ?",
                     [b"\x00", b"\x00", b"\x00"])
    total, kept = store.sampled_history(run_id, "loss", 2_000)
    assert total == 50_000 and 1_000 <= len(kept) <= 2_000
    assert min(m.value for m in kept) == -50.0 and max(m.value for m in kept) == 75.0


def test_a_chart_of_a_few_chunks_in_step_order_is_the_series_thinned(store: Store) -> None:
    """Too few stretches in the summaries: the chunks are unpacked as arrays and thinned, which
    must give exactly the points the point-by-point rule keeps."""
    run_id = _run(store)
    rng = random.Random(11)
    points = [(i, 10 * i + 3, rng.uniform(-1, 1)) for i in range(2 * CHUNK_MAX + 700)]
    for i, special in ((5, math.nan), (4_100, math.inf), (6_000, -math.inf), (7_777, math.nan)):
        points[i] = (i, 10 * i + 3, special)
    _log(store, run_id, "loss", points[:CHUNK_MAX])
    _log(store, run_id, "loss", points[CHUNK_MAX:2 * CHUNK_MAX])
    for start in range(2 * CHUNK_MAX, len(points), 50):  # small batches: these stay in the tail
        _log(store, run_id, "loss", points[start:start + 50])
    full = store.get_metric_history(run_id, "loss")
    total, kept = store.sampled_history(run_id, "loss", 1_000)
    expected = [full[i] for i in thin([m.value for m in full], 1_000)]
    assert total == len(points) and len(kept) == len(expected) < len(points)
    assert [(m.step, m.timestamp) for m in kept] == [(m.step, m.timestamp) for m in expected]
    assert [repr(m.value) for m in kept] == [repr(m.value) for m in expected]
    assert {type(m.step) for m in kept} == {int} and {type(m.value) for m in kept} == {float}
    with store.cx.write() as conn:  # a damaged chunk: skipped with a warning, the rest drawn
        conn.execute("UPDATE metric_chunks SET vals = ? WHERE chunk_id = "
                     "(SELECT min(chunk_id) FROM metric_chunks)", [b"\x02\xff\xff"])
    with pytest.warns(MalformedRowWarning, match="a damaged values blob"):
        total, kept = store.sampled_history(run_id, "loss", 1_000)
    assert total == len(points) - CHUNK_MAX and kept[0].step == CHUNK_MAX


def test_downsampled_read_of_a_short_series_is_the_series(store: Store) -> None:
    run_id = _run(store)
    _log(store, run_id, "acc", [(i, i, math.nan if i == 3 else i / 10) for i in range(50)])
    total, kept = store.sampled_history(run_id, "acc", 100)
    assert total == 50 and _as_tuples(kept)[:3] == [(0, 0, 0.0), (1, 1, 0.1), (2, 2, 0.2)]
    assert math.isnan(kept[3].value)
    assert store.sampled_history(run_id, "absent", 100) == (0, [])
    assert store.metric_histories([run_id], max_points=10)[run_id]["acc"][-1].value == 4.9


def test_thin_keeps_first_last_and_extremes_of_each_stretch() -> None:
    values = [0.0, 5.0, math.nan, -1.0, 2.0, 3.0, 9.0, 1.0]
    assert thin(values, 4) == [0, 3, 6, 7]  # first, lowest (NaN is neither), highest, last
    assert thin(values, 8) == list(range(8))
    assert thin([*values, *values], 8) == [0, 3, 6, 7, 8, 11, 14, 15]


def _thin_by_hand(values: list[float], max_points: int) -> list[int]:
    """What a chart keeps, point by point: per stretch its first, lowest, highest, last."""
    if len(values) <= max_points:
        return list(range(len(values)))
    size = -(-len(values) // max(1, max_points // 4))
    kept: list[int] = []
    for start in range(0, len(values), size):
        end = min(len(values), start + size)
        finite = [i for i in range(start, end) if not math.isnan(values[i])] or [start]
        kept += sorted({start, min(finite, key=lambda i: values[i]),
                        max(finite, key=lambda i: values[i]), end - 1})
    return kept


def test_thin_agrees_with_the_point_by_point_rule_on_nan_and_infinities() -> None:
    rng = random.Random(7)
    special = [math.nan, math.inf, -math.inf, 0.5, 1.0]
    for _ in range(2000):
        values = [rng.choice([*special, rng.random()]) for _ in range(rng.randint(1, 200))]
        max_points = rng.randint(4, 50)
        assert thin(values, max_points) == _thin_by_hand(values, max_points), (values, max_points)


def _drop_points(store: Store) -> None:
    with store.cx.write() as conn:  # with the points themselves gone, only summaries are left
        conn.execute("UPDATE metric_chunks SET steps = ?, timestamps = ?, vals = ?",
                     [b"\x00", b"\x00", b"\x00"])


def test_a_chart_of_few_big_chunks_reads_the_stretches_of_their_summaries(store: Store) -> None:
    # 100,000 steps in chunks of CHUNK_MAX points: too few chunks for 1,000 points a line, but
    # each summary describes its stretches, so the chart needs no point unpacked
    run_id = _run(store)
    points = _spiky(100_000, 11)
    for start in range(0, len(points), 10_000):
        _log(store, run_id, "loss", points[start:start + 10_000])
    _drop_points(store)
    total, kept = store.sampled_history(run_id, "loss", 1_000)
    assert total == 100_000 and 250 <= len(kept) <= 1_000
    assert min(m.value for m in kept) == -50.0 and max(m.value for m in kept) == 75.0
    steps = [m.step for m in kept]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 99_999


def test_summaries_written_before_stretches_still_draw_charts(store: Store) -> None:
    run_id = _run(store)
    points = _spiky(60_000, 13)
    for start in range(0, len(points), DIRECT_MIN):
        _log(store, run_id, "loss", points[start:start + DIRECT_MIN])
    with store.cx.write() as conn:  # an older store: first, last, lowest, highest only
        conn.execute("UPDATE metric_chunks SET summary = substr(summary, 1, 96)")
    _drop_points(store)
    total, kept = store.sampled_history(run_id, "loss", 2_000)
    assert total == 60_000 and min(m.value for m in kept) == -50.0
    assert max(m.value for m in kept) == 75.0


def test_a_summary_describes_the_chunk_and_each_stretch() -> None:
    rng = random.Random(5)
    for _ in range(300):
        count = rng.randint(1, 600)
        values = [rng.choice([math.nan, math.inf, -math.inf, 0.5, rng.random()])
                  for _ in range(count)]
        steps = list(range(count))
        blob = point_codec.pack(steps, [s * 10 for s in steps], values).summary
        finite = [i for i in range(count) if not math.isnan(values[i])]
        low = min(finite, key=lambda i: values[i]) if finite else 0
        high = max(finite, key=lambda i: values[i]) if finite else 0
        whole = point_codec.summary_points(blob)
        assert [p[0] for p in whole] == [0, count - 1, low, high]
        blocks = point_codec.summary_blocks(blob)
        assert 1 <= len(blocks) <= point_codec.SUMMARY_STRETCHES
        assert blocks[0][0][0] == 0 and blocks[-1][1][0] == count - 1
        for a, b in pairwise(blocks):
            assert b[0][0] == a[1][0] + 1  # stretches follow each other, no point left out
        lows = [b[2] for b in blocks if not math.isnan(b[2][2])]
        if lows:
            assert min(p[2] for p in lows) == values[low]


@pytest.mark.parametrize("size", [0, 95, 96 * 2, 96 * 18, 97])
def test_a_summary_of_the_wrong_size_is_a_malformed_row(size: int) -> None:
    with pytest.raises(MalformedRow):
        point_codec.summary_blocks(b"\x00" * size)
