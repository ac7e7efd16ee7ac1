"""Importing MLflow history: ``mlnb import mlflow`` against MLflow's own ``log_batch``, one run.

MLflow itself first fills a new SQLite store (``sqlite:///<tmp>/mlflow.db``) in a worker
subprocess with a clean environment: per run, ``create_run``, one ``log_batch`` of 10 params and
5 metrics x 100 steps (500 points, under MLflow's 1,000-metric limit), 2 small artifacts, and
the run's end. Only the ``log_batch`` calls are timed: MLflow's rate of writing metric points
into its own store. Then ``python -m mlnb import mlflow sqlite:///<tmp>/mlflow.db --to <tmp>/mlnb``
runs in a fresh subprocess and its wall time (interpreter start-up, reading MLflow's tables and
files, writing runs, points, artifacts with their sha256, the summary) is the import's: its rate
is the store's metric points over that time. A ratio > 1 means the import is faster; the target
(>= 10x) is printed beside it, never asserted.

    .venv/bin/python bench/bench_import.py            # 1,000 runs, a few minutes
    .venv/bin/python bench/bench_import.py --quick    # 100 runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import PYTHON, REPO, clean_env, fmt_rate, fmt_ratio, fmt_seconds, render_table

PARAMS, METRICS, STEPS, ARTIFACTS = 10, 5, 100, 2
RESULT_PREFIX = "@@result "
TARGET = 10.0


def build(db: Path, runs: int) -> None:
    """The MLflow worker: fill the store, print the seconds spent in ``log_batch``."""
    import mlflow
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.create_experiment("bench", artifact_location=(db.parent / "mlruns").as_uri())
    files = []
    for i in range(ARTIFACTS):
        path = db.parent / f"artifact-{i}.txt"
        path.write_text(f"artifact {i}\n" * 50)
        files.append(path)
    spent = 0.0
    t0 = 1_700_000_000_000
    for r in range(runs):
        run = client.create_run(experiment, run_name=f"run-{r}")
        params = [Param(f"p{k}", f"v{(r + k) % 7}") for k in range(PARAMS)]
        metrics = [Metric(f"m{k}", (r * k + s) / 1000, t0 + s, s)
                   for k in range(METRICS) for s in range(STEPS)]
        start = time.perf_counter()
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        spent += time.perf_counter() - start
        for path in files:
            client.log_artifact(run.info.run_id, str(path))
        client.set_terminated(run.info.run_id)
    print(RESULT_PREFIX + json.dumps({"log_batch_s": spent, "version": mlflow.__version__}),
          flush=True)


def run_build(folder: Path, runs: int) -> dict[str, float | str]:
    log = folder / "mlflow.log"
    with log.open("w") as err:
        done = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--build", str(runs),
                               str(folder / "mlflow.db")], cwd=folder, env=clean_env(),
                              stdout=subprocess.PIPE, stderr=err, text=True)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, float | str] = json.loads(line[len(RESULT_PREFIX):])
            return result
    sys.stderr.write(log.read_text()[-4000:])
    raise RuntimeError(f"the MLflow worker failed (exit {done.returncode})")


def run_import(folder: Path) -> tuple[float, str]:
    env = clean_env(PYTHONPATH=str(REPO))
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-m", "mlnb", "import", "mlflow",
                           f"sqlite:///{folder / 'mlflow.db'}", "--to", str(folder / "mlnb")],
                          cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"mlnb import failed (exit {done.returncode})")
    return seconds, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 runs instead of 1,000")
    parser.add_argument("--build", nargs=2, metavar=("RUNS", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        build(Path(args.build[1]), int(args.build[0]))
        return 0
    runs = 100 if args.quick else 1_000
    points = runs * METRICS * STEPS
    print(f"== import: mlnb import mlflow vs MLflow's log_batch (sqlite), {runs:,} runs x "
          f"({PARAMS} params, {METRICS} metrics x {STEPS} steps, {ARTIFACTS} artifacts)", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        built = run_build(folder, runs)
        seconds, summary = run_import(folder)
    mlflow_rate = points / float(built["log_batch_s"])
    import_rate = points / seconds
    rows = [
        ["metric points", f"{points:,}", f"{points:,}", "", ""],
        ["time", fmt_seconds(seconds) + " (whole import)",
         fmt_seconds(float(built["log_batch_s"])) + " (log_batch only)", "", ""],
        ["metric points / s", fmt_rate(import_rate, "points"), fmt_rate(mlflow_rate, "points"),
         fmt_ratio(import_rate / mlflow_rate), f">= {TARGET:.0f}x"],
    ]
    print(render_table(["figure", "mlnb import mlflow", f"MLflow {built['version']} log_batch",
                        "ratio", "target"], rows))
    print("\n" + "\n".join(line for line in summary.splitlines() if line.startswith(("Read", "  "))))
    print(f"(ratio > 1: the import is faster; took {time.perf_counter() - start:.0f} s; "
          f"load average {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
