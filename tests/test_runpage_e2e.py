"""The run page in a real JupyterLab, driven in Debian's Chromium (Playwright): metric charts
(system metrics apart), provenance, the run's notebook and an ``.ipynb`` artifact shown at the
cell that made the run, every artifact viewer, large files previewed in part, and an XSS corpus
through every viewer with ``window.__xss`` staying undefined and the hostile text shown as text.
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401
from test_sidebar_e2e import PANEL, open_lab, open_panel, server_store

from mlnb.entities import Metric, Param, RunTag
from mlnb.store import Store

pytestmark = pytest.mark.e2e

PAGE = ".mlnb-run-detail"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

XSS_MD = ("# Markdown heading\n\n<img src=x onerror=window.__xss=1>\n\n"
          "[md js link](javascript:window.__xss=2) and visible markdown text\n")
XSS_JSON = {"<img src=x onerror=window.__xss=3>": "<script>window.__xss=4</script>",
            "nested": {"values": [1, 2, 3]}}
XSS_CSV = "name,<img src=x onerror=window.__xss=5>\n<script>window.__xss=6</script>,1\n"
XSS_HTML = ("<script>top.__xss=7; parent.__xss=7</script><img src=x onerror=\"top.__xss=8\">"
            "<a href=\"javascript:top.__xss=9\">html js link</a><p>visible html text</p>")
TRACK_SOURCE = "model.fit(X, y)\nmlnb.log_metric('loss', 0.1)"


def notebook(target_source: str) -> dict[str, Any]:
    """A notebook whose cell ``train-cell`` (after many others) made the run, with hostile outputs."""
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "id": "intro", "metadata": {},
         "source": "# Notebook title\n\n<img src=x onerror=window.__xss=10> "
                   "[cell js link](javascript:window.__xss=11) visible cell markdown"},
    ]
    for i in range(30):  # enough cells above the target that it has to be scrolled to
        cells.append({"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": i + 1,
                      "source": f"x{i} = {i}", "outputs": []})
    cells.append({
        "cell_type": "code", "id": "train-cell", "metadata": {}, "execution_count": 31,
        "source": target_source,
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "training done\n"},
            {"output_type": "display_data", "metadata": {}, "data": {
                "text/html": "<img src=x onerror=\"window.__xss=12\"><script>window.__xss=13</script>"
                             "<a href=\"javascript:window.__xss=14\">output js link</a>"
                             "<b onmouseover=\"window.__xss=15\">bold html output</b>",
                "text/plain": "<HTML>"}},
            {"output_type": "display_data", "metadata": {}, "data": {
                "image/png": PNG, "text/plain": "<Figure>"}},
            {"output_type": "display_data", "metadata": {}, "data": {
                "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' width='20' height='20' "
                                 "onload='top.__xss=16'><script>top.__xss=17</script></svg>"}},
        ],
    })
    cells.append({"cell_type": "code", "id": "after", "metadata": {}, "execution_count": 32,
                  "source": "print('after')", "outputs": []})
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}}}


def parquet_bytes() -> bytes:
    table = pa.table({"i": list(range(120)),
                      "label": ["<img src=x onerror=window.__xss=18>"] + [f"p{i}" for i in range(1, 120)]})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=50)
    return sink.getvalue()


def make_run(store: Store, root: Path) -> str:
    eid = store.create_experiment("runpage")
    info = store.create_run(eid, run_name="page-run", tags={
        "mlnb.notebook.path": "train.ipynb", "mlflow.source.name": "train.ipynb",
        "mlnb.cell.id": "train-cell", "mlnb.cell.source": TRACK_SOURCE, "mlnb.cell.execution_count": "31",
        "mlnb.kernel": "ipython", "mlnb.python_version": "3.11.7",
        "mlnb.kernel.history": "1:c0:aaaaaaaaaaaa 2:c1:bbbbbbbbbbbb",
        "mlnb.packages": "numpy==2.4.6 pandas==3.1.1", "mlflow.source.git.commit": "0123abcd",
        "mlflow.source.git.branch": "main", "team": "blue"})
    metrics = [Metric("loss", 1 / (s + 1), 1000 + s, s) for s in range(20)]
    metrics += [Metric("system/cpu_utilization_percentage", 10.0 + s, 1000 + s, s) for s in range(5)]
    store.log_batch(info.run_id, params=[Param("lr", "0.01")], metrics=metrics,
                    tags=[RunTag("note", "<img src=x onerror=window.__xss=19>")])
    run = info.run_id
    store.put_artifact_bytes(run, "notebooks/run.ipynb", json.dumps(notebook(TRACK_SOURCE)).encode())
    store.put_artifact_bytes(run, "xss.md", XSS_MD.encode())
    store.put_artifact_bytes(run, "xss.json", json.dumps(XSS_JSON).encode())
    store.put_artifact_bytes(run, "xss.csv", XSS_CSV.encode())
    store.put_artifact_bytes(run, "report.html", XSS_HTML.encode())
    store.put_artifact_bytes(run, "table.parquet", parquet_bytes())
    store.put_artifact_bytes(run, "plot.png", base64.b64decode(PNG))
    big = "".join(f"line {i:07d} of a large log\n" for i in range(100_000))  # 2.7 MiB
    store.put_artifact_bytes(run, "big.log", big.encode())
    import plotly.graph_objects as go

    from mlnb.tracking.client import MlnbClient

    figure = go.Figure(go.Bar(x=["a", "b"], y=[1, 3]),
                       layout={"title": {"text": "figure <img src=x onerror=window.__xss=20>"}})
    MlnbClient(str(root / ".mlnb")).log_figure(run, figure, "figure.json")
    # The run's own notebook on disk, with the same cell (edited since: the page says so).
    edited = notebook(TRACK_SOURCE + "\n# edited later")
    (root / "train.ipynb").write_text(json.dumps(edited))
    store.update_run(run, status="FINISHED", end_time=int(time.time() * 1000))
    return run


def injected(page: Any) -> dict[str, Any]:
    """What of the XSS corpus reached the page as live markup (all zero / None when inert)."""
    return page.evaluate("""() => {
        const inPage = sel => [...document.querySelectorAll(sel)].filter(e => e.closest('.mlnb-run-detail'));
        return {
            xss: window.__xss === undefined ? null : window.__xss,
            handlers: inPage('[onerror],[onload],[onclick],[onmouseover]').length,
            scripts: inPage('script').length,
            jsLinks: inPage('a[href]').filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
            commandLinks: inPage('[data-commandlinker-command]').length,
        };
    }""")


CLEAN = {"xss": None, "handlers": 0, "scripts": 0, "jsLinks": 0, "commandLinks": 0}


def open_file(page: Any, name: str) -> Any:
    """Open an artifact in the viewer by keyboard (focus its button, press Enter)."""
    button = page.locator(f"{PAGE} .mlnb-rp-file:text-is('{name}')")
    button.focus()
    page.keyboard.press("Enter")
    return page.wait_for_selector(f"{PAGE} .mlnb-rp-viewer .mlnb-preview-title:has-text('{name}')")


def test_run_page_viewers_notebook_cell_and_xss_corpus(
    lab_server: Any, browser_page: Any, output_dir: Path,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    run_id = make_run(server_store(server.root), server.root)
    open_lab(page, server)
    open_panel(page)
    page.click(f"{PANEL} .mlnb-tr:has-text('page-run') .mlnb-td:text-is('page-run')")
    page.wait_for_selector(f"{PAGE}[data-run-id='{run_id}']", timeout=30_000)

    # Metric charts, the system metrics in their own section; params, tags, provenance.
    page.wait_for_selector(f"{PAGE} section[aria-label='Metric charts'] "
                           ".mlnb-rp-chart[data-chart='loss'] .main-svg", timeout=60_000)
    page.wait_for_selector(f"{PAGE} section[aria-label='System metrics'] "
                           ".mlnb-rp-chart[data-chart='system/cpu_utilization_percentage'] .main-svg")
    assert page.locator(f"{PAGE} section[aria-label='Metric charts'] "
                        "[data-chart='system/cpu_utilization_percentage']").count() == 0
    prov = page.locator(f"{PAGE} .mlnb-rp-provenance")
    for text in ("train.ipynb", "train-cell", "0123abcd", "3.11.7", TRACK_SOURCE.splitlines()[0]):
        assert text in prov.inner_text()
    prov.locator("summary:has-text('imported packages')").click()
    assert "pandas==3.1.1" in prov.inner_text()
    assert "<img src=x onerror=window.__xss=19>" in page.inner_text(PAGE)
    page.screenshot(path=str(output_dir / "runpage-top.png"))

    # The run's notebook on disk, rendered read-only at the cell, which has been edited since.
    page.click(f"{PAGE} .mlnb-rp-show-notebook")
    target = page.wait_for_selector(
        f"{PAGE} .mlnb-rp-run-notebook .mlnb-nb-target[data-cell-id='train-cell']")
    assert "its source has changed since" in target.inner_text()

    # The .ipynb artifact: the cell that made the run is highlighted, scrolled to and focused.
    page.locator(f"{PAGE} .mlnb-rp-file:text-is('notebooks/')").focus()
    page.keyboard.press("Enter")  # a folder: Enter opens it
    open_file(page, "run.ipynb")
    cell = f"{PAGE} .mlnb-rp-viewer .mlnb-nb-target[data-cell-id='train-cell']"
    page.wait_for_selector(cell)
    page.wait_for_function(f"document.activeElement === document.querySelector(\"{cell}\")")
    seen = page.evaluate(f"""() => {{
        const cell = document.querySelector("{cell}"), list = cell.closest('.mlnb-nb');
        const box = cell.getBoundingClientRect(), shown = list.getBoundingClientRect();
        const other = list.querySelector("[data-cell-id='c0']");
        return {{ visible: box.top < shown.bottom && box.bottom > shown.top, scrolled: list.scrollTop > 0,
                  border: getComputedStyle(cell).borderTopColor,
                  otherBorder: getComputedStyle(other).borderTopColor }};
    }}""")
    assert seen["visible"] and seen["scrolled"], seen
    assert seen["border"] != seen["otherBorder"], seen  # highlighted
    assert "This cell made the run." in page.inner_text(cell)
    viewer = page.locator(f"{PAGE} .mlnb-rp-viewer")
    for text in ("training done", "bold html output", "output js link", "visible cell markdown",
                 "<img src=x onerror=window.__xss=10>", TRACK_SOURCE.splitlines()[0]):
        assert text in viewer.inner_text(), text
    assert viewer.locator(".mlnb-nb-image").count() == 2  # the PNG and the SVG, as <img>
    page.wait_for_function(f"[...document.querySelectorAll({json.dumps(cell + ' img.mlnb-nb-image')})]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    viewer.locator("a:has-text('output js link')").click()
    viewer.locator("b:has-text('bold html output')").hover()
    page.wait_for_timeout(300)
    assert injected(page) == CLEAN
    page.screenshot(path=str(output_dir / "runpage-notebook.png"))

    page.click(f"{PAGE} .mlnb-rp-crumbs button:text-is('artifacts')")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-file:text-is('xss.md')")

    # Markdown: rendered, its raw HTML shown as text, its javascript: link not a link.
    open_file(page, "xss.md")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-markdown h1:text-is('Markdown heading')")
    text = page.inner_text(f"{PAGE} .mlnb-rp-viewer")
    assert "<img src=x onerror=window.__xss=1>" in text and "visible markdown text" in text
    page.click(f"{PAGE} .mlnb-rp-markdown :text('md js link')")
    assert injected(page) == CLEAN

    # JSON as a tree: keys and values as text; collapsible.
    open_file(page, "xss.json")
    tree = page.wait_for_selector(f"{PAGE} .mlnb-json")
    assert "<img src=x onerror=window.__xss=3>" in tree.inner_text()
    assert '"<script>window.__xss=4</script>"' in tree.inner_text()
    page.click(f"{PAGE} .mlnb-json-toggle[aria-label='Collapse nested']")
    page.wait_for_selector(f"{PAGE} .mlnb-json li[aria-expanded='false']:has-text('nested')")
    assert injected(page) == CLEAN

    # CSV and Parquet as paged tables.
    open_file(page, "xss.csv")
    grid = page.wait_for_selector(f"{PAGE} .mlnb-rp-grid")
    assert "<img src=x onerror=window.__xss=5>" in grid.inner_text()
    assert "<script>window.__xss=6</script>" in grid.inner_text()
    open_file(page, "table.parquet")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-page-label:text-is('rows 1–50 of 120')")
    assert "<img src=x onerror=window.__xss=18>" in page.inner_text(f"{PAGE} .mlnb-rp-grid")
    page.click(f"{PAGE} button[aria-label='Next page']")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-page-label:text-is('rows 51–100 of 120')")
    page.click(f"{PAGE} button[aria-label='Last page']")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-page-label:text-is('rows 101–120 of 120')")
    assert page.locator(f"{PAGE} .mlnb-rp-grid td:text-is('p119')").count() == 1
    assert injected(page) == CLEAN

    # HTML only in a sandboxed frame: its text shows, its scripts never run.
    open_file(page, "report.html")
    frame = page.wait_for_selector(f"{PAGE} iframe.mlnb-rp-html")
    assert frame.get_attribute("sandbox") == ""
    inside = page.frame_locator(f"{PAGE} iframe.mlnb-rp-html")
    assert "visible html text" in inside.locator("body").inner_text()
    inside.locator("a").click()
    page.wait_for_timeout(300)
    assert injected(page) == CLEAN

    # A Plotly figure written by log_figure; its title's markup stays text.
    open_file(page, "figure.json")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-figure .main-svg")
    title = page.locator(f"{PAGE} .mlnb-rp-figure .gtitle").text_content() or ""
    assert title == "figure <img src=x onerror=window.__xss=20>"
    assert injected(page) == CLEAN

    # An image, and a large log previewed in part with a download link.
    open_file(page, "plot.png")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-viewer img.mlnb-preview-image")
    page.wait_for_function(
        "document.querySelector('.mlnb-rp-viewer img.mlnb-preview-image').naturalWidth === 1")
    open_file(page, "big.log")
    note = page.wait_for_selector(f"{PAGE} .mlnb-rp-partial")
    assert note.inner_text().startswith("Showing the first 512 KB of 2.7 MB;")
    assert "line 0000000 of a large log" in page.inner_text(f"{PAGE} .mlnb-rp-text")
    assert "line 0099999" not in page.inner_text(f"{PAGE} .mlnb-rp-text")
    with page.expect_download() as download:
        page.click(f"{PAGE} .mlnb-rp-download")
    saved = Path(download.value.path())
    assert saved.stat().st_size == (server.root / ".mlnb" / "artifacts" / run_id / "big.log").stat().st_size
    assert injected(page) == CLEAN
    page.screenshot(path=str(output_dir / "runpage-light.png"))

    # Dark theme: the page stays readable (light text on a dark background).
    set_theme(page, "JupyterLab Dark")
    colors = page.evaluate("""() => {
        const lum = c => {
            const [r, g, b] = c.match(/\\d+/g).map(Number);
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const bg = getComputedStyle(document.querySelector('.mlnb-tab-body')).backgroundColor;
        const text = getComputedStyle(document.querySelector('.mlnb-kv td')).color;
        const viewer = getComputedStyle(document.querySelector('.mlnb-rp-viewer'));
        const page = bg.startsWith('rgba(0, 0, 0, 0)') ? getComputedStyle(document.body).backgroundColor : bg;
        return { bg: lum(page), text: lum(text), viewerBg: lum(viewer.backgroundColor),
                 viewerText: lum(viewer.color) };
    }""")
    assert colors["bg"] < 100 < colors["text"], colors
    assert colors["viewerBg"] < 100 < colors["viewerText"], colors
    # The metric charts are drawn again in the theme's colours (their tick labels turn light).
    page.wait_for_function("""() => {
        const tick = document.querySelector(".mlnb-rp-chart[data-chart='loss'] .xtick text");
        const [r, g, b] = getComputedStyle(tick).fill.match(/\\d+/g).map(Number);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b > 100;
    }""")
    page.locator(f"{PAGE} section[aria-label='Metric charts']").scroll_into_view_if_needed()
    page.screenshot(path=str(output_dir / "runpage-dark-charts.png"))
    page.screenshot(path=str(output_dir / "runpage-dark.png"))


def set_theme(page: Any, theme: str) -> None:
    """Switch JupyterLab's theme through its command palette and wait for it to apply."""
    page.keyboard.press("Control+Shift+C")
    page.wait_for_selector(".lm-CommandPalette-input")
    page.fill(".lm-CommandPalette-input", f"Use Theme: {theme}")
    page.keyboard.press("Enter")
    light = "false" if "Dark" in theme else "true"
    page.wait_for_function(f"document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)
    page.wait_for_timeout(500)


def test_a_live_run_page_follows_new_metrics_and_artifacts(
    lab_server: Any, browser_page: Any,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    store = server_store(server.root)
    eid = store.create_experiment("live")
    run = store.create_run(eid, run_name="live-run").run_id
    store.log_batch(run, metrics=[Metric("loss", 1.0, 1000, 0)])
    open_lab(page, server)
    open_panel(page)
    page.click(f"{PANEL} .mlnb-tr:has-text('live-run') .mlnb-td:text-is('live-run')")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-chart[data-chart='loss'] .main-svg", timeout=60_000)
    page.wait_for_selector(f"{PAGE} .mlnb-rp-artifacts li.mlnb-muted:text-is('none')")
    chart = "document.querySelector(\".mlnb-rp-chart[data-chart='loss'] .js-plotly-plot\")"
    assert page.evaluate(f"{chart}.data[0].x") == [0]
    # The kernel logs on: the page (polling while the run runs) shows the new point and file.
    store.log_batch(run, metrics=[Metric("loss", 0.5, 2000, 1)])
    store.put_artifact_bytes(run, "late.txt", b"written while running")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-file:text-is('late.txt')", timeout=20_000)
    page.wait_for_function(f"{chart}.data[0].x.length === 2", timeout=20_000)
    assert page.evaluate(f"{chart}.data[0].y") == [1.0, 0.5]
    open_file(page, "late.txt")
    page.wait_for_selector(f"{PAGE} .mlnb-rp-text:has-text('written while running')")
    store.update_run(run, status="FINISHED", end_time=int(time.time() * 1000))
