"""mlnb's scikit-learn autolog and ``%%track`` against MLflow's autolog, side by side.

    .venv/bin/python bench/bench_autolog.py [--quick]

Measures (median seconds per fit over several repetitions, each in a fresh temp store):
a bare ``LogisticRegression`` fit on iris and a 24-candidate ``GridSearchCV``, then the same fits
with ``mlnb.autolog()`` (model logging included) and with ``mlflow.sklearn.autolog()``; prints the
totals, the overhead over the bare fit and the ratio MLflow / mlnb. mlnb draws a classifier's
training images in a background thread after ``fit`` returns, so its fits are timed twice: until
``fit`` returns (what a notebook user waits for) and until everything is written (``fit`` then
``mlnb.flush()``, which waits for the images). Then the time ``%%track`` adds to a cell that logs
nothing, in a real ``InteractiveShell``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median_time(function: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _workloads() -> dict[str, Callable[[], Any]]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0], "fit_intercept": [True, False],
            "tol": [1e-4, 1e-3]}  # 24 candidates
    return {
        "LogisticRegression fit (iris)": lambda: LogisticRegression(max_iter=500).fit(X, y),
        "GridSearchCV, 24 candidates": lambda: GridSearchCV(
            LogisticRegression(max_iter=500), grid, cv=3).fit(X, y),
    }


def _measure_mlnb(workloads: dict[str, Callable[[], Any]], repeat: int, root: Path
                  ) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per fit: until ``fit`` returns, and until all it logs is written."""
    import mlnb

    mlnb.set_tracking_uri(root / "mlnb-store")
    mlnb.autolog(log_models=True, silent=True)
    try:
        for work in workloads.values():  # warm-up: first imports, package scan
            work()
        mlnb.flush()
        returned, written = {}, {}
        for name, work in workloads.items():
            returned[name] = _median_time(work, repeat)
            mlnb.flush()  # the previous timing's background work is not the next one's

            def work_written(work: Callable[[], Any] = work) -> None:
                work()
                mlnb.flush()

            written[name] = _median_time(work_written, repeat)
        return returned, written
    finally:
        mlnb.autolog(disable=True)


def _measure_mlflow(workloads: dict[str, Callable[[], Any]], repeat: int, root: Path
                    ) -> dict[str, float] | None:
    try:
        import mlflow
    except ImportError:
        return None
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.sklearn.autolog(silent=True)
    try:
        next(iter(workloads.values()))()  # warm-up: schema creation, imports
        return {name: _median_time(work, repeat) for name, work in workloads.items()}
    finally:
        mlflow.sklearn.autolog(disable=True)


def _measure_track(repeat: int, root: Path) -> tuple[float, float]:
    from IPython.core.history import HistoryAccessor
    from IPython.core.interactiveshell import InteractiveShell

    HistoryAccessor.enabled = False
    shell = InteractiveShell.instance()
    work = root / "notebook"
    work.mkdir()
    os.chdir(work)
    shell.run_cell("%load_ext mlnb")
    shell.run_cell("%%track\nx = 1\n")  # warm-up (first package scan)
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        bare = _median_time(lambda: shell.run_cell("x = 1", store_history=True), repeat * 5)
        tracked = _median_time(lambda: shell.run_cell("%%track\nx = 1\n", store_history=True),
                               repeat * 5)
    return bare, tracked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 7
    warnings.simplefilter("ignore")
    workloads = _workloads()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare = {name: _median_time(work, repeat) for name, work in workloads.items()}
        ours, ours_written = _measure_mlnb(workloads, repeat, root)
        theirs = _measure_mlflow(workloads, max(1, repeat // 2), root)
        cwd = os.getcwd()
        try:
            cell_bare, cell_tracked = _measure_track(repeat, root)
        finally:
            os.chdir(cwd)
    print(f"{'workload':32} {'bare':>8} {'mlnb':>8} {'mlflow':>8} {'total x':>8} "
          f"{'mlnb +':>8} {'mlflow +':>9} {'overhead x':>10}")
    for label, mine in (("", ours), (" (written)", ours_written)):
        for name in workloads:
            b, m = bare[name], mine[name]
            f = theirs[name] if theirs else float("nan")
            over_m, over_f = m - b, f - b
            # mlnb's fit can time faster than the bare one on a busy machine: no ratio then
            ratio = f"{over_f / over_m:10.1f}" if over_m > 0.001 else f"{'(noise)':>10}"
            print(f"{name + label:32} {b:8.3f} {m:8.3f} {f:8.3f} {f / m:8.1f} {over_m:8.3f} "
                  f"{over_f:9.3f} {ratio}")
    print("(written: mlnb's fit timed until its background images are written too; "
          "target: overhead x >= 20)")
    print(f"\n%%track on a cell that logs nothing: {cell_bare * 1000:.2f} ms bare, "
          f"{cell_tracked * 1000:.2f} ms tracked, adds {(cell_tracked - cell_bare) * 1000:.2f} ms "
          "(target < 30 ms)")
    models = "with" if _models_available() else "WITHOUT (mlnb.models.sklearn not importable)"
    print(f"(mlnb autolog measured {models} model logging; seconds are medians)")
    return 0


def _models_available() -> bool:
    try:
        import mlnb.models.sklearn  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
