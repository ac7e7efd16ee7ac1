"""GenAI evaluation of 1,000 rows by ``mlnb.genai.evaluate`` and ``mlflow.genai.evaluate``, side by side.

    .venv/bin/python bench/bench_genai_eval.py [--rows 1000] [--quick]

The same work in both: a trivial ``predict_fn`` (``question.upper()``), the same three
deterministic scorers written once and wrapped by each library's ``@scorer`` (exact match and
contains against ``expectations["expected_response"]``, and a length bound), rows of
``{"inputs": {"question": ...}, "expectations": {...}}``. Each library runs in its own
subprocess with a clean environment and its own temp store (MLflow on its SQLite backend, as a
local user would run it). Measured: the wall time of the ``evaluate`` call, after a 10-row
warm-up in the same process (imports, schema, first run).

MLflow is configured so that it finishes correctly on SQLite: ``MLFLOW_GENAI_EVAL_MAX_WORKERS=1``
and ``MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false``. With its defaults (10 worker threads, async
trace export) on this machine its SQLite connection pool times out (``QueuePool limit ...
reached``) and traces and assessments are dropped with warnings, and it is slower still
(about 190 s for 100 rows against about 36 s configured).

Target: mlnb at least 5x faster.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import PYTHON, clean_env, fmt_ratio, fmt_seconds, render_table

WARMUP_ROWS = 10


def exact(outputs: str, expectations: dict[str, str]) -> bool:
    return outputs == expectations["expected_response"]


def contains(outputs: str, expectations: dict[str, str]) -> bool:
    return expectations["expected_response"] in outputs


def short(outputs: str) -> bool:
    return len(outputs) <= 20


def predict(question: str) -> str:
    return question.upper()


def data(rows: int) -> list[dict[str, Any]]:
    return [{"inputs": {"question": f"question {i}"},
             "expectations": {"expected_response": f"QUESTION {i}"}} for i in range(rows)]


def run_mlnb(rows: int, folder: str) -> tuple[float, dict[str, float]]:
    import mlnb
    from mlnb.genai import evaluate, scorer

    mlnb.set_tracking_uri(folder)
    scorers = [scorer(exact), scorer(contains), scorer(short)]
    evaluate(data(WARMUP_ROWS), scorers=scorers, predict_fn=predict)
    start = time.perf_counter()
    result = evaluate(data(rows), scorers=scorers, predict_fn=predict)
    return time.perf_counter() - start, {k: float(v) for k, v in result.metrics.items()}


def run_mlflow(rows: int, folder: str) -> tuple[float, dict[str, float]]:
    import mlflow
    from mlflow.genai.scorers import scorer

    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    mlflow.set_experiment("bench")
    scorers = [scorer(exact), scorer(contains), scorer(short)]
    mlflow.genai.evaluate(data=data(WARMUP_ROWS), scorers=scorers, predict_fn=predict)
    start = time.perf_counter()
    result = mlflow.genai.evaluate(data=data(rows), scorers=scorers, predict_fn=predict)
    return time.perf_counter() - start, {k: float(v) for k, v in result.metrics.items()}


def worker(library: str, rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        seconds, metrics = (run_mlnb if library == "mlnb" else run_mlflow)(rows, folder)
    print(json.dumps({"seconds": seconds, "metrics": metrics}))


def measure(library: str, rows: int) -> dict[str, Any]:
    env = clean_env(MLFLOW_GENAI_EVAL_MAX_WORKERS="1", MLFLOW_ENABLE_ASYNC_TRACE_LOGGING="false")
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run([PYTHON, __file__, "--worker", library, "--rows", str(rows)],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{library} failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 rows")
    parser.add_argument("--worker", choices=["mlnb", "mlflow"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rows = 100 if args.quick else args.rows
    if args.worker:
        worker(args.worker, rows)
        return 0
    ours = measure("mlnb", rows)
    try:
        import mlflow  # noqa: F401
    except ImportError:
        print("mlflow is not installed: only mlnb measured.")
        theirs = None
    else:
        theirs = measure("mlflow", rows)
    table = [["mlnb.genai.evaluate", fmt_seconds(ours["seconds"]),
              f"{ours['seconds'] / rows * 1e3:.2f} ms", ""]]
    if theirs is not None:
        ratio = theirs["seconds"] / ours["seconds"]
        table.append(["mlflow.genai.evaluate", fmt_seconds(theirs["seconds"]),
                      f"{theirs['seconds'] / rows * 1e3:.2f} ms", fmt_ratio(ratio)])
        same = all(abs(ours["metrics"][f"{s}/mean"] - theirs["metrics"][f"{s}/mean"]) < 1e-9
                   for s in ("exact", "contains", "short"))
        print(f"same scorer means in both: {same}")
    print(f"evaluate of {rows:,} rows, trivial predict_fn, 3 deterministic scorers")
    print(render_table(["library", "evaluate", "per row", "mlnb faster by"], table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
