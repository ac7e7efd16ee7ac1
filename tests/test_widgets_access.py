"""The inline widgets on a PostgreSQL store as a reader role: they show the store, and every
control that would change it is disabled with the reason (and the fix) as its tooltip."""

from __future__ import annotations

from test_access import Team, owner_trains_and_registers, team  # noqa: F401

import mlnb
from mlnb.widgets.registry_panel import show_registry


def test_a_readers_widgets_show_writes_as_unavailable_a_writers_keep_them(
        team: Team) -> None:  # noqa: F811
    run_id, _, _ = owner_trains_and_registers(team)
    reader = team.role("reader", "reader")
    mlnb.set_tracking_uri(team.url(reader))
    reason = mlnb.MlnbClient().store.read_only_reason()
    assert reason is not None and f"mlnb db grant --writer {reader}" in reason

    panel = show_registry("m")
    row = panel.rows["1"]
    assert row.metrics_label.value == "acc=0.9"  # it reads as for anyone
    for control in (row.stage, row.apply, row.alias, row.set_alias, row.delete_alias,
                    row.description, row.save_description, panel.save_model_description,
                    panel.model_description):
        assert control.disabled is True and control.tooltip == reason
    assert panel.status.value == f"Read-only: {reason}"
    assert panel.refresh_button.disabled is False

    table = mlnb.show_runs("*")
    assert [r.info.run_id for r in table.runs] == [run_id]
    for button in (table.delete_button, table.restore_button):
        assert button.disabled is True and button.tooltip == reason
    assert table.compare_button.disabled is False

    # A writer's widgets keep their controls.
    writer = team.role("writer", "writer")
    mlnb.set_tracking_uri(team.url(writer))
    row = show_registry("m").rows["1"]
    assert not row.apply.disabled and row.apply.tooltip is None
    assert not mlnb.show_runs("*").delete_button.disabled
