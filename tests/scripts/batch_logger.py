"""Log batches of 100 points forever, printing each committed batch: ``batch_logger.py``.

The parent kills it with SIGKILL in the middle; what reached the store must be whole batches.
"""

from __future__ import annotations

import sys

import mlnb
from mlnb.entities import Metric


def main() -> None:
    client = mlnb.MlnbClient()
    with mlnb.start_run(run_name="doomed") as run:
        print(run.run_id, flush=True)
        step = 0
        batch_number = 0
        while True:
            batch = [Metric("x", float(step + i), 0, step + i) for i in range(100)]
            client.log_batch(run.run_id, metrics=batch)
            step += 100
            batch_number += 1
            print(f"batch {batch_number}", flush=True)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
