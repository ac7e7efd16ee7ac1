"""Scale: a long metric series and stores of 1,000 to 100,000 runs, against plain ``sqlite3``.

The physical anchor for each figure is the same work done in the same run by plain ``sqlite3`` on
a lean table, so the ratios say how close mlnb's storage comes to what SQLite itself can do on
this machine:

* a 1,000,000-point series of one metric, written with ``log_batch`` 1,000 points a call, against
  ``executemany`` into a lean ``(series, step, timestamp, value)`` WITHOUT ROWID table: bytes a
  point on disk, points written a second, a whole-history read, and a 2,000-point downsampled
  read (as the charts ask for) as a share of the whole read;
* stores of 1,000, 10,000 and 100,000 runs built through the public client (``create_run`` and
  one ``log_batch`` per run: 10 params, 5 metrics, 1 tag): a filtered, metric-ordered top 50, a
  metric-ordered first page, a count, and every run to pandas (against ``pandas.read_sql`` of the
  same rows in long form). The figure that matters is the growth: each query at 100,000 runs
  over the same query at 1,000 runs.

MLflow is not run here: at these sizes its SQLite store takes hours to build. Speed is
reported, never asserted.

    .venv/bin/python bench/bench_scale.py            # full sizes, several minutes
    .venv/bin/python bench/bench_scale.py --quick    # 100 / 1,000 / 10,000 runs, 100k points
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import fmt_rate, fmt_ratio, fmt_seconds, median, render_table, timed

FILTER = "metrics.m0 > 0.5 and params.p1 = 'v1'"
ORDER_BY = ["metrics.m1 DESC"]
PAGE = 50
CHUNK = 1_000
CHART_POINTS = 2_000


@dataclass(frozen=True)
class Sizes:
    """How big the workloads are."""

    series_points: int = 1_000_000
    store_runs: tuple[int, ...] = (1_000, 10_000, 100_000)
    repeats: int = 7


QUICK = Sizes(series_points=100_000, store_runs=(100, 1_000, 10_000), repeats=3)


# --- the long series ----------------------------------------------------------------------------


def lean_series(folder: Path, points: int) -> dict[str, float]:
    """Plain sqlite3: the same points into a lean table, and read back."""
    path = folder / "lean.db"
    cx = sqlite3.connect(path)
    cx.execute("PRAGMA journal_mode = WAL")
    cx.execute("CREATE TABLE points (series INTEGER, step INTEGER, timestamp INTEGER, value REAL, "
               "PRIMARY KEY (series, step, timestamp)) WITHOUT ROWID")
    rows = _points(points)
    start = time.perf_counter()
    for offset in range(0, points, CHUNK):
        with cx:
            cx.executemany("INSERT INTO points VALUES (1, ?, ?, ?)",
                           [(s, t, v) for s, t, v in rows[offset:offset + CHUNK]])
    write = time.perf_counter() - start
    cx.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    read = median(timed(lambda: cx.execute(
        "SELECT step, timestamp, value FROM points WHERE series = 1 ORDER BY step").fetchall())
        for _ in range(3))
    cx.close()
    return {"write_s": write, "bytes": size / points, "read_s": read}


def mlnb_series(folder: Path, points: int) -> dict[str, float]:
    """mlnb's public client: log_batch 1,000 points a call, then the whole and a charted history."""
    from mlnb.entities import Metric
    from mlnb.tracking.client import MlnbClient

    client = MlnbClient(str(folder / "store"))
    run_id = client.create_run("0").info.run_id
    db = client.store.location.db_path
    _checkpoint(db)
    before = db.stat().st_size
    rows = _points(points)
    start = time.perf_counter()
    for offset in range(0, points, CHUNK):
        client.log_batch(run_id, metrics=[Metric("loss", v, t, s)
                                          for s, t, v in rows[offset:offset + CHUNK]])
    write = time.perf_counter() - start
    client.set_terminated(run_id)
    _checkpoint(db)
    size = db.stat().st_size - before
    read = median(timed(lambda: client.get_metric_history(run_id, "loss")) for _ in range(3))
    columns = median(timed(lambda: client.store.metric_columns(run_id, "loss")) for _ in range(3))
    charted = median(timed(lambda: client.store.sampled_history(run_id, "loss", CHART_POINTS))
                     for _ in range(3))
    client.store.close()
    return {"write_s": write, "bytes": size / points, "read_s": read, "columns_s": columns,
            "chart_s": charted}


def _points(count: int) -> list[tuple[int, int, float]]:
    rng = random.Random(7)
    base = 1_700_000_000_000
    return [(step, base + step, rng.random()) for step in range(count)]


def _checkpoint(db: Path) -> None:
    with sqlite3.connect(db) as cx:
        cx.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- stores of many runs ------------------------------------------------------------------------


def build_store(folder: Path, runs: int) -> tuple[Any, str]:
    """A store of ``runs`` runs through the public client; returns the client and experiment id."""
    from mlnb.entities import Metric, Param, RunTag
    from mlnb.tracking.client import MlnbClient

    client = MlnbClient(str(folder / f"store-{runs}"))
    experiment_id = client.create_experiment("scale")
    rng = random.Random(runs)
    for i in range(runs):
        run_id = client.create_run(experiment_id, run_name=f"run-{i}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(f"m{k}", rng.random(), 1_700_000_000_000 + i, 0) for k in range(5)],
            params=[Param(f"p{k}", f"v{rng.randrange(4)}") for k in range(10)],
            tags=[RunTag("team", rng.choice(["a", "b", "c"]))])
        client.update_run(run_id, status="FINISHED")
    return client, experiment_id


