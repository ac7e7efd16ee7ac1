"""The sidebar's registry gate and Monitoring tab in a real JupyterLab (Chromium, Playwright):
a blocked promotion says why, and a drift report with a hostile column name stays text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401
from test_sidebar_e2e import PANEL, open_lab, open_panel, server_store

import mlnb
from mlnb.entities import Metric
from mlnb.monitor.watch import monitor
from mlnb.store.predictions import PredictionRow
from mlnb.tracking.client import MlnbClient

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=window.__xss=1>"
DAY = 86_400_000


def test_blocked_promotion_shows_its_reason_and_monitoring_shows_drift(
    lab_server: Any, browser_page: Any, output_dir: Path, tmp_path: Path,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    store = server_store(server.root)
    client = MlnbClient(store.location.uri)
    run_id = client.create_run("0").info.run_id
    store.log_batch(run_id, metrics=[Metric("accuracy", 0.5, 1000, 0)])
    store.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    client.create_registered_model("gated")
    client.create_model_version("gated", f"runs:/{run_id}/model", run_id)
    client.set_registered_model_gate("gated", {"accuracy": {"min": 0.9}}, ["Production"])
    client.attach_evaluation("gated", 1, run_id)
    # Two days of predictions, the second shifted, monitored against a reference file; the
    # ground truth of the second day holds a label the reference never had (a hostile one).
    rng = np.random.default_rng(3)
    pd.DataFrame({XSS: rng.normal(0, 1, 200), "label": ["a", "b"] * 100}).to_csv(
        tmp_path / "ref.csv", index=False)
    for d, shift in ((0, 0.0), (1, 3.0)):
        store.append_predictions("models:/gated/1", "gated", "1", [
            PredictionRow(d * DAY + i, f"{d}-{i}", json.dumps({XSS: float(v) + shift}), "0", 1.0)
            for i, v in enumerate(rng.normal(0, 1, 100))])
        labels = ["a", "b"] * 50 if d == 0 else [XSS] * 100
        store.log_ground_truth([f"{d}-{i}" for i in range(100)], [json.dumps(v) for v in labels])
    mlnb.set_tracking_uri(store.location.uri)
    monitor("models:/gated/1", reference=str(tmp_path / "ref.csv"), window="1d", now_ms=5 * DAY,
            target="label")

    open_lab(page, server)
    open_panel(page)
    page.click(f"{PANEL} .mlnb-model[data-model='gated'] .mlnb-model-head")
    row = f"{PANEL} .mlnb-model-version[data-version='1']"
    gate = f"{PANEL} .mlnb-model-version-gate[data-version='1']"
    badge = page.wait_for_selector(f"{gate} .mlnb-gate-blocked[data-target='Production']")
    assert "accuracy >= 0.9 (measured 0.5)" in (badge.get_attribute("title") or "")
    page.select_option(f"{row} .mlnb-stage-select", "Production")
    page.wait_for_selector(".jp-Dialog:has-text('Move gated version 1 to Production?')")
    page.click(".jp-Dialog .jp-mod-warn")
    error = page.wait_for_selector(f"{PANEL} .mlnb-models .mlnb-error")
    assert "cannot move to Production" in error.inner_text()
    assert "accuracy >= 0.9 (measured 0.5)" in error.inner_text()
    assert client.get_model_version("gated", 1).current_stage == "None"
    page.click(f"{gate} .mlnb-evaluation-toggle")
    reason = page.wait_for_selector(f"{PANEL} .mlnb-model-version-evaluation .mlnb-gate-reason")
    assert "accuracy >= 0.9 (measured 0.5)" in reason.inner_text()
    page.screenshot(path=str(output_dir / "sidebar-gate-blocked.png"))

    page.click(f"{PANEL} .mlnb-model[data-model='gated'] .mlnb-model-tab[data-tab='monitoring']")
    cell = page.wait_for_selector(f"{PANEL} .mlnb-monitoring .mlnb-drift-column")
    assert cell.inner_text() == XSS
    assert page.locator(f"{PANEL} .mlnb-drift-bars rect").count() == 2
    assert page.locator(f"{PANEL} .mlnb-drift-bars .mlnb-drift-bar-high").count() == 1
    target = page.wait_for_selector(f"{PANEL} .mlnb-output-drift[data-role='target']")
    assert target.inner_text().startswith("target drift in 1 of 2 windows:")
    row = page.wait_for_selector(f"{PANEL} .mlnb-drift-columns tr[data-role='target']")
    assert row.inner_text().startswith("label (target)") and "drift" in row.inner_text()
    note = page.wait_for_selector(f"{PANEL} .mlnb-drift-note")
    assert note.inner_text().startswith("prediction drift skipped: the model could not be loaded")
    page.screenshot(path=str(output_dir / "sidebar-monitoring.png"))
    injected = page.evaluate("""() => ({
        xss: window.__xss === undefined ? null : window.__xss,
        img: document.querySelectorAll('img[src="x"]').length })""")
    assert injected == {"xss": None, "img": 0}
