"""GenAI traces in a real JupyterLab (Debian's Chromium through Playwright) and a real kernel.

The sidebar's Traces section lists an experiment's traces, filters them, shows new ones as they
arrive and opens one as a span tree; a notebook cell that traces shows its trace under it by
itself (no ``%load_ext mlnb``). Hostile span names, inputs, outputs, attributes, tags and
exception messages (HTML, script, ``javascript:`` URLs, MathJax ``$\\href{...}$``) stay text in
both, and no injected code runs.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401
from nbclient import NotebookClient
from test_sidebar_e2e import OUTPUT, PANEL, TAB, open_lab

import mlnb

pytestmark = pytest.mark.e2e

IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=2</script>"
JS_URL = "javascript:window.__xss=3"
LINK = f'<a href="{JS_URL}">click</a>'
MATH = "$\\href{javascript:window.__xss=4}{math}$"
LONG = 180_000  # ms: the machine is shared and loaded

TRACING_CODE = f'''
import mlnb

@mlnb.trace(name="tool " + {JS_URL!r}, span_type="TOOL")
def tool(query):
    raise ValueError("tool failed: " + {IMG!r} + " " + {SCRIPT!r})

@mlnb.trace(name="agent " + {IMG!r}, span_type="AGENT")
def agent(question):
    mlnb.update_current_trace(tags={{"who": {LINK!r}, "formula": {MATH!r}}})
    with mlnb.start_span("retrieve " + {SCRIPT!r}, span_type="RETRIEVER") as span:
        span.set_inputs({{"query": question, "url": {JS_URL!r}}})
        span.set_attributes({{"link " + {IMG!r}: {LINK!r}, "math": {MATH!r}}})
        span.set_outputs([{IMG!r}, {MATH!r}])
    try:
        tool(question)
    except ValueError:
        pass
    return "answer " + {SCRIPT!r}
'''


def hostile_traces(root: Path) -> tuple[str, str]:
    """Log, into the lab server's store, a run with one hostile trace (an agent whose tool
    fails) and a trace that fails at its root; returns (experiment name, the agent's trace id)."""
    mlnb.set_tracking_uri(str(root / ".mlnb"))
    mlnb.set_experiment("traces-e2e")
    space: dict[str, Any] = {}
    exec(TRACING_CODE, space)  # the same code the notebook test runs in a kernel
    with mlnb.start_run(run_name="traced-run"):
        space["agent"]("question " + LINK)
    agent_id = mlnb.get_last_active_trace_id()
    time.sleep(0.01)  # request times in ms: newest first is then certain
    with pytest.raises(ValueError):
        space["tool"](MATH)
    mlnb.flush_trace_async_logging()
    assert agent_id is not None
    return "traces-e2e", agent_id


def assert_nothing_injected(page: Any) -> None:
    injected = page.evaluate("""() => ({
        xss: window.__xss === undefined ? null : window.__xss,
        img: document.querySelectorAll('img[src="x"]').length,
        jsLinks: [...document.querySelectorAll('a[href]')].filter(
            a => a.getAttribute('href').trim().toLowerCase().startsWith('javascript')).length,
        scripts: [...document.querySelectorAll('script')].filter(
            s => s.textContent.includes('__xss')).length,
    })""")
    assert injected == {"xss": None, "img": 0, "jsLinks": 0, "scripts": 0}


def contrast(page: Any, selector: str) -> float:
    """The WCAG contrast ratio of an element's text against the background behind it."""
    ratio: float = page.evaluate("""(selector) => {
        const el = document.querySelector(selector);
        const rgba = c => {
            const v = c.match(/[\\d.]+/g).map(Number);
            return v.length === 3 ? [...v, 1] : v;
        };
        const rgb = c => rgba(c).slice(0, 3);
        const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        let back = el;  // the first ancestor-or-self with a background paints behind the text
        while (back.parentElement && rgba(getComputedStyle(back).backgroundColor)[3] === 0) {
            back = back.parentElement;
        }
        const [a, b] = [lum(getComputedStyle(el).color), lum(getComputedStyle(back).backgroundColor)]
            .sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
    }""", selector)
    return ratio


def dark_theme(page: Any) -> None:
    page.click(".lm-MenuBar-item:has-text('Settings')")
    page.hover(".lm-Menu-item:has-text('Theme')")
    page.click(".lm-Menu-item:has-text('JupyterLab Dark')")
    page.wait_for_selector("body[data-jp-theme-light='false']", state="attached", timeout=LONG)
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=LONG)


