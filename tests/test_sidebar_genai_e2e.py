"""Prompts and GenAI evaluations in the sidebar, in a real JupyterLab driven in Debian's Chromium
(Playwright): XSS payloads in templates, commit messages, outputs and an alias stay text; the
prompt diff, the alias controls, the compare tab and promote work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import browser_page, lab_server  # noqa: F401
from test_sidebar_e2e import PANEL, open_lab, open_panel

import mlnb
from mlnb.genai import evaluate, load_prompt, register_prompt
from mlnb.genai.scorers import ExactMatch

pytestmark = pytest.mark.e2e

XSS = '<img src=x onerror="window.__xss=1">'
OUT_XSS = "<svg onload=window.__xss=2>"
ALIAS_XSS = "<img src=x onerror=window.__xss=3>"
DATA = [{"inputs": {"n": i}, "expectations": {"expected_response": str(i)}} for i in range(5)]


def make_evaluations(root: Path) -> dict[int, str]:
    """Prompt "qa": v1 text, v2 chat (v2 holds @production); an evaluation of each on 5 inputs,
    v1 right on all, v2 wrong on two (answering with markup)."""
    mlnb.set_tracking_uri(str(root / ".mlnb"))
    mlnb.set_experiment("genai-e2e")
    v1 = register_prompt("qa", f"Answer {{{{n}}}}\n{XSS}", commit_message=f"first {XSS}")
    v2 = register_prompt("qa", [{"role": "system", "content": f"Be brief {XSS}"},
                                {"role": "user", "content": "Answer {{n}} now"}],
                         commit_message="chat </script><script>window.__xss=4</script>",
                         model_config={"model_name": f"gpt {XSS}", "temperature": 0.2},
                         response_format={"title": XSS, "type": "object"})
    mlnb.genai.set_prompt_alias("qa", "production", 2)
    runs = {}
    for prompt, wrong in ((v1, set()), (v2, {1, 3})):
        def predict(n: int, prompt: Any = prompt, wrong: set[int] = wrong) -> str:
            load_prompt(prompt.uri)
            return f"{n} wrong {OUT_XSS}" if n in wrong else str(n)

        runs[prompt.version] = evaluate(DATA, scorers=[ExactMatch()], predict_fn=predict,
                                        model="tiny", run_name=f"eval-v{prompt.version}").run_id
    return runs


def test_prompt_diff_aliases_compare_and_promote(
    lab_server: Any, browser_page: Any, output_dir: Path,  # noqa: F811
) -> None:
    page, server = browser_page, lab_server
    runs = make_evaluations(server.root)
    open_lab(page, server)
    open_panel(page)

    # The prompt: its versions, commit messages and aliases as text, the diff of v1 -> v2.
    page.click(f"{PANEL} .mlnb-prompts-head")
    prompt = f"{PANEL} .mlnb-prompt[data-prompt='qa']"
    page.wait_for_selector(prompt, timeout=30_000)
    page.click(f"{prompt} .mlnb-prompt-head")
    page.wait_for_selector(f"{prompt} .mlnb-prompt-diff[data-from='1'][data-to='2']", timeout=30_000)
    v1_row = page.locator(f"{prompt} .mlnb-prompt-version[data-version='1']")
    v2_row = page.locator(f"{prompt} .mlnb-prompt-version[data-version='2']")
    assert f"first {XSS}" in v1_row.inner_text()
    assert "chat </script><script>window.__xss=4</script>" in v2_row.inner_text()
    assert v2_row.locator(".mlnb-chip[data-alias='production']").count() == 1
    diff = page.locator(f"{prompt} .mlnb-prompt-diff")
    # A text v1 against a chat v2: per message, the text's lines removed, the chat's added.
    # v1's line with the payload and v2's system message are alike: one changed line.
    first = diff.locator(".mlnb-diff-message").nth(0)
    assert first.locator("del.mlnb-diff-removed").all_inner_texts() == ["Answer {{n}}"]
    assert first.locator("ins.mlnb-diff-added").all_inner_texts() == ["Be brief "]
    assert "Be brief " + XSS in first.locator(".mlnb-diff-line-changed").inner_text()
    assert "Answer {{n}} now" in diff.locator(".mlnb-diff-message-added").inner_text()
    assert diff.locator(".mlnb-diff-role").all_inner_texts()[:2] == ["text → system", "user (added)"]
    # v2's model config (a key/value table) and response format (JSON), as text.
    settings = diff.locator(".mlnb-prompt-settings[data-version='2']")
    assert settings.locator(".mlnb-prompt-model-config th").all_inner_texts() == [
        "model_name", "temperature"]
    assert settings.locator(".mlnb-prompt-model-config td").all_inner_texts() == [
        f"gpt {XSS}", "0.2"]
    assert json.loads(settings.locator(".mlnb-prompt-json").inner_text()) == {
        "title": XSS, "type": "object"}
    # Diff v2 against itself: the template as text.
    page.check(f"{prompt} input[aria-label='diff from version 2']")
    page.wait_for_selector(f"{prompt} .mlnb-prompt-diff[data-from='2'][data-to='2']")
    assert f"Be brief {XSS}" in page.inner_text(f"{prompt} .mlnb-prompt-template")
    page.check(f"{prompt} input[aria-label='diff from version 1']")
    page.screenshot(path=str(output_dir / "sidebar-prompt-diff.png"))

    # Alias controls: a bad alias is refused with the server's message (as text); a good one set.
    page.fill(f"{prompt} input[aria-label='alias for version 1']", ALIAS_XSS)
    page.press(f"{prompt} input[aria-label='alias for version 1']", "Enter")
    error = page.wait_for_selector(f"{PANEL} .mlnb-prompts .mlnb-error", timeout=30_000)
    assert f"Alias '{ALIAS_XSS}' is not valid" in error.inner_text()
    page.click(f"{PANEL} .mlnb-prompts .mlnb-error button")
    page.fill(f"{prompt} input[aria-label='alias for version 1']", "staging")
    page.click(f"{prompt} .mlnb-prompt-version[data-version='1'] .mlnb-alias-set")
    page.wait_for_selector(f"{prompt} .mlnb-prompt-version[data-version='1'] "
                           ".mlnb-chip[data-alias='staging']", timeout=30_000)
    assert load_prompt("prompts:/qa@staging").version == 1  # type: ignore[union-attr]
    page.click(f"{prompt} .mlnb-prompt-version[data-version='1'] button[aria-label='remove alias staging']")
    page.wait_for_selector(".jp-Dialog:has-text('Remove the alias \"staging\" from qa?')")
    page.click(".jp-Dialog .jp-mod-warn")
    page.wait_for_selector(f"{prompt} .mlnb-chip[data-alias='staging']", state="detached",
                           timeout=30_000)
    assert load_prompt("prompts:/qa@staging", allow_missing=True) is None

    # The evaluations: choose both, compare in a tab.
    page.click(f"{PANEL} .mlnb-genai-head")
    for run_id in runs.values():
        page.check(f"{PANEL} .mlnb-genai-run[data-run-id='{run_id}'] input", timeout=30_000)
    page.click(f"{PANEL} .mlnb-genai-compare-button")
    view = ".mlnb-genai-compare"
    page.wait_for_selector(f"{view} .mlnb-genai-grid", timeout=60_000)
    grid = page.inner_text(f"{view} .mlnb-genai-grid")
    assert "prompts:/qa/1" in grid and "prompts:/qa/2" in grid and "tiny" in grid
    assert "1.000 ★" in grid and "0.600" in grid
    rates = page.locator(f"{view} .mlnb-genai-win-rates tbody tr")
    assert rates.count() == 2
    assert "prompts:/qa/1 x tiny" in rates.nth(0).inner_text()
    assert "0.70 [" in rates.nth(0).inner_text()  # 2 wins and 3 ties of 5
    outputs = page.locator(f"{view} .mlnb-genai-output[data-run-id='{runs[2]}']")
    assert any(OUT_XSS in t for t in outputs.all_inner_texts())
    marked = page.locator(f"{view} .mlnb-genai-output[data-run-id='{runs[2]}'] ins.mlnb-diff-added")
    assert any(OUT_XSS in t for t in marked.all_inner_texts())
    page.screenshot(path=str(output_dir / "genai-compare.png"), full_page=True)

    # Promote: confirm, and the alias moves to the winner's prompt version (v1).
    page.click(f"{view} .mlnb-genai-promote-button")
    page.wait_for_selector(".jp-Dialog:has-text('Point qa@production at version 1')")
    page.click(".jp-Dialog .jp-mod-warn")
    page.wait_for_selector(f"{view} .mlnb-genai-promoted:has-text('qa@production now points at "
                           "version 1')", timeout=30_000)
    assert load_prompt("prompts:/qa@production").version == 1  # type: ignore[union-attr]
    # The sidebar shows it after a reload (↻, by keyboard).
    page.focus(f"{PANEL} .mlnb-prompts button[aria-label='reload the prompts']")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{prompt} .mlnb-prompt-version[data-version='1'] "
                           ".mlnb-chip[data-alias='production']", timeout=30_000)
    assert v2_row.locator(".mlnb-chip[data-alias='production']").count() == 0
    injected = page.evaluate("""() => ({
        xss: window.__xss === undefined ? null : window.__xss,
        img: document.querySelectorAll('img[src="x"]').length,
        svg: document.querySelectorAll('svg[onload]').length,
    })""")
    assert injected == {"xss": None, "img": 0, "svg": 0}
    # The dark theme: the diff marks keep the theme's text colour on a translucent background.
    page.click(".lm-MenuBar-item:has-text('Settings')")
    page.hover(".lm-Menu-item:has-text('Theme')")
    page.click(".lm-Menu-item:has-text('JupyterLab Dark')")
    page.wait_for_selector("body[data-jp-theme-name='JupyterLab Dark']", state="attached",
                           timeout=30_000)
    page.click(".lm-TabBar-tab:has-text('Compare 2 GenAI evaluations')")
    colours = page.evaluate("""() => {
        const ins = document.querySelector('.mlnb-genai-compare ins.mlnb-diff-added');
        const cell = ins.closest('td');
        return [getComputedStyle(ins).color, getComputedStyle(cell).color];
    }""")
    assert colours[0] == colours[1]  # the theme's light text, not a fixed dark one
    page.screenshot(path=str(output_dir / "genai-compare-dark.png"), full_page=True)
