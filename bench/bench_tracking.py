"""Tracking speed, mlnb against MLflow (SQLite backend), same workload, one script run.

Each library runs in its own long-lived worker subprocess (its own temp folder, cwd and clean
environment), so neither sees the other's modules, env vars or store. The driver runs each phase in
one worker and then in the other, back to back, so that load from other processes on a shared
machine falls on both sides alike as far as it can. Figures are medians of ``time.perf_counter``
timings; a ratio > 1 means mlnb is faster. Targets are printed beside the ratios, never asserted.

    .venv/bin/python bench/bench_tracking.py            # full size, a few minutes
    .venv/bin/python bench/bench_tracking.py --quick    # smoke run, ~30 s
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    PYTHON,
    clean_env,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    import_seconds,
    median,
    render_table,
    timed,
)

LIBRARIES = ("mlnb", "mlflow")
BATCH_CHUNK = 1_000  # MLflow's limit of metrics per log_batch request
FILTER = "metrics.m0 > 0.5 and params.p1 = 'v1'"
ORDER_BY = ["metrics.m1 DESC"]
RESULT_PREFIX = "@@result "
PHASES = ("version", "run_life", "log_metric", "log_batch", "fixture", "search")


@dataclass(frozen=True)
class Sizes:
    imports: int = 5
    run_lives: int = 50
    metric_calls: int = 2_000
    batch_points: int = 100_000
    search_runs: int = 1_000
    search_params: int = 10
    search_metrics: int = 5
    search_steps: int = 100
    search_repeats: int = 15
    pandas_repeats: int = 5
    history_repeats: int = 20


QUICK = Sizes(imports=3, run_lives=10, metric_calls=300, batch_points=10_000, search_runs=100,
              search_repeats=3, pandas_repeats=2, history_repeats=5)


# --- the workload, identical for both libraries (run inside a worker process) ----------------


class Library:
    """One library opened on its own store: the fluent module, a client and its entities."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        if name == "mlflow":
            _silence_mlflow()
            import mlflow
            import mlflow.entities as entities

            uri = f"sqlite:///{folder}/mlflow.db"
            mlflow.set_tracking_uri(uri)
            self.module: Any = mlflow
            self.client: Any = mlflow.MlflowClient(uri)
        else:
            import mlnb
            import mlnb.entities as entities  # type: ignore[no-redef]

            uri = str(folder / "mlnb-store")
            mlnb.set_tracking_uri(uri)
            self.module = mlnb
            self.client = mlnb.MlnbClient(uri)
        self.Metric: Any = entities.Metric
        self.Param: Any = entities.Param
        # Create the store (MLflow runs its migrations here) before anything is timed.
        self.module.set_experiment("bench")

    def flush(self) -> None:
        if self.name == "mlnb":
            self.module.flush()


def _silence_mlflow() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy", "mlflow.store", "mlflow.tracking"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)


def run_life(lib: Library, count: int) -> dict[str, float]:
    """Start a run, log 10 params one by one and 1 metric, end it: median seconds per run."""
    m = lib.module

    def one() -> None:
        m.start_run()
        for i in range(10):
            m.log_param(f"p{i}", i)
        m.log_metric("loss", 0.5)
        m.end_run()

    for _ in range(3):  # warm caches and lazy imports
        one()
    return {"seconds": median(timed(one) for _ in range(count))}


def log_metric_calls(lib: Library, calls: int) -> dict[str, float]:
    """``calls`` single log_metric calls in one run, timed until they are on disk."""
    m = lib.module
    m.start_run()
    m.log_metric("warm", 0.0)
    lib.flush()
    start = time.perf_counter()
    for step in range(calls):
        m.log_metric("loss", 1.0 / (step + 1), step=step)
    lib.flush()
    seconds = time.perf_counter() - start
    m.end_run()
    return {"seconds": seconds, "per_second": calls / seconds}


