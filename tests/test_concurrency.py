"""Several processes on one store at once, through the public API, with nothing lost or refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlnb.store import Store, StoreLocation

SCRIPTS = Path(__file__).parent / "scripts"
POINTS = 5_000
WRITERS = 4


def _env(store_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MLNB_TRACKING_URI"] = str(store_dir)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    return env


def _start(script: str, *args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPTS / script), *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _release(barrier: Path, count: int, procs: list[subprocess.Popen[str]]) -> None:
    """Wait until every process is at the start line, then let them all go at once."""
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < count:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            out, err = dead[0].communicate()
            pytest.fail(f"a process exited before the start: {out}{err}")
        assert time.monotonic() < deadline, "processes did not get ready in time"
        time.sleep(0.01)
    (barrier / "go").touch()


def _finish(proc: subprocess.Popen[str], timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    assert err.strip() == "", err  # no warning, no error, no traceback surfaced
    return out


def _open(store_dir: Path) -> Store:
    return Store(StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts"))


def _check_all_points(store_dir: Path) -> None:
    store = _open(store_dir)
    try:
        runs = store.cx.query("SELECT run_id, name, status FROM runs")
        assert len(runs) == WRITERS and {r[2] for r in runs} == {"FINISHED"}
        assert sum(store.count_points(run_id) for run_id, _, _ in runs) == WRITERS * POINTS
        for run_id, _, _ in runs:
            history = store.get_metric_history(run_id, "loss")
            assert [m.step for m in history] == list(range(POINTS))
            assert store.get_run(run_id).data.metrics["loss"] == pytest.approx(1 / POINTS)
        assert store.integrity_check() == "ok"
    finally:
        store.close()


@pytest.mark.parametrize("with_reader", [False, True], ids=["writers", "writers+reader"])
def test_writers_in_parallel_lose_nothing(tmp_path: Path, with_reader: bool) -> None:
    store_dir, barrier = tmp_path / "store", tmp_path / "barrier"
    barrier.mkdir()
    env = _env(store_dir)
    _open(store_dir).close()  # the store exists; the experiment is created by the writers
    procs = [_start("log_points.py", str(barrier), f"w{i}", str(POINTS), env=env, cwd=tmp_path)
             for i in range(WRITERS)]
    stop = tmp_path / "stop"
    reader = None
    if with_reader:
        reader = _start("read_loop.py", str(barrier), "reader", str(stop), env=env, cwd=tmp_path)
    _release(barrier, WRITERS + (reader is not None), procs + ([reader] if reader else []))
    for i, proc in enumerate(procs):
        assert _finish(proc).strip() == f"w{i} done"
    if reader is not None:
        stop.touch()
        out = _finish(reader)
        assert out.startswith("reader rounds=")
        assert int(out.split("rounds=")[1].split()[0]) >= 1
    _check_all_points(store_dir)


def test_many_processes_create_a_new_store_at_once(tmp_path: Path) -> None:
    store_dir, barrier = tmp_path / "brand-new" / "store", tmp_path / "barrier"
    barrier.mkdir()
    env = _env(store_dir)
    procs = [_start("open_new_store.py", str(barrier), f"p{i}", env=env, cwd=tmp_path)
             for i in range(8)]
    _release(barrier, 8, procs)
    for i, proc in enumerate(procs):
        assert _finish(proc, timeout=120).strip() == f"p{i} ok"
    store = _open(store_dir)
    try:
        names = sorted(r[0] for r in store.cx.query("SELECT name FROM runs WHERE status = 'FINISHED'"))
        assert names == sorted(f"p{i}" for i in range(8))
        assert store.cx.query("SELECT count(*) FROM experiments")[0][0] == 1
        migrations = store.cx.query("SELECT name, count(*) FROM _sqlite_migrations GROUP BY name")
        assert all(count == 1 for _, count in migrations)
    finally:
        store.close()


def test_processes_setting_one_new_experiment_at_once_all_get_it(tmp_path: Path) -> None:
    store_dir, barrier = tmp_path / "store", tmp_path / "barrier"
    barrier.mkdir()
    env = _env(store_dir)
    procs = [_start("set_new_experiment.py", str(barrier), f"p{i}", env=env, cwd=tmp_path)
             for i in range(8)]
    _release(barrier, 8, procs)
    ids = {_finish(proc, timeout=120).split()[1] for proc in procs}  # each exited 0
    store = _open(store_dir)
    try:
        rows = store.cx.query("SELECT experiment_id FROM experiments WHERE name = ?",
                              ["shared-new-experiment"])
        assert ids == {str(rows[0][0])} and len(rows) == 1
    finally:
        store.close()


def test_threads_share_a_client(tmp_path: Path) -> None:
    import threading

    from mlnb.tracking.client import MlnbClient

    client = MlnbClient(str(tmp_path / "store"))
    run_ids = [client.create_run("0", run_name=f"t{i}").info.run_id for i in range(4)]
    errors: list[BaseException] = []

    def log(run_id: str) -> None:
        try:
            for step in range(2_000):
                client.log_metric(run_id, "m", float(step), step=step)
                if step % 500 == 0:
                    client.search_runs(["0"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    client.writer.flush()
    assert all(len(client.get_metric_history(r, "m")) == 2_000 for r in run_ids)


def test_four_processes_append_to_one_series_and_lose_nothing(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store = _open(store_dir)
    run_id = store.create_run("0").run_id
    store.close()
    procs = [_start("append_series.py", str(tmp_path), run_id, str(w), env=_env(store_dir),
                    cwd=tmp_path) for w in range(WRITERS)]
    _release(tmp_path, WRITERS, procs)
    assert [_finish(p).strip() for p in procs] == ["2000"] * WRITERS
    store = _open(store_dir)
    try:
        store.update_run(run_id, status="FINISHED")  # packs what is left in rows
        history = store.get_metric_history(run_id, "loss")
        assert [m.step for m in history] == [w * 100_000 + i for w in range(WRITERS)
                                             for i in range(2_000)]
        assert all(m.value == m.step and m.timestamp == m.step // 100_000 for m in history)
        assert store.count_points(run_id) == WRITERS * 2_000
        assert store.integrity_check() == "ok"
    finally:
        store.close()
