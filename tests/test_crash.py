"""A process that dies while logging: the store stays whole and its run never stays RUNNING."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlnb
from mlnb.store import Store, StoreLocation

SCRIPTS = Path(__file__).parent / "scripts"


def _env(store_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MLNB_TRACKING_URI"] = str(store_dir)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    return env


def _start_logger(store_dir: Path, cwd: Path, stderr: int = subprocess.DEVNULL
                  ) -> tuple[subprocess.Popen[str], str]:
    """Start scripts/batch_logger.py; return the process and its run id (once the run exists)."""
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "batch_logger.py")],
                            env=_env(store_dir), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=stderr, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _open(store_dir: Path) -> Store:
    return Store(StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts"))


@pytest.mark.parametrize("after_batches", [3, 40])
def test_kill_9_mid_logging_leaves_whole_batches_and_a_killed_run(tmp_path: Path,
                                                                  after_batches: int) -> None:
    store_dir = tmp_path / "store"
    proc, run_id = _start_logger(store_dir, tmp_path, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 60
    while seen < after_batches and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        seen += line.startswith("batch ")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = _open(store_dir)
    try:
        assert store.integrity_check() == "ok"
        count = store.count_points(run_id)
        assert count % 100 == 0 and count >= after_batches * 100
        steps = [m.step for m in store.get_metric_history(run_id, "x")]
        assert steps == list(range(count))  # no gap: whole batches, in order
        assert store.get_run_info(run_id).status == "RUNNING"  # nobody has looked yet
        assert store.reap_dead_runs() == [run_id]
        info = store.get_run_info(run_id)
        assert info.status == "KILLED" and info.end_time is not None
        assert "killed or crashed" in store.get_run(run_id).data.tags["mlnb.end_reason"]
        assert store.reap_dead_runs() == []
    finally:
        store.close()


def test_search_runs_reaps_a_dead_run(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    proc, run_id = _start_logger(store_dir, tmp_path)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.kill()
    proc.wait(timeout=30)
    client = mlnb.MlnbClient(str(store_dir))
    runs = client.search_runs(["0"])
    assert [(r.info.run_id, r.info.status) for r in runs] == [(run_id, "KILLED")]
    assert "mlnb.end_reason" in runs[0].data.tags


def test_a_live_run_of_another_process_is_not_reaped(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    proc, run_id = _start_logger(store_dir, tmp_path)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        client = mlnb.MlnbClient(str(store_dir))
        assert client.store.reap_dead_runs() == []
        assert client.get_run(run_id).info.status == "RUNNING"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_recycled_pid_does_not_keep_a_run_alive(store: Store) -> None:
    run_id = store.create_run("0").run_id
    with store.cx.write() as conn:  # this pid is alive, but it started at another time
        conn.execute("UPDATE runs SET pid_start = 'not-this-process' WHERE run_id = ?", [run_id])
    assert store.reap_dead_runs() == [run_id]


def test_runs_sharing_a_process_are_reaped_together(store: Store) -> None:
    """The process of many runs is checked once; each run still gets its own verdict."""
    live = [store.create_run("0").run_id for _ in range(3)]
    dead = [store.create_run("0").run_id for _ in range(3)]
    odd = store.create_run("0").run_id
    with store.cx.write() as conn:  # three runs of a process gone; one run with a damaged record
        conn.execute("UPDATE runs SET pid_start = 'gone' WHERE run_id IN (?, ?, ?)", dead)
        conn.execute("UPDATE runs SET pid = -5 WHERE run_id = ?", [odd])
    with pytest.warns(UserWarning, match=odd):
        reaped = store.reap_dead_runs()
    assert sorted(reaped) == sorted(dead)
    untouched = [*live, odd]
    assert {r: store.get_run_info(r).status for r in untouched} == dict.fromkeys(untouched, "RUNNING")
    assert {store.get_run_info(r).status for r in dead} == {"KILLED"}


def _run_script(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess[str], Store]:
    store_dir = tmp_path / "store"
    result = subprocess.run([sys.executable, str(SCRIPTS / "script_end.py"), mode],
                            env=_env(store_dir), cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    return result, _open(store_dir)


def test_script_that_never_ends_its_run_leaves_it_finished(tmp_path: Path) -> None:
    result, store = _run_script(tmp_path, "normal")
    try:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        run_id = result.stdout.split()[0]
        info = store.get_run_info(run_id)
        assert info.status == "FINISHED" and info.end_time is not None
        assert len(store.get_metric_history(run_id, "m")) == 10  # buffered points reached disk
        assert store.get_run(run_id).data.params == {"mode": "normal"}
    finally:
        store.close()


def test_script_dying_on_an_exception_leaves_its_run_failed(tmp_path: Path) -> None:
    result, store = _run_script(tmp_path, "raise")
    try:
        assert result.returncode == 1
        assert "RuntimeError: the script failed" in result.stderr  # the user's own traceback
        run_id = result.stdout.split()[0]
        assert store.get_run_info(run_id).status == "FAILED"
        assert len(store.get_metric_history(run_id, "m")) == 10
    finally:
        store.close()


def test_script_leaving_nested_runs_open_finishes_both(tmp_path: Path) -> None:
    result, store = _run_script(tmp_path, "nested")
    try:
        assert result.returncode == 0, result.stderr
        parent, child = result.stdout.split()[:2]
        assert store.get_run_info(parent).status == "FINISHED"
        assert store.get_run_info(child).status == "FINISHED"
        assert store.get_run(child).data.metrics == {"c": 1.0}
    finally:
        store.close()


def test_a_new_process_sees_a_dead_run_as_killed_without_searching(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    proc, run_id = _start_logger(store_dir, tmp_path)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.kill()
    proc.wait(timeout=30)
    result = subprocess.run(
        [sys.executable, "-c", f"import mlnb; print(mlnb.get_run({run_id!r}).info.status)"],
        env=_env(store_dir), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "KILLED"


@pytest.mark.e2e
def test_kill_9_at_twenty_random_moments_never_leaves_a_partial_batch(tmp_path: Path) -> None:
    """reliability.md §b-A4: a writer killed at any moment, 20 times, into one store."""
    import random

    rng = random.Random(20261122)  # fixed seed: a failure can be replayed
    store_dir = tmp_path / "store"
    killed: list[str] = []
    for _ in range(20):
        proc, run_id = _start_logger(store_dir, tmp_path)
        killed.append(run_id)  # the run exists; logging has begun
        time.sleep(rng.uniform(0.0, 0.25))  # anywhere: between batches or inside a commit
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store = _open(store_dir)
    try:
        assert store.integrity_check() == "ok"
        for run_id in killed:
            count = store.count_points(run_id)
            assert count % 100 == 0, (run_id, count)
        # Each new logger reaped its predecessors when it opened the store; the last is reaped here.
        assert store.reap_dead_runs() == [killed[-1]]
        assert {store.get_run_info(r).status for r in killed} == {"KILLED"}
    finally:
        store.close()
