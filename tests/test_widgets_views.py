"""The run table, comparison and run details built in-process: their state, children and bundles."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest

import mlnb
from mlnb.widgets import charts
from mlnb.widgets.base import WIDGET_MIME
from mlnb.widgets.comparison import Comparison
from mlnb.widgets.run_detail import RunDetail
from mlnb.widgets.run_table import RunTable


def _sweep(n: int = 3, steps: int = 5) -> list[str]:
    mlnb.set_experiment("sweep")
    ids = []
    for i in range(n):
        with mlnb.start_run(run_name=f"run-{i}") as run:
            mlnb.log_params({"C": 10.0 ** (i - 1), "solver": "lbfgs"})
            for step in range(steps):
                mlnb.log_metric("loss", 1.0 / (step + 1) + i, step=step)
                mlnb.log_metric("accuracy", 0.5 + 0.1 * i + 0.01 * step, step=step)
            ids.append(run.run_id)
        time.sleep(0.003)  # distinct start times: the table lists the newest first
    return ids


def _labels(table: RunTable) -> list[list[str]]:
    """The text of each data row of the grid (checkbox, then one Label per column)."""
    ncols = len(table.columns) + 1
    cells = list(table.grid.children)[ncols:]
    return [[c.value for c in cells[i + 1:i + ncols]] for i in range(0, len(cells), ncols)]


def test_table_shows_runs_columns_and_paging(tracking: Path) -> None:
    _sweep(3)
    table = mlnb.show_runs(page_size=2)
    assert isinstance(table, RunTable)
    assert 3 == table.total
    assert ["Run", "Status", "Start", "Duration", "C", "solver", "accuracy", "loss"] == \
        [c.label for c in table.columns]
    rows = _labels(table)
    assert [["run-2", "FINISHED"], ["run-1", "FINISHED"]] == [r[:2] for r in rows]  # newest first
    assert "Runs 1–2 of 3 · page 1/2" == table.page_label.value
    assert table.prev_button.disabled and not table.next_button.disabled
    table.next_button.click()
    assert [["run-0"]] == [r[:1] for r in _labels(table)]
    assert "page 2/2" in table.page_label.value


def test_status_is_coloured_and_column_chooser_changes_columns(tracking: Path) -> None:
    _sweep(1)
    table = mlnb.show_runs()
    status_label = list(table.grid.children)[len(table.columns) + 1 + 2]
    assert "FINISHED" == status_label.value
    assert "#1a7f37" == status_label.style.text_color
    table.metrics_chooser.value = ("loss",)
    table.params_chooser.value = ()
    assert ["Run", "Status", "Start", "Duration", "loss"] == [c.label for c in table.columns]


def test_sort_by_a_metric_both_ways(tracking: Path) -> None:
    _sweep(3)
    table = mlnb.show_runs()
    table.sort_by("metrics.accuracy")
    assert ["run-2", "run-1", "run-0"] == [r[0] for r in _labels(table)]
    assert "accuracy ▼" in [getattr(c, "description", "") for c in table.grid.children]
    table.sort_by("metrics.accuracy")
    assert ["run-0", "run-1", "run-2"] == [r[0] for r in _labels(table)]


def test_filter_narrows_and_bad_filter_shows_inline_error(tracking: Path) -> None:
    _sweep(3)
    table = mlnb.show_runs(filter="params.C = '1.0'")
    assert 1 == table.total and ["run-1"] == [r[0] for r in _labels(table)]
    table.filter_box.value = "metrics.accuracy >"
    assert "end of the filter" in table.error
    assert "mlnb-error" in table.error_box.value
    table.filter_box.value = "metrics.accuracy > 0.6"
    assert "" == table.error and "" == table.error_box.value and 2 == table.total


def test_select_compare_details_delete_restore(tracking: Path) -> None:
    ids = _sweep(3)
    table = mlnb.show_runs()
    boxes = [c for c in table.grid.children if isinstance(c, widgets.Checkbox)]
    boxes[1].value = True  # first data row (boxes[0] selects the page)
    boxes[2].value = True
    assert [ids[2], ids[1]] == table.selected_ids
    table.compare_button.click()
    assert isinstance(table.panel.children[0], Comparison)
    table.details_button.click()
    assert isinstance(table.panel.children[0], RunDetail)
    table.delete_button.click()
    assert 1 == table.total and [] == table.selected_ids
    assert "deleted" == mlnb.get_run(ids[2]).info.lifecycle_stage
    table.view_choice.value = 3  # all runs, deleted too
    table.select([ids[2]])
    table.restore_button.click()
    assert "active" == mlnb.get_run(ids[2]).info.lifecycle_stage


def test_auto_refresh_follows_running_runs(tracking: Path) -> None:
    mlnb.set_experiment("live")
    mlnb.start_run(run_name="live")
    table = mlnb.show_runs(page_size=10)
    table.refresh_interval = 0.05
    assert 1 == table.running_count()
    assert table._poller is not None and table._poller.is_alive()
    mlnb.log_metric("loss", 0.5)
    mlnb.end_run()
    table._poller.join(timeout=5)
    assert not table._poller.is_alive()
    assert "FINISHED" == _labels(table)[0][1]
    table.close()


def test_table_bundle_has_widget_view_and_static_html(tracking: Path) -> None:
    _sweep(2)
    table = mlnb.show_runs()
    bundle = table._repr_mimebundle_()
    assert WIDGET_MIME in bundle
    assert "<table" in bundle["text/html"] and "run-1" in bundle["text/html"]
    assert "FINISHED" in bundle["text/html"]


def test_comparison_params_summaries_and_charts(tracking: Path) -> None:
    ids = _sweep(3)
    view = mlnb.compare(ids[:2])
    assert ["run-0", "run-1"] == view.labels
    assert "mlnb-diff" in view.params_html.value and "solver" not in view.params_html.value
    view.show_all.value = True
    assert "solver" in view.params_html.value
    summary = view.summary_html.value
    assert "<td>run-1</td><td>loss</td><td>1.2</td><td>1.2</td><td>2</td><td>4</td>" in summary
    view.draw_all()
    spec = view.history_out.outputs[0]["data"][charts.PLOTLY_MIME]
    assert ["run-0", "run-1"] == [t["name"] for t in spec["data"]]
    view.metric_choice.value = "loss"
    view.log_scale.value = True
    view.smoothing.value = 0.5
    spec = view.history_out.outputs[0]["data"][charts.PLOTLY_MIME]
    assert "log" == spec["layout"]["yaxis"]["type"] and "EMA 0.5" in spec["layout"]["title"]["text"]
    assert "parcoords" == view.parallel_out.outputs[0]["data"][charts.PLOTLY_MIME]["data"][0]["type"]
    scatter = view.scatter_out.outputs[0]["data"][charts.PLOTLY_MIME]["data"][0]
    assert "scatter" == scatter["type"] and ["run-0", "run-1"] == scatter["text"]
    bars = view.bar_out.outputs[0]["data"][charts.PLOTLY_MIME]["data"]
    assert ["accuracy", "loss"] == [b["name"] for b in bars]
    bundle = view._repr_mimebundle_()
    assert WIDGET_MIME in bundle and "Comparing 2 runs" in bundle["text/html"]


def test_comparison_accepts_a_search_runs_frame(tracking: Path) -> None:
    _sweep(2)
    frame = mlnb.search_runs()
    assert 2 == len(mlnb.compare(frame).runs)
    with pytest.raises(mlnb.MlnbError, match="No run"):
        mlnb.compare(["nope"])


def _logged_run() -> str:
    mlnb.set_experiment("details")
    with mlnb.start_run(run_name="detailed") as run:
        mlnb.log_param("alpha", 0.5)
        mlnb.set_tags({"team": "vision", "mlnb.cell.source": "x = 1\nprint(x)\n"})
        for step in range(3):
            mlnb.log_metric("loss", 1.0 - step / 10, step=step)
        mlnb.log_table({"a": [1, 2], "b": ["x", "y"]}, "tables/t.json")
        mlnb.log_dict({"lr": 0.1}, "config.json")
        mlnb.log_text("hello", "notes.txt")
        import plotly.graph_objects as go

        mlnb.log_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="fig-trace")), "fig.json")
        png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
               b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
               b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
        path = Path("dot.png")
        path.write_bytes(png)
        mlnb.log_artifact(str(path), "images")
    return run.run_id


def _walk(widget: Any) -> list[Any]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += _walk(child)
    return found


def test_run_detail_sections_and_previews(tracking: Path) -> None:
    run_id = _logged_run()
    view = mlnb.show_run(run_id)
    assert ("Params (1)", "Metrics (1)") == tuple(view.sections.titles[:2])
    assert "<td>alpha</td><td>0.5</td>" in view.params_html.value
    assert "<td>team</td><td>vision</td>" in view.tags_html.value
    assert "mlnb.cell.source" in view.provenance_html.value
    assert "mlflow.source.name" in view.provenance_html.value
    assert "print" in view.provenance_html.value and "<span" in view.provenance_html.value
    assert 1 == len(view.sparklines.children)
    parts = _walk(view.artifacts_box)
    html = "".join(w.value for w in parts if isinstance(w, widgets.HTML))
    assert "<th>a</th><th>b</th>" in html and "<td>x</td>" in html  # log_table preview
    assert "&quot;lr&quot;: 0.1" in html and "hello" in html
    images = [w for w in parts if isinstance(w, widgets.Image)]
    assert 1 == len(images) and "png" == images[0].format
    figs = [w.outputs[0]["data"][charts.PLOTLY_MIME] for w in parts if isinstance(w, widgets.Output)]
    assert ["fig-trace"] == [t["name"] for f in figs for t in f["data"]]
    bundle = view._repr_mimebundle_()
    assert WIDGET_MIME in bundle and "images/dot.png" in bundle["text/html"]
    json.dumps(bundle["text/html"])


def test_compare_notebook_runs_in_a_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """notebooks/compare.ipynb under nbclient: each view's output has the widget and HTML."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)
    (tmp_path / ".mlnb").mkdir()
    nb = nbformat.read(Path(__file__).resolve().parent.parent / "notebooks" / "compare.ipynb", 4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    bundles = [o["data"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if o.output_type == "execute_result"]
    assert 3 == len(bundles)
    for bundle in bundles:
        assert WIDGET_MIME in bundle and "<table" in bundle["text/html"]
    assert "logreg-C10.0" in bundles[0]["text/html"] and "Comparing 4 runs" in bundles[1]["text/html"]


def test_run_table_sorts_by_duration(tracking):
    from mlnb.widgets.run_table import RunTable

    store = mlnb.MlnbClient().store
    for name, seconds in (("medium", 5), ("short", 1), ("long", 9)):
        run = store.create_run("0", name, start_time=1_000)
        store.update_run(run.run_id, status="FINISHED", end_time=1_000 + seconds * 1000)
    table = RunTable()
    table.sort_by("duration")
    assert [r.info.run_name for r in table.runs] == ["long", "medium", "short"]
    table.sort_by("duration")
    assert [r.info.run_name for r in table.runs] == ["short", "medium", "long"]


def test_long_histories_are_charted_from_a_sample_with_exact_summaries(tracking: Path) -> None:
    from mlnb.entities import Metric
    from mlnb.widgets.data import CHART_POINTS

    client = mlnb.MlnbClient()
    run_id = client.create_run("0").info.run_id
    points = [Metric("loss", 1 / (1 + s), 0, s) for s in range(9_000)]
    points[4_321] = Metric("loss", -3.0, 0, 4_321)
    for start in range(0, len(points), 1_000):
        client.log_batch(run_id, metrics=points[start:start + 1_000])
    detail = RunDetail(run_id)
    assert len(detail.histories["loss"]) <= CHART_POINTS
    from mlnb.widgets.run_detail import metric_rows

    assert metric_rows(detail.histories, detail.point_counts) == [
        ["loss", "0.000111111", "-3", "1", "4321", "9000"]]
    view = Comparison([run_id])
    assert view.point_counts == {run_id: {"loss": 9_000}}
