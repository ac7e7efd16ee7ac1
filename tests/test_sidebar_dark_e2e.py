"""The sidebar in JupyterLab's dark theme (Chromium): a selected run row and an error box keep
their text readable. The theme's ``color3`` shades stay pale in the dark theme while its text turns
light, so backgrounds drawn with them left light text on a light fill."""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401
from test_sidebar_e2e import PANEL, open_lab, open_panel, server_store
from test_traces_e2e import dark_theme

pytestmark = pytest.mark.e2e

# WCAG contrast of an element's text against what is painted behind it: translucent backgrounds
# are composited over their ancestors' down to the first opaque one.
CONTRAST_JS = """(selector) => {
    const el = document.querySelector(selector);
    const rgba = c => { const v = c.match(/[\\d.]+/g).map(Number); return v.length === 3 ? [...v, 1] : v; };
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
        const c = rgba(getComputedStyle(node).backgroundColor);
        if (c[3] > 0) { layers.push(c); if (c[3] === 1) break; }
    }
    let back = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) {
        back = [r * a + back[0] * (1 - a), g * a + back[1] * (1 - a), b * a + back[2] * (1 - a)];
    }
    const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const [a, b] = [lum(rgba(getComputedStyle(el).color)), lum(back)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""


def test_selected_rows_and_errors_read_in_the_dark_theme(
    lab_server: Any, browser_page: Any,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    store = server_store(server.root)
    eid = store.create_experiment("dark")
    for name in ("first", "second"):
        info = store.create_run(eid, run_name=name)
        store.update_run(info.run_id, status="FINISHED", end_time=2)
    open_lab(page, server)
    dark_theme(page)
    open_panel(page)
    page.click(f"{PANEL} .mlnb-tr >> nth=0 >> input[type=checkbox]")
    page.wait_for_selector(f"{PANEL} .mlnb-tr.mlnb-selected")
    # the panel's own error box, as it shows a failed action's message
    page.evaluate("""(panel) => { const box = document.createElement('div');
        box.className = 'mlnb-error'; box.id = 'dark-error'; box.textContent = 'Could not delete';
        document.querySelector(panel).prepend(box); }""", PANEL)
    selected = page.evaluate(CONTRAST_JS, f"{PANEL} .mlnb-tr.mlnb-selected .mlnb-td")
    error = page.evaluate(CONTRAST_JS, "#dark-error")
    assert selected >= 4.5, f"selected row text contrast {selected:.2f}"
    assert error >= 4.5, f"error text contrast {error:.2f}"
