"""The Experiments workspace in a real JupyterLab, driven in Debian's Chromium (Playwright).

Runs of a seeds experiment (two models x three seeds, each logging on its own step grid) and runs
with hostile names, param values and tag values are written to the server's store; the test
opens the workspace from the launcher, the command palette and the sidebar, picks columns (a
metric's min), sorts, filters with completion of keys, builds a chart grid, groups by the model
and sees each group's band, saves the view and reopens it from its link, checks that no payload
ran, and keeps a dark-theme screenshot in test-output/.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mlnb.entities import Metric, Param, RunTag
from mlnb.store import Store, StoreLocation

pytestmark = pytest.mark.e2e

WS = ".mlnb-workspace"
XSS = [
    "<img src=x onerror=window.__xss=1>",
    '"><svg onload=window.__xss=2>',
    "</script><script>window.__xss=3</script>",
    "$\\href{javascript:window.__xss=4}{x}$",
]


def fill_store(root: Path) -> dict[str, float]:
    """The seeds experiment and the hostile one; returns each seeds run's lowest loss by name."""
    store = Store(StoreLocation(root / ".mlnb" / "mlnb.db", root / ".mlnb" / "artifacts"))
    eid = store.create_experiment("seeds")
    lowest: dict[str, float] = {}
    for model, scale in (("cnn", 1.0), ("mlp", 2.0)):
        for seed in range(3):
            name = f"{model}-s{seed}"
            run = store.create_run(eid, run_name=name, start_time=1_700_000_000_000).run_id
            every = seed + 1  # different step grids: every 1, 2 or 3 steps
            losses = [scale / (1 + step / 20) + 0.05 * seed + 0.1 * math.sin(step)
                      for step in range(0, 300, every)]
            store.log_batch(run, params=[Param("model", model), Param("seed", str(seed)),
                                         Param("lr", "0.01")],
                            tags=[RunTag("team", "vision")],
                            metrics=[Metric("loss", v, 1_700_000_000_000 + i * 1000, i * every)
                                     for i, v in enumerate(losses)]
                            + [Metric("acc", 0.5 + 0.1 * seed + (0.2 if model == "cnn" else 0),
                                      1_700_000_400_000, 0)])
            store.update_run(run, "FINISHED", 1_700_000_500_000)
            lowest[name] = min(losses)
    hostile = store.create_experiment(XSS[0])
    for i, payload in enumerate(XSS):
        run = store.create_run(hostile, run_name=payload).run_id
        store.log_batch(run, params=[Param("kind", payload)], tags=[RunTag("note", payload)],
                        metrics=[Metric("score", float(i), 1_700_000_000_000 + j, j)
                                 for j in range(5)])
    return lowest


def _rgb(hex_colour: str) -> str:
    """A ``#rrggbb`` colour as the browser's computed style spells it."""
    n = int(hex_colour[1:], 16)
    return f"rgb({n >> 16 & 255}, {n >> 8 & 255}, {n & 255})"


