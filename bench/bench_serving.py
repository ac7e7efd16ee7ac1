"""Serving and model logging, mlnb side by side with MLflow on the same scikit-learn model.

1. ``log_model`` + ``load_model`` round trips: ``mlnb.sklearn`` vs ``mlflow.sklearn`` (each into its
   own SQLite store in a temporary folder), after one warm-up call each.
2. HTTP scoring: ``mlnb serve`` vs ``mlflow models serve --env-manager local``, each a subprocess
   on 127.0.0.1, driven by the same bounded client loop (N requests over 4 threads, each thread
   on one keep-alive connection, a one-row ``dataframe_split`` JSON body).

Run: ``.venv/bin/python bench/bench_serving.py [--quick]``. Prints the figures and the ratios.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
BODY = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}}).encode()


def train() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 4)) + 3, columns=COLUMNS)
    y = (X.petal_length > 3).astype(int) + (X.petal_width > 3.5).astype(int)
    return LogisticRegression(max_iter=500).fit(X, y), X


# --- log + load --------------------------------------------------------------------------------


def time_mlnb_log_load(model: Any, X: Any, root: Path, rounds: int) -> list[float]:
    import mlnb

    mlnb.set_tracking_uri(str(root / "mlnb-store"))
    times = []
    for i in range(rounds + 1):
        start = time.perf_counter()
        with mlnb.start_run():
            info = mlnb.sklearn.log_model(model, "model", input_example=X[:5])
        mlnb.sklearn.load_model(info.model_uri)
        if i:  # the first round is a warm-up (imports, store creation)
            times.append(time.perf_counter() - start)
    return times


def quiet_mlflow() -> None:
    """Keep MLflow's INFO logs and schema hints out of the table (they are not timed anyway)."""
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


def time_mlflow_log_load(model: Any, X: Any, root: Path, rounds: int) -> list[float]:
    import mlflow

    quiet_mlflow()

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    times = []
    for i in range(rounds + 1):
        start = time.perf_counter()
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(model, name="model", input_example=X[:5])
        mlflow.sklearn.load_model(info.model_uri)
        if i:
            times.append(time.perf_counter() - start)
    return times


# --- serving ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError("server did not become ready")


def load(port: int, requests: int, threads: int = 4) -> dict[str, float]:
    """``requests`` POSTs over ``threads`` keep-alive connections: req/s and latency percentiles."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    per_thread = requests // threads

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(per_thread):
            start = time.perf_counter()
            conn.request("POST", "/invocations", BODY, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    for _ in range(2):  # warm-up requests on both servers before timing
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        warm.request("POST", "/invocations", BODY, {"Content-Type": "application/json"})
        warm.getresponse().read()
        warm.close()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {"rps": len(latencies) / wall, "p50_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000, "errors": errors[0]}


def serve_and_load(command: list[str], port: int, requests: int, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_ready(port, proc)
        return load(port, requests)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_serving(model: Any, X: Any, root: Path, requests: int, full_path: bool = False
                  ) -> tuple[dict[str, float], dict[str, float]]:
    import mlflow

    quiet_mlflow()

    import mlnb

    mlnb_dir, mlflow_dir = root / "mlnb-model", root / "mlflow-model"
    mlnb.sklearn.save_model(model, mlnb_dir, input_example=X[:5])
    mlflow.sklearn.save_model(model, str(mlflow_dir), input_example=X[:5])
    bindir = Path(sys.executable).parent
    # mlflow models serve runs `uvicorn` by name from PATH: put this venv's bin first.
    env = dict(os.environ, MLNB_TRACKING_URI=str(root / "serve-store"),
               PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    port = free_port()
    extra = ["--no-fast-path"] if full_path else []
    ours = serve_and_load([str(bindir / "mlnb"), "serve", str(mlnb_dir), "--port", str(port), *extra],
                          port, requests, env)
    port = free_port()
    theirs = serve_and_load(
        [str(bindir / "mlflow"), "models", "serve", "--env-manager", "local", "-m", str(mlflow_dir),
         "-p", str(port), "--host", "127.0.0.1"], port, requests, env)
    return ours, theirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--requests", type=int, default=None, help="requests per server")
    parser.add_argument("--serving-only", action="store_true", help="skip the log/load comparison")
    parser.add_argument("--full-path", action="store_true",
                        help="serve mlnb without its numeric fast path (DataFrame all the way)")
    args = parser.parse_args(argv)
    requests = args.requests or (400 if args.quick else 2000)
    rounds = 3 if args.quick else 10
    model, X = train()
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-serving-") as tmp:
        root = Path(tmp)
        if not args.serving_only:
            ours_ll = time_mlnb_log_load(model, X, root, rounds)
            print(f"mlnb log+load rounds (ms): {[round(t * 1000, 1) for t in ours_ll]}", flush=True)
            theirs_ll = time_mlflow_log_load(model, X, root, rounds)
            print(f"MLflow log+load rounds (ms): {[round(t * 1000, 1) for t in theirs_ll]}", flush=True)
            mlnb_ll, mlflow_ll = statistics.median(ours_ll) * 1000, statistics.median(theirs_ll) * 1000
            print(f"log_model + load_model (median of {rounds}): mlnb {mlnb_ll:.1f} ms, "
                  f"MLflow {mlflow_ll:.1f} ms -> {mlflow_ll / mlnb_ll:.1f}x faster")
        ours, theirs = bench_serving(model, X, root, requests, args.full_path)
    print(f"serving, {requests} requests over 4 threads (keep-alive, 1-row JSON):")
    for name, result in (("mlnb", ours), ("MLflow", theirs)):
        print(f"  {name:7s} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:6.2f} ms  "
              f"p95 {result['p95_ms']:6.2f} ms  errors {int(result['errors'])}")
    print(f"  ratio: {ours['rps'] / theirs['rps']:.1f}x the requests/s, p50 "
          f"{theirs['p50_ms'] / ours['p50_ms']:.1f}x lower")
    return 0


if __name__ == "__main__":
    sys.exit(main())
