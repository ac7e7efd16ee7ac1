"""notebooks/compare.ipynb run in a real JupyterLab in Chromium: table, sort, filter, compare."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import LabServer, browser_page, lab_server  # noqa: F401

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "compare.ipynb"

pytestmark = pytest.mark.e2e


def _run_all(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def test_compare_notebook_in_jupyterlab(lab_server: LabServer, browser_page: Any,  # noqa: F811
                                        output_dir: Path) -> None:
    shutil.copy(NOTEBOOK, lab_server.root / "compare.ipynb")
    (lab_server.root / ".mlnb").mkdir(exist_ok=True)  # the server made it: the kernel finds it
    page = browser_page
    page.goto(f"{lab_server.url}/lab/tree/compare.ipynb?token={lab_server.token}")
    page.locator(".jp-Notebook").wait_for()
    accept = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel", on some Lab versions
    try:
        accept.wait_for(timeout=5_000)
        accept.click()
    except Exception:
        pass
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
    _run_all(page)

    try:
        page.get_by_text("Runs 1–4 of 4", exact=False).first.wait_for(timeout=120_000)
    except Exception:
        page.screenshot(path=str(output_dir / "widgets_e2e_failure.png"))
        raise
    page.locator(".widget-label", has_text="logreg-C10.0").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # the compare cell's chart

    # Sort by test accuracy (descending first), then the other way.
    header = page.locator("button.jupyter-button", has_text="test_accuracy").first
    header.click()
    page.locator("button.jupyter-button", has_text="test_accuracy ▼").first.wait_for()
    header.click()
    page.locator("button.jupyter-button", has_text="test_accuracy ▲").first.wait_for()

    # A bad filter shows its error inline; a good one narrows the table.
    box = page.locator("input[placeholder^='metrics.accuracy']")
    box.fill("params.C >")
    box.press("Enter")
    page.locator(".mlnb-error").first.wait_for()
    box.fill("params.C != '0.01'")
    box.press("Enter")
    page.get_by_text("Runs 1–3 of 3", exact=False).wait_for()
    assert 0 == page.locator(".mlnb-error").count()

    # Tick two runs and open the comparison.
    grid = page.locator(".widget-gridbox").first
    checks = grid.locator("input[type='checkbox']")
    checks.nth(1).check()
    checks.nth(2).check()
    page.locator("button", has_text="Compare selected").click()
    page.get_by_text("Comparing 2 runs").wait_for()
    comparison = page.locator(".widget-vbox", has=page.get_by_text("Comparing 2 runs")).last
    comparison.locator(".lm-TabBar-tab", has_text="History").click()
    chart = comparison.locator(".js-plotly-plot")
    chart.first.wait_for(timeout=60_000)
    assert 2 == chart.first.locator(".scatterlayer .trace").count()
    comparison.scroll_into_view_if_needed()
    page.screenshot(path=str(output_dir / "widgets_compare_e2e.png"), full_page=False)
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(output_dir / "widgets_table_e2e.png"), full_page=False)


PWN = "$\\href{javascript:window.__pwned=1}{CLICKME}$"


def test_run_table_labels_are_never_typeset_by_mathjax(
        lab_server: LabServer, browser_page: Any, output_dir: Path) -> None:  # noqa: F811
    import nbformat

    cells = [
        "import mlnb, ipywidgets as w\n"
        f"with mlnb.start_run(run_name={PWN!r}):\n    mlnb.log_param('p', {PWN!r})",
        # The control: a bare Label with the same text IS typeset, so MathJax is live in this page.
        f"w.Label({PWN!r}).add_class('bare-control')",
        "mlnb.show_runs()",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(notebook, lab_server.root / "math.ipynb")
    (lab_server.root / ".mlnb").mkdir(exist_ok=True)  # the server made it already
    page = browser_page
    page.goto(f"{lab_server.url}/lab/tree/math.ipynb?token={lab_server.token}")
    page.locator(".jp-Notebook").wait_for()
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        accept.wait_for(timeout=5_000)
        accept.click()
    except Exception:
        pass
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
    _run_all(page)
    try:
        page.locator(".bare-control mjx-container").first.wait_for(timeout=120_000)
        page.get_by_text("Runs 1–1 of 1", exact=False).first.wait_for(timeout=120_000)
        page.wait_for_timeout(3_000)  # give MathJax time to typeset the table too
    except Exception:
        page.screenshot(path=str(output_dir / "widgets_mathjax_failure.png"))
        raise
    table_labels = page.locator(".widget-gridbox .widget-label")
    assert table_labels.filter(has_text="CLICKME").count() >= 2  # run name and param, as text
    assert 0 == page.locator(".widget-gridbox mjx-container").count()
    assert page.evaluate("window.__pwned") is None
