from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from magic_shell import TestingShell

import mlnb

pytest_plugins = ("magic_shell",)


def _last() -> mlnb.entities.Run:  # type: ignore[name-defined]
    run = mlnb.last_active_run()
    assert run is not None
    return run


def _artifacts(run_id: str, path: str = "") -> list[str]:
    found = []
    for info in mlnb.list_artifacts(run_id, path or None):
        found.extend(_artifacts(run_id, info.path) if info.is_dir else [info.path])
    return found


def test_track_captures_params_metrics_and_summary(ip: TestingShell,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("""%%track baseline --tags team=vision stage=dev
lr = 0.01
epochs = 3
name = "resnet"
params = {"depth": 4, "dropout": 0.5}
opts = {"a": 1}
_private = 5
import math
def helper():
    inner_acc = 0.5
for epoch in range(epochs):
    loss = 1.0 / (epoch + 1)
val_accuracy = 0.875
f1_score = 0.8
flag = True
""")
    run = _last()
    assert run.info.run_name == "baseline"
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.01", "epochs": "3", "name": "resnet", "depth": "4",
                               "dropout": "0.5", "opts.a": "1", "flag": "True"}
    assert run.data.metrics == {"loss": pytest.approx(1 / 3), "val_accuracy": 0.875,
                                "f1_score": 0.8}
    assert run.data.tags["team"] == "vision" and run.data.tags["stage"] == "dev"
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line == (f"mlnb: run baseline ({run.info.run_id}) FINISHED in "
                         f"{last_line.split(' in ')[1].split('s:')[0]}s: 7 params, 3 metrics, "
                         "1 artifacts")


def test_large_values_are_refused_politely(ip: TestingShell,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("%%track\nsizes = list(range(500))\ntext = 'x' * 10000\nok = [1, 2]\n")
    run = _last()
    assert run.data.params == {"ok": "[1, 2]"}
    out = capsys.readouterr().out
    assert "sizes: a list of 500 items (limit 20), not logged as a param" in out
    assert "text: a string of 10000 characters (limit 250), not logged as a param" in out


def test_only_named_params_and_extra_metrics(ip: TestingShell) -> None:
    ip.run_cell("%%track --params lr --metrics throughput\nlr = 0.1\nbatch = 32\n"
                "throughput = 1200\naccuracy = 0.5\n")
    run = _last()
    assert run.data.params == {"lr": "0.1"}
    assert run.data.metrics == {"throughput": 1200.0, "accuracy": 0.5}  # --metrics adds names


def test_opt_outs(ip: TestingShell, tmp_path: Path) -> None:
    ip.run_cell("%%track --no-capture params,files --no-capture stdout\nlr = 0.1\nacc = 0.9\n"
                "open('made.txt', 'w').write('x')\nprint('hi')\n")
    run = _last()
    assert run.data.params == {}
    assert run.data.metrics == {"acc": 0.9}
    assert _artifacts(run.info.run_id) == ["provenance.json"]
    ip.run_cell("%%track --no-capture all\nlr = 0.1\nacc = 0.9\n")
    run = _last()
    assert (run.data.params, run.data.metrics, _artifacts(run.info.run_id)) == ({}, {}, [])


def test_explicit_logging_and_step_history_win(ip: TestingShell) -> None:
    ip.run_cell("""%%track
import mlnb
mlnb.log_param("lr", "0.5")
lr = 0.5
for step in range(4):
    loss = 10 - step
    mlnb.log_metric("loss", loss, step=step)
""")
    run = _last()
    history = mlnb.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 10), (1, 9), (2, 8), (3, 7)]
    assert run.data.params == {"lr": "0.5"}


