"""The Experiments workspace's first paint, timed in Debian's Chromium, against MLflow's UI.

Figures (each timed inside the browser with ``performance.now()``, from the action to the frame
where the result is in the DOM; medians over the rounds):

* **table**: the workspace opened from the launcher on an experiment of N runs (5 params, 3
  metrics each) until its first rows are shown;
* **grid**: a saved view of 5 line charts over 20 runs (5 metrics each, S steps a series)
  chosen in the workspace, until all 5 charts are drawn with their 20 lines (the server
  downsamples each history to at most 1,000 points, keeping each bucket's min and max);
* the same two on MLflow's UI (``mlflow server``, SQLite backend, its runs page and its chart
  view of the same runs) with the same runs, loaded through MLflow's own store. MLflow's grid is
  loaded with fewer steps (``mlflow_steps``, it writes about 20,000 points/s), and mlnb's is
  measured again on that same smaller data for the ratio.

Both UIs are loaded once first (the SPA's code), then each figure is an in-app navigation, so
neither side's page load is counted. Targets (issue 19): table under 0.5 s, grid under 1.5 s, and
at least 5x MLflow's first paint. Speed is reported, never asserted.

    .venv/bin/python bench/bench_workspace.py            # full size (10,000 runs; 100,000 steps)
    .venv/bin/python bench/bench_workspace.py --quick    # smoke run (1,000 runs; 10,000 steps)
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from bench_mlflow_server import start_mlflow, stop  # noqa: E402
from benchlib import PYTHON, clean_env, fmt_ratio, fmt_seconds, median, render_table  # noqa: E402

TABLE_TARGET = 0.5
GRID_TARGET = 1.5
RATIO_TARGET = 5.0
METRICS = [f"m{i}" for i in range(5)]
T0 = 1_700_000_000_000


@dataclass(frozen=True)
class Sizes:
    rounds: int = 5
    runs: int = 10_000
    grid_runs: int = 20
    steps: int = 100_000
    mlflow_steps: int = 10_000


QUICK = Sizes(rounds=2, runs=1_000, steps=10_000, mlflow_steps=1_000)


# --- data -----------------------------------------------------------------------------------

def fill_mlnb(root: Path, sizes: Sizes) -> dict[str, str]:
    """The three experiments in the lab server's store; returns their ids by name."""
    from mlnb.entities import Metric, Param
    from mlnb.store import Store, StoreLocation

    store = Store(StoreLocation(root / ".mlnb" / "mlnb.db", root / ".mlnb" / "artifacts"))
    ids = {"table": store.create_experiment("table")}
    for i in range(sizes.runs):
        run = store.create_run(ids["table"], run_name=f"run-{i:05d}", start_time=T0 + i).run_id
        store.log_batch(run, params=[Param(f"p{j}", str((i + j) % 7)) for j in range(5)],
                        metrics=[Metric(f"m{j}", math.sin(i + j), T0 + i, 0) for j in range(3)])
        store.update_run(run, "FINISHED", T0 + i + 1)  # finished, as MLflow's copy is
    for name, steps in (("grid", sizes.steps), ("grid-small", sizes.mlflow_steps)):
        ids[name] = store.create_experiment(name)
        for r in range(sizes.grid_runs):
            run = store.create_run(ids[name], run_name=f"g{r:02d}", start_time=T0 + r).run_id
            store.log_batch(run, params=[Param("seed", str(r % 5))])
            for key in METRICS:
                for start in range(0, steps, 10_000):
                    store.log_batch(run, metrics=[
                        Metric(key, 1 / (1 + s / 100) + 0.01 * math.sin(s + r), T0 + s, s)
                        for s in range(start, min(steps, start + 10_000))])
            store.update_run(run, "FINISHED", T0 + r + 1)
    return ids


MLFLOW_FILL = r"""
import math, sys
from mlflow.entities import Metric, Param, RunStatus
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
uri, art, runs, grid_runs, steps = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
store = SqlAlchemyStore(uri, art)
T0 = 1_700_000_000_000
table = store.create_experiment("table")
for i in range(runs):
    run = store.create_run(table, "bench", T0 + i, [], f"run-{i:05d}").info.run_id
    store.log_batch(run, metrics=[Metric(f"m{j}", math.sin(i + j), T0 + i, 0) for j in range(3)],
                    params=[Param(f"p{j}", str((i + j) % 7)) for j in range(5)], tags=[])
    store.update_run_info(run, RunStatus.FINISHED, T0 + i + 1, None)
grid = store.create_experiment("grid-small")
for r in range(grid_runs):
    run = store.create_run(grid, "bench", T0 + r, [], f"g{r:02d}").info.run_id
    store.log_batch(run, metrics=[], params=[Param("seed", str(r % 5))], tags=[])
    for key in ("m0", "m1", "m2", "m3", "m4"):
        for start in range(0, steps, 1000):
            store.log_batch(run, params=[], tags=[], metrics=[
                Metric(key, 1 / (1 + s / 100) + 0.01 * math.sin(s + r), T0 + s, s)
                for s in range(start, min(steps, start + 1000))])
    store.update_run_info(run, RunStatus.FINISHED, T0 + r + 1, None)
print(table, grid)
"""


