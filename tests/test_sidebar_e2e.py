"""The Experiments sidebar in a real JupyterLab, driven in Debian's Chromium (Playwright).

Runs are logged by a notebook executed in a kernel that the lab server started (so the server and
the kernel share the store with no configuration); the test then filters, compares, opens a run,
changes a model's stage, and checks that hostile run names, tags and artifact names stay text.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401

from mlnb.store import Store, StoreLocation
from mlnb.tracking.client import MlnbClient

pytestmark = pytest.mark.e2e

OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
PANEL = "#mlnb-experiments-panel"
TAB = '.jp-SideBar .lm-TabBar-tab[data-id="mlnb-experiments-panel"]'
XSS = [
    "<img src=x onerror=window.__xss=1>",
    '"><svg onload=window.__xss=2>',
    "</script><script>window.__xss=3</script>",
    "$\\href{javascript:window.__xss=4}{x}$",
    '<button data-commandlinker-command="console:create">x</button>',
]

NOTEBOOK_CODE = """import mlnb
mlnb.set_experiment("e2e")
for lr in (0.1, 0.01, 0.001):
    with mlnb.start_run(run_name=f"lr-{lr}"):
        mlnb.log_param("lr", lr)
        for step in range(5):
            mlnb.log_metric("loss", lr * 10 / (step + 1), step=step)
        mlnb.log_metric("acc", 1 - lr)
