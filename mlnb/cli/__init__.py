"""The ``mlnb`` command line: a thin client of the library.

Each area registers its sub-commands from its own module (``register(subparsers)``), listed in
:data:`AREAS`; those modules import only argparse-level things at import time, so ``mlnb --help``
stays fast. A user mistake prints ``mlnb: error: ...`` and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TextIO

from mlnb._version import __version__
from mlnb.cli.table import visible
from mlnb.errors import MalformedRowWarning, MlnbError, StorePrivacyWarning
from mlnb.tracking import fluent

# Modules under mlnb.cli that register sub-commands; a missing one is skipped.
AREAS = ("tracking", "models", "projects", "trust", "compat", "db", "store", "server",
         "importing", "traces", "monitor")


def build_parser() -> argparse.ArgumentParser:
    """The ``mlnb`` argument parser, with the sub-commands of every area in :data:`AREAS`."""
    parser = argparse.ArgumentParser(
        prog="mlnb",
        description="Experiment tracking, models and projects on the local mlnb store.",
    )
    parser.add_argument("--version", action="version", version=f"mlnb {__version__}")
    parser.add_argument(
        "--store", metavar="URI",
        help="the store to use (a folder or sqlite:/// URI); default: MLNB_TRACKING_URI, "
        "else the nearest .mlnb folder",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in AREAS:
        try:
            module = importlib.import_module(f"mlnb.cli.{area}")
        except ModuleNotFoundError as exc:
            if exc.name != f"mlnb.cli.{area}":
                raise
            continue
        module.register(subparsers)
    return parser


def _plain_warnings(previous: Callable[..., None]) -> Callable[..., None]:
    """A warning display that shows mlnb's own warnings as one ``mlnb: warning:`` line on stderr
    (no source line of mlnb's internals) and hands every other warning to ``previous``."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if issubclass(category, (MalformedRowWarning, StorePrivacyWarning)):
            print(f"mlnb: warning: {visible(str(message))}", file=file or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlnb`` command line and return its exit status.

    A user mistake prints ``mlnb: error: ...`` and returns 2; Ctrl-C returns 130. mlnb's own
    warnings print as one ``mlnb: warning: ...`` line.

    :param argv: the arguments; default ``sys.argv[1:]``.
    """
    with warnings.catch_warnings():  # restores the caller's warning display afterwards
        warnings.showwarning = _plain_warnings(warnings.showwarning)
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        if args.store:  # inside the try: a bad URI is a user mistake, not a traceback
            fluent.set_tracking_uri(args.store)
        return int(args.handler(args) or 0)
    except BrokenPipeError:  # `mlnb runs ls | head`
        return 0
    except MlnbError as exc:  # messages echo names and values: their controls shown escaped
        print(visible(f"mlnb: error: {exc}", keep_newlines=True), file=sys.stderr)
        return 2
    except (TypeError, ValueError, OSError) as exc:  # bad input, missing file, port in use
        print(visible(f"mlnb: error: {exc}", keep_newlines=True), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
