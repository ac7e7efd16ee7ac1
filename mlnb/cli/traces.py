"""``mlnb traces export``: a store's GenAI traces as OTLP JSON or MLflow's trace JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlnb.cli.tracking import _experiment_ids
from mlnb.tracking.client import current_client


def register(subparsers: Any) -> None:
    """Add ``mlnb traces ...`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    traces = subparsers.add_parser("traces", help="export GenAI traces")
    actions = traces.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="write traces as OTLP JSON or MLflow trace JSON",
        description="otlp-json: OpenTelemetry's OTLP/JSON ExportTraceServiceRequest (what an "
                    "OTLP collector's /v1/traces takes); mlflow-json: a list of MLflow "
                    "Trace.to_dict() objects (mlflow.entities.Trace.from_dict reads each).")
    export.add_argument("--experiment", "-e", metavar="NAME_OR_ID", action="append",
                        help="an experiment's name or id (repeatable; default: every experiment)")
    export.add_argument("--run", "-r", metavar="RUN_ID", help="only the traces of this run")
    export.add_argument("--format", "-f", required=True, choices=("otlp-json", "mlflow-json"))
    export.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    export.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    """``mlnb traces export``: the traces as JSON, to a file or stdout.

    :param args: the parsed arguments.
    """
    # the tracing layer: loaded when the command runs, so `mlnb --help` stays fast
    from mlnb.tracing.export import export_traces

    client = current_client()
    if args.experiment:
        ids = [i for name in args.experiment for i in _experiment_ids(client, name)]
    elif args.run:
        ids = [client.get_run(args.run).info.experiment_id]
    else:
        ids = _experiment_ids(client, None)
    text = export_traces(ids, args.run, args.format)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0
