"""Append points to one metric of one run from one of several processes at once:
``append_series.py BARRIER_DIR RUN_ID WRITER``.

Batches of 1, 7 and 150 points, so that every path is taken while others write: rows in the
tail, tails packed when they fill, and batches packed at once.
"""

from __future__ import annotations

import sys

from _barrier import wait_for_go

import mlnb
from mlnb.entities import Metric

POINTS = 2_000


def main() -> None:
    barrier, run_id, writer = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = mlnb.MlnbClient()
    wait_for_go(barrier, f"writer-{writer}")
    first, sizes, done = writer * 100_000, (1, 7, 150), 0
    while done < POINTS:
        size = min(sizes[done % 3], POINTS - done)
        client.log_batch(run_id, metrics=[Metric("loss", float(first + done + i), writer, first + done + i)
                                          for i in range(size)])
        done += size
    print(done, flush=True)


if __name__ == "__main__":
    main()
