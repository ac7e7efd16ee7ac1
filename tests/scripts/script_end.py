"""A script that starts a run and never ends it: ``script_end.py normal|raise|nested``.

normal: falls off the end (the run must end FINISHED at exit); raise: dies on an uncaught
exception (FAILED); nested: a parent and a child run both left open (both FINISHED).
"""

from __future__ import annotations

import sys

import mlnb


def main() -> None:
    mode = sys.argv[1]
    run = mlnb.start_run(run_name=mode)
    print(run.run_id, flush=True)
    for step in range(10):
        mlnb.log_metric("m", float(step), step=step)  # buffered: must reach disk at exit
    mlnb.log_param("mode", mode)
    if mode == "nested":
        child = mlnb.start_run(run_name="child", nested=True)
        print(child.run_id, flush=True)
        mlnb.log_metric("c", 1.0)
    if mode == "raise":
        raise RuntimeError("the script failed")


if __name__ == "__main__":
    main()
