"""IPython magics: ``%%track`` (a cell becomes a tracked run) and ``%mlnb`` (runs, store, autolog).

Load them in a notebook with ``%load_ext mlnb``. To load them in every kernel, add one line to
your IPython configuration (``~/.ipython/profile_default/ipython_config.py``; create it with
``ipython profile create``)::

    c.InteractiveShellApp.extensions = ["mlnb"]

``%%track [RUN_NAME] [--experiment E] [--params a,b] [--metrics x,y] [--tags k=v ...]
[--nested] [--system] [--system-interval SECONDS] [--no-capture WHAT] [--no-notebook]`` runs
the cell inside a new run (see :mod:`mlnb.notebook.track` and the capture rules in
:mod:`mlnb.capture`). ``WHAT`` is a comma-separated list of params, metrics, files, figures,
stdout, provenance, live, notebook, or ``all``.

Settings are traits: ``%config TrackMagics.metric_pattern = r"..."``, ``max_file_bytes``,
``max_scan_files``, ``max_str_len``, ``max_items``, ``live_redraw_s``, ``notebook_snapshot``,
``max_notebook_bytes``. ``MLNB_ENABLE_NOTEBOOK_SNAPSHOT=false`` in the kernel's environment
turns notebook snapshots off too.
"""

from __future__ import annotations

import textwrap
import threading
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Float, Int, Unicode

from mlnb.capture import provenance, track_line
from mlnb.capture import values as capture
from mlnb.capture.track_line import TrackOptions
from mlnb.errors import InvalidParameterError
from mlnb.notebook import traces as trace_display
from mlnb.notebook.commands import COMMANDS, HELP, run_command
from mlnb.notebook.track import track_cell
from mlnb.tracking import context, fluent
from mlnb.tracking.context import register_context_provider


@magics_class
class TrackMagics(Magics):
    """``%%track`` and ``%mlnb``; the traits are ``%config``-urable capture settings.

    :param shell: the IPython shell (passed by IPython's ``Magics``).
    """

    metric_pattern = Unicode(capture.DEFAULT_METRIC_PATTERN,
                             help="Regex: names the cell binds that are captured as metrics."
                             ).tag(config=True)
    max_file_bytes = Int(20_000_000, help="Files larger than this are not copied.").tag(config=True)
    max_scan_files = Int(5_000, help="Stop the notebook-folder scan after this many files."
                         ).tag(config=True)
    max_str_len = Int(250, help="Longest string captured as a param.").tag(config=True)
    max_items = Int(20, help="Most items in a list/tuple/dict captured as a param.").tag(config=True)
    live_redraw_s = Float(0.5, help="Minimum seconds between live chart redraws.").tag(config=True)
    notebook_snapshot = Bool(True, help="Keep the notebook as it was when the cell ended as the "
                             "run's notebook/<name>.ipynb artifact.").tag(config=True)
    max_notebook_bytes = Int(20_000_000, help="A larger notebook snapshot is kept without its "
                             "outputs (and not at all if still larger).").tag(config=True)

    def rules(self) -> capture.CaptureRules:
        """The capture rules made of the current trait values."""
        return capture.CaptureRules(
            metric_pattern=self.metric_pattern, max_file_bytes=self.max_file_bytes,
            max_scan_files=self.max_scan_files, max_str_len=self.max_str_len,
            max_items=self.max_items, notebook_snapshot=self.notebook_snapshot,
            max_notebook_bytes=self.max_notebook_bytes)

    @cell_magic
    def track(self, line: str, cell: str) -> None:
        """Run the cell inside a new tracked run.

        The run records the cell's params, metrics, files, figures, stdout and provenance.

        Usage::

            %%track [RUN_NAME] [--experiment E] [--params a,b] [--metrics x,y]
                    [--tags KEY=VALUE ...] [--nested] [--system] [--system-interval SECONDS]
                    [--no-capture WHAT] [--no-notebook]

        RUN_NAME: the run's name (default generated). ``--experiment``/``-e``: the experiment,
        created if new. ``--params``: capture only these names as params. ``--metrics``: also
        capture these names as metrics. ``--tags``: tags of the run. ``--nested``: a child of the
        active run (without it, an active run is an error). ``--system``: log system metrics
        (CPU, memory, disk, network, GPUs and the kernel's own CPU and memory) every second, or
        every ``--system-interval`` seconds. ``--no-capture``: turn off capture of
        params, metrics, files, figures, stdout, provenance, live, notebook or all
        (comma-separated). ``--no-notebook``: keep no ``notebook/<name>.ipynb`` snapshot (the
        notebook as it was when the cell ended, the cell's executed source in it).

        The run ends FINISHED, or FAILED (KILLED for Ctrl-C) when the cell raises; the error is
        re-raised.
        """
        __tracebackhide__ = True
        options = parse_track_line(line)
        if not options.nested:
            active = fluent.active_run()
            if active is not None:
                raise UsageError(
                    f"Run {active.run_id} is already active. End it with mlnb.end_run(), or use "
                    "%%track --nested to make this cell's run its child.")
        track_cell(self.shell, cell, options, self.rules(), self.live_redraw_s)

    @line_magic
    def mlnb(self, line: str) -> Any:
        """The mlnb commands of a notebook (``%mlnb help`` lists them; the usage follows)."""
        return run_command(self.shell, line)

    # `%mlnb?` shows the same usage as `%mlnb help`, from the one text that holds it.
    mlnb.__doc__ = f"{mlnb.__doc__}\n\nUsage::\n\n{textwrap.indent(HELP, '    ')}\n"


def parse_track_line(line: str) -> TrackOptions:
    """Parse the ``%%track`` line; raises UsageError with a clear message for bad arguments.

    :param line: the text after ``%%track``.
    """
    try:
        return track_line.parse_track_line(line)
    except InvalidParameterError as exc:
        raise UsageError(str(exc)) from None


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%track`` and ``%mlnb`` and record provenance for runs started in this kernel.

    What ``%load_ext mlnb`` calls.

    :param ipython: the shell.
    """
    magics = TrackMagics(ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    provenance.watch_shell(ipython)
    trace_display.watch(ipython)  # a cell that records GenAI traces shows them under it
    register_context_provider(provenance.kernel_tags)
    # The first package-version scan costs ~0.3 s: do it now, off the cell's critical path.
    threading.Thread(target=_warm_up, name="mlnb-provenance-warmup", daemon=True).start()


def _warm_up() -> None:
    try:
        provenance.imported_packages()
    except Exception:
        pass


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and stop following cells (``%unload_ext mlnb``).

    :param ipython: the shell.
    """
    table = ipython.magics_manager.magics
    table["cell"].pop("track", None)
    table["line"].pop("mlnb", None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, TrackMagics)]
    provenance.unwatch_shell(ipython)
    trace_display.unwatch(ipython)
    context.unregister_context_provider(provenance.kernel_tags)


__all__ = ["COMMANDS", "TrackMagics", "load_ipython_extension", "unload_ipython_extension"]
