"""The team store on a real PostgreSQL: what only a shared database brings (bad connection
settings, first use by several processes at once, concurrent writers, a restart of the
database, runs of dead processes on other machines, passwords kept out of sight)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pg_server import SUPERUSER_PASSWORD, PgServer, free_port

import mlnb
from mlnb.errors import ForeignStoreError, StoreError
from mlnb.store import Store, open_store
from mlnb.store.location import database_location

CHECKOUT = Path(__file__).resolve().parent.parent


def _open(url: str) -> Store:
    return Store(database_location(url))


def _no_driver_traceback(message: str) -> None:
    assert "psycopg" not in message and "Traceback" not in message
    assert SUPERUSER_PASSWORD not in message


# --- bad connection settings: one clear error each -------------------------------------------


def test_an_unreachable_server_is_named_with_what_to_check(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    monkeypatch.setenv("MLNB_ARTIFACT_URI", tmp_path.as_uri())
    url = f"postgresql://ann:{SUPERUSER_PASSWORD}@127.0.0.1:{free_port()}/mlnb"
    with pytest.raises(StoreError, match=r"cannot be reached .*check that the server runs") as err:
        _open(url)
    assert "postgresql://ann:***@127.0.0.1" in err.value.message
    _no_driver_traceback(err.value.message)


def test_a_wrong_password_names_the_user_and_where_to_set_it(pg: PgServer) -> None:
    with pytest.raises(StoreError, match=r"refused the password of user 'mlnb_admin'; set the "
                                         r"right one in PGPASSWORD, ~/.pgpass or the URL") as err:
        _open(pg.url("postgres", password="not-the-password"))
    assert "not-the-password" not in err.value.message
    _no_driver_traceback(err.value.message)


def test_a_missing_database_says_how_to_create_it(pg: PgServer) -> None:
    with pytest.raises(StoreError, match=r"there is no database 'nowhere' .*createdb nowhere"):
        _open(pg.url("nowhere"))


def test_another_applications_database_is_refused_untouched(pg: PgServer) -> None:
    name = pg.new_database(template=None)
    try:
        pg.admin("CREATE TABLE invoices (id int)", database=name)
        with pytest.raises(ForeignStoreError, match=r"tables of another application \(invoices\)"):
            _open(pg.url(name))
        tables = pg.admin("SELECT table_name FROM information_schema.tables "
                          "WHERE table_schema = 'public'", database=name)
        assert tables == [("invoices",)]  # nothing of mlnb's was created
    finally:
        pg.drop_database(name)


def test_an_mlflow_database_is_refused_with_the_way_over(pg: PgServer) -> None:
    name = pg.new_database(template=None)
    try:
        pg.admin("CREATE TABLE alembic_version (version_num text)", database=name)
        pg.admin("CREATE TABLE experiments (experiment_id int)", database=name)
        with pytest.raises(ForeignStoreError, match="is an MLflow tracking database"):
            _open(pg.url(name))
    finally:
        pg.drop_database(name)


def test_a_new_store_needs_an_artifact_root_once_then_everyone_uses_it(
        pg: PgServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name = pg.new_database()
    try:
        monkeypatch.delenv("MLNB_ARTIFACT_URI", raising=False)
        with pytest.raises(StoreError, match=r"is new and needs a place for its artifacts .*"
                                             r"set MLNB_ARTIFACT_URI"):
            _open(pg.url(name))
        monkeypatch.setenv("MLNB_ARTIFACT_URI", (tmp_path / "shared").as_uri())
        _open(pg.url(name)).close()
        monkeypatch.delenv("MLNB_ARTIFACT_URI")
        again = _open(pg.url(name))  # a teammate with no setting: the store says where
        assert again.artifact_root_uri == (tmp_path / "shared").as_uri()
        again.close()
        monkeypatch.setenv("MLNB_ARTIFACT_URI", (tmp_path / "elsewhere").as_uri())
        with pytest.raises(StoreError, match=r"keeps its artifacts at .*shared, but "
                                             r"MLNB_ARTIFACT_URI names .*elsewhere"):
            _open(pg.url(name))
    finally:
        pg.drop_database(name)


# --- secrets ---------------------------------------------------------------------------------


def test_the_password_is_never_shown_nor_stored_in_a_run(tracking: Path, pg_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_TRACKING_URI", pg_url)
    monkeypatch.setenv("MLNB_ARTIFACT_URI", (tracking / "artifacts").as_uri())
    assert mlnb.get_tracking_uri() == pg_url.replace(SUPERUSER_PASSWORD, "***")
    with mlnb.start_run() as run:
        mlnb.log_param("p", 1)
    stored = mlnb.get_run(run.info.run_id)
    everything = repr(stored) + repr(open_store(pg_url)) + repr(open_store(pg_url).location)
    assert SUPERUSER_PASSWORD not in everything


# --- first use by several processes, migrations ----------------------------------------------


def _python(code: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            env={**os.environ, **env, "PYTHONPATH": str(CHECKOUT)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_processes_opening_a_new_database_at_once_all_succeed(pg: PgServer, tmp_path: Path) -> None:
    name = pg.new_database(template=None)  # no schema yet: every process races to make it
    try:
        env = {"MLNB_TRACKING_URI": pg.url(name), "MLNB_ARTIFACT_URI": tmp_path.as_uri()}
        children = [_python("import mlnb; mlnb.set_experiment('race'); print('ok')", env)
                    for _ in range(4)]
        outputs = [child.communicate(timeout=120) for child in children]
        assert [c.returncode for c in children] == [0] * 4, outputs
        rows = pg.admin("SELECT name, count(*) FROM mlnb_migrations GROUP BY name ORDER BY name",
                        database=name)
        assert rows == [("0001_team_schema", 1), ("0010_run_heartbeat", 1), ("0011_traces", 1),
                        ("0012_datasets", 1),
                        ("0013_logged_model_runless", 1), ("0014_saved_views", 1),
                        ("0015_chunk_extremes", 1), ("0016_logged_model_lifecycle", 1)]
        assert pg.admin("SELECT count(*) FROM experiments WHERE name = 'race'",
                        database=name) == [(1,)]
    finally:
        pg.drop_database(name)


def test_db_upgrade_reports_the_schema_with_the_password_masked(pg_url: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mlnb", "db", "upgrade", pg_url],
                          env={**os.environ, "MLNB_ARTIFACT_URI": tmp_path.as_uri()},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "schema up to date (8 migrations, the last 0016_logged_model_lifecycle)" in done.stdout
    assert "mlnb_admin:***@127.0.0.1" in done.stdout and SUPERUSER_PASSWORD not in done.stdout


# --- concurrency -------------------------------------------------------------------------------

WRITER = """
import sys, mlnb
mlnb.set_experiment("crowd")
with mlnb.start_run(run_name=f"w{sys.argv[1]}") as run:
    for step in range(5000):
        mlnb.log_metric("loss", 1.0 / (step + 1), step=step)
        if step % 1000 == 0:
            mlnb.log_params({f"p{step}": step, "shared": "same"})
            mlnb.set_tag(f"t{sys.argv[1]}", str(step))
