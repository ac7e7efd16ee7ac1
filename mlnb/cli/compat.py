"""``mlnb exec script.py [args]``: run an MLflow script unchanged, its ``import mlflow...``
resolved to mlnb (:mod:`mlnb.mlflow_compat`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from mlnb.mlflow_compat import run_script_as_main


def register(subparsers: Any) -> None:
    """Add ``mlnb exec`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    run = subparsers.add_parser(
        "exec", help="run a Python script with `import mlflow...` resolved to mlnb",
        description="Run SCRIPT as `python SCRIPT ARGS...` would, with every `import mlflow` "
        "(mlflow.sklearn, mlflow.pyfunc, mlflow.models, ...) resolved to mlnb. An mlflow module "
        "mlnb does not provide fails with an error naming it; the real MLflow is never loaded.")
    run.add_argument("script", metavar="SCRIPT")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    run.set_defaults(handler=exec_script)


def exec_script(args: argparse.Namespace) -> int:
    """Run the script; its exit status is the command's (1 after an uncaught exception, whose
    traceback is printed as Python prints it).

    :param args: the parsed ``script`` and ``args``.
    """
    if not os.path.isfile(args.script):
        raise FileNotFoundError(f"no script {args.script!r} to run")
    return run_script_as_main(args.script, args.args)
