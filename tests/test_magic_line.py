from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from magic_shell import TestingShell

import mlnb

pytest_plugins = ("magic_shell",)


def test_runs_lists_tracked_runs(ip: TestingShell) -> None:
    ip.run_cell("%%track alpha\nacc = 0.9\n")
    ip.run_cell("%%track beta\nacc = 0.5\n")
    ip.run_cell("table = %mlnb runs metrics.acc > 0.7")
    table = ip.user_ns["table"]
    if type(table).__name__ == "DataFrame":  # the DataFrame, when the widgets are not installed
        assert list(table["tags.mlflow.runName"]) == ["alpha"]
    else:
        assert type(table).__name__ == "RunTable"


def test_show_and_compare_accept_ids_and_names(ip: TestingShell) -> None:
    ip.run_cell("%%track alpha\nacc = 0.9\n")
    alpha = mlnb.last_active_run().info.run_id  # type: ignore[union-attr]
    ip.run_cell("%%track beta\nacc = 0.5\n")
    ip.run_cell(f"shown = %mlnb show {alpha}")
    ip.run_cell("pair = %mlnb compare alpha beta")
    assert ip.user_ns["shown"] is not None and ip.user_ns["pair"] is not None
    with pytest.raises(UsageError, match="No run with id or name 'gamma'"):
        ip.run_cell("%mlnb show gamma")


def test_diff_accepts_ids_and_names(ip: TestingShell) -> None:
    ip.run_cell("%%track alpha\nlr = 0.1\nacc = 0.9\n")
    alpha = mlnb.last_active_run().info.run_id  # type: ignore[union-attr]
    ip.run_cell("%%track beta\nlr = 0.2\nacc = 0.5\n")
    ip.run_cell(f"changes = %mlnb diff {alpha} beta")
    found = ip.user_ns["changes"].diff
    assert (found.a.run_name, found.b.run_name) == ("alpha", "beta")
    assert found.params.changed == {"lr": ("0.1", "0.2")}
    assert "-%%track alpha\n" in found.cell.unified and "+%%track beta\n" in found.cell.unified
    with pytest.raises(UsageError, match="No run with id or name 'gamma'"):
        ip.run_cell("%mlnb diff alpha gamma")


def test_store_switches_and_reports(ip: TestingShell, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell(f"%mlnb store {tmp_path / 'other'}")
    assert mlnb.get_tracking_uri() == str(tmp_path / "other")
    assert f"mlnb store: {tmp_path / 'other'}" in capsys.readouterr().out


@pytest.mark.parametrize(("line", "message"), [
    ("", "%mlnb runs"),
    ("frobnicate", "unknown command 'frobnicate'"),
    ("compare onlyone", "at least two runs"),
    ("autolog torch", "invalid choice"),
    ("export", "the following arguments are required: --out"),
    ("runs metrics.acc >", "%mlnb runs"),
    ("show", "required: run"),
    ("diff alpha", "required: run_b"),
])
def test_bad_arguments_are_usage_errors(ip: TestingShell, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell(f"%mlnb {line}")
    assert mlnb.search_runs(search_all_experiments=True, output_format="list") == []


def test_export_needs_a_known_notebook(ip: TestingShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(UsageError, match="notebook's path is unknown"):
        ip.run_cell("%mlnb export --out somewhere")


def test_autolog_on_and_off(ip: TestingShell) -> None:
    from mlnb.autolog import sklearn as sk

    ip.run_cell("%mlnb autolog sklearn")
    assert sk.is_enabled()
    ip.run_cell("%mlnb autolog --off")
    assert not sk.is_enabled()


def test_help(ip: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("%mlnb help")
    assert "%mlnb runs [FILTER]" in capsys.readouterr().out


def test_store_refuses_a_path_that_cannot_hold_a_store(ip: TestingShell, tmp_path: Path) -> None:
    before = mlnb.get_tracking_uri()
    with pytest.raises(UsageError, match="/proc/nonexistent/x/y"):
        ip.run_cell("%mlnb store /proc/nonexistent/x/y")
    assert mlnb.get_tracking_uri() == before  # the previous store is kept, and still works
    ip.run_cell("%%track after\nacc = 0.5\n")
    assert mlnb.last_active_run().data.metrics == {"acc": 0.5}
