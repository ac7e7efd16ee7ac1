"""``mlnb monitor MODEL_URI``: drift per time window of a model's prediction log, logged as runs
in the ``<model> monitoring`` experiment (see :mod:`mlnb.monitor.watch`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlnb.terminal import visible


def register(subparsers: Any) -> None:
    """Add ``mlnb monitor`` to the command line.

    :param subparsers: the sub-command table of the ``mlnb`` parser.
    """
    monitor = subparsers.add_parser(
        "monitor", help="test each time window of a model's prediction log for drift and log it")
    monitor.add_argument("model_uri", metavar="MODEL_URI",
                         help="the URI the predictions were logged under (mlnb serve "
                              "--log-predictions, mlnb.log_predictions)")
    monitor.add_argument("--reference", default=None, metavar="RUN_OR_FILE",
                         help="a .csv or .parquet file, a run id or runs:/<run_id>/<path>; default "
                              "the reference_data logged with the model")
    monitor.add_argument("--since", default=None, metavar="WHEN",
                         help="only predictions from then on: 7d (back from now) or an ISO date")
    monitor.add_argument("--window", default="1d", metavar="DURATION",
                         help="the window length: 30m, 6h, 1d (default), 1w")
    monitor.add_argument("--target", default=None, metavar="COLUMN",
                         help="the reference's target column, for target drift against the ground "
                              "truth; default the one recorded with the reference data or found "
                              "from the model's signature")
    monitor.add_argument("--trusted", action="store_true",
                         help="load the model for prediction drift even if mlnb did not write its "
                              "files (a foreign pickle runs its code); only for a model you trust")
    monitor.set_defaults(handler=monitor_model)


def monitor_model(args: argparse.Namespace) -> int:
    """``mlnb monitor MODEL_URI [--reference ...] [--since ...] [--window 1d] [--target COLUMN]
    [--trusted]``: one line per reported window (rows, input drift share and verdict, the
    drifted columns, then ``prediction drift``/``prediction ok`` and ``target drift``/``target
    ok`` where tested).

    :param args: the parsed arguments.
    """
    from mlnb.monitor.watch import monitor  # pandas and scipy: only when it runs

    def say(line: str) -> None:
        print(visible(line), file=sys.stderr, flush=True)

    result = monitor(args.model_uri, reference=args.reference, since=args.since,
                     window=args.window, target=args.target, trusted=args.trusted, progress=say)
    for w in result.windows:
        verdict = "DRIFT" if w.dataset_drift else "ok"
        drifted = ", ".join(visible(c) for c in w.drifted_columns[:10])
        outputs = "".join(f"\t{role} {'DRIFT' if found else 'ok'}" for role, found in
                          (("prediction", w.prediction_drift), ("target", w.target_drift))
                          if found is not None)
        print(f"window {w.index}\t{w.rows} rows\tdrift share {w.share_drifted:.2f}\t{verdict}"
              + (f"\t{drifted}" if drifted else "") + outputs)
    return 0
