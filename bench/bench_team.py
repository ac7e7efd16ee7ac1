"""The team store's speed: the tracking workload of ``bench_tracking.py`` through mlnb on
PostgreSQL, through MLflow 3 on the same PostgreSQL server (its SQLAlchemy store, a
``postgresql+psycopg://`` URI), and through mlnb on SQLite, side by side in one run.

A real PostgreSQL server is started for the run (Debian's ``initdb``/``pg_ctl`` on a temporary
folder and a loopback port, as ``tests/pg_server.py`` does for the tests; ``fsync`` stays on, as
on a real server); each library gets a database of its own on it. Each library runs in its own
worker subprocess, phase by phase, back to back (see ``bench_tracking.py``). Ratios > 1 mean
mlnb on PostgreSQL is faster; targets are printed, never asserted.

    .venv/bin/python bench/bench_team.py            # full size (10,000-run search), ~10 min
    .venv/bin/python bench/bench_team.py --quick    # smoke run, ~1 min
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # pg_server: the tests' real PostgreSQL
import bench_tracking as tracking  # noqa: E402
from benchlib import PYTHON, clean_env, fmt_rate, fmt_ratio, fmt_seconds, render_table  # noqa: E402

SIDES = ("mlnb-pg", "mlflow-pg", "mlnb-sqlite")
PHASES = ("version", "run_life", "log_batch", "fixture", "search")
FULL = replace(tracking.Sizes(), run_lives=50, batch_points=50_000, search_runs=10_000,
               search_params=5, search_metrics=3, search_steps=1, search_repeats=10,
               pandas_repeats=3, history_repeats=10)
QUICK = replace(FULL, run_lives=10, batch_points=5_000, search_runs=500, search_repeats=3,
                pandas_repeats=2, history_repeats=3)


class TeamLibrary(tracking.Library):
    """One side: mlnb or MLflow, on the URL the driver gives (PostgreSQL or an SQLite folder)."""

    def __init__(self, side: str, url: str) -> None:
        self.name = "mlflow" if side.startswith("mlflow") else "mlnb"
        if self.name == "mlflow":
            tracking._silence_mlflow()
            import mlflow
            import mlflow.entities as entities

            mlflow.set_tracking_uri(url)
            self.module: Any = mlflow
            self.client: Any = mlflow.MlflowClient(url)
        else:
            import mlnb
            import mlnb.entities as entities  # type: ignore[no-redef]

            mlnb.set_tracking_uri(url)
            self.module = mlnb
            self.client = mlnb.MlnbClient(url)
        self.Metric: Any = entities.Metric
        self.Param: Any = entities.Param
        self.module.set_experiment("bench")  # migrations before anything is timed


class TeamWorker(tracking.Worker):
    def __init__(self, side: str, sizes: tracking.Sizes, url: str) -> None:
        self.lib = TeamLibrary(side, url)
        self.sizes = sizes
        self.fixture = ("", "")


def serve(side: str, sizes: tracking.Sizes, url: str) -> int:
    """Worker loop: a phase name per line on stdin, one result line on stdout."""
    worker = TeamWorker(side, sizes, url)
    for line in sys.stdin:
        phase = line.strip()
        if phase == "quit":
            break
        print(tracking.RESULT_PREFIX + json.dumps(worker.phase(phase)), flush=True)
    return 0


class SideProcess(tracking.WorkerProcess):
    def __init__(self, side: str, quick: bool, folder: Path, url: str) -> None:
        import subprocess

        self.name = side
        work = folder / side
        work.mkdir()
        self.log_path = folder / f"{side}.log"
        self.log = self.log_path.open("w")
        args = [PYTHON, str(Path(__file__).resolve()), "--worker", side, "--url", url]
        if quick:
            args.append("--quick")
        env = {**clean_env(), "MLNB_ARTIFACT_URI": (work / "artifacts").as_uri()}
        self.proc = subprocess.Popen(args, cwd=work, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)


def run(quick: bool, folder: Path) -> dict[str, dict[str, Any]]:
    from pg_server import start_server

    server = start_server(durable=True)
    try:
        urls = {
            "mlnb-pg": server.url(server.new_database(template=None)),
            "mlflow-pg": server.url(server.new_database(template=None)).replace(
                "postgresql://", "postgresql+psycopg://"),
            "mlnb-sqlite": str(folder / "mlnb-sqlite-store"),
        }
        sides = [SideProcess(side, quick, folder, urls[side]) for side in SIDES]
        results: dict[str, dict[str, Any]] = {side: {} for side in SIDES}
        try:
            for phase in PHASES:
                print(f"   {phase} ...", file=sys.stderr, flush=True)
                for side in sides:
                    results[side.name][phase] = side.ask(phase)
        finally:
            for side in sides:
                side.close()
        return results
    finally:
        server.stop()


def report(sizes: tracking.Sizes, res: dict[str, dict[str, Any]]) -> str:
    pg, mf, lite = res["mlnb-pg"], res["mlflow-pg"], res["mlnb-sqlite"]
    rows: list[list[str]] = []

    def time_row(label: str, key: str, field: str, target: str) -> None:
        a, b, c = pg[key][field], mf[key][field], lite[key][field]
        rows.append([label, fmt_seconds(a), fmt_seconds(b), fmt_ratio(b / a), target,
                     fmt_seconds(c), fmt_ratio(c / a)])

    def rate_row(label: str, key: str, target: str) -> None:
        a, b, c = pg[key]["per_second"], mf[key]["per_second"], lite[key]["per_second"]
        rows.append([label, fmt_rate(a, "points"), fmt_rate(b, "points"), fmt_ratio(a / b), target,
                     fmt_rate(c, "points"), fmt_ratio(a / c)])

    n = sizes.search_runs
    time_row(f"run's life (median of {sizes.run_lives})", "run_life", "seconds", ">= 10x")
    rate_row(f"{sizes.batch_points:,} points via log_batch", "log_batch", ">= 10x")
    time_row(f"search_runs filter+order ({n:,} runs)", "search", "filtered_s", ">= 10x")
    time_row(f"search_runs all {n:,} -> pandas", "search", "pandas_s", "(info)")
    time_row(f"build {n:,}-run fixture (batch API)", "fixture", "seconds", "(info)")
    headers = ["figure", f"mlnb {pg['version']['version']} on PG",
               f"MLflow {mf['version']['version']} on PG", "ratio", "target", "mlnb on SQLite",
               "PG vs SQLite (>= 0.33x)"]
    s = [side["search"] for side in (pg, mf, lite)]
    check = (f"filtered search matched {s[0]['filtered_count']} / {s[1]['filtered_count']} / "
             f"{s[2]['filtered_count']} runs (mlnb PG / MLflow PG / mlnb SQLite), first "
             f"{s[0]['filtered_first']} / {s[1]['filtered_first']} / {s[2]['filtered_first']}")
    return render_table(headers, rows) + "\nsame results: " + check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.worker:
        return serve(args.worker, sizes, args.url)
    print(f"== team store: mlnb on PostgreSQL vs MLflow on PostgreSQL vs mlnb on SQLite, "
          f"{'quick' if args.quick else 'full'} sizes: {json.dumps(asdict(sizes))}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-team-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        results = run(args.quick, folder)
    print(report(sizes, results))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(ratio > 1: mlnb on PostgreSQL faster; took {time.perf_counter() - start:.0f} s; "
          f"load average {load} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
