"""The sidebar's Logged models list and a parent run's sweep view, in a real JupyterLab driven in
Debian's Chromium (Playwright); hostile model names, params and trial params stay text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401
from test_sidebar_e2e import PANEL, open_lab, open_panel, server_store

from mlnb.entities import Metric, Param

pytestmark = pytest.mark.e2e

XSS = '<img src=x onerror="window.__xss=1">'


def test_logged_models_and_sweep_render_as_text(
    lab_server: Any, browser_page: Any, output_dir: Path,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    store = server_store(server.root)
    eid = store.create_experiment("models-e2e")
    trainer = store.create_run(eid, run_name="trainer")
    store.log_batch(trainer.run_id, metrics=[Metric("acc", 0.75, 1, 0)])
    store.put_artifact_bytes(trainer.run_id, "clf/MLmodel", b"flavors: {}\n")
    of_run = store.create_logged_model(eid, "clf", trainer.run_id, "clf", params={"C": "2"})
    solo = store.create_logged_model(eid, XSS, None, None, params={"p": XSS}, status="PENDING")
    store.put_artifact_bytes(solo.model_id, "weights/w.txt", b"0.5")
    store.set_logged_model_status(solo.model_id, "READY")
    store.update_run(trainer.run_id, status="FINISHED", end_time=2)
    parent = store.create_run(eid, run_name="sweep-parent")
    for i, loss in enumerate((0.5, 0.2, 0.4)):
        child = store.create_run(eid, run_name=f"trial-{i}", parent_run_id=parent.run_id)
        store.log_batch(child.run_id, params=[Param("lr", str(i)), Param("note", XSS)],
                        metrics=[Metric("loss", loss, 10 + i, 0)])
        store.update_run(child.run_id, status="FINISHED", end_time=20 + i)
    store.update_run(parent.run_id, status="FINISHED", end_time=30)

    open_lab(page, server)
    open_panel(page)
    page.click(f"{PANEL} .mlnb-logged-models-head")
    page.wait_for_selector(f"{PANEL} .mlnb-logged-model[data-model-id='{solo.model_id}']")
    row = page.locator(f"{PANEL} .mlnb-logged-model[data-model-id='{solo.model_id}']")
    assert XSS in row.inner_text() and "READY" in row.inner_text()
    assert f"p={XSS}" in row.locator(".mlnb-logged-model-params").inner_text()
    other = page.locator(f"{PANEL} .mlnb-logged-model[data-model-id='{of_run.model_id}']")
    assert "acc=0.75" in other.inner_text() and trainer.run_id[:8] in other.inner_text()
    # The model's page: its files, browsable, and its registered versions.
    row.locator(".mlnb-logged-model-name").click()
    page.wait_for_selector(f"{PANEL} .mlnb-logged-model-page .mlnb-file[data-path='weights']")
    page.click(f"{PANEL} .mlnb-logged-model-page .mlnb-file[data-path='weights'] a")
    page.wait_for_selector(f"{PANEL} .mlnb-logged-model-page .mlnb-file[data-path='weights/w.txt']")
    assert "not registered" in page.inner_text(f"{PANEL} .mlnb-logged-model-page")
    page.screenshot(path=str(output_dir / "sidebar-logged-models.png"))

    # The parent run's tab shows its sweep: trials, the best-so-far line, importance.
    page.click(f"{PANEL} .mlnb-tr:has-text('sweep-parent')")
    page.wait_for_selector(".mlnb-run-detail .mlnb-sweep-trial >> nth=2", timeout=30_000)
    trials = page.locator(".mlnb-run-detail .mlnb-sweep-trial")
    assert trials.count() == 3 and XSS in trials.nth(0).inner_text()
    points = page.get_attribute(".mlnb-run-detail .mlnb-sweep-chart polyline", "points")
    assert points is not None and len(points.split()) == 3
    assert "trial 1 (trial-1)" in page.inner_text(".mlnb-run-detail .mlnb-sweep-best")
    assert page.locator(".mlnb-run-detail .mlnb-sweep-importance tr[data-param]").count() == 2
    page.screenshot(path=str(output_dir / "sidebar-sweep.png"))
    injected = page.evaluate("""() => ({
        xss: window.__xss === undefined ? null : window.__xss,
        img: document.querySelectorAll('img[src="x"]').length,
    })""")
    assert injected == {"xss": None, "img": 0}
