"""Inline widgets (issue 5): the run table over 10,000 runs and a comparison of 20 long runs.

Targets: building the run table (first page of 50 of 10,000 runs) and building the comparison of
20 runs x 5 metrics x 1,000 steps (every chart drawn) each take under 1 s, with a number of store
queries that does not grow with the number of runs. Queries are counted by wrapping
``store.cx.query``. MLflow has no inline widget to race, so the figures are absolute (the target
is printed next to each); nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import fmt_seconds, median, render_table


class QueryCounter:
    """Counts ``store.cx.query`` calls (every read the widgets make goes through it)."""

    def __init__(self, store: Any) -> None:
        self.count = 0
        self._inner = store.cx.query

        def counted(sql: str, params: Any = ()) -> Any:
            self.count += 1
            return self._inner(sql, params)

        store.cx.query = counted

    def measure(self, fn: Callable[[], Any]) -> tuple[float, int, Any]:
        before = self.count
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, self.count - before, result


def populate_runs(store: Any, experiment_id: str, n: int) -> None:
    """``n`` finished runs with 5 params and 5 latest metrics each, in one transaction."""
    from mlnb.entities import Metric, Param

    t0 = int(time.time() * 1000) - n * 1000
    with store.cx.write():
        for i in range(n):
            info = store.create_run(experiment_id, run_name=f"run-{i}", start_time=t0 + i * 1000)
            store.log_batch(
                info.run_id,
                params=[Param(f"p{j}", str((i * (j + 3)) % 17)) for j in range(5)],
                metrics=[Metric(f"m{j}", ((i * 7 + j) % 101) / 100, t0 + i * 1000, 0) for j in range(5)],
            )
            store.update_run(info.run_id, status="FINISHED", end_time=t0 + i * 1000 + 500 + i % 900)


def populate_histories(store: Any, experiment_id: str, runs: int, metrics: int, steps: int
                       ) -> list[str]:
    from mlnb.entities import Metric, Param

    ids = []
    t0 = int(time.time() * 1000)
    for r in range(runs):
        info = store.create_run(experiment_id, run_name=f"long-{r}", start_time=t0 + r)
        store.log_batch(info.run_id, params=[Param("lr", str(0.001 * (r + 1))), Param("depth", str(r % 4))])
        points = [Metric(f"metric_{k}", 1.0 / (s + 1) + r * 0.01 + k, t0 + s * 10, s)
                  for k in range(metrics) for s in range(steps)]
        for start in range(0, len(points), 1000):
            store.log_batch(info.run_id, metrics=points[start:start + 1000])
        store.update_run(info.run_id, status="FINISHED")
        ids.append(info.run_id)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    args = parser.parse_args(argv)
    n_runs, repeats = (2_000, 2) if args.quick else (10_000, 3)
    n_long, n_metrics, n_steps = (20, 5, 200) if args.quick else (20, 5, 1_000)

    import mlnb
    from mlnb.widgets.comparison import Comparison
    from mlnb.widgets.run_table import RunTable

    with tempfile.TemporaryDirectory() as tmp:
        mlnb.set_tracking_uri(tmp)
        store = mlnb.MlnbClient(tmp).store
        many = store.create_experiment("many")
        long_exp = store.create_experiment("long")
        t = time.perf_counter()
        populate_runs(store, many, n_runs)
        long_ids = populate_histories(store, long_exp, n_long, n_metrics, n_steps)
        fixture_s = time.perf_counter() - t
        counter = QueryCounter(store)

        rows: list[list[str]] = []
        builds = [counter.measure(lambda: RunTable(many, page_size=50)) for _ in range(repeats)]
        table = builds[-1][2]
        rows.append([f"run table: first page of {n_runs:,} runs", fmt_seconds(median(b[0] for b in builds)),
                     str(builds[-1][1]), "< 1 s"])
        page = counter.measure(lambda: table._go_to(100))
        rows.append(["run table: jump to page 101", fmt_seconds(page[0]), str(page[1]), "(info)"])
        sort = counter.measure(lambda: table.sort_by("metrics.m1"))
        rows.append(["run table: sort by a metric", fmt_seconds(sort[0]), str(sort[1]), "(info)"])
        query = "metrics.m0 > 0.5 and params.p1 = '4'"
        filt = counter.measure(lambda: setattr(table.filter_box, "value", query))
        rows.append([f"run table: filter ({table.total:,} match)", fmt_seconds(filt[0]), str(filt[1]),
                     "(info)"])

        def build_comparison() -> Comparison:
            view = Comparison(long_ids, store=store)
            view.draw_all()
            return view

        comps = [counter.measure(build_comparison) for _ in range(repeats)]
        size = f"{n_long} runs x {n_metrics} metrics x {n_steps:,} steps"
        rows.append([f"comparison, all charts: {size}", fmt_seconds(median(c[0] for c in comps)),
                     str(comps[-1][1]), "< 1 s"])
        view = comps[-1][2]
        smooth = counter.measure(lambda: setattr(view.smoothing, "value", 0.6))
        rows.append(["comparison: change EMA smoothing", fmt_seconds(smooth[0]), str(smooth[1]), "(info)"])
        static = counter.measure(view.static_html)
        rows.append(["comparison: static HTML fallback", fmt_seconds(static[0]), str(static[1]), "(info)"])
        mlnb.flush()

    print(render_table(["figure", "time (median)", "store queries", "target"], rows))
    print(f"\nfixture: {n_runs:,} + {n_long} runs written in {fmt_seconds(fixture_s)}; "
          f"repeats: {repeats}; queries counted by wrapping store.cx.query.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
