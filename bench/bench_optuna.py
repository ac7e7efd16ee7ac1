"""An Optuna study of 100 quick trials recorded by mlnb and by MLflow's Optuna callback, side by side.

    .venv/bin/python bench/bench_optuna.py [--quick]

Each study: 100 trials of a two-parameter quadratic reporting three intermediate values, with
Optuna's ``RandomSampler`` (so that the sampler's own cost stays small beside the logging),
in-memory Optuna storage. Measured: the time recording adds to ``study.optimize``, as the median
of per-pair differences (a bare study and a recorded one back to back, so that load falls on both
alike), each library in its own temp store (MLflow on its SQLite backend):

* mlnb: ``mlnb.optuna.track(study).optimize(...)`` (a parent run, a child run per trial with its
  params, value, intermediate values as steps, state and distributions).
* MLflow: ``optuna_integration.MLflowCallback`` (MLflow's documented Optuna callback; a run per
  trial with its params, value and tags), when mlflow and optuna-integration are installed.

Target: mlnb's added time at least 10x lower.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import fmt_ratio, fmt_seconds, render_table

TRIALS = 100


def _objective(trial: Any) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_int("y", 0, 10)
    for step in range(3):
        trial.report(x * x + step, step)
    return (x - 1) ** 2 + y


def _study() -> Any:
    import optuna

    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))


def _bare() -> None:
    _study().optimize(_objective, n_trials=TRIALS)


def _paired(recorded: Callable[[], None], repeat: int) -> tuple[float, float]:
    """(median bare study, median added time)."""
    recorded()  # warm-up: imports, the store's schema
    bare, extra = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        _bare()
        plain = time.perf_counter() - start
        start = time.perf_counter()
        recorded()
        logged = time.perf_counter() - start
        bare.append(plain)
        extra.append(logged - plain)
    return statistics.median(bare), statistics.median(extra)


def _mlnb(root: Path, repeat: int) -> tuple[float, float]:
    import mlnb

    mlnb.set_tracking_uri(root / "mlnb")

    def recorded() -> None:
        mlnb.optuna.track(_study()).optimize(_objective, n_trials=TRIALS)

    return _paired(recorded, repeat)


def _mlflow(root: Path, repeat: int) -> float | None:
    try:
        from optuna_integration.mlflow import MLflowCallback
    except ImportError:
        return None

    uri = f"sqlite:///{root / 'mlflow.db'}"

    def recorded() -> None:
        callback = MLflowCallback(tracking_uri=uri, metric_name="value")
        _study().optimize(_objective, n_trials=TRIALS, callbacks=[callback])

    return _paired(recorded, repeat)[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else 5
    warnings.simplefilter("ignore")
    os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare, ours = _mlnb(root, repeat)
        theirs = _mlflow(root, max(1, repeat // 2 + 1))
    ratio = fmt_ratio(theirs / ours) if theirs is not None and ours > 0 else "n/a"
    rows = [["mlnb.optuna.track", fmt_seconds(ours), fmt_seconds(ours / TRIALS)],
            ["optuna_integration.MLflowCallback",
             fmt_seconds(theirs) if theirs is not None else "n/a",
             fmt_seconds(theirs / TRIALS) if theirs is not None else "n/a"]]
    print(f"Optuna study of {TRIALS} trials (bare study {fmt_seconds(bare)}): time added by recording")
    print(render_table(["recorder", "added", "per trial"], rows))
    print(f"\nmlnb's added time is {ratio} lower than MLflow's (target >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
