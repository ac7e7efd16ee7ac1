"""``mlnb export``, ``mlnb run`` and ``mlnb reproduce``: notebooks as reproducible projects."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlnb.cli.table import visible
from mlnb.errors import InvalidParameterError
from mlnb.projects import ProjectRunFailedError, export_notebook, reproduce_run, run_project, verify_project
from mlnb.projects.run import parse_assignments


def register(subparsers: Any) -> None:
    """Add ``mlnb export``, ``mlnb run`` and ``mlnb reproduce`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    export = subparsers.add_parser(
        "export", help="write a notebook (and a run of it) as a reproducible MLflow-format project")
    export.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    export.add_argument("--run", metavar="RUN_ID", help="the source run (default: the latest "
                        "finished run recorded from this notebook, if any)")
    export.add_argument("--out", metavar="DIR", required=True, help="the project folder to create")
    export.add_argument("--max-copy-mb", type=float, default=10.0, metavar="MB",
                        help="copy data files up to this size; larger ones are referenced by sha256")
    export.add_argument("--force", action="store_true", help="replace DIR if it is not empty")
    export.add_argument("--reference-secrets", action="store_true",
                        help="leave out the credential files the notebook reads (refused by "
                        "default); at run time each is read from the path in its MLNB_SECRET_... "
                        "environment variable (README.md names it) or from inside the project")
    export.set_defaults(handler=export_cmd)

    run = subparsers.add_parser("run", help="run an exported project as a tracked run")
    run.add_argument("project", metavar="DIR")
    run.add_argument("-P", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a parameter value (repeatable)")
    run.add_argument("--entry-point", "-e", default="main", metavar="NAME")
    run.add_argument("--experiment", metavar="NAME",
                     help="experiment of the new run (default: the source run's, or the one the "
                     "notebook sets, as recorded by the export)")
    run.add_argument("--verify", action="store_true",
                     help="re-run with the source run's params and compare metrics with it")
    _environment_options(run)
    run.set_defaults(handler=run_cmd)

    reproduce = subparsers.add_parser(
        "reproduce", help="re-run the project (or notebook) of a run and compare its metrics")
    reproduce.add_argument("run_id", metavar="RUN_ID")
    _environment_options(reproduce)
    reproduce.set_defaults(handler=reproduce_cmd)


def _environment_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-manager", choices=("local", "virtualenv"), default="local",
                        help="run in this environment (local) or a fresh virtualenv built from "
                        "requirements.txt")
    parser.add_argument("--offline", action="store_true",
                        help="virtualenv: install with --no-index, layered on this environment's "
                        "packages (pins are still checked)")
    parser.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (--verify)")
    parser.add_argument("--atol", type=float, default=1e-9, help="absolute tolerance (--verify)")


def export_cmd(args: argparse.Namespace) -> int:
    """``mlnb export NOTEBOOK --out DIR``: write the notebook as a reproducible project.

    :param args: the parsed arguments.
    """
    export_notebook(args.notebook, args.out, args.run,
                    max_copy_bytes=int(args.max_copy_mb * 1024 * 1024), overwrite=args.force,
                    reference_secrets=args.reference_secrets)
    return 0


def run_cmd(args: argparse.Namespace) -> int:
    """``mlnb run PROJECT``: run a project (or, with ``--verify``, re-run it and compare its metrics).

    :param args: the parsed arguments.
    :returns: 0, or 1 when the run fails or the verification does not match.
    """
    given = parse_assignments(args.param)
    options = {"env_manager": args.env_manager, "offline": args.offline,
               "entry_point": args.entry_point}
    try:
        if args.verify:
            if given:
                raise InvalidParameterError("--verify re-runs with the source run's params; "
                                            "drop the -P options.")
            return _report(verify_project(Path(args.project), rtol=args.rtol, atol=args.atol,
                                          **options))
        run_project(args.project, given, experiment_name=args.experiment, **options)
    except ProjectRunFailedError as exc:
        print(visible(f"mlnb: {exc}", keep_newlines=True))
        return 1
    return 0


def reproduce_cmd(args: argparse.Namespace) -> int:
    """``mlnb reproduce RUN_ID``: re-run a recorded run and compare its metrics.

    :param args: the parsed arguments.
    :returns: 0 when the metrics match, else 1.
    """
    try:
        outcome = reproduce_run(args.run_id, env_manager=args.env_manager, offline=args.offline,
                                rtol=args.rtol, atol=args.atol)
    except ProjectRunFailedError as exc:
        print(visible(f"mlnb: {exc}", keep_newlines=True))
        return 1
    return _report(outcome)


def _report(outcome: Any) -> int:
    print(visible(outcome.table(), keep_newlines=True))
    print(visible(outcome.summary(), keep_newlines=True))
    return 0 if outcome.ok else 1