def run_command(page: Any, label: str) -> None:
    """Run a command from JupyterLab's command palette by its label."""
    for attempt in range(3):  # a key pressed while the page still takes focus can be lost
        page.keyboard.press("Control+Shift+C")
        try:
            search = page.wait_for_selector(".lm-CommandPalette-input", state="visible",
                                            timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.evaluate("document.activeElement?.blur()")  # keys then reach JupyterLab
    search.fill(label)
    page.wait_for_selector(f".lm-CommandPalette-item:has-text('{label}')")
    page.keyboard.press("Enter")


def column_order(page: Any) -> list[str]:
    """The ids of the table's columns, left to right."""
    return page.eval_on_selector_all(f"{WS} .mlnb-ws-th[data-column]",
                                     "els => els.map(e => e.dataset.column)")


def plot_traces(page: Any, chart: str) -> list[dict[str, Any]]:
    """The Plotly traces drawn in a chart card (name and meta of each)."""
    return page.evaluate(
        """(sel) => [...document.querySelector(sel).querySelector('.js-plotly-plot').data]
             .map(t => ({name: t.name, meta: t.meta || null, n: (t.x || []).length}))""", chart)


def test_workspace_grid_grouping_views_xss_and_dark_theme(
        lab_server: Any, browser_page: Any, output_dir: Path) -> None:  # noqa: F811
    page, server = browser_page, lab_server
    lowest = fill_store(server.root)
    page.on("dialog", lambda dialog: pytest.fail(f"a JavaScript dialog opened: {dialog.message}"))
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/lab?token={server.token}")

    # The launcher's card opens the workspace.
    page.click(".jp-LauncherCard:has-text('Experiments')", timeout=90_000)
    page.wait_for_selector(WS)
    assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('Experiments workspace')").count() == 1

    page.select_option(f"{WS} select[aria-label='experiment']", label="seeds")
    page.wait_for_selector(f"{WS} .mlnb-ws-tr >> text=cnn-s0")
    assert page.locator(f"{WS} .mlnb-ws-tr").count() == 6

    # Columns: param seed, loss as its minimum (from the server's SQL), and acc's last value.
    page.click(f"{WS} button:has-text('Columns…')")
    for kind, key, agg in (("param", "seed", None), ("metric", "loss", "min"), ("metric", "acc", "last")):
        page.select_option(f"{WS} select[aria-label='column kind']", kind)
        page.select_option(f"{WS} select[aria-label='column key']", key)
        if agg:
            page.select_option(f"{WS} select[aria-label='metric value']", agg)
        page.click(f"{WS} button:has-text('Add column')")
    header = page.locator(f"{WS} .mlnb-ws-th[data-column='metric:min:loss']")
    assert header.inner_text().strip().startswith("m")  # the kind badge, then the title
    assert "loss (min)" in header.inner_text()

    # Sort by the minimum loss, ascending: the cnn run with seed 0 is lowest.
    header.locator("button.mlnb-ws-sort").click()
    first = page.locator(f"{WS} .mlnb-ws-tr").first
    best = min(lowest, key=lowest.__getitem__)
    assert first.get_attribute("data-run-id") is not None
    assert best in first.inner_text()
    cells = first.locator(".mlnb-ws-td").all_inner_texts()
    assert f"{lowest[best]:.4g}" in cells

    # Widths and order: a keyboard resize and a keyboard move, both kept for the experiment.
    handle = header.locator(".mlnb-ws-resize")
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert handle.get_attribute("aria-valuenow") == "150"
    header.locator("button.mlnb-ws-sort").focus()
    page.keyboard.press("Alt+ArrowLeft")
    order = column_order(page)
    assert order.index("metric:min:loss") < order.index("param:seed")

    # The filter completes keys; Enter applies it.
    box = page.locator(f"{WS} input[aria-label='filter runs']")
    box.fill("")
    box.type("params.mo")
    page.wait_for_selector(f"{WS} .mlnb-ws-completions li:text-is('params.model')")
    page.keyboard.press("Enter")
    assert box.input_value() == "params.model"
    box.type(" = 'cnn'")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{WS} .mlnb-ws-tr').length === 3")
    box.fill("params.nope >>> 1")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{WS} .mlnb-filter-error")
    box.fill("")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{WS} .mlnb-ws-tr').length === 6")

    # A chart grid: a line chart per metric, a scatter, parallel coordinates and a bar chart.
    page.click(f"{WS} button:has-text('Line chart per metric')")
    page.wait_for_selector(f"{WS} .mlnb-ws-chart[data-chart-type='line'] .js-plotly-plot .main-svg")
    assert page.locator(f"{WS} .mlnb-ws-chart[data-chart-type='line']").count() == 2
    for kind in ("scatter", "parallel", "bar"):
        page.select_option(f"{WS} select[aria-label='new chart type']", kind)
        page.click(f"{WS} button:has-text('Add chart')")
    scatter = page.locator(f"{WS} .mlnb-ws-chart[data-chart-type='scatter']")
    scatter.locator("select[aria-label='x']").select_option("param:seed")
    scatter.locator("select[aria-label='y']").select_option("metric:min:loss")
    scatter.locator(".js-plotly-plot .main-svg").first.wait_for()
    parallel = page.locator(f"{WS} .mlnb-ws-chart[data-chart-type='parallel']")
    parallel.locator("label:has-text('param seed') input").check()
    parallel.locator("label:has-text('metric acc') >> nth=0").locator("input").check()
    parallel.locator(".js-plotly-plot .main-svg").first.wait_for()
    bar = page.locator(f"{WS} .mlnb-ws-chart[data-chart-type='bar']")
    bar.locator("select[aria-label='metric']").select_option("acc")
    page.locator(f"{WS} .mlnb-ws-chart[data-chart-type='bar'] .js-plotly-plot .main-svg").first.wait_for()
    loss_chart = f"{WS} .mlnb-ws-chart[aria-label='line chart loss']"
    assert len(plot_traces(page, loss_chart)) == 6  # a line per run
    # Resize one chart (2 columns wide, tall) and remove another.
    page.locator(loss_chart).locator("button[title='2 columns wide']").click()
    page.locator(loss_chart).locator("button[title='height 460px']").click()
    assert "span 2" in (page.locator(loss_chart).get_attribute("style") or "")
    page.click(f"{WS} button[aria-label='remove chart acc']")
    assert page.locator(f"{WS} .mlnb-ws-chart[data-chart-type='line']").count() == 1

    # Group by the model: a mean line and a ±std band per group of three seeds.
    page.select_option(f"{WS} select[aria-label='group by']", "param:model")
    page.wait_for_function(
        """(sel) => { const p = document.querySelector(sel + ' .js-plotly-plot');
                      return p && p.data && p.data.some(t => t.meta === 'band'); }""", arg=loss_chart)
    traces = plot_traces(page, loss_chart)
    centers = sorted(t["name"] for t in traces if t["meta"] == "center")
    assert centers == ["model=cnn (3)", "model=mlp (3)"]
    # the grid's legend names each group in the colour of its line
    legend = page.locator(f"{WS} .mlnb-ws-legend li")
    assert legend.all_text_contents() == ["model=cnn (3)", "model=mlp (3)"]
    colours = page.evaluate("""(sel) => [...document.querySelectorAll(sel + ' .js-plotly-plot')[0].data]
        .filter(t => t.meta === 'center').map(t => t.line.color)""", arg=loss_chart)
    swatches = legend.locator(".mlnb-ws-swatch").evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert swatches == [_rgb(c) for c in colours], (swatches, colours)
    assert sum(1 for t in traces if t["meta"] == "band") == 2
    assert page.locator(f"{loss_chart} path.js-fill").count() >= 2  # the bands are drawn
    page.select_option(f"{WS} select[aria-label='group band']", "ci95")
    page.screenshot(path=str(output_dir / "workspace-grouped.png"))

    # Save the view, get its link, and open the link in a fresh page load.
    page.click(f"{WS} button:has-text('Save view as…')")
    page.fill(f"{WS} input[aria-label='view name']", "by model " + XSS[1])
    page.click(f"{WS} .mlnb-ws-save-form button[type='submit']")
    page.wait_for_selector(f"{WS} .mlnb-ws-status:has-text('Saved view')")
    page.click(f"{WS} button:has-text('Link')")
    link = page.input_value(f"{WS} input[aria-label='link to this view']")
    assert "?mlnb-view=" in link
    page.goto(link.replace("/lab?", f"/lab?token={server.token}&"))
    page.wait_for_selector(f"{WS} .mlnb-ws-chart[aria-label='line chart loss'] .js-plotly-plot .main-svg",
                           timeout=90_000)
    assert page.input_value(f"{WS} select[aria-label='group by']") == "param:model"
    assert page.input_value(f"{WS} select[aria-label='group band']") == "ci95"
    assert page.locator(f"{WS} .mlnb-ws-chart").count() == 4
    chosen = page.locator(f"{WS} select[aria-label='saved view'] option:checked").inner_text()
    assert chosen == "by model " + XSS[1]
    order = column_order(page)
    assert order.index("metric:min:loss") < order.index("param:seed")
    page.wait_for_function(
        """(sel) => { const p = document.querySelector(sel + ' .js-plotly-plot');
                      return p && p.data && p.data.filter(t => t.meta === 'band').length === 2; }""",
        arg=f"{WS} .mlnb-ws-chart[aria-label='line chart loss']")

    # Hostile names, params and tags are shown as text; nothing ran.
    run_command(page, "Open the Experiments workspace")
    page.select_option(f"{WS} select[aria-label='experiment']", label=XSS[0])
    page.wait_for_function(f"document.querySelectorAll('{WS} .mlnb-ws-tr').length === 4")
    page.click(f"{WS} button:has-text('Columns…')")
    page.select_option(f"{WS} select[aria-label='column kind']", "param")
    page.click(f"{WS} button:has-text('Add column')")
    page.select_option(f"{WS} select[aria-label='column kind']", "tag")
    page.select_option(f"{WS} select[aria-label='column key']", "note")
    page.click(f"{WS} button:has-text('Add column')")
    page.select_option(f"{WS} select[aria-label='group by']", "param:kind")
    page.click(f"{WS} button:has-text('Line chart per metric')")
    page.select_option(f"{WS} select[aria-label='new chart type']", "bar")
    page.click(f"{WS} button:has-text('Add chart')")
    page.wait_for_selector(f"{WS} .mlnb-ws-chart[data-chart-type='bar'] .js-plotly-plot .main-svg")
    for payload in XSS:
        row = page.locator(f"{WS} .mlnb-ws-tr", has_text=payload).first
        assert row.locator(".mlnb-ws-td").all_inner_texts().count(payload) == 3  # name, param, tag
    legend = page.locator(f"{WS} .mlnb-ws-legend li").all_text_contents()  # the line charts' one legend
    assert all(any(f"kind={payload} (1)" == text for text in legend) for payload in XSS), legend
    assert page.evaluate("window.__xss") is None
    assert page.locator(f"{WS} img[src='x'], {WS} svg[onload]").count() == 0

    # The sidebar's button opens the workspace too.
    tabs = ".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('Experiments workspace')"
    before = page.locator(tabs).count()
    page.click('.jp-SideBar .lm-TabBar-tab[data-id="mlnb-experiments-panel"]')
    page.select_option("#mlnb-experiments-panel select.mlnb-experiment-select", label="seeds")
    page.click("#mlnb-experiments-panel button.mlnb-open-workspace")
    page.wait_for_function(f"document.querySelectorAll(\"{tabs.split(':has')[0]}\").length > 0")
    page.wait_for_selector(f"{WS} .mlnb-ws-tr >> text=cnn-s0")
    assert page.locator(tabs).count() == before + 1

    # Dark theme: the workspace follows JupyterLab's colours.
    page.goto(link.replace("/lab?", f"/lab?token={server.token}&"))
    page.wait_for_selector(f"{WS} .mlnb-ws-chart .js-plotly-plot .main-svg", timeout=90_000)
    run_command(page, "JupyterLab Dark")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
    page.wait_for_timeout(1500)
    colour = page.evaluate(
        f"getComputedStyle(document.querySelector('{WS} .mlnb-ws-td')).color")
    red, green, blue = (int(c) for c in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])
    assert (red + green + blue) / 3 > 150, colour  # light text on the dark background
    # The charts are redrawn in the dark theme's colours too (light tick labels).
    page.wait_for_function("""() => {
        const t = document.querySelector('.mlnb-workspace .mlnb-ws-plot .xtick text');
        const m = t && getComputedStyle(t).fill.match(/\\d+/g);
        return !!m && (Number(m[0]) + Number(m[1]) + Number(m[2])) / 3 > 150; }""")
    page.screenshot(path=str(output_dir / "workspace-dark.png"), full_page=True)
    assert (output_dir / "workspace-dark.png").stat().st_size > 10_000
    assert page.evaluate("window.__xss") is None


