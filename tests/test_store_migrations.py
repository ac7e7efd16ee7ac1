"""Opening store files: migrations, newer stores, corrupt files and the connection pragmas."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from mlnb.entities import Metric, Param
from mlnb.errors import InvalidParameterError, SchemaTooNewError, StoreError
from mlnb.store import Store, StoreLocation, open_store, schema


def _location(folder: Path) -> StoreLocation:
    return StoreLocation(folder / "mlnb.db", folder / "artifacts")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def test_store_from_first_migration_is_upgraded_and_keeps_rows(tmp_path: Path) -> None:
    db_path = tmp_path / "mlnb.db"
    conn = sqlite3.connect(db_path, isolation_level=None)
    db = Database(conn)
    schema.migrations.apply(db, stop_before="0002_registry")
    conn.execute(
        "INSERT INTO runs (run_id, experiment_id, name, status, start_time) "
        "VALUES ('" + "a" * 32 + "', 0, 'old-run', 'FINISHED', 1000)"
    )
    conn.execute("INSERT INTO params VALUES (?, 'lr', '0.1')", ["a" * 32])
    conn.close()
    assert "registered_models" not in _tables(db_path)

    store = Store(_location(tmp_path))
    try:
        assert "registered_models" in _tables(db_path)
        run = store.get_run("a" * 32)
        assert run.info.run_name == "old-run" and run.data.params == {"lr": "0.1"}
        applied = {r[0] for r in store.cx.query("SELECT name FROM _sqlite_migrations")}
        assert applied == set(schema.KNOWN)
        store.log_batch(store.create_run("0").run_id, metrics=[Metric("m", 1.0, 1, 0)])
    finally:
        store.close()


def test_reopening_an_up_to_date_store_changes_nothing(tmp_path: Path) -> None:
    first = Store(_location(tmp_path))
    run_id = first.create_run("0").run_id
    first.log_batch(run_id, params=[Param("p", "1")])
    first.close()
    second = Store(_location(tmp_path))
    try:
        assert second.cx.query("SELECT count(*) FROM _sqlite_migrations")[0][0] == len(schema.KNOWN)
        assert second.get_run(run_id).data.params == {"p": "1"}
    finally:
        second.close()


def test_store_from_newer_mlnb_is_refused_and_not_modified(tmp_path: Path) -> None:
    Store(_location(tmp_path)).close()
    db_path = tmp_path / "mlnb.db"
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('mlnb', '0099_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = _digest(db_path)
    with pytest.raises(SchemaTooNewError, match=r"newer mlnb.*0099_from_the_future.*pip install -U"):
        Store(_location(tmp_path))
    assert _digest(db_path) == before
    wal = tmp_path / "mlnb.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all, just some text\n" * 100,
     b"\x00\xff" * 4096,
     b"SQLite format 3\x00" + b"\x13" * 2000],
    ids=["text", "binary", "bad-header"],
)
def test_garbage_file_gives_store_error_naming_it_and_is_kept(tmp_path: Path, content: bytes) -> None:
    db_path = tmp_path / "mlnb.db"
    db_path.write_bytes(content)
    with pytest.raises(StoreError) as err:
        Store(_location(tmp_path))
    assert str(db_path) in str(err.value)
    assert "did not modify it" in str(err.value)
    assert db_path.read_bytes() == content


def test_truncated_store_gives_store_error_and_is_kept(tmp_path: Path) -> None:
    store = Store(_location(tmp_path))
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, metrics=[Metric("m", float(i), 1, i) for i in range(5000)])
    store.cx.query("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    db_path = tmp_path / "mlnb.db"
    data = db_path.read_bytes()
    db_path.write_bytes(data[: len(data) // 3])
    for extra in ("-wal", "-shm"):
        Path(str(db_path) + extra).unlink(missing_ok=True)
    truncated = db_path.read_bytes()
    with pytest.raises(StoreError, match="not an intact SQLite database") as err:
        Store(_location(tmp_path))
    assert str(db_path) in str(err.value)
    assert db_path.read_bytes()[: len(truncated)] == truncated


def test_unwritable_folder_gives_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="Cannot create the store"):
        Store(_location(blocker / "store"))


def _pragmas(conn_query) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {name: conn_query(f"PRAGMA {name}")[0][0]
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")}


def test_every_connection_has_the_pragmas(tmp_path: Path) -> None:
    store = Store(_location(tmp_path))
    try:
        pragmas = _pragmas(store.cx.query)
        assert pragmas["journal_mode"] == "wal"
        assert pragmas["synchronous"] == 1
        assert int(pragmas["busy_timeout"]) >= 5000  # type: ignore[call-overload]
        assert pragmas["foreign_keys"] == 1
    finally:
        store.close()
    reopened = Store(_location(tmp_path))  # an existing file gets the same settings
    try:
        assert _pragmas(reopened.cx.query) == pragmas
    finally:
        reopened.close()


def test_open_store_is_cached_per_location(tmp_path: Path) -> None:
    a = open_store(str(tmp_path / "s"))
    b = open_store(str(tmp_path / "s"))
    c = open_store(str(tmp_path / "t"))
    assert a is b and a is not c


def test_foreign_keys_cascade_params_with_run(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, params=[Param("p", "1")])
    with store.cx.write() as conn:
        conn.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
    assert store.cx.query("SELECT count(*) FROM params")[0][0] == 0


def test_failed_write_rolls_back_whole_transaction(store: Store) -> None:
    run_id = store.create_run("0").run_id
    with pytest.raises(RuntimeError):
        with store.cx.write():
            store.log_batch(run_id, params=[Param("a", "1")])
            raise RuntimeError("boom")
    assert store.get_run(run_id).data.params == {}
    store.log_batch(run_id, params=[Param("a", "2")])  # the connection is usable afterwards
    assert store.get_run(run_id).data.params == {"a": "2"}


def test_artifact_rows_from_before_0003_are_user_files(tmp_path: Path) -> None:
    db_path = tmp_path / "mlnb.db"
    conn = sqlite3.connect(db_path, isolation_level=None)
    schema.migrations.apply(Database(conn), stop_before="0003_artifact_origin")
    run_id = "b" * 32
    conn.execute("INSERT INTO runs (run_id, experiment_id, name, status, start_time) "
                 "VALUES (?, 0, 'r', 'FINISHED', 1)", [run_id])
    conn.execute("INSERT INTO artifacts VALUES (?, 'model/model.pkl', 3, 'abc', 1)", [run_id])
    conn.close()
    store = Store(_location(tmp_path))
    try:
        assert "0003_artifact_origin" in schema.KNOWN
        assert store.artifact_origin(run_id, "model/model.pkl") == ("abc", "user")
        assert store.artifact_origin(run_id, "model/other") is None
    finally:
        store.close()


def test_relogging_an_artifact_sets_its_origin(store: Store) -> None:
    run_id = store.create_run("0").run_id
    written = store.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n", origin="model")
    assert store.artifact_origin(run_id, "model/MLmodel") == (written.sha256, "model")
    store.put_artifact_bytes(run_id, "model/MLmodel", b"flavors: {}\n")
    assert store.artifact_origin(run_id, "model/MLmodel") == (written.sha256, "user")
    with pytest.raises(InvalidParameterError):
        store.put_artifact_bytes(run_id, "x", b"", origin="admin")


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_store_is_private_to_its_owner(tmp_path: Path) -> None:
    store = Store(_location(tmp_path / "s"))
    try:
        run_id = store.create_run("0").run_id
        store.put_artifact_bytes(run_id, "a/b/c.txt", b"secret")
        source = tmp_path / "src.txt"
        source.write_bytes(b"x")
        source.chmod(0o644)
        store.put_artifact_file(run_id, source, "d/e.txt")
        db = tmp_path / "s" / "mlnb.db"
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: oct(_mode(f)) for f in files} == {f.name: oct(0o600) for f in files}
        run_dir = tmp_path / "s" / "artifacts" / run_id
        dirs = [tmp_path / "s", tmp_path / "s" / "artifacts", run_dir, run_dir / "a", run_dir / "a" / "b",
                run_dir / "d"]
        assert {str(d): oct(_mode(d)) for d in dirs} == {str(d): oct(0o700) for d in dirs}
        for f in (run_dir / "a" / "b" / "c.txt", run_dir / "d" / "e.txt"):
            assert oct(_mode(f)) == oct(0o600)
    finally:
        store.close()