def fill_mlflow(folder: Path, sizes: Sizes) -> tuple[str, str]:
    """The same runs in MLflow's SQLite store, written by MLflow itself; its experiment ids."""
    done = subprocess.run(
        [PYTHON, "-c", MLFLOW_FILL, f"sqlite:///{folder / 'mlflow.db'}",
         (folder / "mlartifacts").as_uri(), str(sizes.runs), str(sizes.grid_runs),
         str(sizes.mlflow_steps)], cwd=folder, env=clean_env(), capture_output=True, text=True,
        check=True)
    table, grid = done.stdout.split()[-2:]
    return table, grid


# --- browser timing -------------------------------------------------------------------------

WAIT_JS = """([milestones, action]) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const times = milestones.map(() => null);
    const check = () => {
        milestones.forEach(([selector, count], i) => {
            if (times[i] === null && document.querySelectorAll(selector).length >= count) {
                times[i] = performance.now() - t0;
            }
        });
        if (times.every(t => t !== null)) { resolve(times); return; }
        if (performance.now() - t0 > 180000) {
            reject(new Error('timed out: ' + JSON.stringify(times)));
            return;
        }
        requestAnimationFrame(check);
    };
    eval(action);
    requestAnimationFrame(check);
})"""


def timed_in_browser(page: Any, milestones: list[tuple[str, int]], action: str) -> list[float]:
    """Seconds from running ``action`` (JavaScript) to the first frame where each milestone's
    selector matches at least its count of elements."""
    return [float(t) / 1000 for t in page.evaluate(WAIT_JS, [milestones, action])]


def mlnb_figures(page: Any, server: Any, ids: dict[str, str], sizes: Sizes) -> dict[str, list[float]]:
    from mlnb.store import Store, StoreLocation

    store = Store(StoreLocation(server.root / ".mlnb" / "mlnb.db", server.root / ".mlnb" / "artifacts"))
    charts = [{"id": f"c{k}", "type": "line", "metric": key, "span": 1, "height": 260}
              for k, key in enumerate(METRICS)]
    views = {name: store.create_saved_view(ids[name], "grid", {"version": 1, "charts": charts,
                                                                "sort": None}).view_id
             for name in ("grid", "grid-small")}
    out: dict[str, list[float]] = {k: [] for k in ("table", "grid", "grid full", "grid-small",
                                                      "grid-small full")}
    for _ in range(sizes.rounds):
        # A fresh lab page each round (the launcher shows); the experiment's kept state cleared.
        page.goto(f"{server.url}/lab?token={server.token}")
        page.wait_for_selector(".jp-LauncherCard:has-text('Experiments')", timeout=120_000)
        page.evaluate("""(ids) => { localStorage.setItem('mlnb-workspace:last', ids[0]);
                                   ids.forEach(id => localStorage.removeItem('mlnb-workspace:' + id)); }""",
                      [ids["table"], ids["grid"], ids["grid-small"]])
        out["table"] += timed_in_browser(
            page, [(".mlnb-workspace .mlnb-ws-tr", 1)],
            "[...document.querySelectorAll('.jp-LauncherCard')]"
            ".find(c => c.textContent.includes('Experiments')).click()")
        page.wait_for_function(
            f"document.querySelector('.mlnb-ws-count')?.textContent.startsWith('{sizes.runs} of')",
            timeout=300_000)
        # The small grid first, straight after the table, as MLflow's chart view is measured:
        # the first charts of a page pay for loading Plotly, so both sides pay for their first.
        for name in ("grid-small", "grid"):
            page.select_option(".mlnb-workspace select[aria-label='experiment']", ids[name])
            page.wait_for_selector(".mlnb-workspace .mlnb-ws-tr >> text=g00")
            page.wait_for_function("document.querySelectorAll('.mlnb-workspace select"
                                   "[aria-label=\"saved view\"] option').length >= 2")
            first, full = timed_in_browser(
                page, [(".mlnb-ws-plot [data-painted]", len(METRICS)),
                       (".mlnb-ws-plot [data-painted='fine']", len(METRICS))],
                "(() => { const s = document.querySelector(\".mlnb-workspace "
                "select[aria-label='saved view']\"); s.value = " + json.dumps(views[name]) + "; "
                "s.dispatchEvent(new Event('change', {bubbles: true})); })()")
            out[name].append(first)
            out[name + " full"].append(full)
            traces = page.evaluate("[...document.querySelectorAll('.mlnb-ws-plot .js-plotly-plot')]"
                                   ".map(p => p.data.length)")
            assert traces == [sizes.grid_runs] * len(METRICS), traces
    return out