def log_batch_points(lib: Library, points: int) -> dict[str, float]:
    """``points`` metric points through ``client.log_batch`` in chunks of 1,000."""
    run_id = lib.client.create_run(lib.module.set_experiment("bench").experiment_id).info.run_id
    now = int(time.time() * 1000)
    metrics = [lib.Metric(f"m{i % 10}", i * 0.001, now + i, i // 10) for i in range(points)]
    chunks = [metrics[i : i + BATCH_CHUNK] for i in range(0, points, BATCH_CHUNK)]
    start = time.perf_counter()
    for chunk in chunks:
        lib.client.log_batch(run_id, metrics=chunk)
    seconds = time.perf_counter() - start
    lib.client.set_terminated(run_id)
    return {"seconds": seconds, "per_second": points / seconds}


def build_search_fixture(lib: Library, sizes: Sizes) -> tuple[str, str]:
    """Runs with params and metric histories, built through the batch API. Returns (exp, a run)."""
    experiment_id = lib.client.create_experiment("search")
    rng = random.Random(42)
    now = int(time.time() * 1000)
    run_id = ""
    for r in range(sizes.search_runs):
        run_id = lib.client.create_run(experiment_id, run_name=f"run-{r}").info.run_id
        params = [lib.Param(f"p{i}", f"v{(r + i) % 3}") for i in range(sizes.search_params)]
        metrics = [
            lib.Metric(f"m{k}", rng.random(), now + step, step)
            for k in range(sizes.search_metrics) for step in range(sizes.search_steps)
        ]
        lib.client.log_batch(run_id, metrics=metrics, params=params)
        lib.client.set_terminated(run_id)
    return experiment_id, run_id


def search_figures(lib: Library, sizes: Sizes, experiment_id: str, run_id: str) -> dict[str, Any]:
    """The two searches and one metric history on the fixture (after one warm-up call each)."""
    client, m = lib.client, lib.module

    def filtered() -> Any:
        return client.search_runs([experiment_id], FILTER, max_results=sizes.search_runs,
                                  order_by=ORDER_BY)

    def to_pandas() -> Any:
        return m.search_runs(experiment_ids=[experiment_id], max_results=sizes.search_runs)

    def history() -> Any:
        return client.get_metric_history(run_id, "m0")

    found, frame, points = filtered(), to_pandas(), history()  # warm-up (pandas import, caches)
    return {
        "filtered_s": median(timed(filtered) for _ in range(sizes.search_repeats)),
        "filtered_count": len(found),
        "filtered_first": found[0].info.run_name if found else "",
        "pandas_s": median(timed(to_pandas) for _ in range(sizes.pandas_repeats)),
        "pandas_rows": len(frame),
        "pandas_metric_columns": sum(c.startswith("metrics.") for c in frame.columns),
        "history_s": median(timed(history) for _ in range(sizes.history_repeats)),
        "history_points": len(points),
    }


class Worker:
    """One library's side of the benchmark, run phase by phase as the driver asks."""

    def __init__(self, name: str, sizes: Sizes, folder: Path) -> None:
        self.lib = Library(name, folder)
        self.sizes = sizes
        self.fixture: tuple[str, str] = ("", "")

    def phase(self, name: str) -> dict[str, Any]:
        lib, sizes = self.lib, self.sizes
        if name == "version":
            return {"version": lib.module.__version__}
        if name == "run_life":
            return run_life(lib, sizes.run_lives)
        if name == "log_metric":
            return log_metric_calls(lib, sizes.metric_calls)
        if name == "log_batch":
            return log_batch_points(lib, sizes.batch_points)
        if name == "fixture":
            start = time.perf_counter()
            self.fixture = build_search_fixture(lib, sizes)
            return {"seconds": time.perf_counter() - start}
        if name == "search":
            return search_figures(lib, sizes, *self.fixture)
        raise ValueError(f"unknown phase {name!r}")


def serve(name: str, sizes: Sizes) -> int:
    """Worker loop: read a phase name per line on stdin, answer one result line on stdout."""
    worker = Worker(name, sizes, Path.cwd())
    for line in sys.stdin:
        phase = line.strip()
        if phase == "quit":
            break
        result = worker.phase(phase)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


# --- the driver ---------------------------------------------------------------------------------


def measure_imports(sizes: Sizes, folder: Path) -> dict[str, float]:
    """Median import time of each library, alternating so that machine noise hits both alike."""
    times: dict[str, list[float]] = {name: [] for name in LIBRARIES}
    env = clean_env()
    for _ in range(sizes.imports):
        for name in LIBRARIES:
            times[name].append(import_seconds(name, folder, env))
    return {name: median(values) for name, values in times.items()}


class WorkerProcess:
    """A worker subprocess for one library, in its own folder and clean environment."""

    def __init__(self, name: str, quick: bool, folder: Path) -> None:
        self.name = name
        work = folder / name
        work.mkdir()
        self.log_path = folder / f"{name}.log"
        self.log = self.log_path.open("w")  # MLflow's chatter and any traceback go here
        args = [PYTHON, str(Path(__file__).resolve()), "--worker", name]
        if quick:
            args.append("--quick")
        self.proc = subprocess.Popen(args, cwd=work, env=clean_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)

    def ask(self, phase: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(phase + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(RESULT_PREFIX):
                data: dict[str, Any] = json.loads(line[len(RESULT_PREFIX):])
                return data
        self.log.flush()
        sys.stderr.write(self.log_path.read_text()[-4000:])
        raise RuntimeError(f"the {self.name} worker died during {phase!r} "
                           f"(exit {self.proc.wait()})")

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


def run_phases(quick: bool, folder: Path) -> dict[str, dict[str, Any]]:
    """Run each phase in both libraries back to back, so load from other processes on the
    machine falls on both sides alike as far as possible."""
    workers = [WorkerProcess(name, quick, folder) for name in LIBRARIES]
    results: dict[str, dict[str, Any]] = {name: {} for name in LIBRARIES}
    try:
        for phase in PHASES:
            for worker in workers:
                results[worker.name][phase] = worker.ask(phase)
    finally:
        for worker in workers:
            worker.close()
    return results


def report(sizes: Sizes, imports: dict[str, float], res: dict[str, dict[str, Any]]) -> str:
    a, b = res["mlnb"], res["mlflow"]
    rows: list[list[str]] = []

    def time_row(label: str, x: float, y: float, target: str) -> None:
        rows.append([label, fmt_seconds(x), fmt_seconds(y), fmt_ratio(y / x), target])

    def rate_row(label: str, x: float, y: float, unit: str, target: str) -> None:
        rows.append([label, fmt_rate(x, unit), fmt_rate(y, unit), fmt_ratio(x / y), target])

    time_row("import", imports["mlnb"], imports["mlflow"], ">= 10x")
    time_row(f"run's life (median of {sizes.run_lives})", a["run_life"]["seconds"],
             b["run_life"]["seconds"], ">= 10x")
    rate_row(f"{sizes.metric_calls:,} log_metric calls", a["log_metric"]["per_second"],
             b["log_metric"]["per_second"], "calls", ">= 100x")
    rate_row(f"{sizes.batch_points:,} points via log_batch", a["log_batch"]["per_second"],
             b["log_batch"]["per_second"], "points", ">= 20x")
    sa, sb = a["search"], b["search"]
    n = sizes.search_runs
    time_row(f"search_runs filter+order ({n} runs)", sa["filtered_s"], sb["filtered_s"], ">= 10x")
    time_row(f"search_runs all {n} -> pandas", sa["pandas_s"], sb["pandas_s"], ">= 10x")
    time_row(f"get_metric_history ({sizes.search_steps} pts)", sa["history_s"], sb["history_s"],
             "(info)")
    time_row(f"build {n}-run fixture (batch API)", a["fixture"]["seconds"], b["fixture"]["seconds"],
             "(info)")
    headers = ["figure", f"mlnb {a['version']['version']}", f"MLflow {b['version']['version']}", "ratio",
               "target"]
    checks = [
        f"filtered search matched {sa['filtered_count']} (mlnb) / {sb['filtered_count']} (MLflow) "
        f"runs, first {sa['filtered_first']} / {sb['filtered_first']}",
        f"pandas frame {sa['pandas_rows']} / {sb['pandas_rows']} rows, "
        f"{sa['pandas_metric_columns']} / {sb['pandas_metric_columns']} metric columns; "
        f"history {sa['history_points']} / {sb['history_points']} points",
    ]
    return render_table(headers, rows) + "\nsame results: " + "\n              ".join(checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.worker:
        return serve(args.worker, sizes)
    print(f"== tracking: mlnb vs MLflow (sqlite), {'quick' if args.quick else 'full'} sizes: "
          f"{json.dumps(asdict(sizes))}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-tracking-") as tmp:
        folder = Path(tmp)
        imports = measure_imports(sizes, folder)
        results = run_phases(args.quick, folder)
    print(report(sizes, imports, results))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(ratio > 1: mlnb faster; took {time.perf_counter() - start:.0f} s; "
          f"load average {load} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