def test_changed_files_and_stdout_become_artifacts(ip: TestingShell, tmp_path: Path) -> None:
    (tmp_path / "untouched.txt").write_text("old")
    (tmp_path / "changed.csv").write_text("a\n")
    ip.run_cell("""%%track
from pathlib import Path
Path("changed.csv").write_text("a\\n1\\n")
Path("out").mkdir()
Path("out/model.bin").write_bytes(b"0" * 100)
Path(".hidden").mkdir()
Path(".hidden/secret.txt").write_text("no")
print("epoch 1 done")
""")
    run = _last()
    assert _artifacts(run.info.run_id) == ["files/changed.csv", "files/out/model.bin",
                                           "provenance.json", "stdout.txt"]
    stdout = Path(mlnb.MlnbClient().download_artifacts(run.info.run_id, "stdout.txt"))
    assert stdout.read_text() == "epoch 1 done\n"


def test_file_over_the_cap_is_reported_not_copied(ip: TestingShell,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("%config TrackMagics.max_file_bytes = 10")
    ip.run_cell("%%track\nopen('big.bin', 'wb').write(b'1' * 50)\nopen('small.txt', 'w')"
                ".write('ok')\n")
    run = _last()
    assert "files/small.txt" in _artifacts(run.info.run_id)
    assert "files/big.bin" not in _artifacts(run.info.run_id)
    assert "big.bin: 50 bytes, over the 10-byte cap" in capsys.readouterr().out


def test_matplotlib_figure_is_saved(ip: TestingShell) -> None:
    ip.run_cell("import matplotlib\nmatplotlib.use('Agg')")
    ip.run_cell("%%track\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n")
    run = _last()
    assert "figures/figure_1.png" in _artifacts(run.info.run_id)
    png = Path(mlnb.MlnbClient().download_artifacts(run.info.run_id, "figures/figure_1.png"))
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_failing_cell_marks_run_failed_and_propagates(ip: TestingShell) -> None:
    with pytest.raises(ZeroDivisionError):
        ip.run_cell("%%track doomed\nlr = 0.3\nx = 1 / 0\n")
    run = _last()
    assert run.info.status == "FAILED"
    assert run.data.tags["mlnb.error"] == "ZeroDivisionError: division by zero"
    assert "x = 1 / 0" in run.data.tags["mlnb.traceback"]
    assert run.data.params == {"lr": "0.3"}
    text = Path(mlnb.MlnbClient().download_artifacts(run.info.run_id, "traceback.txt")).read_text()
    assert text.strip().endswith("ZeroDivisionError: division by zero")
    assert mlnb.active_run() is None


def test_rerun_makes_a_new_run(ip: TestingShell) -> None:
    ip.run_cell("%%track same\nacc = 0.1\n")
    first = _last().info.run_id
    ip.run_cell("%%track same\nacc = 0.2\n")
    second = _last()
    assert second.info.run_id != first
    assert mlnb.get_run(first).data.metrics == {"acc": 0.1}
    assert second.data.metrics == {"acc": 0.2}


def test_last_expression_is_displayed(ip: TestingShell) -> None:
    ip.run_cell("%%track\nacc = 0.25\nacc * 2\n")
    assert ip.user_ns["_"] == 0.5


def test_provenance_tags_and_record(ip: TestingShell, monkeypatch: pytest.MonkeyPatch,
                                   tmp_path: Path) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "analysis.ipynb"))
    ip.run_cell("a = 1")
    ip.run_cell("import json")
    ip.run_cell("%%track\nacc = 0.5\n")
    run = _last()
    tags = run.data.tags
    assert tags.get("mlnb.notebook.path") == str(tmp_path / "analysis.ipynb"), tags
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["mlnb.cell.source"].rstrip() == "%%track\nacc = 0.5"
    assert tags["mlnb.cell.execution_count"] == str(len(ip.user_ns["In"]) - 1)
    assert len(tags["mlnb.kernel.history"].split()) >= 3  # load_ext, a = 1, import json
    assert "ipython==" in tags["mlnb.packages"]
    record = json.loads(Path(mlnb.MlnbClient().download_artifacts(
        run.info.run_id, "provenance.json")).read_text())
    assert record["notebook_path"] == str(tmp_path / "analysis.ipynb")
    assert record["cell"]["source"].rstrip() == "%%track\nacc = 0.5"
    assert record["python_version"] == tags["mlnb.python_version"]


