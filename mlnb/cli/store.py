"""``mlnb store copy SRC DST``: push a local store's runs to the team store, or pull them back.

The copying itself is :mod:`mlnb.store.copy`; this module opens the two stores, shows progress on
stderr (a bar on a terminal, a line per stage and per tenth of the runs otherwise) and prints a
summary. Exit status: 0 when everything was copied or already there, 1 when some runs were left
as DST has them (conflicts, listed), 2 for an error (nothing half-written: rerun to finish).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from mlnb.errors import InvalidParameterError, MlnbError, StoreError
from mlnb.store import Store
from mlnb.store.copy import CopySummary, Progress, copy_store
from mlnb.store.location import resolve
from mlnb.terminal import visible


def register(subparsers: Any) -> None:
    """Add ``mlnb store ...`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    store = subparsers.add_parser("store", help="copy runs, metrics, models and the registry "
                                                "between stores")
    actions = store.add_subparsers(dest="action", metavar="ACTION", required=True)
    copy = actions.add_parser(
        "copy", help="copy everything of SRC into DST (idempotent: copying again changes nothing)",
        description="Copy experiments, runs (ids kept), full metric histories, artifacts, logged "
                    "models and the model registry of SRC into DST. Either may be a store folder, "
                    "a sqlite:/// URI or a postgresql:// URL. Runs DST has are compared, not "
                    "duplicated; a run whose content disagrees with DST's is left as DST has it "
                    "and listed (exit status 1).")
    copy.add_argument("src", metavar="SRC", help="the store to copy from (it must exist)")
    copy.add_argument("dst", metavar="DST", help="the store to copy into (created if new; a new "
                                                 "PostgreSQL store needs MLNB_ARTIFACT_URI)")
    copy.set_defaults(handler=copy_command)


def open_side(uri: str, role: str, *, must_exist: bool) -> Store:
    """Open SRC or DST, with errors that say which one failed.

    :param uri: the store's folder, ``sqlite:///`` URI or ``postgresql://`` URL.
    :param role: ``SRC`` or ``DST``, for messages.
    :param must_exist: refuse an SQLite store that does not exist yet (never make one to read).
    """
    location = resolve(uri)
    if must_exist and location.is_sqlite and not location.db_path.is_file():
        raise InvalidParameterError(
            f"{role}: there is no mlnb store at {location.display} (no {location.db_path}). "
            "Give the store's folder (e.g. .mlnb), its sqlite:/// URI or a postgresql:// URL.")
    try:
        return Store(location)
    except MlnbError as exc:
        raise StoreError(f"{role}: {exc}") from None


class ProgressView:
    """Progress on stderr: a bar redrawn in place on a terminal, else a line per stage and
    per tenth of the runs.

    :param out: where to write (stderr).
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()
        self.last: Progress | None = None
        self._shown_tenth = -1
        self._stage = ""

    def __call__(self, p: Progress) -> None:
        """Show one step of the copy.

        :param p: where the copy is.
        """
        self.last = p
        moved = p.stage != self._stage
        if moved and self.live and self._stage:
            self.out.write("\n")
        if moved:
            self._stage, self._shown_tenth = p.stage, -1
        line = f"{p.stage}: {p.done}/{p.total}"
        if p.stage in ("runs", "models", "registry"):
            line += f", artifacts {_size(p.artifact_bytes)}"
        if self.live:
            width = 24
            filled = width * p.done // p.total if p.total else width
            self.out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {line}   ")
        else:
            tenth = 10 * p.done // p.total if p.total else 10
            if tenth == self._shown_tenth:
                return
            self._shown_tenth = tenth
            self.out.write(line + "\n")
        self.out.flush()

    def finish(self) -> None:
        """End the bar's line."""
        if self.live and self._stage:
            self.out.write("\n")
            self.out.flush()

    def stopped(self, exc: MlnbError, work: str, holder: str) -> StoreError:
        """The error to raise when the work failed midway: what failed, where it stopped, and
        that running it again finishes it (the bar's line ended first).

        :param exc: the failure.
        :param work: ``copy`` or ``import``.
        :param holder: what was written into (``DST``, ``the store``).
        """
        self.finish()
        where = self.last
        done = f" after {where.done} of {where.total} {where.stage}" if where else ""
        return StoreError(f"{exc} The {work} stopped{done}; {holder} holds only whole runs and "
                          "models. Run the same command again to finish it.")


def copy_command(args: argparse.Namespace) -> int:
    """``mlnb store copy SRC DST``: copy, show progress, print a summary.

    :param args: the parsed command line.
    :returns: 0, or 1 when runs were left in conflict.
    """
    src = open_side(args.src, "SRC", must_exist=True)
    try:
        dst = open_side(args.dst, "DST", must_exist=False)
    except BaseException:
        src.close()
        raise
    view = ProgressView(sys.stderr)
    try:
        print(f"Copying {visible(src.location.display)} -> {visible(dst.location.display)}",
              file=sys.stderr, flush=True)
        try:
            summary = copy_store(src, dst, view)
        except StoreError as exc:
            raise view.stopped(exc, "copy", "DST") from None
        view.finish()
        print(render_summary(summary, src, dst))
        return 1 if summary.conflicts else 0
    finally:
        src.close()
        dst.close()


def render_summary(s: CopySummary, src: Store, dst: Store) -> str:
    """The summary a copy prints.

    :param s: what the copy did.
    :param src: the source store.
    :param dst: the destination store.
    """
    return "\n".join([f"Copied {visible(src.location.display)} -> {visible(dst.location.display)}",
                      *summary_lines(s)])


def summary_lines(s: CopySummary) -> list[str]:
    """The lines of a copy's summary below its heading (``mlnb import`` shows them too).

    :param s: what the copy did.
    """
    lines = [
        f"  experiments: {s.experiments_new} new, {s.experiments_matched} already there",
        f"  runs: {s.runs_new} new, {s.runs_updated} updated, {s.runs_unchanged} unchanged, "
        f"{len(s.conflicts)} in conflict",
        f"  artifacts: {s.artifacts_copied} files copied ({_size(s.artifact_bytes)}), "
        "sha256 checked",
        f"  logged models: {s.logged_models_new} new",
        f"  registry: {s.models_new} new models, {s.versions_new} new versions, "
        f"{s.versions_unchanged} versions already there",
    ]
    if s.traces_copied:
        lines.append(f"  traces: {s.traces_copied} copied")
    if s.predictions_copied or s.ground_truth_copied:  # (never, in an import from MLflow)
        lines.append(f"  prediction log: {s.predictions_copied} rows, {s.ground_truth_copied} "
                     "ground-truth records copied")
    for name, old, new in s.renumbered:
        lines.append(f"  model {visible(name)} version {old} is version {new} in DST "
                     "(its number was taken)")
    for name, number, why in s.versions_skipped:
        lines.append(f"  model {visible(name)} version {number} not copied: {visible(why)}")
    if s.conflicts:
        lines.append(f"{len(s.conflicts)} runs differ from DST's copy and were left as DST has "
                     "them (nothing of them written):")
        lines += [f"  {run_id}: {visible(why)}" for run_id, why in s.conflicts]
    return lines


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} GB"