def test_sidebar_lists_and_opens_traces_as_text(
    lab_server: Any, browser_page: Any,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    page.set_default_timeout(LONG)
    mlnb.set_tracking_uri(str(server.root / ".mlnb"))
    mlnb.set_experiment("elsewhere")
    with mlnb.start_span("elsewhere"):
        pass
    time.sleep(0.01)  # request times in ms: the oldest, certainly
    experiment, agent_id = hostile_traces(server.root)
    OUTPUT.mkdir(exist_ok=True)
    open_lab(page, server)
    page.click(TAB)
    page.wait_for_selector(f"{PANEL} .mlnb-tr:has-text('traced-run')")
    head = page.locator(f"{PANEL} .mlnb-traces-head")
    head.focus()  # the section opens from the keyboard
    page.keyboard.press("Enter")
    rows = page.locator(f"{PANEL} .mlnb-trace-row")
    rows.nth(2).wait_for()  # "All experiments": every experiment's traces
    assert rows.count() == 3 and "elsewhere" in rows.nth(2).inner_text()
    page.select_option(f"{PANEL} .mlnb-experiment-select", label=experiment)
    page.wait_for_function(
        f"document.querySelectorAll(\"{PANEL} .mlnb-trace-row\").length === 2", timeout=LONG)
    # Newest first: the failed tool call, then the agent (OK at its root).
    assert "ERROR" in rows.nth(0).inner_text() and "tool " + JS_URL in rows.nth(0).inner_text()
    agent_row = page.locator(f"{PANEL} .mlnb-trace-row[data-trace-id='{agent_id}']")
    text = agent_row.inner_text()
    assert "OK" in text and "agent " + IMG in text
    assert LINK.replace('"', '\\"') in agent_row.locator(".mlnb-trace-request").inner_text()
    assert SCRIPT in agent_row.locator(".mlnb-trace-response").inner_text()
    assert re.search(r"\d+(\.\d)? (µs|ms|s)", agent_row.locator(".mlnb-trace-latency").inner_text())

    # Open the agent's trace from the keyboard: its span tree, with timelines.
    agent_row.focus()
    page.keyboard.press("Enter")
    view = page.locator(f"{PANEL} .mlnb-trace-view[data-trace-id='{agent_id}']")
    view.locator(".mlnb-span").nth(2).wait_for()
    spans = view.locator(".mlnb-span")
    assert spans.count() == 3
    names = [n.strip() for n in view.locator(".mlnb-span-name").all_inner_texts()]
    assert names == ["agent " + IMG + "AGENT", "retrieve " + SCRIPT + "RETRIEVER",
                     "tool " + JS_URL + "TOOL"]
    assert f"who={LINK}" in view.locator(".mlnb-trace-tags").inner_text()
    bars = view.locator(".mlnb-span-bar")
    assert bars.count() == 3
    root_width = bars.nth(0).evaluate("b => b.style.width")
    assert root_width == "100%"
    tool = view.locator(".mlnb-span-error")
    assert tool.count() == 1
    assert "mlnb-span-bar-error" in (tool.locator(".mlnb-span-bar").get_attribute("class") or "")
    assert f"tool failed: {IMG} {SCRIPT}" in tool.locator(".mlnb-span-exception").inner_text()

    # The root span's details show first; the retriever's after a click.
    detail = view.locator(".mlnb-span-detail")
    assert detail.get_attribute("data-span-name") == "agent " + IMG
    assert "answer " + SCRIPT in detail.locator(".mlnb-span-outputs").inner_text()
    view.locator(".mlnb-span-name", has_text="retrieve").click()
    page.wait_for_selector(f"{PANEL} .mlnb-span-detail[data-span-name^='retrieve']")
    inputs = detail.locator(".mlnb-span-inputs pre").inner_text()
    assert f'"url": "{JS_URL}"' in inputs and '\n  "query"' in inputs  # pretty-printed JSON
    outputs = detail.locator(".mlnb-span-outputs pre").inner_text()
    assert IMG in outputs and MATH.replace("\\", "\\\\") in outputs
    attributes = detail.locator(".mlnb-span-attributes").inner_text()
    assert "link " + IMG in attributes and LINK in attributes
    # The tool's exception, in its details and its exception event.
    view.locator(".mlnb-span-name", has_text="tool").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{PANEL} .mlnb-span-detail[data-span-name^='tool']")
    assert f"tool failed: {IMG} {SCRIPT}" in detail.locator(".mlnb-span-exception").inner_text()
    assert IMG in detail.locator(".mlnb-span-event-exception").inner_text()
    page.screenshot(path=str(OUTPUT / "sidebar-traces.png"))

    # Fold the root: its children hide; unfold: they are back.
    fold = view.locator(".mlnb-span-fold").first
    assert fold.get_attribute("aria-expanded") == "true"
    fold.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll(\"{PANEL} .mlnb-trace-view .mlnb-span\").length === 1")
    assert fold.get_attribute("aria-expanded") == "false"
    fold.click()
    spans.nth(2).wait_for()

    # Readable in the dark theme: the JSON blocks and the exception keep their contrast.
    dark_theme(page)
    assert contrast(page, f"{PANEL} .mlnb-span-detail .mlnb-span-json") >= 4.5
    assert contrast(page, f"{PANEL} .mlnb-span-detail .mlnb-span-exception") >= 3
    page.screenshot(path=str(OUTPUT / "sidebar-traces-dark.png"))

    # New traces show without a reload (the list polls); the filter uses the server's grammar.
    space: dict[str, Any] = {}
    exec(TRACING_CODE, space)
    time.sleep(0.01)
    space["agent"]("late " + IMG)
    mlnb.flush_trace_async_logging()
    page.wait_for_function(
        f"document.querySelectorAll(\"{PANEL} .mlnb-trace-row\").length === 3", timeout=LONG)
    assert "late " + IMG in rows.nth(0).inner_text()
    box = page.locator(f"{PANEL} .mlnb-traces-filter")
    box.fill("status = 'ERROR'")
    box.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll(\"{PANEL} .mlnb-trace-row\").length === 1", timeout=LONG)
    assert "tool " + JS_URL in rows.nth(0).inner_text()
    box.fill("nope = 1")
    box.press("Enter")
    error = page.locator(f"{PANEL} .mlnb-traces .mlnb-filter-error")
    error.wait_for()
    assert "nope" in error.inner_text() and rows.count() == 0
    assert_nothing_injected(page)


def test_a_traced_cell_shows_its_trace_in_the_lab(
    lab_server: Any, browser_page: Any,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    page.set_default_timeout(LONG)
    OUTPUT.mkdir(exist_ok=True)
    cells = [TRACING_CODE, f"agent({'question ' + LINK!r})", "print('DONE')"]
    notebook = {"type": "notebook", "format": "json", "content": {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None,
                   "outputs": [], "source": code} for i, code in enumerate(cells)]}}
    server.api("api/contents/traced.ipynb", "PUT", notebook)
    open_lab(page, server)
    page.goto(f"{server.url}/lab/tree/traced.ipynb?token={server.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=LONG)
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=LONG)
    page.click(".lm-MenuBar-item:has-text('Run')")
    page.click(".lm-Menu-item:has-text('Run All Cells')")
    try:
        page.wait_for_selector(".jp-OutputArea-output:has-text('DONE')", timeout=LONG)
    finally:
        page.screenshot(path=str(OUTPUT / "inline-trace.png"))
    traces = page.locator(".jp-Cell .mlnb-trace")
    assert traces.count() == 1  # only the cell that traced shows one
    view = traces.first
    summaries = view.locator("summary").all_inner_texts()
    assert len(summaries) == 3
    assert summaries[0].startswith("agent " + IMG) and summaries[2].startswith("tool " + JS_URL)
    text = view.text_content() or ""
    for payload in (IMG, SCRIPT, JS_URL, LINK, "link " + IMG, "tool failed: " + IMG):
        assert payload in text, payload
    assert MATH.replace("\\", "\\\\") in text and f"formula={MATH}" in text  # MathJax left them alone
    assert view.locator("mjx-container, .MathJax").count() == 0
    assert_nothing_injected(page)
    dark_theme(page)
    assert contrast(page, ".jp-Cell .mlnb-trace pre") >= 4.5
    page.screenshot(path=str(OUTPUT / "inline-trace-dark.png"))


def test_a_traced_cell_shows_its_trace_in_a_kernel_without_load_ext(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_TRACKING_URI", str(tmp_path / "store"))
    cells = [TRACING_CODE, "x = 1", f"agent({'question ' + LINK!r})", "y = 2"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", timeout=LONG // 1000,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [[o for o in cell.outputs if o["output_type"] == "display_data"] for cell in nb.cells]
    assert [len(s) for s in shown] == [0, 0, 1, 0]
    [view] = shown[2]
    assert re.fullmatch(r"Trace tr-[0-9a-f]{32}: OK, \d+ ms, 3 spans", view["data"]["text/plain"])
    html = view["data"]["text/html"]
    assert "agent &lt;img src=x onerror=window.__xss=1&gt;" in html
    assert "<img" not in html and "<script" not in html and "<a " not in html
    assert "tex2jax_ignore" in html  # MathJax never typesets the user's text