print("LOGGED", mlnb.get_tracking_uri())
"""


def server_store(root: Path) -> Store:
    return Store(StoreLocation(root / ".mlnb" / "mlnb.db", root / ".mlnb" / "artifacts"))


def notebook_json(code: str) -> dict[str, Any]:
    return {"type": "notebook", "format": "json", "content": {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            # The extension records provenance (notebook path, cell id and source) on every run.
            {"cell_type": "code", "id": "load-cell", "metadata": {}, "execution_count": None,
             "outputs": [], "source": "%load_ext mlnb"},
            {"cell_type": "code", "id": "track-cell", "metadata": {}, "execution_count": None,
             "outputs": [], "source": code},
        ],
    }}


def open_lab(page: Any, server: Any) -> None:
    page.on("dialog", lambda dialog: pytest.fail(f"a JavaScript dialog opened: {dialog.message}"))
    page.goto(f"{server.url}/lab?token={server.token}")
    page.wait_for_selector(TAB, timeout=60_000)


def open_panel(page: Any) -> float:
    """Click the sidebar icon; return the seconds until the first run row is shown."""
    started = time.perf_counter()
    page.click(TAB)
    page.wait_for_selector(f"{PANEL} .mlnb-tr", timeout=30_000)
    return time.perf_counter() - started


def run_notebook_in_browser(page: Any, server: Any) -> None:
    server.api("api/contents/track.ipynb", "PUT", notebook_json(NOTEBOOK_CODE))
    page.goto(f"{server.url}/lab/tree/track.ipynb?token={server.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=60_000)
    page.click(".lm-MenuBar-item:has-text('Run')")
    page.click(".lm-Menu-item:has-text('Run All Cells')")
    try:
        page.wait_for_selector(".jp-OutputArea-output:has-text('LOGGED')", timeout=90_000)
    finally:
        page.screenshot(path=str(OUTPUT / "sidebar-notebook.png"))


def test_panel_shows_notebook_runs_filter_compare_detail_and_models(
    lab_server: Any, browser_page: Any, output_dir: Path,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    open_lab(page, server)
    run_notebook_in_browser(page, server)
    # The kernel started by this server logged into the server's store (<root>/.mlnb).
    store = server_store(server.root)
    experiment = store.get_experiment_by_name("e2e")
    assert experiment is not None
    runs = store.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["lr-0.001", "lr-0.01", "lr-0.1"]
    assert runs[0].data.tags.get("mlnb.cell.id") == "track-cell"

    seconds = open_panel(page)
    print(f"\nfirst rows shown {seconds:.2f} s after the panel was opened")
    for name in ("lr-0.1", "lr-0.01", "lr-0.001"):
        page.wait_for_selector(f"{PANEL} .mlnb-td:text-is('{name}')")
    page.screenshot(path=str(output_dir / "sidebar-runs.png"))

    # Filter in the search grammar; then an invalid filter shows an inline error.
    page.fill(f"{PANEL} .mlnb-filter", "params.lr = '0.01'")
    page.wait_for_function(
        f"document.querySelectorAll('{PANEL} .mlnb-tr').length === 1", timeout=15_000)
    assert page.inner_text(f"{PANEL} .mlnb-tr") .count("lr-0.01") == 1
    page.fill(f"{PANEL} .mlnb-filter", "metrics.acc >>> 1")
    error = page.wait_for_selector(f"{PANEL} .mlnb-filter-error")
    assert "^" in error.inner_text()
    page.screenshot(path=str(output_dir / "sidebar-filter-error.png"))
    page.fill(f"{PANEL} .mlnb-filter", "")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .mlnb-tr').length === 3")

    # A run logged now by the kernel shows up without reloading (the panel polls).
    store_client = MlnbClient(str(server.root / ".mlnb"))
    live = store_client.create_run(experiment.experiment_id, run_name="live-run")
    page.wait_for_selector(f"{PANEL} .mlnb-td:text-is('live-run')", timeout=10_000)
    assert page.locator(f"{PANEL} .mlnb-tr:has-text('live-run') .mlnb-badge-running").count() == 1
    store_client.set_terminated(live.info.run_id)

    # Compare two runs: charts in a main-area tab.
    page.click(f"{PANEL} .mlnb-tr:has-text('lr-0.1') input[type=checkbox]")
    page.click(f"{PANEL} .mlnb-tr:has-text('lr-0.01') input[type=checkbox]")
    page.click(f"{PANEL} .mlnb-compare-button")
    page.wait_for_selector(".mlnb-compare .mlnb-chart[data-chart='curve:loss'] .main-svg", timeout=30_000)
    page.wait_for_selector(".mlnb-compare .mlnb-chart[data-chart='parcoords'] .main-svg")
    page.wait_for_selector(".mlnb-compare .mlnb-diff td:text-is('0.01')")
    page.screenshot(path=str(output_dir / "sidebar-compare.png"))

    # Delete the two selected runs (after a confirmation), then restore them from "Deleted runs".
    page.click(f"{PANEL} .mlnb-delete-button")
    page.wait_for_selector(".jp-Dialog:has-text('Delete 2 runs?')")
    page.click(".jp-Dialog .jp-mod-warn")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .mlnb-tr').length === 2")
    by_name = {r.info.run_name: r.info.run_id for r in runs}
    assert store.get_run_info(by_name["lr-0.1"]).lifecycle_stage == "deleted"
    page.select_option(f"{PANEL} .mlnb-view-select", "deleted")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .mlnb-tr').length === 2")
    for name in ("lr-0.1", "lr-0.01"):
        page.click(f"{PANEL} .mlnb-tr:has-text('{name}') input[type=checkbox]")
    page.click(f"{PANEL} .mlnb-delete-button")  # labelled "Restore" in this view
    page.click(".jp-Dialog:has-text('Restore 2 runs?') .jp-mod-accept")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .mlnb-tr').length === 0")
    assert store.get_run_info(by_name["lr-0.1"]).lifecycle_stage == "active"
    assert store.get_run_info(by_name["lr-0.01"]).lifecycle_stage == "active"
    page.select_option(f"{PANEL} .mlnb-view-select", "active")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .mlnb-tr').length === 4")

    # A run's tab: params, provenance with the cell source, and the button to the notebook's cell.
    page.click(f"{PANEL} .mlnb-tr:has-text('lr-0.001') .mlnb-td:text-is('lr-0.001')")
    detail = page.wait_for_selector(".mlnb-run-detail:has-text('lr-0.001')")
    page.wait_for_selector(".mlnb-run-detail .mlnb-cell-source:has-text('mlnb.set_experiment')")
    assert "0.001" in detail.inner_text()
    page.screenshot(path=str(output_dir / "sidebar-run-detail.png"))
    page.click(".mlnb-run-detail .mlnb-open-notebook")
    page.wait_for_selector(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active:has-text('set_experiment')")

    # Models: v1 is in Production; moving v2 there asks first and archives v1.
    run_id = runs[0].info.run_id
    store.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    store_client.create_registered_model("e2e-model")
    v1 = store_client.create_model_version("e2e-model", f"runs:/{run_id}/model", run_id)
    v2 = store_client.create_model_version("e2e-model", f"runs:/{run_id}/model", run_id)
    store_client.transition_model_version_stage("e2e-model", v1.version, "Production")
    page.click(TAB)  # hide and show again: the panel reloads its models
    page.click(TAB)
    page.click(f"{PANEL} .mlnb-model[data-model='e2e-model'] .mlnb-model-head")
    select = f"{PANEL} .mlnb-model-version[data-version='{v2.version}'] .mlnb-stage-select"
    page.select_option(select, "Production")
    page.wait_for_selector(".jp-Dialog:has-text('will be archived')")
    page.screenshot(path=str(output_dir / "sidebar-model-confirm.png"))
    page.click(".jp-Dialog .jp-mod-warn")
    page.wait_for_function(
        f"document.querySelector(\"{select}\").value === 'Production'", timeout=10_000)
    assert store_client.get_model_version("e2e-model", v2.version).current_stage == "Production"
    assert store_client.get_model_version("e2e-model", v1.version).current_stage == "Archived"
    page.screenshot(path=str(output_dir / "sidebar-models.png"))


def test_hostile_names_tags_and_artifacts_render_as_text(
    lab_server: Any, browser_page: Any, output_dir: Path,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    store = server_store(server.root)
    eid = store.create_experiment("<img src=x onerror=window.__xss=9>")
    from mlnb.entities import Metric, Param, RunTag

    ids = []
    for i, payload in enumerate(XSS):
        info = store.create_run(eid, run_name=payload)
        store.log_batch(info.run_id, params=[Param("p", payload)], tags=[RunTag("t", payload)],
                        metrics=[Metric("m", float(i), 1, s) for s in range(2)])
        name = payload.replace("/", "_").replace("\\", "_")  # a path separator is refused
        store.put_artifact_bytes(info.run_id, f"{i}-{name}.txt", payload.encode())
        store.update_run(info.run_id, status="FINISHED", end_time=2)
        ids.append(info.run_id)
    open_lab(page, server)
    seconds = open_panel(page)
    print(f"\nfirst rows shown {seconds:.2f} s after the panel was first opened")
    for payload in XSS:
        assert page.locator(f"{PANEL} .mlnb-td", has_text=payload).count() >= 1
    # Open each run's tab and the compare tab: names, tags, params and artifact names are all text.
    page.click(f"{PANEL} .mlnb-tr >> nth=0")
    page.wait_for_selector(".mlnb-run-detail .mlnb-file")
    page.click(".mlnb-run-detail .mlnb-file button >> nth=0")
    page.wait_for_selector(".mlnb-run-detail .mlnb-preview-text")
    for i in range(len(XSS)):
        page.click(f"{PANEL} .mlnb-tr >> nth={i} >> input[type=checkbox]")
    page.click(f"{PANEL} .mlnb-compare-button")
    page.wait_for_selector(".mlnb-compare .mlnb-chart[data-chart='scatter'] .main-svg", timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(output_dir / "sidebar-xss.png"))
    injected = page.evaluate("""() => ({
        xss: window.__xss === undefined ? null : window.__xss,
        img: document.querySelectorAll('img[src="x"]').length,
        svgOnload: document.querySelectorAll('svg[onload]').length,
        scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__xss')).length,
        buttons: document.querySelectorAll('button[data-commandlinker-command="console:create"]').length,
        links: document.querySelectorAll('a[href^="javascript:"]').length,
    })""")
    assert injected == {"xss": None, "img": 0, "svgOnload": 0, "scripts": 0, "buttons": 0, "links": 0}
    body = json.dumps(page.inner_text("body"))
    assert "onerror=window.__xss=1" in body


def test_panel_explains_a_missing_server_extension(tmp_path: Path, browser_page: Any) -> None:  # noqa: F811
    from jupyter_harness import start_lab, stop_lab

    config = tmp_path / "jupyter" / "config"
    config.mkdir(parents=True)
    # The user's config turns the server extension off; the labextension is still installed.
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"mlnb": False}}}))
    server = start_lab(tmp_path / "root", tmp_path / "jupyter")
    try:
        open_lab(browser_page, server)
        browser_page.click(TAB)
        message = browser_page.wait_for_selector(f"{PANEL} .mlnb-handshake")
        assert "server extension is not running" in message.inner_text()
    finally:
        stop_lab(server.process)
