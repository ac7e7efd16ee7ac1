"""Running one ``%%track`` cell inside a run: compile, execute, capture, end, summarise.

The cell is compiled and executed the way IPython's ``%%time`` does it (``transform_cell``,
``ast_parse``, ``transform_ast``, ``exec`` in the user namespace), not through a nested
``run_cell``: an exception marks the run FAILED (KILLED for Ctrl-C), keeps its traceback as the
``traceback.txt`` artifact and the ``mlnb.error``/``mlnb.traceback`` tags, and still propagates,
so "Run All" stops. Capture failures never fail the cell: they become a warning line.

Once the run has ended, the notebook (when the kernel knows its path) is kept as the run's
``notebook/<name>.ipynb`` with the cell's executed source in it (:mod:`mlnb.notebook.snapshot`,
written by a background thread after the cell).
"""

from __future__ import annotations

import ast
import base64
import json
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from IPython.core.error import UsageError

from mlnb.capture import notebook_snapshot, provenance
from mlnb.capture import values as capture
from mlnb.capture.track_line import TrackOptions
from mlnb.capture.values import CaptureRules
from mlnb.entities import Metric, Param, RunStatus, RunTag
from mlnb.errors import MlnbError
from mlnb.notebook import live, snapshot
from mlnb.store import validation
from mlnb.store.sql import now_ms
from mlnb.store.validation import MAX_TAG_VALUE_LENGTH
from mlnb.tracking import context, fluent, system_metrics
from mlnb.tracking.client import MlnbClient

STDOUT_ARTIFACT = "stdout.txt"
TRACEBACK_ARTIFACT = "traceback.txt"


@dataclass
class CompiledCell:
    """A cell compiled as IPython would run it: the tree, the statements, and a final expression."""
    tree: ast.Module
    body: Any  # code object of every statement but a final expression
    last_expr: Any | None  # code object (eval mode) of the final expression, if any


def compile_cell(shell: Any, cell: str) -> CompiledCell:
    """Transform and compile the cell as ``%%time`` does (a final expression is evaluated).

    :param shell: the IPython shell.
    :param cell: the cell's source.
    """
    source = shell.transform_cell(cell)
    tree = shell.transform_ast(shell.compile.ast_parse(source))
    filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)
    statements, last = list(tree.body), None
    if statements and isinstance(statements[-1], ast.Expr):
        last = shell.compile(ast.Expression(statements.pop().value), filename, "eval")
    body = shell.compile(ast.Module(statements, type_ignores=[]), filename, "exec")
    return CompiledCell(tree, body, last)


def track_cell(shell: Any, cell: str, options: TrackOptions, rules: CaptureRules,
               live_redraw_s: float = live.MIN_REDRAW_S) -> None:
    """Run ``cell`` inside a new run; re-raise whatever the cell raises.

    A SyntaxError creates no run. The run ends FINISHED, FAILED or KILLED (Ctrl-C).

    :param shell: the IPython shell.
    :param cell: the cell's source.
    :param options: the parsed ``%%track`` line.
    :param rules: what to capture and the limits.
    :param live_redraw_s: the least time between two redraws of the live chart.
    """
    __tracebackhide__ = True  # IPython shows the user's frames, not ours
    compiled = compile_cell(shell, cell)  # a SyntaxError creates no run
    started = time.perf_counter()
    handle = _start_run(options, shell, cell)
    tracker = _CellCapture(shell, handle.run_id, handle.client, options, rules)
    status, error = RunStatus.FINISHED, None
    try:
        with tracker.watching(live_redraw_s):
            _execute(shell, compiled)
    except BaseException as exc:
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        error = exc
        raise
    finally:
        tracker.finish(compiled.tree, error)
        fluent.end_run(status, run_id=handle.run_id)
        tracker.snapshot_notebook(cell)
        tracker.summary(status, time.perf_counter() - started)


