"""One run in detail: params, metrics with small history charts, tags, provenance, artifacts."""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets

from mlnb.entities import FileInfo, Metric, Run
from mlnb.store import Store
from mlnb.widgets import charts, data, previews, static
from mlnb.widgets.base import StaticFallback
from mlnb.widgets.escape import escape_html

MAX_SPARKLINES = 12
MAX_PREVIEWS = 12
_SOURCE_ARTIFACTS = ("cell.py", "cell_source.py", "source.py", "code.py")


def metric_rows(histories: dict[str, list[Metric]],
                counts: dict[str, int] | None = None) -> list[list[str]]:
    """``[metric, last, min, max, best step, points]`` for each metric, by name.

    :param histories: metric -> points (or a chart's sample of them).
    :param counts: metric -> how many points its whole history holds; default the points given.
    """
    rows = []
    for key, points in sorted(histories.items()):
        s = data.summarize(points, key, (counts or {}).get(key))
        if s is not None:
            rows.append([key, data.format_value(s.last), data.format_value(s.min),
                         data.format_value(s.max), str(s.best_step), str(s.count)])
    return rows


def header_html(run: Run) -> str:
    """The run's name and status, and a line of facts (id, experiment, times, lifecycle), escaped.

    :param run: the run.
    """
    info = run.info
    duration = data.format_duration(data.duration_ms(run, int(time.time() * 1000)))
    items = [("Run id", info.run_id), ("Experiment", info.experiment_id),
             ("Start", data.format_time(info.start_time)), ("End", data.format_time(info.end_time)),
             ("Duration", duration), ("Lifecycle", info.lifecycle_stage)]
    facts = " · ".join(f"{escape_html(k)}: <code>{escape_html(v)}</code>" for k, v in items if v)
    return static.plain(f"<h4 style='margin:4px 0'>{escape_html(info.run_name)} "
                        f"{static.status_html(info.status)}</h4><div style='font-size:12px'>{facts}</div>")


class RunDetail(StaticFallback, widgets.VBox):
    """Everything recorded about one run, in sections.

    :param run: a run id, a ``Run`` or an ``ActiveRun``.
    :param store: the store to read; default the current one.
    """

    def __init__(self, run: Any, *, store: Store | None = None) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.store = store if store is not None else data.tracking_store()
        self.run = data.resolve_runs(self.store, run)[0]
        run_id = self.run.info.run_id
        self.histories = self.store.metric_histories(
            [run_id], max_points=data.CHART_POINTS).get(run_id, {})
        self.point_counts = self.store.point_counts([run_id]).get(run_id, {})
        self.artifacts = previews.walk_artifacts(self.store, run_id)
        self.provenance = data.provenance_tags(self.run.data.tags)
        self.cell_source = self._find_cell_source()
        self._build()

    def _find_cell_source(self) -> tuple[str, str] | None:
        """(where it came from, source) from a provenance tag, or a source artifact."""
        found = data.cell_source_tag(self.run.data.tags)
        if found is not None:
            return f"tag {found[0]}", found[1]
        for info in self.artifacts:
            name = info.path.rsplit("/", 1)[-1]
            if name in _SOURCE_ARTIFACTS and (info.file_size or 0) <= previews.MAX_PREVIEW_BYTES:
                raw = self.store.artifact_path(self.run.info.run_id, info.path).read_bytes()
                return f"artifact {info.path}", raw.decode("utf-8", errors="replace")
        return None

    # --- sections ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.header = widgets.HTML(static.STYLE + header_html(self.run))
        params = sorted(self.run.data.params.items())
        self.params_html = widgets.HTML(static.key_value_table(params, ("Param", "Value")))
        rows = metric_rows(self.histories, self.point_counts)
        self.metrics_html = widgets.HTML(static.html_table(
            ["Metric", "Last", "Min", "Max", "Best step", "Points"], rows) if rows else "<i>None.</i>")
        self.sparklines = widgets.Box(layout=widgets.Layout(flex_flow="row wrap"))
        self.sparklines.children = tuple(self._sparkline(k, p) for k, p in
                                         sorted(self.histories.items())[:MAX_SPARKLINES])
        other_tags = sorted((k, v) for k, v in self.run.data.tags.items() if k not in self.provenance)
        self.tags_html = widgets.HTML(static.key_value_table(other_tags, ("Tag", "Value")))
        self.provenance_html = widgets.HTML(self._provenance_html())
        self.artifacts_box = widgets.VBox(self._artifact_sections())
        self.sections = widgets.Accordion(
            children=[widgets.VBox([self.params_html]),
                      widgets.VBox([self.metrics_html, self.sparklines]),
                      widgets.VBox([self.tags_html]), widgets.VBox([self.provenance_html]),
                      self.artifacts_box],
            titles=(f"Params ({len(params)})", f"Metrics ({len(self.histories)})",
                    f"Tags ({len(other_tags)})", f"Provenance ({len(self.provenance)})",
                    f"Artifacts ({len(self.artifacts)})"),
        )
        self.sections.selected_index = 1 if self.histories else 0
        self.children = (self.header, self.sections)

    def _sparkline(self, key: str, points: list[Metric]) -> widgets.Widget:
        out = widgets.Output(layout=widgets.Layout(width="330px"))
        out.outputs = (charts.figure_output(charts.sparkline_figure(points, key)),)
        return out

    def _provenance_html(self) -> str:
        parts = [static.key_value_table(sorted(self.provenance.items()), ("Tag", "Value"))]
        if self.cell_source is not None:
            where, source = self.cell_source
            parts.append(static.plain(f"<p><b>Cell source</b> <small>({escape_html(where)})</small></p>"))
            parts.append(static.code_html(source))
        return "".join(parts)

    def _artifact_sections(self) -> list[widgets.Widget]:
        if not self.artifacts:
            return [widgets.HTML("<i>No artifacts.</i>")]
        listing = static.html_table(
            ["Path", "Size (bytes)"], [[a.path, f"{a.file_size or 0:,}"] for a in self.artifacts])
        sections: list[widgets.Widget] = [widgets.HTML(static.STYLE + listing)]
        shown = [a for a in self.artifacts if previews.kind_of(a.path) != "other"][:MAX_PREVIEWS]
        for info in shown:
            sections.append(widgets.HTML(static.plain(f"<b>{escape_html(info.path)}</b>")))
            sections.append(previews.preview(self.store, self.run.info.run_id, info))
        return sections

    # --- static fallback --------------------------------------------------------------------

    def static_html(self) -> str:
        """The run's sections as static HTML."""
        parts = [header_html(self.run), "<h5>Params</h5>",
                 static.key_value_table(sorted(self.run.data.params.items()), ("Param", "Value")),
                 "<h5>Metrics</h5>",
                 static.html_table(["Metric", "Last", "Min", "Max", "Best step", "Points"],
                                   metric_rows(self.histories, self.point_counts)),
                 "<h5>Tags</h5>",
                 static.key_value_table(sorted(self.run.data.tags.items()), ("Tag", "Value")),
                 "<h5>Provenance</h5>", self._provenance_html(), "<h5>Artifacts</h5>",
                 static.html_table(["Path", "Size (bytes)"], _artifact_rows(self.artifacts))]
        return static.page("Run details", *parts)


def _artifact_rows(artifacts: list[FileInfo]) -> list[list[str]]:
    return [[a.path, f"{a.file_size or 0:,}"] for a in artifacts]
