"""MLflow's own client against two tracking servers, same workload, one script run:
``mlflow server`` (SQLite backend, its default workers) and ``mlnb server`` (one process).

The workload is a stock ``MlflowClient`` (``MLFLOW_TRACKING_URI=http://...``) in a worker
subprocess: runs created with 10 params each and ended; 1,000 metric points logged in batches of
100 (``log_batch``, as ``log_metrics`` and autologging send them); a search with a filter and an
order. Each round runs the worker against MLflow's server, then against mlnb's, back to back, so
that load from other processes falls on both alike as far as it can. Figures are medians over the
rounds; a ratio > 1 means mlnb's server is faster. Target (issue 15): at least 5x MLflow's
throughput on the whole workload. Speed is reported, never asserted.

    .venv/bin/python bench/bench_mlflow_server.py            # full size, a few minutes
    .venv/bin/python bench/bench_mlflow_server.py --quick    # smoke run, ~1 min
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import PYTHON, clean_env, fmt_rate, fmt_ratio, fmt_seconds, median, render_table

SERVERS = ("mlflow", "mlnb")
TOKEN = "bench-token"
FILTER = "params.p1 = 'v1' and attributes.status = 'FINISHED'"
ORDER_BY = ["attributes.start_time DESC"]
RESULT_PREFIX = "@@result "
TARGET = 5.0


@dataclass(frozen=True)
class Sizes:
    rounds: int = 3
    runs: int = 100
    params: int = 10
    points: int = 1_000
    batch: int = 100
    metric_series: int = 5
    searches: int = 20


QUICK = Sizes(rounds=1, runs=20, metric_series=2, searches=5)


# --- the workload (inside a worker process: only the MLflow client) --------------------------

def workload(sizes: Sizes) -> dict[str, float]:
    """Seconds per phase for the stock MLflow client of ``MLFLOW_TRACKING_URI``."""
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient()
    eid = client.create_experiment(f"bench-{os.getpid()}-{time.time_ns()}")
    start = time.perf_counter()
    for i in range(sizes.runs):
        run = client.create_run(eid, run_name=f"run-{i}")
        client.log_batch(run.info.run_id, params=[
            Param(f"p{k}", f"v{(i + k) % 3}") for k in range(sizes.params)])
        client.set_terminated(run.info.run_id)
    runs_s = time.perf_counter() - start

    run_id = client.create_run(eid, run_name="metrics").info.run_id
    start = time.perf_counter()
    for series in range(sizes.metric_series):
        for first in range(0, sizes.points, sizes.batch):
            client.log_batch(run_id, metrics=[
                Metric(f"m{series}", step * 0.001, 1_700_000_000_000 + step, step)
                for step in range(first, min(first + sizes.batch, sizes.points))])
    metrics_s = time.perf_counter() - start
    client.set_terminated(run_id)

    times = []
    for _ in range(sizes.searches):
        start = time.perf_counter()
        found = client.search_runs([eid], FILTER, order_by=ORDER_BY, max_results=1000)
        times.append(time.perf_counter() - start)
    assert len(found) > 0
    return {"runs": runs_s, "metrics": metrics_s, "search": median(times),
            "search_total": sum(times)}


def worker(sizes: Sizes) -> int:
    print(RESULT_PREFIX + json.dumps(workload(sizes)), flush=True)
    return 0


# --- the servers -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mlflow(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(folder / "mlflow-server.log", "wb")
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "mlartifacts")],
        cwd=folder, env=clean_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).read()
            return process, url
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("mlflow server exited early; see mlflow-server.log") from None
            time.sleep(0.5)
    raise RuntimeError("mlflow server did not start within 180 s")


def start_mlnb(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    log_path = folder / "mlnb-server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [PYTHON, "-m", "mlnb", "--store", str(folder / "store"), "server", "--port", "0",
         "--token", TOKEN],
        cwd=folder, env=clean_env(MLNB_HOME=str(folder / "mlnb-home")), stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"MLFLOW_TRACKING_URI=(\S+)", log_path.read_text(errors="replace"))
        if found:
            return process, found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"mlnb server exited early:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError("mlnb server did not start within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_worker(url: str, token: str | None, quick: bool, folder: Path) -> dict[str, float]:
    extra = {"MLFLOW_TRACKING_URI": url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    if token:
        extra["MLFLOW_TRACKING_TOKEN"] = token
    cmd = [PYTHON, str(Path(__file__).resolve()), "--worker", *(["--quick"] if quick else [])]
    done = subprocess.run(cmd, cwd=folder, env=clean_env(**extra), capture_output=True, text=True,
                          timeout=3600)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, float] = json.loads(line[len(RESULT_PREFIX):])
            return result
    raise RuntimeError(f"worker against {url} failed:\n{done.stderr[-3000:]}")


def report(sizes: Sizes, results: dict[str, list[dict[str, float]]]) -> str:
    med = {s: {k: median(r[k] for r in results[s]) for k in results[s][0]} for s in SERVERS}
    run_calls = sizes.runs * 3  # create, log_batch of params, update
    points = sizes.points * sizes.metric_series
    rows = [
        ["runs (create, 10 params, end)",
         *(fmt_rate(run_calls / med[s]["runs"], "req") for s in SERVERS),
         fmt_ratio(med["mlflow"]["runs"] / med["mlnb"]["runs"])],
        [f"metric points (log_batch of {sizes.batch})",
         *(fmt_rate(points / med[s]["metrics"], "pts") for s in SERVERS),
         fmt_ratio(med["mlflow"]["metrics"] / med["mlnb"]["metrics"])],
        [f"search_runs ({sizes.runs} runs, filter + order)",
         *(fmt_seconds(med[s]["search"]) for s in SERVERS),
         fmt_ratio(med["mlflow"]["search"] / med["mlnb"]["search"])],
    ]
    total = {s: med[s]["runs"] + med[s]["metrics"] + med[s]["search_total"] for s in SERVERS}
    ratio = total["mlflow"] / total["mlnb"]
    rows.append(["whole workload (seconds)", *(fmt_seconds(total[s]) for s in SERVERS),
                 fmt_ratio(ratio)])
    table = render_table(["phase", "mlflow server", "mlnb server", "mlnb / mlflow"], rows)
    verdict = "meets" if ratio >= TARGET else "misses"
    return f"{table}\nwhole-workload throughput ratio {ratio:.1f}x ({verdict} the target of {TARGET:.0f}x)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.worker:
        return worker(sizes)
    print(f"== MLflow REST servers: mlnb server vs mlflow server (sqlite), "
          f"{'quick' if args.quick else 'full'} sizes: {json.dumps(asdict(sizes))}", flush=True)
    start = time.perf_counter()
    results: dict[str, list[dict[str, float]]] = {s: [] for s in SERVERS}
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-mlflow-server-") as tmp:
        folder = Path(tmp)
        (folder / "mlflow").mkdir()
        (folder / "mlnb").mkdir()
        mlflow_proc, mlflow_url = start_mlflow(folder / "mlflow")
        mlnb_proc, mlnb_url = start_mlnb(folder / "mlnb")
        try:
            for _ in range(sizes.rounds):
                results["mlflow"].append(run_worker(mlflow_url, None, args.quick, folder / "mlflow"))
                results["mlnb"].append(run_worker(mlnb_url, TOKEN, args.quick, folder / "mlnb"))
        finally:
            stop(mlnb_proc)
            stop(mlflow_proc)
    print(report(sizes, results))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(ratio > 1: mlnb faster; took {time.perf_counter() - start:.0f} s; "
          f"load average {load} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
