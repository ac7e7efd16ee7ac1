"""Open a brand-new store at the same moment as others: ``open_new_store.py BARRIER_DIR NAME``."""

from __future__ import annotations

import sys

from _barrier import wait_for_go

import mlnb


def main() -> None:
    barrier, name = sys.argv[1], sys.argv[2]
    wait_for_go(barrier, name)
    client = mlnb.MlnbClient()  # MLNB_TRACKING_URI names a folder that does not exist yet
    run = client.create_run("0", run_name=name)
    client.set_terminated(run.info.run_id)
    print(f"{name} ok")


if __name__ == "__main__":
    main()