def _start_run(options: TrackOptions, shell: Any, cell: str) -> fluent.ActiveRun:
    """Start the cell's run; a bad name, experiment or tag is a UsageError (no run is made)."""

    try:
        if options.run_name:
            validation.check_name(options.run_name, "Run")
        for key, value in options.tags.items():
            validation.check_key(key, "Tag")
            validation.tag_value(key, value)
        experiment_id = None
        if options.experiment:
            found = fluent.get_experiment_by_name(options.experiment)
            experiment_id = (found.experiment_id if found is not None
                             else fluent.create_experiment(options.experiment))
        tags = {"mlnb.source": "%%track"}
        if not context.has_context_provider(provenance.kernel_tags):  # else start_run adds them
            tags.update(provenance.kernel_tags())
        if not provenance.current_cell(shell)["source"]:  # history off (a test shell): the cell
            tags["mlnb.cell.source"] = cell[:validation.MAX_TAG_VALUE_LENGTH]
            tags["mlnb.cell.sha256"] = provenance.source_hash(cell)
        tags.update(options.tags)
        # System metrics sample every second by default in a cell: a 20 s cell gets a curve.
        sampling = system_metrics.settings(system_metrics.TRACK_INTERVAL) \
            if options.system or system_metrics.is_enabled() else None
        handle = fluent.start_run(run_name=options.run_name, experiment_id=experiment_id,
                                  nested=options.nested, tags=tags, log_system_metrics=False)
        if sampling is not None:
            interval, samples = sampling
            system_metrics.start_monitor(handle.run_id, handle.client,
                                         options.system_interval or interval, samples)
        return handle
    except MlnbError as exc:
        raise UsageError(f"%%track could not start a run: {exc}") from None


def _execute(shell: Any, compiled: CompiledCell) -> None:
    __tracebackhide__ = True
    namespace = shell.user_ns
    exec(compiled.body, shell.user_global_ns, namespace)
    if compiled.last_expr is not None:
        value = eval(compiled.last_expr, shell.user_global_ns, namespace)
        if value is not None:
            shell.displayhook(value)  # Out[n], `_` and rich display, as for a plain cell