def store_figures(client: Any, experiment_id: str, repeats: int) -> dict[str, float]:
    """The searches the sidebar and the API make, timed on one store."""
    import mlnb

    store = client.store
    mlnb.set_tracking_uri(str(store.location.db_path.parent))

    def filtered() -> Any:
        return client.search_runs([experiment_id], FILTER, max_results=PAGE, order_by=ORDER_BY)

    def ordered() -> Any:
        return client.search_runs([experiment_id], "", max_results=PAGE, order_by=ORDER_BY)

    def count() -> Any:
        return store.count_runs([experiment_id], FILTER)

    def to_pandas() -> Any:
        return mlnb.search_runs(experiment_ids=[experiment_id])

    def read_sql() -> Any:
        import pandas as pd

        with sqlite3.connect(store.location.db_path) as cx:
            return [pd.read_sql(sql, cx) for sql in (
                "SELECT * FROM runs", "SELECT run_id, key, value FROM params",
                "SELECT run_id, key, value FROM metric_series", "SELECT run_id, key, value FROM tags")]

    to_pandas()  # pandas' own first import is not the store's cost
    figures = {name: median(timed(fn) for _ in range(repeats))
               for name, fn in (("filtered", filtered), ("ordered", ordered), ("count", count))}
    pandas_repeats = max(1, repeats // 2)
    figures["pandas"] = median(timed(to_pandas) for _ in range(pandas_repeats))
    figures["read_sql"] = median(timed(read_sql) for _ in range(pandas_repeats))
    figures["kb_per_run"] = store.location.db_path.stat().st_size / 1024 / max(1, store.count_runs(
        [experiment_id]))
    return figures


# --- report -------------------------------------------------------------------------------------


def series_table(lean: dict[str, float], ours: dict[str, float], points: int) -> str:
    rows = [
        ["bytes a point on disk (target <= 24)", f"{ours['bytes']:.1f}", f"{lean['bytes']:.1f}",
         fmt_ratio(ours["bytes"] / lean["bytes"])],
        ["write, points/s (target >= 0.7x)", fmt_rate(points / ours["write_s"], "pts"),
         fmt_rate(points / lean["write_s"], "pts"), fmt_ratio(lean["write_s"] / ours["write_s"])],
        ["whole history read, Metric objects (target <= 5x)", fmt_seconds(ours["read_s"]),
         fmt_seconds(lean["read_s"]), fmt_ratio(ours["read_s"] / lean["read_s"])],
        ["whole history read, three columns", fmt_seconds(ours["columns_s"]),
         fmt_seconds(lean["read_s"]), fmt_ratio(ours["columns_s"] / lean["read_s"])],
        [f"{CHART_POINTS}-point chart read (target < 2% of whole)", fmt_seconds(ours["chart_s"]),
         "", f"{100 * ours['chart_s'] / ours['read_s']:.0f}% of whole"],
    ]
    return render_table([f"series of {points:,} points", "mlnb", "plain sqlite3", "mlnb / plain"],
                        rows)


def store_table(results: dict[int, dict[str, float]]) -> str:
    sizes = sorted(results)
    small, large = sizes[0], sizes[-1]
    names = [("filtered, ordered top 50", "filtered"), ("ordered first page", "ordered"),
             ("count (filtered)", "count"), ("all runs to pandas", "pandas"),
             ("pandas.read_sql, same rows", "read_sql")]
    rows = []
    for label, key in names:
        cells = [fmt_seconds(results[n][key]) for n in sizes]
        growth = results[large][key] / results[small][key]
        rows.append([label, *cells, fmt_ratio(growth)])
    rows.append(["store size a run", *(f"{results[n]['kb_per_run']:.1f} KB" for n in sizes), ""])
    pandas_ratio = results[large]["pandas"] / results[large]["read_sql"]
    table = render_table(["query", *(f"{n:,} runs" for n in sizes),
                          f"{large:,} / {small:,} (target <= 3x)"], rows)
    return table + (f"\nall {large:,} runs to pandas / read_sql of the same rows: "
                    f"{fmt_ratio(pandas_ratio)} (target <= 1.5x)")


def main(argv: list[str] | None = None) -> int:
    """Run the scale benchmark and print its two tables.

    :param argv: ``["--quick"]`` for small sizes; default the full sizes.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    os.environ.pop("MLNB_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-scale-") as tmp:
        folder = Path(tmp)
        lean = lean_series(folder, sizes.series_points)
        ours = mlnb_series(folder, sizes.series_points)
        print(series_table(lean, ours, sizes.series_points), flush=True)
        print()
        results = {}
        for runs in sizes.store_runs:
            start = time.perf_counter()
            client, experiment_id = build_store(folder, runs)
            built = time.perf_counter() - start
            results[runs] = store_figures(client, experiment_id, sizes.repeats)
            print(f"built {runs:,} runs in {fmt_seconds(built)}", flush=True)
            client.store.close()
        print(store_table(results))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"load average during the run: {load:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
