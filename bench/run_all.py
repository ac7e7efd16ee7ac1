"""Run every ``bench/bench_*.py``, each in its own subprocess, and summarise.

    .venv/bin/python bench/run_all.py                  # everything, full sizes
    .venv/bin/python bench/run_all.py --quick          # smoke run with small sizes
    .venv/bin/python bench/run_all.py --only tracking  # just bench/bench_tracking.py

Each benchmark exposes ``main(argv=None) -> int`` and prints its own table. Speed is reported,
never asserted: this exits non-zero only when a benchmark crashes (or returns non-zero).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# Known benchmarks run first, in this order; any other bench_*.py follows alphabetically.
ORDER = ("tracking", "autolog", "serving", "rest", "widgets")

# A fresh interpreter imports the module and calls its main(), so a benchmark works even without
# an ``if __name__ == "__main__"`` block, and no import leaks from one benchmark to the next.
_LAUNCH = (
    "import sys; sys.path.insert(0, sys.argv[1]); import importlib; "
    "module = importlib.import_module(sys.argv[2]); "
    "sys.exit(module.main(sys.argv[3:]) or 0)"
)


def discover() -> list[str]:
    """Area names of the benchmarks present (``bench_<area>.py``), in running order."""
    found = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    known = [name for name in ORDER if name in found]
    return known + [name for name in found if name not in ORDER]


def run_one(area: str, quick: bool) -> tuple[int, float]:
    """Run ``bench_<area>.main`` in a subprocess, streaming its output; (exit code, seconds)."""
    argv = ["--quick"] if quick else []
    command = [sys.executable, "-c", _LAUNCH, str(BENCH_DIR), f"bench_{area}", *argv]
    print(f"\n##### bench_{area}.py {' '.join(argv)}".rstrip(), flush=True)
    start = time.perf_counter()
    # A scratch working folder: whatever a library writes relative to the current directory
    # (MLflow's ./mlruns, a default .mlnb store) never lands in the repository.
    with tempfile.TemporaryDirectory(prefix=f"mlnb-bench-{area}-") as scratch:
        code = subprocess.run(command, cwd=scratch).returncode
    return code, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the mlnb benchmarks against MLflow.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="run only bench_NAME.py (repeatable), e.g. --only tracking")
    args = parser.parse_args(argv)
    areas = discover()
    if args.only:
        wanted = [name.removeprefix("bench_").removesuffix(".py") for name in args.only]
        missing = [name for name in wanted if name not in areas]
        if missing:
            parser.error(f"no bench/bench_{missing[0]}.py; present: {', '.join(areas) or 'none'}")
        areas = [name for name in areas if name in wanted]
    results = [(area, *run_one(area, args.quick)) for area in areas]
    print("\n##### summary")
    for area, code, seconds in results:
        outcome = "ok" if code == 0 else f"CRASHED (exit {code})"
        print(f"  bench_{area:<10} {outcome:<20} {seconds:6.0f} s")
    failed = [area for area, code, _ in results if code != 0]
    if failed:
        print(f"{len(failed)} benchmark(s) crashed: {', '.join(failed)}")
        return 1
    print(f"{len(results)} benchmark(s) ran; speed figures are reported above, not asserted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
