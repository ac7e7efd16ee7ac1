"""``mlnb experiments ...``, ``mlnb runs ...`` and ``mlnb --version``, as a user types them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlnb
from mlnb.cli import main


@pytest.fixture
def runs(tracking: Path) -> dict[str, str]:
    mlnb.set_experiment("cli-exp")
    ids = {}
    for name, lr, acc in (("alpha", "0.1", 0.7), ("beta", "0.01", 0.9), ("gamma", "0.001", math.nan)):
        with mlnb.start_run(run_name=name) as run:
            mlnb.log_param("lr", lr)
            mlnb.log_metric("acc", acc)
            mlnb.set_tag("kind", "demo")
        ids[name] = run.run_id
        time.sleep(0.002)  # distinct start times: the newest-first order is then certain
    with mlnb.start_run(run_id=ids["beta"]):
        mlnb.log_text("hello", "notes/hello.txt")
    return ids


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlnb {mlnb.__version__}"


def test_experiments_ls(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "experiments", "ls")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "RUNS", "STAGE", "CREATED"]
    row = next(line for line in lines if "cli-exp" in line).split()
    assert row[1:4] == ["cli-exp", "3", "active"]
    code, out, _ = run_cli(capsys, "experiments", "ls", "--json")
    assert sorted(e["name"] for e in json.loads(out)) == ["Default", "cli-exp"]


def test_runs_ls_table(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "runs", "ls")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["RUN_ID", "NAME", "STATUS", "STARTED", "DURATION"]
    assert "acc" in lines[0]
    assert [line.split()[1] for line in lines[2:]] == ["gamma", "beta", "alpha"]
    assert all("FINISHED" in line for line in lines[2:])


def test_runs_ls_experiment_filter_order_json(runs: dict[str, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "ls", "--experiment", "cli-exp", "--filter",
                           "metrics.acc > 0.5", "--order-by", "metrics.acc ASC", "--json")
    assert code == 0
    data = json.loads(out)
    assert [r["info"]["run_name"] for r in data] == ["alpha", "beta"]
    assert data[0]["data"]["params"] == {"lr": "0.1"}
    code, out, _ = run_cli(capsys, "runs", "ls", "-e", "cli-exp", "--json")
    nan_run = next(r for r in json.loads(out) if r["info"]["run_name"] == "gamma")
    assert nan_run["data"]["metrics"]["acc"] == "NaN"  # valid JSON, not a bare NaN
    experiment_id = mlnb.get_experiment_by_name("cli-exp").experiment_id  # type: ignore[union-attr]
    code, out, _ = run_cli(capsys, "runs", "ls", "-e", experiment_id, "-o", "params.lr DESC")
    assert [line.split()[1] for line in out.splitlines()[2:]] == ["alpha", "beta", "gamma"]
    code, out, _ = run_cli(capsys, "runs", "ls", "-e", "Default")
    assert "(no runs match)" in out


def test_runs_show(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "runs", "show", runs["beta"])
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"Run beta ({runs['beta']})"
    assert "lr" in out and "0.01" in out and "kind" in out and "notes/" in out
    code, out, _ = run_cli(capsys, "runs", "show", runs["gamma"], "--json")
    data = json.loads(out)
    assert data["info"]["run_id"] == runs["gamma"]
    assert data["data"]["metrics"] == {"acc": "NaN"}
    assert data["artifacts"] == []


def test_runs_delete_and_restore(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "delete", runs["alpha"])
    assert code == 0 and "restore" in out
    _, out, _ = run_cli(capsys, "runs", "ls", "--json")
    assert runs["alpha"] not in {r["info"]["run_id"] for r in json.loads(out)}
    _, out, _ = run_cli(capsys, "runs", "ls", "--deleted", "--json")
    assert [r["info"]["run_id"] for r in json.loads(out)] == [runs["alpha"]]
    code, _, _ = run_cli(capsys, "runs", "restore", runs["alpha"])
    assert code == 0
    assert mlnb.get_run(runs["alpha"]).info.lifecycle_stage == "active"


def test_bad_filter_exits_2_with_position_marker(runs: dict[str, str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "runs", "ls", "--filter", "metrics.acc >> 1")
    assert code == 2 and out == ""
    assert err.startswith("mlnb: error: ")
    assert "position 13" in err
    assert err.rstrip().splitlines()[-1] == "  " + " " * 13 + "^"
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "show", "0" * 32], "No run with id"),
        (["runs", "show", "../../etc/passwd"], "No run with id"),
        (["runs", "delete", "nope"], "No run with id"),
        (["runs", "ls", "-e", "missing-experiment"], "No experiment named 'missing-experiment'"),
        (["runs", "ls", "-e", "999"], "No experiment with id '999'"),
        (["runs", "ls", "-o", "metrics.acc SIDEWAYS"], "ASC or DESC"),
        (["runs", "ls", "-n", "0"], "max_results"),
        (["runs", "ls", "-f", "attributes.colour = 'x'"], "Unknown attribute"),
        (["--store", "http://example.com", "runs", "ls"], "never sends them to a server"),
    ],
)
def test_user_mistakes_are_one_line_errors(runs: dict[str, str], capsys: pytest.CaptureFixture[str],
                                           argv: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("mlnb: error: ") and message in err
    assert "Traceback" not in err


def test_store_option_points_at_another_store(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              tracking: Path) -> None:
    other = tmp_path / "other"
    client = mlnb.MlnbClient(str(other))
    client.create_experiment("elsewhere")
    code, out, _ = run_cli(capsys, "--store", str(other), "experiments", "ls", "--json")
    assert code == 0
    assert "elsewhere" in {e["name"] for e in json.loads(out)}


def test_installed_entry_point(tmp_path: Path) -> None:
    store = tmp_path / "store"
    client = mlnb.MlnbClient(str(store))
    run = client.create_run("0", run_name="from-api")
    client.log_metric(run.info.run_id, "m", 0.25)
    client.set_terminated(run.info.run_id)
    exe = Path(sys.executable).with_name("mlnb")
    env = dict(os.environ, MLNB_TRACKING_URI=str(store), COLUMNS="200")
    result = subprocess.run([str(exe), "runs", "ls"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "from-api" in result.stdout and "0.25" in result.stdout
    bad = subprocess.run([str(exe), "runs", "ls", "--filter", "params.x = "], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("mlnb: error: ") and "Traceback" not in bad.stderr
    help_out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert help_out.returncode == 0 and "runs" in help_out.stdout


# Terminal escape sequences a store's values may carry: set the window title (OSC 0 ... BEL), clear
# the screen (CSI 2J), a hyperlink (OSC 8), a clipboard write (OSC 52), the 8-bit CSI (U+009B),
# DEL, and a right-to-left override that reorders what is shown.
HOSTILE = ("\x1b]0;pwned\x07", "\x1b[2J", "\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\",
           "\x1b]52;c;ZXZpbA==\x07", "\x9b31m", "\x7f", "\u202e")


def _no_raw_controls(text: str) -> None:
    bad = sorted({hex(ord(c)) for c in text if c not in "\n" and (
        ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u202e")})
    assert not bad, (bad, text)


def _craft(store_dir: Path, sql: str, *params: str) -> None:
    """Write a row the API would refuse, as a store made by another tool (or person) holds it."""
    import sqlite3

    cx = sqlite3.connect(store_dir / "mlnb.db")
    cx.execute("PRAGMA foreign_keys = ON")
    with cx:
        cx.execute(sql, params)
    cx.close()


def test_control_characters_are_shown_escaped(tracking: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = "".join(HOSTILE)
    mlnb.set_experiment("esc-exp")
    with mlnb.start_run(run_name="run") as run:
        mlnb.log_param("p", "v" + evil)
        mlnb.set_tag("t", evil)
        mlnb.log_metric("m", 1.0)
    _craft(tracking, "UPDATE runs SET name = ? WHERE run_id = ?", "run" + evil, run.run_id)
    _craft(tracking, "UPDATE experiments SET name = ? WHERE name = 'esc-exp'", "esc" + evil)
    outputs = []
    for argv in (("runs", "ls"), ("runs", "show", run.run_id), ("experiments", "ls"),
                 ("runs", "show", "no-such" + evil), ("runs", "delete", run.run_id),
                 ("runs", "restore", run.run_id)):
        _, out, err = run_cli(capsys, *argv)
        _no_raw_controls(out + err)
        outputs.append(out + err)
    shown = outputs[1]
    assert "Run run\\x1b]0;pwned\\x07\\x1b[2J" in shown and "\\x9b31m\\x7f\\u202e" in shown
    assert "v\\x1b]0;pwned\\x07" in shown
    assert "esc\\x1b]0;pwned" in outputs[2] and "run\\x1b]0;pwned" in outputs[0]
    assert "\\x1b" in outputs[3] and outputs[3].startswith("mlnb: error: ")
    # JSON stays JSON, with the values intact.
    _, out, _ = run_cli(capsys, "runs", "show", run.run_id, "--json")
    _no_raw_controls(out)
    data = json.loads(out)
    assert data["info"]["run_name"] == "run" + evil and data["data"]["params"]["p"] == "v" + evil
    _, out, _ = run_cli(capsys, "runs", "ls", "--json")
    assert json.loads(out)[0]["data"]["tags"]["t"] == evil


def test_control_characters_in_model_names_and_aliases(tracking: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from mlnb.tracking.client import MlnbClient

    evil = "m" + "".join(HOSTILE)
    MlnbClient().create_registered_model("plain", description="d" + evil)
    _craft(tracking, "UPDATE registered_models SET name = ? WHERE name = 'plain'", evil)
    outputs = []
    for argv in (("models", "ls"), ("models", "ls", "--json"), ("models", "versions", evil),
                 ("models", "alias", evil, "champion", "1")):
        _, out, err = run_cli(capsys, *argv)
        _no_raw_controls(out + err)
        outputs.append(out + err)
    assert "m\\x1b]0;pwned\\x07" in outputs[0]
    assert json.loads(outputs[1])[0]["name"] == evil
    assert outputs[2].startswith("mlnb: error: ") and "\\x1b" in outputs[2]