print(run.info.run_id)
"""

READER = """
import time, mlnb
mlnb.set_experiment("crowd")
deadline = time.monotonic() + 600
searches = 0
while time.monotonic() < deadline:
    mlnb.search_runs(filter_string="metrics.loss < 0.5", order_by=["metrics.loss ASC"])
    searches += 1
    if len(mlnb.search_runs(filter_string="attributes.status = 'FINISHED'")) == 8:
        break
print(searches)
"""


def test_eight_writers_and_a_reader_lose_nothing(tracking: Path, pg_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"MLNB_TRACKING_URI": pg_url, "MLNB_ARTIFACT_URI": (tracking / "artifacts").as_uri()}
    writers = [_python(WRITER, env, str(n)) for n in range(8)]
    reader = _python(READER, env)
    results = [w.communicate(timeout=600) for w in writers]
    read_out, read_err = reader.communicate(timeout=600)
    assert [w.returncode for w in writers] == [0] * 8, [err for _, err in results]
    assert reader.returncode == 0 and int(read_out) >= 1, read_err
    assert all(err.strip() == "" for _, err in results), [err for _, err in results]
    monkeypatch.setenv("MLNB_TRACKING_URI", pg_url)
    client = mlnb.MlnbClient()
    for out, _ in results:
        run_id = out.strip()
        history = client.get_metric_history(run_id, "loss")
        assert [m.step for m in history] == list(range(5000))
        assert history[-1].value == 1.0 / 5000
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED" and run.data.params["shared"] == "same"
        assert {k for k in run.data.params if k.startswith("p")} == {f"p{s}" for s in range(0, 5000, 1000)}


# --- a restart of the database -------------------------------------------------------------------


def test_logging_goes_on_through_a_database_restart(tracking: Path, pg: PgServer, pg_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_TRACKING_URI", pg_url)
    monkeypatch.setenv("MLNB_ARTIFACT_URI", (tracking / "artifacts").as_uri())
    with mlnb.start_run() as run:
        for step in range(100):
            mlnb.log_metric("m", float(step), step=step)
        mlnb.flush()
        pg.restart(down_s=1.0)  # every connection is cut, as a crash or restart cuts them
        for step in range(100, 200):
            mlnb.log_metric("m", float(step), step=step)
        mlnb.log_param("after", "restart")  # waits for the database to answer again
    history = mlnb.MlnbClient().get_metric_history(run.info.run_id, "m")
    assert [m.step for m in history] == list(range(200))
    assert mlnb.get_run(run.info.run_id).info.status == "FINISHED"


def test_points_logged_while_the_database_is_down_are_kept_and_written_after(
        tracking: Path, pg: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_TRACKING_URI", pg_url)
    monkeypatch.setenv("MLNB_ARTIFACT_URI", (tracking / "artifacts").as_uri())
    monkeypatch.setenv("MLNB_PG_RECONNECT_S", "1")
    from pg_server import _run, pg_tool

    run = mlnb.start_run()
    mlnb.log_metric("m", 0.0, step=0)
    mlnb.flush()
    ctl, data = pg_tool("pg_ctl"), str(pg.folder / "data")
    assert ctl
    _run([ctl, "-D", data, "-m", "fast", "stop"], pg.run_as)
    try:
        with pytest.warns(RuntimeWarning, match="kept in memory and will be retried"):
            for step in range(1, 12_001):  # more than two inline flushes' worth
                mlnb.log_metric("m", float(step), step=step)
        with pytest.raises(StoreError, match="cannot be reached"):
            mlnb.flush()  # a flush that must confirm says the store is down
    finally:
        _run([ctl, "-D", data, "-o", pg.options, "-l", str(pg.folder / "log"), "-w", "start"],
             pg.run_as)
    mlnb.end_run()
    history = mlnb.MlnbClient().get_metric_history(run.info.run_id, "m")
    assert [m.step for m in history] == list(range(12_001))


# --- runs of dead processes ------------------------------------------------------------------------

SLEEPER = """
import sys, time, mlnb
mlnb.set_experiment("beats")
run = mlnb.start_run()
mlnb.log_metric("m", 1.0)
mlnb.flush()
print(run.info.run_id, flush=True)
time.sleep(600)
"""


def test_a_run_whose_heartbeat_stops_is_marked_killed_from_any_machine(
        tracking: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"MLNB_TRACKING_URI": pg_url, "MLNB_ARTIFACT_URI": (tracking / "artifacts").as_uri(),
           "MLNB_HEARTBEAT_S": "0.5"}
    live, doomed = _python(SLEEPER, env), _python(SLEEPER, env)
    try:
        live_id = live.stdout.readline().strip()  # type: ignore[union-attr]
        doomed_id = doomed.stdout.readline().strip()  # type: ignore[union-attr]
        # Both as if started on another machine: only their heartbeats can tell.
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE runs SET host = 'another-machine'")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
        monkeypatch.setenv("MLNB_TRACKING_URI", pg_url)
        monkeypatch.setenv("MLNB_HEARTBEAT_S", "0.5")  # dead after four missed beats: 2 s
        store = open_store(pg_url)
        deadline = time.monotonic() + 30
        reaped: list[str] = []
        while time.monotonic() < deadline and doomed_id not in reaped:
            reaped += store.reap_dead_runs()
            time.sleep(0.3)
        assert reaped == [doomed_id]
        assert store.get_run_info(doomed_id).status == "KILLED"
        assert store.get_run_info(live_id).status == "RUNNING"  # it still beats
        assert "killed or crashed" in store.get_run(doomed_id).data.tags["mlnb.end_reason"]
    finally:
        for child in (live, doomed):
            child.kill()
            child.wait(timeout=30)


def test_a_run_left_open_when_the_database_is_gone_at_exit_is_one_clear_line(
        pg: PgServer, tmp_path: Path) -> None:
    name = pg.new_database()
    env = {"MLNB_TRACKING_URI": pg.url(name), "MLNB_ARTIFACT_URI": tmp_path.as_uri(),
           "MLNB_PG_RECONNECT_S": "1"}
    child = _python("""
        import sys, mlnb
        run = mlnb.start_run()
        print(run.info.run_id, flush=True)
        sys.stdin.readline()
    """, env)
    run_id = child.stdout.readline().strip()  # type: ignore[union-attr]
    pg.drop_database(name)  # the store disappears under the running process
    _, err = child.communicate(input="\n", timeout=60)
    assert child.returncode == 0
    assert f"mlnb: could not end run {run_id} at exit" in err
    assert "Traceback" not in err and SUPERUSER_PASSWORD not in err


# --- a transaction sends BEGIN with its first write only ------------------------------------------


def test_a_held_first_write_is_atomic_with_the_rest_and_seen_by_reads_inside(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_ARTIFACT_URI", tmp_path.as_uri())
    store = _open(pg_url)
    cx = store.cx
    with pytest.raises(RuntimeError), cx.write() as tx:
        tx.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", ["a", "1"])
        raise RuntimeError("the caller fails after its only write")
    assert cx.query("SELECT count(*) FROM store_meta WHERE key = 'a'") == [(0,)]
    with pytest.raises(StoreError, match="duplicate key"), cx.write() as tx:
        tx.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", ["b", "1"])
        tx.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", ["store_id", "x"])
    assert cx.query("SELECT count(*) FROM store_meta WHERE key = 'b'") == [(0,)]
    with cx.write() as tx:
        changed = tx.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", ["c", "1"])
        assert cx.query("SELECT value FROM store_meta WHERE key = 'c'") == [("1",)]
        assert changed.rowcount == 1
    with cx.write() as tx:
        single = tx.execute("UPDATE store_meta SET value = ? WHERE key = ?", ["2", "c"])
    assert cx.query("SELECT value FROM store_meta WHERE key = 'c'") == [("2",)]
    assert single.rowcount == 1
    store.close()