def test_sorting_past_the_runs_loaded_asks_the_server(
        lab_server: Any, browser_page: Any) -> None:  # noqa: F811
    """An experiment of more runs than the workspace loads (20,000): a sort by a metric's last
    value brings the first of all runs, not of those loaded; a sort by its min says it cannot."""
    page, server = browser_page, lab_server
    store = Store(StoreLocation(server.root / ".mlnb" / "mlnb.db", server.root / ".mlnb" / "artifacts"))
    eid = store.create_experiment("many")
    total = 20_050
    for i in range(total):  # the oldest runs (not loaded: newest come first) have the most loss
        run = store.create_run(eid, run_name=f"r{i:05d}", start_time=1_700_000_000_000 + i).run_id
        store.log_batch(run, metrics=[Metric("loss", float(total - i), 1_700_000_000_000, 0)])
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/lab?token={server.token}")
    page.click(".jp-LauncherCard:has-text('Experiments')", timeout=90_000)
    page.select_option(f"{WS} select[aria-label='experiment']", label="many")
    page.wait_for_selector(f"{WS} .mlnb-ws-tr >> text=r20049")
    count = page.locator(f"{WS} .mlnb-ws-count")
    page.wait_for_function(f"document.querySelector('{WS} .mlnb-ws-count').textContent"
                           f".startsWith('20000 of {total} runs')")
    page.click(f"{WS} button:has-text('Columns…')")
    for agg in ("last", "min"):
        page.select_option(f"{WS} select[aria-label='column kind']", "metric")
        page.select_option(f"{WS} select[aria-label='column key']", "loss")
        page.select_option(f"{WS} select[aria-label='metric value']", agg)
        page.click(f"{WS} button:has-text('Add column')")
    last_loss = page.locator(f"{WS} .mlnb-ws-th[data-column='metric:last:loss'] button.mlnb-ws-sort")

    last_loss.click()  # ascending: the newest run, which was loaded anyway
    page.wait_for_function(f"document.querySelector('{WS} .mlnb-ws-tr')?.textContent.includes('r20049')")
    last_loss.click()  # descending: the oldest run, beyond the first 20,000 loaded by default
    page.wait_for_function(f"document.querySelector('{WS} .mlnb-ws-tr')?.textContent.includes('r00000')")
    page.wait_for_function(f"!document.querySelector('{WS} .mlnb-ws-count').textContent"
                           ".startsWith('Loading')")
    assert "the first 20000 in this order are loaded" in count.inner_text()
    names = [t.split()[0] for t in page.locator(f"{WS} .mlnb-ws-tr").all_inner_texts()[:3]]
    assert names == ["r00000", "r00001", "r00002"], names
    assert page.locator(f"{WS} .mlnb-ws-note").count() == 0

    # The min is not something the server orders by: the loaded runs are sorted, and it says so.
    page.click(f"{WS} .mlnb-ws-th[data-column='metric:min:loss'] button.mlnb-ws-sort")
    note = page.wait_for_selector(f"{WS} .mlnb-ws-note")
    assert f"Sorted among the 20,000 runs loaded, not all {total:,}" in note.inner_text()
    page.wait_for_function(f"document.querySelector('{WS} .mlnb-ws-tr')?.textContent.includes('r20049')")
