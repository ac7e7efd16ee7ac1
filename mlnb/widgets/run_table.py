"""The run table: one page of runs at a time, sortable, filterable, selectable.

Each refresh costs a fixed handful of store queries (a count, one page of run infos, then
params, tags and latest metrics of that page in bulk), whatever the number of runs: 10,000 runs
page 50 at a time. Cells are ``Label`` widgets (drawn as text, never HTML) reused between pages,
each marked so MathJax never typesets it (:func:`mlnb.widgets.base.no_math`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_string import LabelStyle

from mlnb.entities import Run, RunStatus, ViewType
from mlnb.errors import MlnbError
from mlnb.tracking.client import current_client
from mlnb.widgets import data, static
from mlnb.widgets.base import StaticFallback, disable_writes, no_math, read_only_reason
from mlnb.widgets.comparison import Comparison
from mlnb.widgets.escape import escape_html
from mlnb.widgets.run_detail import RunDetail

_VIEWS = (("Active runs", ViewType.ACTIVE_ONLY), ("Deleted runs", ViewType.DELETED_ONLY),
          ("All runs", ViewType.ALL))
_WIDTHS = {"name": "200px", "status": "90px", "start": "150px", "duration": "80px"}
_CELL_WIDTH = "110px"
_AUTO = widgets.Layout(width="auto")


class RunTable(StaticFallback, widgets.VBox):
    """Runs of one or more experiments as a paged table with actions on the selected runs.

    :param experiment: as for :func:`mlnb.show_runs`.
    :param filter: the initial filter (search grammar).
    :param page_size: runs per page.
    :param refresh_interval: seconds between refreshes while runs are RUNNING.
    """

    selected_ids = traitlets.List(traitlets.Unicode(), help="Ids of the selected runs (all pages).")
    total = traitlets.Int(0, help="How many runs match the filter.")
    page = traitlets.Int(0, help="The page shown, from 0.")
    sort_column = traitlets.Unicode("start", help="Column id the table is sorted by.")
    sort_ascending = traitlets.Bool(False)
    error = traitlets.Unicode("", help="The last filter or store error, shown above the table.")

    def __init__(self, experiment: Any = None, filter: str | None = None, *,
                 page_size: int = 50, refresh_interval: float = 3.0) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.client = current_client()
        self.store = self.client.store
        self.experiment_ids = data.experiment_ids(self.store, experiment)
        self.page_size = page_size
        self.refresh_interval = refresh_interval
        self.runs: list[Run] = []
        self.columns: list[data.Column] = []
        self._chosen: dict[str, list[str]] | None = None  # params/metrics columns, set on 1st load
        self._rows: list[tuple[widgets.Checkbox, list[widgets.Label]]] = []
        self._layouts: dict[str, widgets.Layout] = {}
        self._styles: dict[str, widgets.Widget] = {}
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._build(filter or "")
        self.refresh()

    # --- layout -----------------------------------------------------------------------------

    def _build(self, filter_text: str) -> None:
        names = ", ".join(self.store.get_experiment(e).name for e in self.experiment_ids)
        self.title = widgets.HTML(static.plain(f"<b>Runs</b> of {escape_html(names)}"))
        self.filter_box = widgets.Text(
            value=filter_text, placeholder="metrics.accuracy > 0.9 and params.C = '1.0'",
            description="Filter",
            continuous_update=False, layout=widgets.Layout(width="60%"))
        self.filter_box.observe(lambda _: self._go_to(0), "value")
        self.view_choice = widgets.Dropdown(options=_VIEWS, value=ViewType.ACTIVE_ONLY,
                                            layout=widgets.Layout(width="140px"))
        self.view_choice.observe(lambda _: self._go_to(0), "value")
        self.error_box = widgets.HTML()
        self.params_chooser = widgets.SelectMultiple(description="Params", rows=4)
        self.metrics_chooser = widgets.SelectMultiple(description="Metrics", rows=4)
        for chooser in (self.params_chooser, self.metrics_chooser):
            chooser.observe(self._on_columns, "value")
        self.grid = widgets.GridBox(layout=widgets.Layout(grid_gap="0px 6px", overflow="auto"))
        self.prev_button = widgets.Button(description="◀ Prev", layout=widgets.Layout(width="80px"))
        self.next_button = widgets.Button(description="Next ▶", layout=widgets.Layout(width="80px"))
        self.prev_button.on_click(lambda _: self._go_to(self.page - 1))
        self.next_button.on_click(lambda _: self._go_to(self.page + 1))
        self.page_label = no_math(widgets.Label())
        self.compare_button = widgets.Button(description="Compare selected", icon="columns", layout=_AUTO)
        self.details_button = widgets.Button(description="Details", icon="info", layout=_AUTO)
        self.delete_button = widgets.Button(description="Delete", icon="trash", layout=_AUTO)
        self.restore_button = widgets.Button(description="Restore", icon="undo", layout=_AUTO)
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", layout=_AUTO)
        self.auto_refresh = widgets.Checkbox(value=True, description="Auto refresh while running",
                                             indent=False)
        self.compare_button.on_click(lambda _: self.open_comparison())
        self.details_button.on_click(lambda _: self.open_details())
        self.delete_button.on_click(lambda _: self.set_lifecycle("deleted"))
        self.restore_button.on_click(lambda _: self.set_lifecycle("active"))
        self.refresh_button.on_click(lambda _: self.refresh())
        disable_writes(read_only_reason(self.client), self.delete_button, self.restore_button)
        self.message = no_math(widgets.Label())
        self.panel = widgets.VBox()
        self.children = (
            self.title,
            widgets.HBox([self.filter_box, self.view_choice]),
            self.error_box,
            widgets.HBox([self.params_chooser, self.metrics_chooser]),
            self.grid,
            widgets.HBox([self.prev_button, self.page_label, self.next_button]),
            widgets.HBox([self.compare_button, self.details_button, self.delete_button,
                          self.restore_button, self.refresh_button, self.auto_refresh]),
            self.message,
            self.panel,
        )

    # --- loading ----------------------------------------------------------------------------

    @property
    def filter_string(self) -> str:
        """The filter box's text, stripped."""
        return str(self.filter_box.value).strip()

    def _order_by(self) -> list[str]:
        column = next((c for c in self._all_columns() if c.id == self.sort_column), None)
        if column is None or column.order_field is None:
            return []
        return [f"{column.order_field} {'ASC' if self.sort_ascending else 'DESC'}"]

    def _all_columns(self) -> list[data.Column]:
        chosen = self._chosen or {"params": [], "metrics": []}
        return data.table_columns(chosen["params"], chosen["metrics"])

    def _go_to(self, page: int) -> None:
        self.page = max(0, page)
        self.refresh()

    def refresh(self) -> None:
        """Read the current page again (a fixed number of queries) and redraw it."""
        self.client.writer.flush(raise_errors=False)
        view = int(self.view_choice.value)
        try:
            self.total = self.store.count_runs(self.experiment_ids, self.filter_string, view)
            last_page = max(0, (self.total - 1) // self.page_size)
            self.page = min(self.page, last_page)
            self.runs = self.store.search_runs(
                self.experiment_ids, self.filter_string, view, max_results=self.page_size,
                order_by=self._order_by(), offset=self.page * self.page_size)
        except MlnbError as exc:
            self.error = exc.message
            self.error_box.value = static.error_html(exc.message)
            return
        self.error = ""
        self.error_box.value = ""
        self._update_choosers()
        self._render()
        self._watch_running()

    def _update_choosers(self) -> None:
        if self._chosen is None:
            self._chosen = {kind: data.default_keys(self.runs, kind) for kind in ("params", "metrics")}
        for kind, chooser in (("params", self.params_chooser), ("metrics", self.metrics_chooser)):
            keys = set(self._chosen[kind])
            for run in self.runs:
                keys.update(run.data.params if kind == "params" else run.data.metrics)
            chooser.unobserve(self._on_columns, "value")
            chooser.options = sorted(keys)
            chooser.value = tuple(self._chosen[kind])
            chooser.observe(self._on_columns, "value")

    def _on_columns(self, _: Any) -> None:
        self._chosen = {"params": list(self.params_chooser.value),
                        "metrics": list(self.metrics_chooser.value)}
        self._render()

    # --- drawing ----------------------------------------------------------------------------

    def _header(self, column: data.Column) -> widgets.Button:
        arrow = (" ▲" if self.sort_ascending else " ▼") if column.id == self.sort_column else ""
        button = widgets.Button(
            description=column.label + arrow, tooltip=f"Sort by {column.label}",
            disabled=column.order_field is None,
            layout=widgets.Layout(width=_WIDTHS.get(column.id, _CELL_WIDTH)))
        button.style.font_weight = "bold"
        button.on_click(lambda _, c=column.id: self.sort_by(c))
        return button

    def _row(self, index: int, ncols: int) -> tuple[widgets.Checkbox, list[widgets.Label]]:
        # Cells share their Layout and Style widgets: a page of 50 rows then costs one widget
        # per cell instead of three, which is most of the time of drawing the first page.
        while len(self._rows) <= index:
            self._rows.append((widgets.Checkbox(indent=False, layout=self._shared_layout("28px"),
                                                style=self._shared_style("checkbox")), []))
        box, labels = self._rows[index]
        while len(labels) < ncols:
            labels.append(no_math(widgets.Label(layout=self._shared_layout(_CELL_WIDTH),
                                                style=self._shared_style(""))))
        return box, labels

    def _shared_layout(self, width: str) -> widgets.Layout:
        if width not in self._layouts:
            self._layouts[width] = widgets.Layout(width=width)
        return self._layouts[width]

    def _shared_style(self, kind: str) -> widgets.Widget:
        if kind not in self._styles:
            if kind == "checkbox":
                self._styles[kind] = CheckboxStyle()
            else:
                self._styles[kind] = LabelStyle(
                    text_color=data.STATUS_COLOURS.get(kind), font_weight="bold" if kind else "")
        return self._styles[kind]

    def _render(self) -> None:
        self.columns = self._all_columns()
        ncols = len(self.columns)
        now = int(time.time() * 1000)
        texts = data.table_rows(self.runs, self.columns, now)
        select_all = widgets.Checkbox(indent=False, layout=widgets.Layout(width="28px"),
                                      value=bool(self.runs) and all(
                                          r.info.run_id in self.selected_ids for r in self.runs))
        select_all.observe(lambda change: self._select_page(change["new"]), "value")
        cells: list[widgets.Widget] = [select_all, *(self._header(c) for c in self.columns)]
        for i, (run, row) in enumerate(zip(self.runs, texts, strict=True)):
            box, labels = self._row(i, ncols)
            with box.hold_sync():
                box.unobserve_all("value")
                box.value = run.info.run_id in self.selected_ids
                box.observe(lambda change, i=i: self._on_check(i, change["new"]), "value")
            cells.append(box)
            for label, column, text in zip(labels, self.columns, row, strict=False):
                label.value = text
                label.tooltip = text
                label.layout = self._shared_layout(_WIDTHS.get(column.id, _CELL_WIDTH))
                label.style = self._shared_style(text if column.id == "status" else "")
                cells.append(label)
        widths = " ".join(["28px", *(_WIDTHS.get(c.id, _CELL_WIDTH) for c in self.columns)])
        self.grid.layout.grid_template_columns = widths
        self.grid.children = tuple(cells)
        first = self.page * self.page_size + 1 if self.runs else 0
        pages = max(1, -(-self.total // self.page_size))
        self.page_label.value = (f"Runs {first}–{first + len(self.runs) - 1 if self.runs else 0} "
                                 f"of {self.total:,} · page {self.page + 1}/{pages}")
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page + 1 >= pages

    def sort_by(self, column_id: str) -> None:
        """Sort by a column (again on the same column reverses the order) and reload.

        :param column_id: a column id such as ``start`` or ``metrics.acc``.
        """
        if column_id == self.sort_column:
            self.sort_ascending = not self.sort_ascending
        else:
            self.sort_column, self.sort_ascending = column_id, column_id in ("name", "status")
        self._go_to(0)

    # --- selection and actions --------------------------------------------------------------

    def _on_check(self, index: int, checked: bool) -> None:
        if index >= len(self.runs):
            return
        run_id = self.runs[index].info.run_id
        ids = [r for r in self.selected_ids if r != run_id]
        self.selected_ids = [*ids, run_id] if checked else ids

    def _select_page(self, checked: bool) -> None:
        page_ids = [r.info.run_id for r in self.runs]
        rest = [r for r in self.selected_ids if r not in page_ids]
        self.selected_ids = [*rest, *page_ids] if checked else rest
        self._render()

    def select(self, run_ids: list[str]) -> None:
        """Select these runs (replacing the selection), as ticking their boxes does.

        :param run_ids: the runs' ids.
        """
        self.selected_ids = list(run_ids)
        self._render()

    def open_comparison(self) -> None:
        """Show the comparison of the selected runs below the table."""
        if not self.selected_ids:
            self.message.value = "Tick the runs to compare first."
            return

        self.message.value = ""
        self.panel.children = (Comparison(self.selected_ids, store=self.store),)

    def open_details(self) -> None:
        """Show the details of the last selected run below the table."""
        if not self.selected_ids:
            self.message.value = "Tick a run to see its details."
            return

        self.message.value = ""
        self.panel.children = (RunDetail(self.selected_ids[-1], store=self.store),)

    def set_lifecycle(self, stage: str) -> None:
        """Delete (``deleted``) or restore (``active``) the selected runs, then reload.

        :param stage: ``deleted`` or ``active``.
        """
        ids = list(self.selected_ids)
        for run_id in ids:
            if stage == "deleted":
                self.client.delete_run(run_id)
            else:
                self.client.restore_run(run_id)
        verb = "Deleted" if stage == "deleted" else "Restored"
        self.message.value = f"{verb} {len(ids)} run(s)."
        self.selected_ids = []
        self.refresh()

    # --- automatic refresh ------------------------------------------------------------------

    def running_count(self) -> int:
        """How many runs of the table's experiments are RUNNING now."""
        return self.store.count_runs(self.experiment_ids, f"attributes.status = '{RunStatus.RUNNING}'")

    def _watch_running(self) -> None:
        running = any(r.info.status == RunStatus.RUNNING for r in self.runs)
        if running and self.auto_refresh.value and (self._poller is None or not self._poller.is_alive()):
            self._stop.clear()
            self._poller = threading.Thread(target=self._poll, name="mlnb-run-table", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        # Runs in a thread: a kernel sends widget updates from any thread.
        while not self._stop.wait(self.refresh_interval):
            if not self.auto_refresh.value:
                return
            try:
                if self.running_count() == 0:
                    self.refresh()
                    return
                self.refresh()
            except Exception:  # a closed store or a kernel shutting down: stop quietly
                return

    def close(self) -> None:
        """Stop the automatic refresh and close the widget."""
        self._stop.set()
        super().close()

    # --- static fallback --------------------------------------------------------------------

    def static_html(self) -> str:
        """The current page as a static HTML table."""
        headers = [c.label for c in self.columns]
        rows = data.table_rows(self.runs, self.columns, int(time.time() * 1000))
        summary = f"<p>{escape_html(self.page_label.value)}</p>"
        status_col = next((i for i, c in enumerate(self.columns) if c.id == "status"), None)
        table = static.html_table(headers, rows, status_column=status_col)
        return static.page("Runs", static.error_html(self.error), summary, table)
