"""Call set_experiment on a new name at the same moment as others: ``... BARRIER_DIR NAME``."""

from __future__ import annotations

import sys

from _barrier import wait_for_go

import mlnb


def main() -> None:
    barrier, name = sys.argv[1], sys.argv[2]
    mlnb.MlnbClient()  # open the store first: the race is on the experiment, not the schema
    wait_for_go(barrier, name)
    experiment = mlnb.set_experiment("shared-new-experiment")
    print(f"{name} {experiment.experiment_id}")


if __name__ == "__main__":
    main()
