"""The Experiments sidebar in Chromium on the team store (PostgreSQL, artifacts in S3), as a reader
role: the runs, the registry and the artifacts (read from the bucket) show as for anyone, and
every write action is disabled with the reason as tooltip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import browser_page, start_lab, stop_lab  # noqa: F401
from s3_server import S3Prefix
from test_access import Team, owner_trains_and_registers, team  # noqa: F401
from test_sidebar_e2e import PANEL, open_lab, open_panel

pytestmark = pytest.mark.e2e


def test_a_reader_sees_runs_and_models_with_write_actions_unavailable(
        s3_env: S3Prefix, team: Team, browser_page: Any, tmp_path: Path,  # noqa: F811
        output_dir: Path) -> None:
    run_id, _, _ = owner_trains_and_registers(team)
    reader = team.role("reader", "reader")
    reason = (f"Your database role '{reader}' may read but not change the store "
              f"postgresql://{reader}:***@")
    server = start_lab(tmp_path / "root", tmp_path / "jupyter",
                       extra_env={"MLNB_TRACKING_URI": team.url(reader)})
    try:
        page = browser_page
        open_lab(page, server)
        open_panel(page)
        page.wait_for_selector(f"{PANEL} .mlnb-td:text-is('trained')")
        notice = page.wait_for_selector(f"{PANEL} .mlnb-read-only")
        assert notice.inner_text().startswith(f"Read-only: {reason}")
        assert f"mlnb db grant --writer {reader}" in notice.inner_text()
        assert "pw-" not in page.content()  # the role's password never reaches the page

        page.click(f"{PANEL} .mlnb-tr:has-text('trained') input[type=checkbox]")
        delete = page.locator(f"{PANEL} .mlnb-delete-button")
        assert delete.is_disabled()
        assert (delete.get_attribute("title") or "").startswith(reason)

        page.click(f"{PANEL} .mlnb-model[data-model='m'] .mlnb-model-head")
        row = f"{PANEL} .mlnb-model-version[data-version='1']"
        page.wait_for_selector(row)
        for control in (f"{row} .mlnb-stage-select", f"{row} .mlnb-alias-input"):
            assert page.locator(control).is_disabled()
            assert (page.locator(control).get_attribute("title") or "").startswith(reason)
        page.screenshot(path=str(output_dir / "sidebar-reader.png"))

        page.click(f"{PANEL} .mlnb-tr:has-text('trained') .mlnb-td:text-is('trained')")
        page.wait_for_selector(".mlnb-run-detail:has-text('trained')")
        button = page.locator(".mlnb-run-detail .mlnb-run-delete")
        assert button.is_disabled()
        assert (button.get_attribute("title") or "").startswith(reason)
        # The artifacts are in the bucket: the preview is read from there, hash-checked.
        assert team.owner.artifact_root_uri.startswith("s3://")
        page.click(".mlnb-run-detail .mlnb-file button:text-is('notes.txt')")
        page.wait_for_selector(".mlnb-preview:has-text('hello from the artifact store')")
        assert team.owner.get_run(run_id).info.lifecycle_stage == "active"
    finally:
        stop_lab(server.process)
