"""A store written by mlnb 0.1 opens and upgrades its metric storage in place, safely."""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from old_stores import add_points_v01, add_run, store_before

from mlnb.store import Store, StoreLocation

STEP = "0007_metric_series"


def _open(folder: Path) -> Store:
    return Store(StoreLocation(folder / "mlnb.db", folder / "artifacts"))


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as cx:
        return {r[0] for r in cx.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _old_store(folder: Path, long_points: int = 3_000) -> dict[str, list[tuple[int, int, float]]]:
    """A 0.1 store: a long series, a short one with NaN, ±inf and repeated, unordered steps."""
    cx = store_before(folder, STEP)
    run_id = add_run(cx)
    rng = random.Random(4)
    series = {
        "loss": [(s, 1_000 + s, rng.random()) for s in range(long_points)],
        "odd": [(3, 10, 1.0), (1, 11, math.nan), (3, 12, math.inf), (1, 9, -math.inf), (2, 13, 0.5)],
    }
    for key, points in series.items():
        add_points_v01(cx, run_id, key, points)
    cx.close()
    return {f"{run_id}/{key}": points for key, points in series.items()}


def _check(folder: Path, expected: dict[str, list[tuple[int, int, float]]]) -> None:
    store = _open(folder)
    try:
        for name, points in expected.items():
            run_id, key = name.split("/")
            got = [(m.step, m.timestamp, m.value) for m in store.get_metric_history(run_id, key)]
            want = sorted(points, key=lambda p: p[0])  # by step; equal steps in logging order
            assert [(s, t) for s, t, _ in got] == [(s, t) for s, t, _ in want]
            assert all(a[2] == b[2] or (math.isnan(a[2]) and math.isnan(b[2]))
                       for a, b in zip(got, want, strict=True))
        run_id = next(iter(expected)).split("/")[0]
        assert store.get_run(run_id).data.metrics["odd"] == math.inf  # step 3, latest time
        assert store.integrity_check() == "ok"
    finally:
        store.close()
    assert {"metrics", "latest_metrics"}.isdisjoint(_tables(folder / "mlnb.db"))


def test_a_01_store_upgrades_in_place_and_keeps_every_point(tmp_path: Path) -> None:
    expected = _old_store(tmp_path / "store")
    _check(tmp_path / "store", expected)
    _check(tmp_path / "store", expected)  # opening again changes nothing


def test_a_large_upgrade_reports_progress(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    expected = _old_store(tmp_path / "store", long_points=250_000)
    _open(tmp_path / "store").close()
    err = capfd.readouterr().err
    assert "mlnb: upgrading the store's metric storage (250,005 points)" in err
    assert "mlnb: upgrading metrics: 100% (250,005 of 250,005 points)" in err
    assert err.rstrip().endswith("mlnb: metric storage upgraded.")
    _check(tmp_path / "store", expected)


def test_malformed_old_points_are_counted_not_fatal(tmp_path: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "store"
    cx = store_before(folder, STEP)
    run_id = add_run(cx)
    add_points_v01(cx, run_id, "m", [(0, 1, 1.0), (1, 2, 2.0)])
    cx.execute("UPDATE metrics SET step = 'one' WHERE step = 0")
    cx.close()
    store = _open(folder)
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [2.0]
    store.close()
    assert "1 malformed metric point(s) of the old store could not be kept" in capfd.readouterr().err


OPENER = """
import sys
from pathlib import Path
from mlnb.store import Store, StoreLocation
folder = Path(sys.argv[1])
print("opening", flush=True)
Store(StoreLocation(folder / "mlnb.db", folder / "artifacts")).close()
print("opened", flush=True)
"""


@pytest.mark.e2e
def test_kill_9_during_the_upgrade_leaves_a_store_that_opens(tmp_path: Path) -> None:
    template = tmp_path / "template"
    expected = _old_store(template, long_points=250_000)
    started = time.monotonic()
    _open_in_child(_copy(template, tmp_path / "timing"), kill_after=None)
    upgrade_s = time.monotonic() - started
    rng = random.Random(9)
    outcomes = []
    for attempt in range(20):
        folder = _copy(template, tmp_path / f"try-{attempt}")
        outcomes.append(_open_in_child(folder, kill_after=rng.uniform(0.0, upgrade_s)))
        tables = _tables(folder / "mlnb.db")
        old, new = "metrics" in tables, "metric_series" in tables
        assert old != new, f"try {attempt}: a mix of schemas: {sorted(tables)}"
        _check(folder, expected)  # opens (resuming the upgrade when it was cut) with every point
    assert "killed" in outcomes  # the kills did land during the upgrade


def _copy(template: Path, folder: Path) -> Path:
    shutil.copytree(template, folder)
    return folder


def _open_in_child(folder: Path, kill_after: float | None) -> str:
    proc = subprocess.Popen([sys.executable, "-c", OPENER, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "opening"
    if kill_after is None:
        assert proc.wait(timeout=300) == 0
        return "finished"
    time.sleep(kill_after)
    if proc.poll() is not None:
        return "finished"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return "killed"


def test_db_upgrade_then_compact_from_the_command_line(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from mlnb.cli import main
    from mlnb.store.schema import KNOWN

    expected = _old_store(tmp_path / "store", long_points=60_000)
    assert main(["db", "upgrade", str(tmp_path / "store")]) == 0
    said = capsys.readouterr().out
    assert f"schema up to date ({len(KNOWN)} migrations" in said
    assert "metrics" not in _tables(tmp_path / "store" / "mlnb.db")
    assert main(["db", "compact", str(tmp_path / "store")]) == 0
    before, after = (float(n) for n in re.findall(r"([0-9.]+) MB", capsys.readouterr().out))
    assert after < before / 3  # the old one-row-a-point table's pages are given back
    _check(tmp_path / "store", expected)


def test_db_compact_of_a_store_that_is_not_there_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlnb.cli import main

    assert main(["db", "compact", f"sqlite:///{tmp_path}/missing/dir/mlnb.db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlnb: error: There is no mlnb store at") and "missing/dir" in err
    assert "Traceback" not in err and not (tmp_path / "missing").exists()  # nothing made
