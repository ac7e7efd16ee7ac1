"""The ``%mlnb`` line magic's sub-commands: thin calls into the tracking API and the widgets.

Each sub-command parses its words with a small argparse parser whose errors are IPython
``UsageError`` s (a message, no traceback), and checks its arguments before it changes anything.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
from collections.abc import Callable
from typing import Any, NoReturn

from IPython.core.error import UsageError

from mlnb.capture import provenance
from mlnb.errors import MlnbError
from mlnb.mlflow_compat import use_as_mlflow
from mlnb.projects.export import export_notebook
from mlnb.store import open_store
from mlnb.store.search import parse_filter
from mlnb.tracking import fluent

HELP = """\
%mlnb runs [FILTER]                 the runs table (FILTER uses MLflow's search syntax)
%mlnb compare RUN RUN ...           compare runs side by side
%mlnb diff RUN_A RUN_B              what changed from run A to run B: params, metrics, the
                                    cell's source, the cells run before, the packages
%mlnb show RUN                      one run: params, metrics, tags, artifacts
%mlnb store [PATH]                  show the store in use, or switch to PATH
%mlnb autolog [LIBRARY] [--off]     autologging on (or off): sklearn, xgboost, lightgbm or all
%mlnb export [--run RUN_ID] --out DIR   export this notebook as a reproducible project
%mlnb mlflow                        make `import mlflow...` use mlnb in this kernel
%mlnb help                          this text
RUN is a run id or a run name (the most recent run of that name)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%mlnb {self.prog}: {message}\n\n{HELP}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or HELP)


def _parser(name: str) -> _Parser:
    return _Parser(prog=name, add_help=False)


def run_command(shell: Any, line: str) -> Any:
    """Dispatch ``%mlnb <command> ...``; returns what the command shows (a widget or frame).

    :param shell: the IPython shell.
    :param line: the text after ``%mlnb``.
    :raises UsageError: for an unknown command, bad arguments or an mlnb error.
    """
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%mlnb: {exc} in {line!r}") from None
    if not words:
        raise UsageError(HELP)
    command = COMMANDS.get(words[0])
    if command is None:
        raise UsageError(f"%mlnb: unknown command {words[0]!r}.\n\n{HELP}")
    try:
        return command(shell, words[1:])
    except MlnbError as exc:
        raise UsageError(f"%mlnb {words[0]}: {exc}") from None


def _widgets(name: str) -> Callable[..., Any] | None:
    try:
        import mlnb.widgets as widgets  # ipywidgets: loaded on first use, not by import mlnb
    except ImportError:
        return None
    function = getattr(widgets, name, None)
    return function if callable(function) else None


def resolve_run(text: str) -> str:
    """A run id from an id or a run name (the most recent run of that name, in any experiment).

    :param text: the id or name.
    :raises UsageError: when no run matches.
    """
    try:
        return fluent.get_run(text).info.run_id
    except MlnbError:
        pass
    quoted = text.replace("'", "\\'")
    runs = fluent.search_runs(filter_string=f"attributes.run_name = '{quoted}'",
                            search_all_experiments=True, output_format="list",
                            order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        raise UsageError(f"No run with id or name {text!r}. See %mlnb runs.")
    return str(runs[0].info.run_id)


def _runs(shell: Any, words: list[str]) -> Any:
    text = " ".join(words)
    if text:
        parse_filter(text)  # a bad filter is a UsageError here, before anything is shown
    show_runs = _widgets("show_runs")
    if show_runs is not None:
        return show_runs(filter=text or None)
    return fluent.search_runs(filter_string=text)


def _compare(shell: Any, words: list[str]) -> Any:
    parser = _parser("compare")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args(words)
    if len(args.runs) < 2:
        raise UsageError("%mlnb compare needs at least two runs.")
    run_ids = [resolve_run(r) for r in args.runs]
    compare = _widgets("compare")
    if compare is not None:
        return compare(run_ids)
    from mlnb.tracking.frames import runs_to_frame  # pandas: loaded on first use, not by import mlnb

    return runs_to_frame([fluent.get_run(r) for r in run_ids])


def _diff(shell: Any, words: list[str]) -> Any:
    parser = _parser("diff")
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    args = parser.parse_args(words)
    run_a, run_b = resolve_run(args.run_a), resolve_run(args.run_b)
    from mlnb.widgets.run_diff import diff  # loaded on first use, not by import mlnb

    return diff(run_a, run_b)


def _show(shell: Any, words: list[str]) -> Any:
    parser = _parser("show")
    parser.add_argument("run")
    run_id = resolve_run(parser.parse_args(words).run)
    show_run = _widgets("show_run")
    if show_run is not None:
        return show_run(run_id)
    return fluent.get_run(run_id)


def _store(shell: Any, words: list[str]) -> Any:
    parser = _parser("store")
    parser.add_argument("path", nargs="?")
    args = parser.parse_args(words)
    if args.path:
        # Open (create) the store before switching to it: a path that cannot hold one must not
        # leave every later mlnb call failing. The previous store stays in use.
        try:
            open_store(args.path)
        except (MlnbError, OSError) as exc:
            raise UsageError(f"%mlnb store: cannot use {args.path}: {exc}\n"
                             f"Still using {fluent.get_tracking_uri()}.") from None
        fluent.set_tracking_uri(args.path)
    print(f"mlnb store: {fluent.get_tracking_uri()}")
    return None


def _autolog(shell: Any, words: list[str]) -> Any:
    parser = _parser("autolog")
    parser.add_argument("flavor", nargs="?", choices=["sklearn", "xgboost", "lightgbm", "all"],
                        default="all")
    parser.add_argument("--off", action="store_true")
    args = parser.parse_args(words)
    # (``mlnb.autolog`` is the function once used; import the modules by name)
    module = "mlnb.autolog" if args.flavor == "all" else f"mlnb.autolog.{args.flavor}"
    importlib.import_module(module).autolog(disable=args.off)
    print(f"mlnb autolog ({args.flavor}): {'off' if args.off else 'on'}")
    return None


def _export(shell: Any, words: list[str]) -> Any:
    parser = _parser("export")
    parser.add_argument("--run", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(words)
    notebook = provenance.notebook_path(shell)
    if not notebook:
        raise UsageError("%mlnb export: the notebook's path is unknown in this kernel (no Jupyter "
                         "session, JPY_SESSION_NAME or VS Code file); use the mlnb CLI instead.")
    run_id = resolve_run(args.run) if args.run else None
    return export_notebook(notebook, args.out, run_id=run_id)


def _mlflow(shell: Any, words: list[str]) -> Any:
    _parser("mlflow").parse_args(words)  # no arguments: a stray word is a usage error
    try:
        use_as_mlflow()
    except ImportError as exc:  # the real MLflow is already loaded in this kernel
        raise UsageError(f"%mlnb mlflow: {exc}") from None
    print("mlnb: `import mlflow` (and mlflow.sklearn, mlflow.pyfunc, ...) now uses mlnb in this "
          "kernel.")
    return None


def _help(shell: Any, words: list[str]) -> Any:
    print(HELP)
    return None


COMMANDS: dict[str, Callable[[Any, list[str]], Any]] = {
    "runs": _runs, "compare": _compare, "diff": _diff, "show": _show, "store": _store, "autolog": _autolog,
    "export": _export, "mlflow": _mlflow, "help": _help,
}