class _CellCapture:
    """Hooks installed for the duration of the cell, and what they collected."""

    def __init__(self, shell: Any, run_id: str, client: MlnbClient, options: TrackOptions,
                 rules: CaptureRules) -> None:
        self.shell, self.run_id, self.client = shell, run_id, client
        self.options, self.rules = options, rules
        self.folder = provenance.notebook_folder(shell)
        self.before: capture.Snapshot = {}
        self.figures: list[tuple[str, Any]] = []
        self.logged_keys: set[str] = set()
        self.artifacts = 0
        self.notes: list[str] = []
        self.stdout: capture.StdoutTail | None = None
        self.chart: live.LiveChart | None = None
        self._open_figures: set[int] = set()

    @contextmanager
    def watching(self, live_redraw_s: float) -> Any:
        with ExitStack() as stack:
            if self.options.wants("files"):
                self.before = self._snapshot()
            stack.enter_context(self._observing_metrics(live_redraw_s))
            if self.options.wants("figures"):
                stack.enter_context(self._observing_displays())
            if self.options.wants("stdout"):
                stack.enter_context(self._tee_stdout())
            yield

    @contextmanager
    def _observing_metrics(self, live_redraw_s: float) -> Any:
        chart = live.LiveChart(self.run_id, live_redraw_s)
        if not self.options.wants("live"):
            chart.draw = lambda: None  # type: ignore[method-assign]
        self.chart = chart
        with live.observing(self.client.writer, chart):
            yield
        chart.finish()

    @contextmanager
    def _observing_displays(self) -> Any:
        publisher = self.shell.display_pub
        original = publisher.publish
        self._open_figures = set(_open_matplotlib_figures())

        def publish(data: Any, *args: Any, **kwargs: Any) -> Any:
            if not kwargs.get("update") and isinstance(data, dict):
                self._keep_figure(data)
            return original(data, *args, **kwargs)

        publisher.publish = publish
        try:
            yield
        finally:
            if publisher.__dict__.get("publish") is publish:
                del publisher.publish

    def _keep_figure(self, data: dict[str, Any]) -> None:
        text = str(data.get("text/plain", ""))
        if text.startswith("<mlnb live chart"):
            return
        if live.PLOTLY_MIME in data:
            self.figures.append(("json", data[live.PLOTLY_MIME]))
        elif "image/png" in data:
            self.figures.append(("png", data["image/png"]))

    @contextmanager
    def _tee_stdout(self) -> Any:
        original = sys.stdout
        self.stdout = capture.StdoutTail(original, self.rules.stdout_tail_chars)
        sys.stdout = self.stdout
        try:
            yield
        finally:
            if sys.stdout is self.stdout:
                sys.stdout = original

    # --- after the cell -------------------------------------------------------------------------

    def finish(self, tree: ast.Module, error: BaseException | None) -> None:
        """Log what the cell left behind; a failure here is reported, never raised."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("values", lambda: self._log_values(tree)),
            ("figures", self._log_figures),
            ("files", self._log_files),
            ("stdout", self._log_stdout),
            ("provenance", self._log_provenance),
        ]
        if error is not None:
            steps.insert(0, ("traceback", lambda: self._log_error(error)))
        for name, step in steps:
            if name in ("values", "traceback") or self.options.wants(name):
                try:
                    step()
                except Exception as exc:
                    self.notes.append(f"could not capture {name}: {type(exc).__name__}: {exc}")

    def _log_error(self, error: BaseException) -> None:
        text = "".join(traceback.format_exception(type(error), error, _user_frames(error)))
        self.client.log_batch(self.run_id, tags=_tags({
            "mlnb.error": f"{type(error).__name__}: {error}",
            "mlnb.traceback": text[-(MAX_TAG_VALUE_LENGTH - 100):],
        }))
        self.client.log_text(self.run_id, text, TRACEBACK_ARTIFACT)
        self.artifacts += 1

    def _log_values(self, tree: ast.Module) -> None:
        if self.chart is not None:
            self.logged_keys.update(self.chart.series)
        found = capture.capture_values(
            tree, self.shell.user_ns, self.rules, self.options.params, self.options.metrics,
            self.options.wants("params"), self.options.wants("metrics"))
        self.notes.extend(found.refused)
        existing = self.client.store.get_run(self.run_id).data.params if found.params else {}
        params = [Param(k, v) for k, v in found.params.items() if k not in existing]
        t = now_ms()
        metrics = [Metric(k, v, t, 0) for k, v in found.metrics.items()
                   if k not in self.logged_keys]
        if not params and not metrics:
            return
        for start in range(0, max(len(params), 1), 900):
            self.client.log_batch(self.run_id, metrics=metrics if start == 0 else [],
                                  params=params[start:start + 900])

    def _log_figures(self) -> None:
        for number, (kind, payload) in enumerate(self.figures, 1):
            if kind == "png":
                data = base64.b64decode(payload) if isinstance(payload, str) else bytes(payload)
                self.client.store.put_artifact_bytes(self.run_id, f"figures/figure_{number}.png",
                                                     data)
            else:
                self.client.log_dict(self.run_id, payload, f"figures/plotly_{number}.json")
            self.artifacts += 1
        offset = len(self.figures)
        for number, figure in enumerate(_new_matplotlib_figures(self._open_figures), offset + 1):
            self.client.log_figure(self.run_id, figure, f"figures/figure_{number}.png")
            self.artifacts += 1

    def _snapshot(self) -> capture.Snapshot:
        shot = capture.snapshot(self.folder, self.rules)
        location = self.client.store.location
        for root in (location.db_path.parent, location.artifact_root):
            try:
                prefix = str(Path(root).resolve().relative_to(self.folder.resolve()))
            except ValueError:
                continue
            if prefix != ".":
                shot = {p: s for p, s in shot.items() if not p.startswith(prefix + "/")}
        return shot

    def _log_files(self) -> None:
        after = self._snapshot()
        for relative in capture.changed_files(self.before, after):
            size = after[relative][0]
            if size > self.rules.max_file_bytes:
                self.notes.append(f"{relative}: {size} bytes, over the {self.rules.max_file_bytes}"
                                  "-byte cap, not copied (raise TrackMagics.max_file_bytes)")
                continue
            parent = str(Path(relative).parent)
            target = "files" if parent == "." else f"files/{parent}"
            self.client.log_artifact(self.run_id, self.folder / relative, target)
            self.artifacts += 1

    def _log_stdout(self) -> None:
        text = self.stdout.text() if self.stdout is not None else ""
        if text:
            self.client.log_text(self.run_id, text, STDOUT_ARTIFACT)
            self.artifacts += 1

    def _log_provenance(self) -> None:
        record = provenance.full_record(self.shell, self.folder)
        git = record.get("git") or {}
        tags = {}
        if git.get("commit"):
            tags["mlflow.source.git.commit"] = git["commit"]
            if git.get("branch"):
                tags["mlflow.source.git.branch"] = git["branch"]
            if "dirty" in git:
                tags["mlnb.git.dirty"] = str(git["dirty"]).lower()
        if tags:
            self.client.log_batch(self.run_id, tags=_tags(tags))
        self.client.store.put_artifact_bytes(self.run_id, "provenance.json",
                                             json.dumps(record, indent=1).encode())
        self.artifacts += 1

    def snapshot_notebook(self, cell: str) -> None:
        """Queue the notebook's snapshot (written after the cell); a problem is a note."""
        if not (self.options.wants("notebook") and self.rules.notebook_snapshot
                and notebook_snapshot.is_enabled()):
            return
        try:
            path = provenance.notebook_path(self.shell)
            if not path:
                return  # not a notebook kernel, or its notebook is unknown (nbclient, a console)
            current = provenance.current_cell(self.shell)
            request = notebook_snapshot.SnapshotRequest(
                notebook_path=path, cwd=Path.cwd(), cell_id=current["id"],
                source=current["source"] or cell, execution_count=current["execution_count"],
                max_bytes=self.rules.max_notebook_bytes)
            store, run_id = self.client.store, self.run_id
            snapshot.submit(request, lambda name, data: store.put_artifact_bytes(run_id, name, data),
                            run_id)
        except Exception as exc:
            self.notes.append(f"could not snapshot the notebook: {type(exc).__name__}: {exc}")

    def summary(self, status: str, seconds: float) -> None:
        """Print the notes and the one-line summary that ends the cell's output."""
        try:
            run = self.client.store.get_run(self.run_id)
            counts = f"{len(run.data.params)} params, {len(run.data.metrics)} metrics, " \
                     f"{self.artifacts} artifacts"
            name = run.info.run_name
        except Exception:
            counts, name = "?", "?"
        for note in self.notes:
            print(f"mlnb: {note}")
        print(f"mlnb: run {name} ({self.run_id}) {status} in {seconds:.2f}s: {counts}")


def _user_frames(error: BaseException) -> TracebackType | None:
    """The error's traceback without mlnb's own frames in front (``track_cell``, ``_execute``):
    the kept traceback starts at the user's cell, as IPython shows it."""
    tb = error.__traceback__
    while tb is not None and _is_mlnb_frame(tb.tb_frame.f_globals.get("__name__")):
        tb = tb.tb_next
    return tb


def _is_mlnb_frame(module: Any) -> bool:
    return isinstance(module, str) and (module == "mlnb" or module.startswith("mlnb."))


def _tags(values: dict[str, str]) -> list[Any]:
    return [RunTag(k, v) for k, v in values.items()]


def _open_matplotlib_figures() -> dict[int, Any]:
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is None:
        return {}
    try:
        return {id(m.canvas.figure): m.canvas.figure for m in helpers.Gcf.get_all_fig_managers()}
    except Exception:
        return {}


def _new_matplotlib_figures(before: set[int]) -> list[Any]:
    """Figures opened during the cell and still open (the inline backend shows them next)."""
    return [fig for key, fig in _open_matplotlib_figures().items() if key not in before]
