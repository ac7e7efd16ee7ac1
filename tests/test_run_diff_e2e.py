"""The run diff tab in a real JupyterLab, in Debian's Chromium (Playwright), in the dark theme.

Two runs with hostile strings (HTML and script payloads) in param values, tags, run names, the
tracked cell's source and a requirements.txt artifact are selected in the sidebar and diffed:
the tab shows the changed params, the metric deltas, the cell's source diff and the packages,
with every payload as literal text and no script run. The command ``mlnb:diff-runs`` is also
called with ``{runA, runB}`` as the workspace calls it, and with a run that does not exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import browser_page, start_lab, stop_lab  # noqa: F401

from mlnb.entities import Metric, Param, RunTag
from mlnb.store import Store, StoreLocation
from mlnb.tracking.run_record import source_hash

pytestmark = pytest.mark.e2e

PANEL = "#mlnb-experiments-panel"
TAB = '.jp-SideBar .lm-TabBar-tab[data-id="mlnb-experiments-panel"]'
DIFF = ".mlnb-rundiff"
IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=2</script>"


SETUP = [f"x{i} = {i}" for i in range(10)]  # cells c-0 ... c-9, run before both runs
EDITED = "x9 = 'nine'"  # run b's c-9
EXTRA = f"note = '{IMG}'"  # a cell only run b ran


def _provenance(source: str, history: list[tuple[str, str]]) -> bytes:
    return json.dumps({
        "notebook_path": "train.ipynb", "python_version": "3.11.7",
        "cell": {"id": "c-train", "execution_count": len(history) + 1, "source": source,
                 "sha256": source_hash(source)},
        "history": [{"execution_count": i + 1, "id": cell_id, "sha256": source_hash(text)}
                    for i, (cell_id, text) in enumerate(history)],
    }).encode()


def _notebook(root: Path) -> None:
    """The notebook the runs came from: the diff shows the history cells' sources from it."""
    cells = [(f"c-{i}", text) for i, text in enumerate(SETUP)] + [("c-9b", EDITED), ("c-x", EXTRA)]
    (root / "train.ipynb").write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": None,
                   "outputs": [], "source": text} for cell_id, text in cells]}))


def _make_runs(store: Store) -> tuple[str, str]:
    """Run a (lr 0.1) and run b (lr 0.05), b started later; both logged with payloads."""
    eid = store.create_experiment("diff-e2e")
    ids = []
    sides = [
        ("base-run", "0.1", [0.9, 0.5, 0.4], "fit(lr=0.1)\nprint('done')", "numpy==1.26.4\npandas==2.1.0\n"),
        (f"tuned {IMG}", "0.05", [0.8, 0.3, 0.2], f"fit(lr=0.05)  # {IMG}\nprint('done')",
         f"numpy==2.0.1\nevil=={SCRIPT}\n"),
    ]
    for i, (name, lr, losses, source, requirements) in enumerate(sides):
        info = store.create_run(eid, run_name=name, start_time=1_000 + i)
        # Keys are validated (no "<"): the store refuses an HTML key, so payloads go in values.
        params = [Param("lr", lr), Param("payload", SCRIPT if i else IMG), Param("seed", "0")]
        tags = [RunTag("note", IMG if i else "plain"), RunTag("script", SCRIPT if i else "none"),
                RunTag("mlnb.origin", f"side {i}")]
        metrics = [Metric("loss", v, 1_000 + s, s) for s, v in enumerate(losses)]
        metrics.append(Metric("acc", 0.7 + 0.1 * i, 2_000, 0))
        store.log_batch(info.run_id, params=params, tags=tags, metrics=metrics)
        history = [(f"c-{n}", text) for n, text in enumerate(SETUP)]
        if i:
            history = [*history[:9], ("c-9", EDITED), ("c-x", EXTRA)]
        store.put_artifact_bytes(info.run_id, "provenance.json", _provenance(source, history))
        store.put_artifact_bytes(info.run_id, "requirements.txt", requirements.encode())
        store.update_run(info.run_id, status="FINISHED", end_time=5_000 + i)
        ids.append(info.run_id)
    return ids[0], ids[1]


