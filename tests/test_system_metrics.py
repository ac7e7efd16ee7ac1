"""System metrics: a sampler thread logs MLflow's ``system/...`` names at the configured interval
while a run is active, a last point at its end, nothing when off; it never keeps a process alive."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from magic_shell import TestingShell

import mlnb
from mlnb.capture.track_line import parse_track_line
from mlnb.errors import InvalidParameterError
from mlnb.tracking import system_metrics

pytest_plugins = ("magic_shell",)

MLFLOW_NAMES = {"cpu_utilization_percentage", "system_memory_usage_megabytes",
                "system_memory_usage_percentage", "disk_usage_percentage", "disk_usage_megabytes",
                "disk_available_megabytes", "network_receive_megabytes", "network_transmit_megabytes"}
PROCESS_NAMES = {"process_cpu_utilization_percentage", "process_memory_rss_megabytes",
                 "process_thread_count"}


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch):
    for name in (*system_metrics.ENABLE_ENV, *system_metrics.INTERVAL_ENV, *system_metrics.SAMPLES_ENV):
        monkeypatch.delenv(name, raising=False)
    yield
    system_metrics._settings.__init__()  # back to "the environment decides"


def sampler_threads():
    return [t for t in threading.enumerate() if t.name.startswith("mlnb-system-metrics")]


def system_keys(run):
    return {k.removeprefix("system/") for k in run.data.metrics if k.startswith("system/")}


def history(run_id, name="cpu_utilization_percentage"):
    return mlnb.MlnbClient().get_metric_history(run_id, f"system/{name}")


def test_metrics_are_logged_at_the_interval_and_stop_with_the_run(tracking):
    mlnb.set_system_metrics_sampling_interval(0.2)
    with mlnb.start_run(log_system_metrics=True) as run:
        assert len(sampler_threads()) == 1
        time.sleep(1.1)
    assert sampler_threads() == []
    finished = mlnb.get_run(run.info.run_id)
    assert system_keys(finished) >= MLFLOW_NAMES | PROCESS_NAMES
    points = history(run.info.run_id)
    assert [p.step for p in points] == list(range(len(points)))
    assert 4 <= len(points) <= 7  # five samples in 1.1 s (fewer on a loaded machine), and the last
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(points[:-1])]
    assert all(150 <= g <= 600 for g in gaps), gaps
    assert 0 <= finished.data.metrics["system/cpu_utilization_percentage"] <= 100
    assert finished.data.metrics["system/process_memory_rss_megabytes"] > 10


def test_a_run_shorter_than_the_interval_gets_one_point_and_ends_at_once(tracking):
    started = time.perf_counter()
    with mlnb.start_run(log_system_metrics=True) as run:  # default interval: 10 s
        pass
    assert time.perf_counter() - started < 3
    assert [p.step for p in history(run.info.run_id)] == [0]


def test_nothing_is_logged_when_off(tracking):
    with mlnb.start_run() as run:
        assert sampler_threads() == []
        mlnb.log_metric("loss", 1.0)
    assert set(mlnb.get_run(run.info.run_id).data.metrics) == {"loss"}


def test_enable_disable_and_the_per_run_switch(tracking):
    mlnb.enable_system_metrics_logging()
    with mlnb.start_run() as on:
        pass
    with mlnb.start_run(log_system_metrics=False) as off:
        pass
    mlnb.disable_system_metrics_logging()
    with mlnb.start_run() as after:
        pass
    assert system_keys(mlnb.get_run(on.info.run_id)) >= MLFLOW_NAMES
    assert system_keys(mlnb.get_run(off.info.run_id)) == set()
    assert system_keys(mlnb.get_run(after.info.run_id)) == set()


def test_samples_are_averaged_and_a_resumed_run_goes_on_after_its_last_step(tracking):
    values = iter([10.0, 20.0, 30.0, 50.0, 70.0, 90.0])
    with mlnb.start_run() as run:
        monitor = system_metrics.Monitor(run.info.run_id, run.client, interval=0.05, samples=2,
                                         sampler=lambda: {"cpu_utilization_percentage": next(values)})
        monitor._take(final=False)
        monitor._take(final=False)
        monitor._take(final=False)
        monitor._take(final=True)  # the run's end: a single pending sample is logged as is
    assert [(p.step, p.value) for p in history(run.info.run_id)] == [(0, 15.0), (1, 40.0)]
    with mlnb.start_run(run_id=run.info.run_id, log_system_metrics=True):
        pass
    assert [p.step for p in history(run.info.run_id)] == [0, 1, 2]


def test_bad_settings_are_clear_errors_and_make_no_run(tracking, monkeypatch):
    with pytest.raises(InvalidParameterError, match=r"must be at least 0\.05 s, not 0"):
        mlnb.set_system_metrics_sampling_interval(0)
    with pytest.raises(InvalidParameterError, match=r"positive whole number, not 1\.5"):
        mlnb.set_system_metrics_samples_before_logging(1.5)
    monkeypatch.setenv("MLNB_SYSTEM_METRICS_SAMPLING_INTERVAL", "fast")
    with pytest.raises(InvalidParameterError,
                       match="MLNB_SYSTEM_METRICS_SAMPLING_INTERVAL must be a number of seconds"):
        mlnb.start_run(log_system_metrics=True)
    assert mlnb.active_run() is None
    assert mlnb.search_runs(search_all_experiments=True, output_format="list") == []


SCRIPT = """
import json, sys, threading, time
import mlnb
run = mlnb.start_run()
time.sleep(0.5)
print(json.dumps({"run_id": run.info.run_id, "psutil": "psutil" in sys.modules,
                  "threads": [t.name for t in threading.enumerate()]}))
