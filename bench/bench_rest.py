"""The sidebar's REST API against a real Jupyter Server: a page of runs out of 10,000.

    .venv/bin/python bench/bench_rest.py           # 10,000 runs, 200 requests per query
    .venv/bin/python bench/bench_rest.py --quick   # 2,000 runs, 60 requests per query
    .venv/bin/python bench/bench_rest.py --scale   # 1,000 and 100,000 runs: p95 growth

A store is filled through the store API (each run: 3 params, 3 metrics, 2 tags), then
``jupyter server`` is started on it with the mlnb extension and a token, and each query below is
requested over HTTP with keep-alive, as the panel's poll does: "fresh" after another process has
written to the store (a kernel logging; the page is recomputed), and "unchanged" (the server's
page cache answers). Reported: p50 and p95 per query.
Target (issue 6): the default page (50 runs) in at most 50 ms at p95. Speed is reported, never
asserted. MLflow has no Jupyter sidebar, so there is no side-by-side figure here.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import PYTHON, clean_env, fmt_seconds, render_table

TOKEN = "bench-token"
TARGET_P95 = 0.050


def fill_store(root: Path, runs: int) -> tuple[Any, str]:
    """``runs`` finished runs in experiment "bench" of the store at ``root/.mlnb``; (store, id)."""
    from mlnb.entities import Metric, Param, RunTag
    from mlnb.store import Store, StoreLocation

    store = Store(StoreLocation(root / ".mlnb" / "mlnb.db", root / ".mlnb" / "artifacts"))
    eid = store.create_experiment("bench")
    for i in range(runs):
        info = store.create_run(eid, run_name=f"run-{i:05d}", start_time=1_700_000_000_000 + i)
        store.log_batch(
            info.run_id,
            params=[Param("lr", str(10 ** -(i % 5))), Param("depth", str(i % 12)), Param("seed", str(i))],
            metrics=[Metric("acc", (i % 997) / 997, 1, 0), Metric("loss", 1 / (1 + i % 101), 1, 0),
                     Metric("f1", (i % 89) / 89, 1, 0)],
            tags=[RunTag("team", "blue" if i % 3 else "red"), RunTag("note", f"run {i}")],
        )
        store.update_run(info.run_id, status="FINISHED", end_time=1_700_000_000_500 + i)
    return store, eid


def writer(store: Any, eid: str) -> Callable[[], None]:
    """A write by another process (as a kernel logging a metric) before each request."""
    from mlnb.entities import Metric

    run_id = store.create_run(eid, run_name="live", start_time=1_600_000_000_000).run_id
    step = [0]

    def write() -> None:
        step[0] += 1
        store.log_batch(run_id, metrics=[Metric("loss", 1 / step[0], 1, step[0])])

    return write


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = clean_env(JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    cmd = [PYTHON, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
           "--ServerApp.jpserver_extensions=mlnb=True", "--log-level=WARN"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(work / "server.log", "wb")  # closed when the server stops
    process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/mlnb/api/version", headers=auth(), timeout=2).raise_for_status()
            return process, url
        except requests.RequestException:
            if process.poll() is not None:
                break
            time.sleep(0.3)
    stop(process)
    raise RuntimeError(f"jupyter server did not start:\n{(work / 'server.log').read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def auth() -> dict[str, str]:
    return {"Authorization": f"token {TOKEN}"}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def measure(session: requests.Session, url: str, params: dict[str, str], repeats: int,
            before: Callable[[], None] | None = None) -> tuple[float, float, int]:
    for _ in range(3):  # warm-up
        session.get(url, params=params, headers=auth(), timeout=30).raise_for_status()
    samples = []
    total = 0
    for _ in range(repeats):
        if before is not None:
            before()  # not timed
        start = time.perf_counter()
        response = session.get(url, params=params, headers=auth(), timeout=30)
        response.raise_for_status()
        body = response.json()
        samples.append(time.perf_counter() - start)
        total = body.get("total", 0)
    p50, p95 = percentiles(samples)
    return p50, p95, total


def run_queries(runs: int, repeats: int) -> dict[str, tuple[float, float, int]]:
    """Fill a store of ``runs`` runs, serve it, and time each query: label -> (p50, p95, total)."""
    found: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-rest-") as tmp:
        root, work = Path(tmp) / "root", Path(tmp) / "work"
        root.mkdir()
        work.mkdir()
        started = time.perf_counter()
        store, eid = fill_store(root, runs)
        print(f"filled a store with {runs:,} runs in {time.perf_counter() - started:.1f} s",
              flush=True)
        process, url = start_server(root, work)
        try:
            queries = [
                ("first page (default order, 50)", {"experiment_id": eid}),
                ("page 100 rows, order by metric", {"experiment_id": eid, "limit": "100",
                                                    "order_by": "metrics.acc DESC"}),
                ("filter tag + metric, 50", {"experiment_id": eid,
                                            "filter": "tags.team = 'blue' and metrics.acc > 0.5"}),
                ("deep page (offset = runs - 50)", {"experiment_id": eid, "offset": str(runs - 50)}),
                ("all experiments, 50", {}),
            ]
            write = writer(store, eid)
            with requests.Session() as session:
                for label, params in queries:
                    # "fresh": a kernel committed since the last poll, so the page is recomputed;
                    # "unchanged": nothing was written, so the server answers from its page cache.
                    for mode, before in (("fresh", write), ("unchanged", None)):
                        found[f"{label} [{mode}]"] = measure(
                            session, f"{url}/mlnb/api/runs", params, repeats, before)
        finally:
            stop(process)
            store.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 runs and fewer requests")
    parser.add_argument("--scale", action="store_true",
                        help="1,000 and 100,000 runs: how p95 grows with the store (issue Scale)")
    args = parser.parse_args(argv)
    if args.scale:
        return scale(repeats=60)
    runs, repeats = (2_000, 60) if args.quick else (10_000, 200)
    rows = [[label, f"{total:,}", fmt_seconds(p50), fmt_seconds(p95),
             "ok" if p95 <= TARGET_P95 else "over"]
            for label, (p50, p95, total) in run_queries(runs, repeats).items()]
    print(render_table(["GET /mlnb/api/runs", "total", "p50", "p95", "p95 <= 50 ms"], rows))
    print(f"{runs:,} runs, {repeats} requests per query over HTTP keep-alive; "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


def scale(repeats: int, sizes: tuple[int, int] = (1_000, 100_000)) -> int:
    """The same queries on a small and a large store: p95 and its growth (target <= 3x)."""
    small, large = (run_queries(n, repeats) for n in sizes)
    rows = [[label, fmt_seconds(small[label][1]), fmt_seconds(large[label][1]),
             f"{large[label][1] / small[label][1]:.1f}x"] for label in small]
    print(render_table(["GET /mlnb/api/runs, p95", f"{sizes[0]:,} runs", f"{sizes[1]:,} runs",
                        "growth (target <= 3x)"], rows))
    print(f"{repeats} requests per query over HTTP keep-alive; "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
