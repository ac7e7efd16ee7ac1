"""A clock stepped backwards neither changes a run's latest metric nor makes a negative duration
(issue 11, item 13): MLflow's latest-value rule everywhere, a monotonic clock within a process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from old_stores import add_points_v01, add_run, store_before

import mlnb
from mlnb.entities import Metric
from mlnb.store import Store, StoreLocation

ROOT = Path(__file__).resolve().parent.parent
HOUR_S = 3600.0


def test_latest_value_is_max_step_then_timestamp_then_value(store: Store) -> None:
    run_id = store.create_run("0").run_id
    # Logged in this order, across batches and within one: the rule, not the order, decides.
    store.log_batch(run_id, metrics=[Metric("m", 5.0, 2000, 0)])
    store.log_batch(run_id, metrics=[Metric("m", 3.0, 2000, 0)])  # tie: the greater value stays
    store.log_batch(run_id, metrics=[Metric("m", 9.0, 1000, 0)])  # older timestamp: ignored
    store.log_batch(run_id, metrics=[Metric("n", 1.0, 5000, 0), Metric("n", 7.0, 5000, 0),
                                     Metric("n", 4.0, 5000, 0), Metric("n", float("nan"), 5000, 0)])
    store.log_batch(run_id, metrics=[Metric("k", float("nan"), 10, 0)])
    store.log_batch(run_id, metrics=[Metric("k", 2.0, 10, 0)])  # a number beats NaN in a tie
    assert store.get_run(run_id).data.metrics == {"m": 5.0, "n": 7.0, "k": 2.0}
    # Searches filter and sort on the same values.
    other = store.create_run("0").run_id
    store.log_batch(other, metrics=[Metric("m", 4.0, 2000, 0)])
    assert [r.info.run_id for r in store.search_runs(["0"], "metrics.m > 4.5")] == [run_id]
    ordered = store.search_runs(["0"], order_by=["metrics.m DESC"])
    assert [r.info.run_id for r in ordered] == [run_id, other]


def test_clock_stepped_back_in_process(tracking: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with mlnb.start_run() as run:
        mlnb.log_metric("loss", 1.0)
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() - HOUR_S)  # NTP steps the clock back
        # Later by more than a millisecond: within one, the two points tie on (step, timestamp)
        # and MLflow's rule rightly picks the greater value.
        time.sleep(0.01)
        mlnb.log_metric("loss", 0.5)  # logged later: must be the latest
    info = mlnb.get_run(run.info.run_id)
    assert info.data.metrics == {"loss": 0.5}
    history = mlnb.MlnbClient().get_metric_history(run.info.run_id, "loss")
    assert [p.value for p in history] == [1.0, 0.5]
    assert history[1].timestamp >= history[0].timestamp
    assert info.info.end_time is not None and info.info.end_time >= info.info.start_time
    frame = mlnb.search_runs()
    assert (frame["end_time"] - frame["start_time"]).min().total_seconds() >= 0


def test_a_process_whose_clock_is_behind_never_ends_a_run_before_its_start(tmp_path: Path
                                                                           ) -> None:
    store_dir = tmp_path / "store"
    client = mlnb.MlnbClient(str(store_dir))
    run_id = client.create_run("0").info.run_id
    ends = (f"import time; real = time.time; time.time = lambda: real() - {HOUR_S}\n"
            f"import mlnb; mlnb.MlnbClient().set_terminated({run_id!r})\n")
    env = dict(os.environ, MLNB_TRACKING_URI=str(store_dir), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", ends], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    info = client.get_run(run_id).info
    assert info.status == "FINISHED" and info.end_time is not None
    assert info.end_time >= info.start_time


def test_migration_recomputes_latest_values_by_the_rule(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    # The store as an older mlnb left it: the last-logged of two tied points as the latest.
    cx = store_before(folder, "0006_latest_metric_rule")
    run_id = add_run(cx)
    add_points_v01(cx, run_id, "m", [(0, 2000, 5.0), (0, 2000, 3.0)])
    cx.execute("UPDATE latest_metrics SET value = 3.0 WHERE run_id = ?", [run_id])
    cx.close()
    reopened = Store(StoreLocation(folder / "mlnb.db", folder / "artifacts"))
    assert reopened.get_run(run_id).data.metrics == {"m": 5.0}
    reopened.close()