def test_plain_start_run_in_the_kernel_gets_provenance(ip: TestingShell) -> None:
    ip.run_cell("import mlnb\nwith mlnb.start_run() as r:\n    pass\n")
    tags = mlnb.get_run(ip.user_ns["r"].run_id).data.tags
    assert tags["mlnb.cell.source"].startswith("import mlnb")
    assert tags["mlnb.kernel"] == "ipython"


def test_experiment_and_nested(ip: TestingShell) -> None:
    ip.run_cell("import mlnb\nparent = mlnb.start_run(run_name='parent')")
    with pytest.raises(UsageError, match="already active"):
        ip.run_cell("%%track\nacc = 1\n")
    ip.run_cell("%%track child --nested\nacc = 1\n")
    child = _last()
    assert child.data.tags["mlflow.parentRunId"] == ip.user_ns["parent"].run_id
    ip.run_cell("mlnb.end_run()")
    ip.run_cell("%%track -e vision\nacc = 1\n")
    assert mlnb.get_experiment(_last().info.experiment_id).name == "vision"


@pytest.mark.parametrize(("line", "message"), [
    ("--tags novalue", "KEY=VALUE"),
    ("--no-capture plots", "unknown part 'plots'"),
    ("--params 'a b'", "comma-separated variable names"),
    ("--bogus", "unrecognized arguments"),
    ("x" * 600, "Run name"),
])
def test_bad_arguments_raise_usage_error_and_create_nothing(ip: TestingShell, line: str,
                                                            message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell(f"%%track {line}\nran = 1\n")
    assert "ran" not in ip.user_ns
    assert mlnb.search_runs(search_all_experiments=True, output_format="list") == []


def test_live_chart_redraws_are_throttled(ip: TestingShell, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    ip.run_cell("%config TrackMagics.live_redraw_s = 3600")
    ip.run_cell("%%track\nimport mlnb\nfor i in range(1000):\n"
                "    mlnb.log_metric('loss', 1 / (i + 1), step=i)\n")
    charts = [line for line in capsys.readouterr().out.splitlines() if "live chart" in line]
    assert charts == ["<mlnb live chart: loss=0.5 (step 1)>",
                      "<mlnb live chart: loss=0.001 (step 999)>"]


def test_cell_ids_from_the_frontend_are_recorded(ip: TestingShell) -> None:
    ip.run_cell("a = 1", cell_id="cell-a")
    ip.run_cell("%%track\nacc = 1\n", cell_id="cell-b")
    tags = _last().data.tags
    assert tags["mlnb.cell.id"] == "cell-b"
    assert ":cell-a:" in tags["mlnb.kernel.history"]


def test_metrics_option_adds_to_the_metric_pattern(ip: TestingShell) -> None:
    ip.run_cell("%%track --params lr --metrics mymetric\nlr = 0.1\nmymetric = 7.5\nacc = 0.5\n")
    run = _last()
    assert run.data.metrics == {"mymetric": 7.5, "acc": 0.5}
    assert run.data.params == {"lr": "0.1"}


@pytest.mark.parametrize(("line", "message"), [
    ('--experiment ""', "experiment name"),
    ("-e ''", "experiment name"),
    ('""', "run name"),
])
def test_empty_experiment_or_run_name_is_refused(ip: TestingShell, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell(f"%%track {line}\nran = 1\n")
    assert "ran" not in ip.user_ns
    assert mlnb.search_runs(search_all_experiments=True, output_format="list") == []


def test_kept_traceback_starts_at_the_users_code(ip: TestingShell) -> None:
    with pytest.raises(ZeroDivisionError):
        ip.run_cell("%%track doomed\ndef inner():\n    return 1 / 0\ninner()\n")
    run = _last()
    text = Path(mlnb.MlnbClient().download_artifacts(run.info.run_id, "traceback.txt")).read_text()
    for kept in (text, run.data.tags["mlnb.traceback"]):
        assert kept.startswith("Traceback (most recent call last):\n"), kept
        assert "magic_track.py" not in kept and "mlnb" not in kept.split("inner()")[0], kept
        assert "return 1 / 0" in kept
        assert kept.strip().endswith("ZeroDivisionError: division by zero")
