"""Log N points through the fluent API: ``log_points.py BARRIER_DIR NAME N``.

Uses only what a user's script would (set_experiment, start_run, log_metric in a loop, end_run);
the store comes from MLNB_TRACKING_URI.
"""

from __future__ import annotations

import sys

from _barrier import wait_for_go

import mlnb


def main() -> None:
    barrier, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mlnb.set_experiment("load")
    wait_for_go(barrier, name)
    mlnb.start_run(run_name=name)
    for step in range(count):
        mlnb.log_metric("loss", 1.0 / (step + 1), step=step)
    mlnb.end_run()
    print(f"{name} done")


if __name__ == "__main__":
    main()
