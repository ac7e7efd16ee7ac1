"""Small helpers shared by the ``bench/bench_*.py`` scripts: clean environments, medians, tables.

Benchmarks report speed as ratios against MLflow measured side by side in the same script run;
they never assert a speed (a slow machine must not fail a build).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# Variables that would point one library at the other's store or change how it behaves.
_SCRUB_PREFIXES = ("MLFLOW_", "MLNB_")
_SCRUB_NAMES = ("PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP", "PYTHONWARNINGS")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without MLflow/mlnb settings, plus ``extra``.

    MLflow's telemetry is turned off so that no benchmark waits on a network attempt.
    """
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(_SCRUB_PREFIXES) and key not in _SCRUB_NAMES
    }
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"})
    env.update(extra)
    return env


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def import_seconds(module: str, cwd: str | os.PathLike[str], env: dict[str, str]) -> float:
    """Seconds ``import module`` takes in a fresh interpreter (its own start-up excluded)."""
    code = (
        "import time; t = time.perf_counter(); import " + module + "; "
        "print(time.perf_counter() - t)"
    )
    done = subprocess.run([PYTHON, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, first column left-aligned and the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(per_second: float, unit: str) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f}M {unit}/s"
    if per_second >= 1e4:
        return f"{per_second / 1e3:.0f}k {unit}/s"
    return f"{per_second:,.0f} {unit}/s"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:,.1f}x" if ratio < 100 else f"{ratio:,.0f}x"
