"""The ``%%track`` line: one grammar for the magic and for the notebook exporter.

``%%track [RUN_NAME] [--experiment E] [--params a,b] [--metrics x,y] [--tags k=v ...] [--nested]
[--system] [--system-interval SECONDS] [--no-capture WHAT] [--no-notebook]``. The magic turns
:class:`~mlnb.errors.InvalidParameterError` into IPython's ``UsageError``; the exporter prefixes
it with the cell number. Keeping the grammar here (core, no IPython) means a line the magic
accepts is a line the exported script reproduces.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from functools import lru_cache

from mlnb.capture.values import CAPTURE_PARTS
from mlnb.errors import InvalidParameterError


@dataclass
class TrackOptions:
    """The parsed ``%%track`` line."""

    run_name: str | None = None
    experiment: str | None = None
    params: list[str] | None = None
    metrics: list[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    nested: bool = False
    no_capture: frozenset[str] = frozenset()
    system: bool = False
    system_interval: float | None = None

    def wants(self, part: str) -> bool:
        """Whether ``part`` (params, metrics, files, figures, stdout, provenance, live, notebook)
        is captured.

        :param part: the capture part.
        """
        return part not in self.no_capture


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidParameterError(f"%%track: {message}.")


@lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%%track", add_help=False, exit_on_error=False,
                     description="Run the cell inside a new tracked run.")
    parser.add_argument("run_name", nargs="?", default=None,
                        help="name of the run (default: generated)")
    parser.add_argument("--experiment", "-e", default=None, help="experiment name (created if new)")
    parser.add_argument("--params", default=None, help="capture only these names as params: a,b,c")
    parser.add_argument("--metrics", default=None, help="also capture these names as metrics: x,y")
    parser.add_argument("--tags", nargs="+", action="extend", default=None, metavar="KEY=VALUE",
                        help="tags to set on the run")
    parser.add_argument("--nested", action="store_true", help="start a child run of the active run")
    parser.add_argument("--system", action="store_true",
                        help="log system metrics (CPU, memory, disk, network, GPUs, the kernel)")
    parser.add_argument("--system-interval", type=float, default=None, metavar="SECONDS",
                        help="seconds between system metrics samples (default 1; implies --system)")
    parser.add_argument("--no-capture", action="append", default=None, metavar="WHAT",
                        help="turn off capture of: " + ", ".join(CAPTURE_PARTS) + " or all")
    parser.add_argument("--no-notebook", action="store_true",
                        help="keep no snapshot of the notebook (same as --no-capture notebook)")
    return parser


def usage() -> str:
    """The ``%%track`` usage text, from its argument parser."""
    return _parser().format_help()


def parse_track_line(line: str) -> TrackOptions:
    """Parse the arguments after ``%%track``; bad ones raise InvalidParameterError naming them.

    :param line: the text after ``%%track``.
    """
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise InvalidParameterError(f"%%track: cannot read {line!r}: {exc}.") from None
    try:
        args = _parser().parse_args(words)
    except argparse.ArgumentError as exc:
        raise InvalidParameterError(f"%%track: {exc}.") from None
    _check_not_empty(args.experiment, "--experiment got an empty experiment name; give a name "
                     "or leave --experiment out (the run then goes to the current experiment)")
    _check_not_empty(args.run_name, "the run name is empty; give a name or leave it out "
                     "(a name is then generated)")
    return TrackOptions(
        run_name=args.run_name, experiment=args.experiment,
        params=_names(args.params, "--params"), metrics=_names(args.metrics, "--metrics"),
        tags=_tags(args.tags or []), nested=bool(args.nested),
        no_capture=_parts(args.no_capture or [])
        | (frozenset({"notebook"}) if args.no_notebook else frozenset()),
        system=bool(args.system) or args.system_interval is not None,
        system_interval=_seconds(args.system_interval),
    )


def _seconds(value: float | None) -> float | None:
    if value is not None and not value >= 0.05:  # also refuses NaN
        raise InvalidParameterError(
            f"%%track --system-interval takes a number of seconds of at least 0.05, not {value}.")
    return value


def _tags(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidParameterError(f"%%track --tags takes KEY=VALUE pairs, not {item!r}.")
        tags[key] = value
    return tags


def _parts(items: list[str]) -> frozenset[str]:
    parts: set[str] = set()
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            if part == "all":
                parts.update(CAPTURE_PARTS)
            elif part in CAPTURE_PARTS:
                parts.add(part)
            else:
                raise InvalidParameterError(
                    f"%%track --no-capture: unknown part {part!r}; choose from "
                    f"{', '.join(CAPTURE_PARTS)} or all.")
    return frozenset(parts)


def _names(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or any(not n.isidentifier() for n in names):
        raise InvalidParameterError(
            f"%%track {option} takes comma-separated variable names, not {text!r}.")
    return names


def _check_not_empty(value: str | None, problem: str) -> None:
    # An empty name given on purpose is a mistake, not "use the default": a run silently landing
    # in Default (or unnamed) is what the user tried to avoid by naming it.
    if value is not None and not value.strip():
        raise InvalidParameterError(f"%%track: {problem}.")