@pytest.fixture
def dark_lab(tmp_path: Path) -> Any:
    """JupyterLab in the dark theme, its application object exposed as ``window.jupyterapp``."""
    config = tmp_path / "jupyter" / "config"
    themes = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    themes.mkdir(parents=True)
    (themes / "themes.jupyterlab-settings").write_text(json.dumps({"theme": "JupyterLab Dark"}))
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"LabApp": {"expose_app_in_browser": True}}))
    server = start_lab(tmp_path / "root", tmp_path / "jupyter")
    try:
        yield server
    finally:
        stop_lab(server.process)


def _injected(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => ({
        xss: window.__xss === undefined ? null : window.__xss,
        img: document.querySelectorAll('img[src="x"]').length,
        scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__xss')).length,
    })""")


def _cell(page: Any, selector: str) -> str:
    return str(page.inner_text(selector)).strip()


def test_diff_two_selected_runs_in_the_dark_theme(
    dark_lab: Any, browser_page: Any, output_dir: Path,  # noqa: F811
) -> None:
    page, server = browser_page, dark_lab
    _notebook(server.root)
    run_a, run_b = _make_runs(Store(StoreLocation(server.root / ".mlnb" / "mlnb.db",
                                                  server.root / ".mlnb" / "artifacts")))
    page.on("dialog", lambda dialog: pytest.fail(f"a JavaScript dialog opened: {dialog.message}"))
    page.goto(f"{server.url}/lab?token={server.token}")
    page.wait_for_selector(TAB, timeout=90_000)
    assert page.get_attribute("body", "data-jp-theme-light") == "false"
    page.click(TAB)
    page.wait_for_selector(f"{PANEL} .mlnb-tr:has-text('base-run')", timeout=60_000)

    # The Diff button wants exactly two runs, and says so.
    button = page.locator(f"{PANEL} .mlnb-diff-button")
    assert button.is_disabled() and button.get_attribute("title") == "Select two runs to diff them"
    page.click(f"{PANEL} .mlnb-tr:has-text('tuned') input[type=checkbox]")
    assert button.is_disabled() and button.get_attribute("title") == "Select one more run to diff"
    page.click(f"{PANEL} .mlnb-tr:has-text('base-run') input[type=checkbox]")
    assert button.is_enabled()
    button.click()

    # a is the run started first, whatever the order of selection.
    page.wait_for_selector(f"{DIFF} .mlnb-diff-params tr[data-key='lr']", timeout=60_000)
    assert page.get_attribute(DIFF, "data-run-a") == run_a
    assert _cell(page, f"{DIFF} .mlnb-diff-params tr[data-key='lr'] .mlnb-diff-value-a") == "0.1"
    assert _cell(page, f"{DIFF} .mlnb-diff-params tr[data-key='lr'] .mlnb-diff-value-b") == "0.05"
    payload_param = page.locator(f"{DIFF} .mlnb-diff-params tr.mlnb-diff-changed", has_text=SCRIPT)
    assert payload_param.count() == 1 and IMG in payload_param.inner_text()
    assert page.locator(f"{DIFF} .mlnb-diff-params tr[data-key='seed']").count() == 0  # unchanged
    user_tags = page.inner_text(f"{DIFF} .mlnb-diff-group[data-group='user tags']")
    system_tags = page.inner_text(f"{DIFF} .mlnb-diff-group[data-group='system tags']")
    assert "note" in user_tags and IMG in user_tags and "mlnb.origin" not in user_tags
    assert "mlnb.origin" in system_tags and "side 1" in system_tags

    # Metric deltas (b - a): last loss 0.2 - 0.4, min loss 0.2 - 0.4, max loss 0.8 - 0.9.
    loss = f"{DIFF} .mlnb-diff-metric-table tr[data-key='loss']"
    assert _cell(page, f"{loss} .mlnb-diff-delta") == "-0.2000"
    assert _cell(page, f"{loss} .mlnb-diff-relative") == "-50.0%"
    page.select_option(f"{DIFF} .mlnb-diff-stat", "max")
    assert _cell(page, f"{loss} .mlnb-diff-delta") == "-0.1000"
    page.select_option(f"{DIFF} .mlnb-diff-stat", "last")
    page.click(f"{DIFF} button[data-column='delta']")  # descending: acc (+0.1) above loss
    keys = page.eval_on_selector_all(f"{DIFF} .mlnb-diff-metric-table tbody tr",
                                     "rows => rows.map(r => r.dataset.key)")
    assert keys == ["acc", "loss"]

    # The cell's source side by side, the payload in b's line as text; packages compared.
    added = page.inner_text(f"{DIFF} .mlnb-code-side td.mlnb-line-add.mlnb-line-text")
    assert added == f"fit(lr=0.05)  # {IMG}"
    assert page.inner_text(f"{DIFF} .mlnb-code-side td.mlnb-line-del.mlnb-line-text") == "fit(lr=0.1)"
    packages = f"{DIFF} .mlnb-diff-packages"
    assert _cell(page, f"{packages} tr[data-key='numpy'] .mlnb-diff-value-b") == "2.0.1"
    assert _cell(page, f"{packages} tr[data-key='evil'] .mlnb-diff-value-b") == SCRIPT
    assert _cell(page, f"{packages} tr[data-key='pandas']").startswith("pandas")
    assert SCRIPT in user_tags

    # The kernel histories side by side: nine cells the same (seven folded), c-9 edited in b,
    # and a cell only b ran; opening the fold from the keyboard shows every line.
    history = f"{DIFF} .mlnb-history-table"
    assert _cell(page, f"{history} .mlnb-history-fold") == "7 cells the same in both runs: show them"
    assert page.locator(f"{history} tbody tr").count() == 5
    edited = page.inner_text(f"{history} tr[data-status='edited']")
    assert "x9 = 9" in edited and "x9 = 'nine'" in edited
    assert page.inner_text(f"{history} tr[data-status='only_b']").count(IMG) == 1
    page.wait_for_timeout(300)
    assert _injected(page) == {"xss": None, "img": 0, "scripts": 0}
    page.set_viewport_size({"width": 1400, "height": 1500})  # the whole tab in the picture
    page.wait_for_timeout(300)
    page.screenshot(path=str(output_dir / "run-diff-dark.png"))
    page.set_viewport_size({"width": 1400, "height": 900})
    page.focus(f"{history} .mlnb-unfold")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll(\"{history} tbody tr\").length === 11")

    # Keyboard: Tab reaches the swap button; Enter swaps a and b, and the deltas change sign.
    page.focus(f"{DIFF} .mlnb-diff-swap")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{DIFF}[data-run-a='{run_b}'] .mlnb-diff-run-a[data-run-id='{run_b}']")
    page.wait_for_function(
        f"document.querySelector(\"{loss} .mlnb-diff-delta\")?.textContent === '+0.2000'")
    # The tab's label follows the swap (set as text).
    page.wait_for_function(
        "t => [...document.querySelectorAll('#jp-main-dock-panel .lm-TabBar-tabLabel')]"
        ".some(e => e.textContent === t)", arg=f"Diff tuned {IMG} ↔ base-run", timeout=10_000)
    page.click(f"{DIFF} .mlnb-diff-layout:has-text('Unified')")
    page.wait_for_selector(f"{DIFF} .mlnb-code-unified tr.mlnb-line-del:has-text('window.__xss=1')")

    # The command as the workspace calls it; a run that does not exist is a 404 shown in the tab.
    page.evaluate("([a, b]) => window.jupyterapp.commands.execute('mlnb:diff-runs', {runA: a, runB: b})",
                  [run_a, "0" * 32])
    error = page.wait_for_selector(f"{DIFF}[data-run-b='{'0' * 32}'] .mlnb-diff-error", timeout=30_000)
    assert "0" * 32 in error.inner_text()
    page.screenshot(path=str(output_dir / "run-diff-error-dark.png"))

    # The command palette, with no arguments: the two runs selected in the sidebar, whose tab
    # (already open, swapped) comes to the front.
    page.keyboard.press("Control+Shift+C")
    page.fill(".lm-CommandPalette-input", "Diff the two runs selected")
    page.wait_for_selector(".lm-CommandPalette-item:has-text('Diff the two runs selected in Experiments')")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "t => document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current"
        " .lm-TabBar-tabLabel')?.textContent === t", arg=f"Diff tuned {IMG} ↔ base-run", timeout=10_000)
    assert page.is_visible(f"{DIFF}[data-run-a='{run_b}'] .mlnb-diff-metrics")
    assert _injected(page) == {"xss": None, "img": 0, "scripts": 0}
