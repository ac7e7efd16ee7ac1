"""``mlnb import mlflow SOURCE [--to STORE]``: bring an MLflow store's history into mlnb.

The import itself is :mod:`mlnb.store.mlflow_import`; this module opens SOURCE and the
destination, shows progress on stderr (as ``mlnb store copy`` does) and prints what was imported,
what was skipped and why. Exit status: 0 when everything readable was imported or already there,
1 when some runs were left as the destination has them (conflicts, listed), 2 for an error
(the destination holds whole runs only: run the same command again to finish).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from mlnb.cli.store import ProgressView, open_side, summary_lines
from mlnb.errors import MlnbError
from mlnb.store import Store
from mlnb.store.location import resolve
from mlnb.terminal import visible

if TYPE_CHECKING:
    from mlnb.store.mlflow_import import ImportSummary

_SHOWN = 20  # skipped items listed one by one; the rest are counted by reason


def register(subparsers: Any) -> None:
    """Add ``mlnb import mlflow ...`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser("import", help="bring another tracker's history into mlnb")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    mlflow = kinds.add_parser(
        "mlflow", help="import an MLflow store (idempotent: importing again changes nothing)",
        description="Import an MLflow store's experiments, runs (ids kept), params, tags, full "
                    "metric histories, artifacts (sha256 recorded), MLflow 3 logged models and "
                    "the model registry (versions, stages, aliases, tags). An interrupted import "
                    "is completed by running it again.")
    mlflow.add_argument("source", metavar="SOURCE",
                        help="an MLflow file store folder (mlruns), an MLflow database "
                             "(sqlite:///mlflow.db or postgresql://...) or a running MLflow "
                             "server (http://host:port)")
    mlflow.add_argument("--to", metavar="STORE", default=None,
                        help="the mlnb store to import into (a folder, sqlite:/// URI or "
                             "postgresql:// URL); default: --store, MLNB_TRACKING_URI, else "
                             "the nearest .mlnb folder")
    mlflow.set_defaults(handler=import_command)


def import_command(args: argparse.Namespace) -> int:
    """``mlnb import mlflow SOURCE``: import, show progress, print a summary.

    :param args: the parsed command line.
    :returns: 0, or 1 when runs were left in conflict.
    """
    # The importer loads yaml (the file store's meta.yaml): on use, not for `mlnb --help`.
    from mlnb.store.mlflow_import import import_mlflow, open_reader

    reader = open_reader(args.source)
    try:
        target = args.to or args.store
        dst = open_side(target, "STORE", must_exist=False) if target else Store(resolve(None))
        view = ProgressView(sys.stderr)
        print(f"Importing MLflow {visible(reader.describe)} -> {visible(dst.location.display)}",
              file=sys.stderr, flush=True)
        try:
            summary = import_mlflow(reader, dst, view)
        except MlnbError as exc:  # the store, or the source (a server gone midway)
            raise view.stopped(exc, "import", "the store") from None
        finally:
            dst.close()
        view.finish()
        print(render_import(summary, dst))
        return 1 if summary.copy.conflicts else 0
    finally:
        reader.close()


def render_import(s: ImportSummary, dst: Store) -> str:
    """The summary an import prints: what was read, what the copy into mlnb did, what was
    skipped and why.

    :param s: what the import did.
    :param dst: the store imported into.
    """
    lines = [
        f"Read from MLflow {visible(s.source)}: {s.experiments} experiments, {s.runs} runs, "
        f"{s.metric_points} metric points, {s.artifact_files} artifact files, "
        f"{s.logged_models} logged models, {s.dataset_inputs} dataset inputs, {s.models} "
        f"registered models ({s.versions} versions)",
    ]
    lines += [f"Imported into {visible(dst.location.display)}", *summary_lines(s.copy)]
    if s.skipped:
        lines.append(f"Skipped ({len(s.skipped)}):")
        lines += [f"  {visible(what)}: {visible(why)}" for what, why in s.skipped[:_SHOWN]]
        rest = Counter(why for _, why in s.skipped[_SHOWN:])
        lines += [f"  and {n} more: {visible(why)}" for why, n in rest.most_common()]
    if s.clamped_infinity:
        lines.append("Note: MLflow's database stores +inf and -inf as +/-1.797e308; they are "
                     "imported as MLflow returns them (1.797e308), not as infinity.")
    if s.artifact_files:
        lines.append("Note: MLflow's files are imported as user artifacts: a model MLflow wrote "
                     "as a pickle loads in mlnb only with trusted=True; a skops file (MLflow 3's "
                     "default) loads when skops trusts every type in it.")
    return "\n".join(lines)