def mlflow_figures(page: Any, url: str, table: str, grid: str, sizes: Sizes) -> dict[str, list[float]]:
    page.goto(f"{url}/#/experiments/{table}/runs")
    page.wait_for_selector("text=run-", timeout=180_000)
    out: dict[str, list[float]] = {"table": [], "grid-small": [], "grid-small full": []}
    newest = f"run-{sizes.runs - 1:05d}"
    for _ in range(sizes.rounds):
        page.evaluate("location.hash = '#/'")
        page.wait_for_timeout(500)
        out["table"].append(_mlflow_text(page, newest, f"#/experiments/{table}/runs"))
        page.evaluate("location.hash = '#/'")
        page.wait_for_timeout(500)
        out["grid-small"].append(_mlflow_charts(page, grid, sizes))
    out["grid-small full"] = out["grid-small"]  # MLflow draws every point it has at once
    return out


def _mlflow_text(page: Any, text: str, target: str) -> float:
    """Seconds from navigating MLflow's app to ``target`` until ``text`` is shown."""
    return float(page.evaluate("""([text, target]) => new Promise((resolve, reject) => {
        const t0 = performance.now();
        const check = () => {
            if (document.body.innerText.includes(text)) { resolve(performance.now() - t0); return; }
            if (performance.now() - t0 > 120000) { reject(new Error('timed out')); return; }
            requestAnimationFrame(check);
        };
        location.hash = target;
        requestAnimationFrame(check);
    })""", [text, target])) / 1000


def _mlflow_charts(page: Any, grid: str, sizes: Sizes) -> float:
    """Seconds until MLflow's chart view of the grid experiment draws its 5 metric charts."""
    return float(page.evaluate("""([target, count]) => new Promise((resolve, reject) => {
        const t0 = performance.now();
        const drawn = () => [...document.querySelectorAll('.js-plotly-plot')]
            .filter(p => p.data && p.data.length >= 1 && p.querySelector('.main-svg')).length;
        const check = () => {
            if (drawn() >= count) { resolve(performance.now() - t0); return; }
            if (performance.now() - t0 > 120000) { reject(new Error('timed out: ' + drawn())); return; }
            requestAnimationFrame(check);
        };
        location.hash = target;
        requestAnimationFrame(check);
    })""", [f"#/experiments/{grid}/runs?compareRunsMode=CHART", len(METRICS)])) / 1000


# --- driver ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--no-mlflow", action="store_true", help="time mlnb only")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    from jupyter_harness import CHROMIUM, CHROMIUM_ARGS, start_lab, stop_lab
    from playwright.sync_api import sync_playwright

    print(f"== Experiments workspace first paint: {sizes.runs:,} runs; grid {sizes.grid_runs} runs x "
          f"{len(METRICS)} metrics x {sizes.steps:,} steps (MLflow: {sizes.mlflow_steps:,} steps)")
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-ws-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        server = start_lab(folder / "root", folder / "jupyter")
        mlflow_error = None
        try:
            ids = fill_mlnb(folder / "root", sizes)
            print(f"mlnb data written in {time.perf_counter() - started:.0f} s")
            mlflow: dict[str, list[float]] = {}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                mlnb = mlnb_figures(page, server, ids, sizes)
                if not args.no_mlflow:
                    mlflow_dir = folder / "mlflow"
                    mlflow_dir.mkdir()
                    try:
                        started = time.perf_counter()
                        table, grid = fill_mlflow(mlflow_dir, sizes)
                        print(f"MLflow data written in {time.perf_counter() - started:.0f} s")
                        process, url = start_mlflow(mlflow_dir)
                        try:
                            mlflow = mlflow_figures(browser.new_page(
                                viewport={"width": 1400, "height": 900}), url, table, grid, sizes)
                        finally:
                            stop(process)
                    except Exception as exc:  # MLflow's UI could not be driven: say so
                        mlflow_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                browser.close()
        finally:
            stop_lab(server.process)
    rows = []
    for figure, target, label in (
            ("table", TABLE_TARGET, f"table, {sizes.runs:,} runs"),
            ("grid", GRID_TARGET, f"grid, {sizes.steps:,} steps"),
            ("grid full", GRID_TARGET, f"grid, {sizes.steps:,} steps, 1,000-point lines"),
            ("grid-small", GRID_TARGET, f"grid, {sizes.mlflow_steps:,} steps"),
            ("grid-small full", GRID_TARGET, f"grid, {sizes.mlflow_steps:,} steps, 1,000-point lines")):
        ours = median(mlnb[figure])
        theirs = median(mlflow[figure]) if mlflow.get(figure) else None
        rows.append([label, fmt_seconds(ours), f"< {target} s", "-" if theirs is None else
                     fmt_seconds(theirs), "-" if theirs is None else fmt_ratio(theirs / ours),
                     "-" if theirs is None else f">= {RATIO_TARGET:.0f}x"])
    print(render_table(["first paint", "mlnb", "target", "MLflow UI", "MLflow / mlnb", "target"],
                       rows))
    if mlflow_error:
        print(f"MLflow's UI was not measured: {mlflow_error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