# no end_run: the process must still exit at once, and the run end with its last point
"""


@pytest.mark.parametrize("enabled", [True, False], ids=["env-on", "off"])
def test_environment_switch_in_a_script_that_never_ends_its_run(tmp_path, enabled):
    env = {**os.environ, "MLNB_TRACKING_URI": str(tmp_path / "store"),
           "MLNB_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.1"}
    if enabled:
        env["MLNB_ENABLE_SYSTEM_METRICS_LOGGING"] = "true"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    out = json.loads(result.stdout)
    threads = [t for t in out["threads"] if t.startswith("mlnb-system-metrics")]
    assert (out["psutil"], len(threads)) == (enabled, int(enabled))  # off: nothing imported
    mlnb.set_tracking_uri(str(tmp_path / "store"))
    run = mlnb.get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    if enabled:
        assert len(history(out["run_id"])) >= 4
    else:
        assert system_keys(run) == set()


def test_track_system_logs_every_second_by_default(ip: TestingShell):
    ip.run_cell("%%track --system\nimport time\ntime.sleep(2.2)\n")
    run = mlnb.last_active_run()
    assert run is not None and run.info.status == "FINISHED"
    steps = [p.step for p in history(run.info.run_id)]
    assert steps in ([0, 1, 2], [0, 1])  # at 1 s and 2 s, and the last; 2 s may slip past the end
    ip.run_cell("%%track --system-interval 0.5\nimport time\ntime.sleep(1.2)\n")
    assert len(history(mlnb.last_active_run().info.run_id)) in (2, 3)
    ip.run_cell("%%track\nx = 1\n")
    assert system_keys(mlnb.last_active_run()) == set()
    assert sampler_threads() == []


def test_track_line_grammar_and_export():
    from mlnb.projects.convert import CellCode, track_block

    assert parse_track_line("--system").system
    options = parse_track_line("run1 --system-interval 2")
    assert (options.run_name, options.system, options.system_interval) == ("run1", True, 2.0)
    with pytest.raises(InvalidParameterError, match="--system-interval takes a number of seconds"):
        parse_track_line("--system-interval 0")
    cell = CellCode(number=3, body="x = 1\n", magic="track", magic_line="%%track --system")
    assert "with mlnb.start_run(nested=True, log_system_metrics=True):" in track_block(cell, None)

