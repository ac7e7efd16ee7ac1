"""GenAI: mlnb's tracing against MLflow's, side by side (one section per feature).

    .venv/bin/python bench/bench_genai.py [--quick] [--section tracing]

Section ``tracing``: the overhead per span of ``@mlnb.trace`` and of ``@mlflow.trace`` on a
function that does nothing (``def noop(x): return x``), each library in a fresh interpreter
writing to a store in a temp folder (MLflow: ``sqlite:///.../mlflow.db``). Two shapes: every
call its own trace (a root span each), and one trace of many child spans. Times are medians
over repetitions, bare call time subtracted, measured until the calls return (what the traced
code waits for) and until every trace is written (the calls, then each library's flush).

Sections are listed in :data:`SECTIONS`; a later section (GenAI evaluation) adds itself there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import PYTHON, REPO, clean_env, fmt_seconds, render_table

# Runs in a fresh interpreter: {lib} is "mlnb" or "mlflow"; prints JSON seconds per span.
TRACING_PROBE = r"""
import json, statistics, sys, time
lib, store, calls, repeat = {lib!r}, {store!r}, {calls}, {repeat}
if lib == "mlnb":
    import mlnb as api
    api.set_tracking_uri(store)
    flush = api.flush_trace_async_logging
else:
    import mlflow as api
    api.set_tracking_uri("sqlite:///" + store + "/mlflow.db")
    flush = api.flush_trace_async_logging

def noop(x):
    return x

traced = api.trace(noop)

def roots():
    for i in range(calls):
        traced(i)

def children():
    with api.start_span("root"):
        for i in range(calls):
            traced(i)

def bare():
    for i in range(calls):
        noop(i)

def median_time(fn, with_flush):
    times = []
    for _ in range(repeat):
        flush()
        start = time.perf_counter()
        fn()
        if with_flush:
            flush()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

roots(); children(); flush()  # warm-up: the store, the schema, the writer thread
base = median_time(bare, False)
out = {{}}
for name, fn in (("roots", roots), ("children", children)):
    out[name] = (median_time(fn, False) - base) / calls
    out[name + "+flush"] = (median_time(fn, True) - base) / calls
flush()
out["stored_traces"] = len(api.search_traces(max_results=10000, return_type="list",
                                             include_spans=False))
print(json.dumps(out))
"""


def _probe(lib: str, calls: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        code = TRACING_PROBE.format(lib=lib, store=folder, calls=calls, repeat=repeat)
        # PYTHONPATH: the probe measures this checkout's mlnb, whatever is installed.
        done = subprocess.run([PYTHON, "-c", code], cwd=folder, check=False,
                              env=clean_env(PYTHONPATH=str(REPO)), capture_output=True,
                              text=True, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"{lib} tracing probe failed:\n{done.stderr[-3000:]}")
        result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def tracing(quick: bool) -> str:
    """The tracing section: overhead per span, mlnb and MLflow, and the ratio."""
    calls, repeat = (300, 3) if quick else (500, 5)
    ours = _probe("mlnb", calls, repeat)
    theirs = _probe("mlflow", calls, repeat)
    rows = []
    for key, label in (("roots", "each call a trace (root span)"),
                       ("roots+flush", "  ... until written"),
                       ("children", "child spans of one trace"),
                       ("children+flush", "  ... until written")):
        rows.append([label, fmt_seconds(ours[key]), fmt_seconds(theirs[key]),
                     f"{theirs[key] / ours[key]:.1f}x", ">= 10x"])
    table = render_table(["overhead per span (noop function)", "mlnb", "MLflow",
                          "MLflow / mlnb", "target"], rows)
    return (f"Tracing: {calls} calls x {repeat} repetitions per shape (median); stored traces "
            f"mlnb {int(ours['stored_traces'])}, MLflow {int(theirs['stored_traces'])}\n{table}")


SECTIONS: dict[str, Callable[[bool], str]] = {"tracing": tracing}


def main(argv: list[str] | None = None) -> int:
    """Run the sections asked for (default all) and print their tables.

    :param argv: the arguments; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repetitions")
    parser.add_argument("--section", choices=sorted(SECTIONS), action="append",
                        help="run only this section (repeatable; default all)")
    args = parser.parse_args(argv)
    print(f"bench_genai ({REPO.name})")
    for name in args.section or list(SECTIONS):
        print()
        print(SECTIONS[name](args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
