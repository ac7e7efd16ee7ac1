"""Read while others write: ``read_loop.py BARRIER_DIR NAME STOP_FILE``.

Loops search_runs + get_metric_history until STOP_FILE exists; prints how many rounds it did.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _barrier import wait_for_go

import mlnb


def main() -> None:
    barrier, name, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    client = mlnb.MlnbClient()
    wait_for_go(barrier, name)
    rounds = points = 0
    while not stop.exists():
        experiment = client.get_experiment_by_name("load")
        if experiment is not None:
            for run in client.search_runs([experiment.experiment_id], "metrics.loss >= 0"):
                points = max(points, len(client.get_metric_history(run.info.run_id, "loss")))
            mlnb.search_runs(search_all_experiments=True, output_format="list")
        rounds += 1
    print(f"{name} rounds={rounds} max_points={points}")


if __name__ == "__main__":
    main()
