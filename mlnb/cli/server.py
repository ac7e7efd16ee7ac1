"""``mlnb server``: serve MLflow's REST API over the store, for unchanged MLflow code
(``MLFLOW_TRACKING_URI=http://127.0.0.1:5000``) on machines with no Jupyter server."""

from __future__ import annotations

import argparse
import os
from typing import Any

TOKEN_ENV = "MLNB_SERVER_TOKEN"


def register(subparsers: Any) -> None:
    """Add ``mlnb server`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    cmd = subparsers.add_parser(
        "server", help="serve MLflow's REST API over the store (MLFLOW_TRACKING_URI=http://...)",
        description="Serve MLflow's REST API (tracking, model registry, artifact proxy) over the "
        "store, so that unchanged MLflow code logs into it with MLFLOW_TRACKING_URI and "
        "MLFLOW_TRACKING_TOKEN. Listens on loopback; every request needs the token, which is "
        f"generated and printed unless --token or ${TOKEN_ENV} gives one.")
    cmd.add_argument("--host", default="127.0.0.1",
                     help="the address to listen on (default 127.0.0.1; another one needs a token)")
    cmd.add_argument("--port", type=int, default=5000, help="the port (default 5000; 0: any free one)")
    cmd.add_argument("--token", default=None,
                     help=f"the token clients must send (default ${TOKEN_ENV}, else a new random one)")
    cmd.add_argument("--no-token", action="store_true",
                     help="serve without a token (loopback only: anyone on this machine can then "
                     "read and change the store)")
    # Same destination as the global option: `mlnb server --store URI` and `mlnb --store URI
    # server` both select the store (the global handler applies it before this command runs).
    cmd.add_argument("--store", metavar="URI", default=argparse.SUPPRESS,
                     help="the store to serve (default: MLNB_TRACKING_URI, else the nearest .mlnb)")
    cmd.set_defaults(handler=run_server)


def run_server(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM.

    :param args: the parsed ``host``, ``port``, ``token`` and ``no_token``.
    """
    # tornado and the store: loaded when serving, not for every `mlnb --help`
    from mlnb.cli.mlflow_server import new_token, serve
    from mlnb.tracking.client import current_store  # the store: only when serving

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, not {args.port}")
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    if args.no_token:
        if token:
            raise ValueError("give either --token or --no-token, not both")
        token = None
    elif not token:
        token = new_token()
    serve(current_store(), args.host, args.port, token)
    return 0
