"""Access by PostgreSQL roles: ``mlnb db grant`` and what a reader and a writer may do, with real
roles on the real test server; who made each run and registry change is recorded."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import psycopg
import pytest
from pg_server import SUPERUSER, PgServer
from test_models_data import classifier

import mlnb
import mlnb.store
from mlnb.errors import InvalidParameterError, NotFoundError, ReadOnlyStoreError, StoreError
from mlnb.store import Store, open_store
from mlnb.store.access import DB_USER_TAG, set_access
from mlnb.store.location import database_location

_numbers = count()


@dataclass
class Team:
    """A PostgreSQL store (its owner is the test superuser) and roles made for the test."""

    pg: PgServer
    database: str
    owner: Store
    made: list[str]

    @property
    def owner_url(self) -> str:
        return self.pg.url(self.database)

    def role(self, kind: str, level: str | None = None) -> str:
        """A new login role (password ``pw-<name>``), granted ``level`` by the owner if given."""
        name = f"mlnb_{kind}_{os.getpid()}_{next(_numbers)}"
        self.pg.admin(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'")
        self.made.append(name)
        if level:
            set_access(self.owner.cx, self.owner.location.display, name, level)
        return name

    def url(self, role: str) -> str:
        return self.pg.url(self.database, user=role, password=f"pw-{role}")

    def fresh(self, role: str) -> Store:
        """The store opened anew as ``role`` (not the process's cached one)."""
        return Store(database_location(self.url(role)))


@pytest.fixture
def team(pg: PgServer, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[Team]:
    if not os.environ.get("MLNB_ARTIFACT_URI", "").startswith("s3://"):  # else s3_env's bucket
        monkeypatch.setenv("MLNB_ARTIFACT_URI", (tmp_path / "artifacts").as_uri())
    monkeypatch.chdir(tmp_path)
    database = urlparse(pg_url).path.lstrip("/")
    made: list[str] = []
    yield Team(pg, database, open_store(pg_url), made)
    mlnb.flush()
    for key in [k for k in mlnb.store._stores if database in k[0]]:
        mlnb.store._stores.pop(key).close()
    for name in made:  # its rights and default privileges in the test's database, then the role
        pg.admin(f"DROP OWNED BY {name}", database=database)
        pg.admin(f"DROP ROLE {name}")


def owner_trains_and_registers(team: Team) -> tuple[str, np.ndarray, np.ndarray]:
    model, X = classifier()
    mlnb.set_tracking_uri(team.owner_url)
    with mlnb.start_run(run_name="trained") as run:
        mlnb.log_param("lr", "0.1")
        mlnb.log_metric("acc", 0.5, step=0)
        mlnb.log_metric("acc", 0.9, step=1)
        mlnb.sklearn.log_model(model, "model", registered_model_name="m")
        mlnb.log_text("hello from the artifact store", "notes.txt")
    return run.info.run_id, X, model.predict(X)


def test_reader_searches_reads_and_loads_models_but_every_write_is_one_clear_error(team: Team
                                                                                   ) -> None:
    run_id, X, expected = owner_trains_and_registers(team)
    reader = team.role("reader", "reader")
    mlnb.set_tracking_uri(team.url(reader))
    client = mlnb.MlnbClient()
    assert client.store.can_write() is False

    found = mlnb.search_runs(filter_string="metrics.acc > 0.5 and params.lr = '0.1'",
                             search_all_experiments=True, output_format="list")
    assert [r.info.run_id for r in found] == [run_id]
    assert [p.value for p in client.get_metric_history(run_id, "acc")] == [0.5, 0.9]
    assert client.get_latest_versions("m")[0].version == "1"
    np.testing.assert_array_equal(mlnb.sklearn.load_model("models:/m/1").predict(X), expected)

    what = rf"role '{reader}' may read but not change the store .*mlnb db grant --writer {reader}"
    with pytest.raises(ReadOnlyStoreError, match=what):
        mlnb.start_run()
    with pytest.raises(ReadOnlyStoreError, match=what):  # at the call, not at a later flush
        client.log_metric(run_id, "acc", 0.1)
    with pytest.raises(ReadOnlyStoreError, match=what):
        client.set_tag(run_id, "note", "x")
    with pytest.raises(ReadOnlyStoreError, match="may read but not change"):
        client.transition_model_version_stage("m", "1", "Production")
    with pytest.raises(ReadOnlyStoreError, match="may read but not change"):
        client.delete_run(run_id)
    # The owner's data is as it was.
    run = team.owner.get_run(run_id)
    assert run.data.metrics == {"acc": 0.9} and "note" not in run.data.tags
    assert run.info.lifecycle_stage == "active"
    assert team.owner.get_model_version("m", "1").current_stage == "None"


def test_writer_logs_and_is_recorded_but_may_not_grant_alter_or_rewrite_the_store(team: Team
                                                                                  ) -> None:
    owner_trains_and_registers(team)
    writer = team.role("writer", "writer")
    other = team.role("other")
    mlnb.set_tracking_uri(team.url(writer))
    with mlnb.start_run() as run:
        mlnb.log_metric("loss", 0.25)
        mlnb.log_text("notes", "notes.txt")
    client = mlnb.MlnbClient()
    assert client.store.can_write() is True
    client.transition_model_version_stage("m", "1", "Staging")

    logged = team.owner.get_run(run.info.run_id)
    assert logged.data.metrics == {"loss": 0.25}
    assert [f.path for f in team.owner.list_artifacts(run.info.run_id)] == ["notes.txt"]
    # Who did what: the login and, on PostgreSQL, the database role.
    assert logged.info.user_id == getpass.getuser()
    assert logged.data.tags[DB_USER_TAG] == writer
    history = client.get_model_version_history("m", "1")
    assert (history[-1].kind, history[-1].user_id) == ("stage", f"{getpass.getuser()} ({writer})")
    first = client.search_runs([logged.info.experiment_id], "tags.`mlnb.db_user` = 'mlnb_admin'")
    assert [r.data.tags[DB_USER_TAG] for r in first] == [SUPERUSER]

    with pytest.raises(StoreError, match=rf"role '{writer}' may not grant access .* only its "
                                          rf"owner \('{SUPERUSER}'\) or a superuser"):
        set_access(client.store.cx, client.store.location.display, other, "reader")
    with psycopg.connect(team.url(writer), autocommit=True) as conn:
        for statement in ("ALTER TABLE runs ADD COLUMN x INTEGER", "DROP TABLE tags",
                          "UPDATE store_meta SET value = 'x' WHERE key = 'store_id'",
                          "DELETE FROM mlnb_migrations"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_grants_reach_tables_later_migrations_add_and_a_level_replaces_the_last(team: Team
                                                                               ) -> None:
    reader = team.role("reader", "reader")
    writer = team.role("writer", "writer")
    # As a migration would: the owner adds a table after the grants.
    team.pg.admin("CREATE TABLE later_table (id BIGINT GENERATED BY DEFAULT AS IDENTITY, v TEXT)",
                  database=team.database)
    team.pg.admin("INSERT INTO later_table (v) VALUES ('first')", database=team.database)
    with psycopg.connect(team.url(reader), autocommit=True) as conn:
        assert conn.execute("SELECT v FROM later_table").fetchall() == [("first",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO later_table (v) VALUES ('no')")
    with psycopg.connect(team.url(writer), autocommit=True) as conn:
        conn.execute("INSERT INTO later_table (v) VALUES ('second')")

    set_access(team.owner.cx, team.owner.location.display, writer, "reader")  # a downgrade
    as_reader = team.fresh(writer)
    try:
        assert as_reader.can_write() is False
    finally:
        as_reader.close()
    set_access(team.owner.cx, team.owner.location.display, reader, "revoke")
    with pytest.raises(ReadOnlyStoreError,
                       match=rf"role '{reader}' has no access to this mlnb store\. Its owner "
                             rf"grants it with: mlnb db grant --reader {reader}"):
        team.fresh(reader)


def test_grant_refuses_a_missing_role_a_bad_name_the_owner_and_sqlite(team: Team,
                                                                       tmp_path: Path) -> None:
    cx, shown = team.owner.cx, team.owner.location.display
    with pytest.raises(NotFoundError, match="There is no database role 'nobody_here'; create it"):
        set_access(cx, shown, "nobody_here", "reader")
    with pytest.raises(InvalidParameterError, match="is not a role name mlnb accepts"):
        set_access(cx, shown, 'bob"; DROP TABLE runs; --', "writer")
    with pytest.raises(InvalidParameterError, match=f"'{SUPERUSER}' owns the store"):
        set_access(cx, shown, SUPERUSER, "reader")
    local = Store(mlnb.store.StoreLocation(tmp_path / "local" / "mlnb.db",
                                           tmp_path / "local" / "artifacts"))
    try:
        with pytest.raises(StoreError, match="SQLite store: it has no database roles"):
            set_access(local.cx, local.location.display, "bob", "reader")
        assert local.can_write() is True and local.db_role() is None
    finally:
        local.close()
    assert team.owner.cx.query("SELECT count(*) FROM runs")[0][0] == 0  # nothing was dropped


def mlnb_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlnb", *args], capture_output=True, text=True,
                          timeout=120)


def test_grant_command_line(team: Team, tmp_path: Path) -> None:
    role = team.role("cli")
    done = mlnb_cli("db", "grant", "--reader", role, team.owner_url)
    assert done.returncode == 0, done.stderr
    assert f"Role '{role}' may now read postgresql://{SUPERUSER}:***@" in done.stdout
    assert "s3cret" not in done.stdout + done.stderr  # the owner's password is never printed
    assert team.fresh(role).can_write() is False

    done = mlnb_cli("db", "grant", "--writer", role, team.owner_url)
    assert done.returncode == 0 and "may now read and write" in done.stdout
    assert team.fresh(role).can_write() is True

    refused = mlnb_cli("db", "grant", "--reader", "ghost_role", team.owner_url)
    assert refused.returncode == 2
    assert "mlnb: error: There is no database role 'ghost_role'" in refused.stderr
    assert "Traceback" not in refused.stderr
    refused = mlnb_cli("db", "grant", "--reader", SUPERUSER, team.url(role))  # a writer grants
    assert refused.returncode == 2
    assert "may not grant access to the store" in refused.stderr
    refused = mlnb_cli("db", "grant", "--reader", "x;y", team.owner_url)
    assert refused.returncode == 2 and "'x;y' is not a role name mlnb accepts" in refused.stderr
    mlnb.set_tracking_uri(str(tmp_path / "local"))
    with mlnb.start_run():
        pass
    refused = mlnb_cli("db", "grant", "--reader", role, str(tmp_path / "local"))
    assert refused.returncode == 2 and "SQLite store: it has no database roles" in refused.stderr

    done = mlnb_cli("db", "grant", "--revoke", role, team.owner_url)
    assert done.returncode == 0 and f"Role '{role}' has no access" in done.stdout
    with pytest.raises(ReadOnlyStoreError, match="has no access to this mlnb store"):
        team.fresh(role)
    usage = mlnb_cli("db", "grant", team.owner_url)
    assert usage.returncode == 2 and "one of the arguments --reader --writer --revoke" in usage.stderr


def test_a_reader_of_a_store_needing_migrations_is_told_who_upgrades_it(team: Team) -> None:
    reader = team.role("reader", "reader")
    team.pg.admin("DELETE FROM mlnb_migrations", database=team.database)  # as an older mlnb's
    with pytest.raises(ReadOnlyStoreError, match=rf"needs the schema migrations \['0001_team_"
                                                 rf"schema'.*\] .* role '{reader}' may not change"
                                                 r" its tables\. Ask its owner to run: mlnb db "
                                                 "upgrade URI"):
        team.fresh(reader)


def test_a_readers_search_leaves_dead_runs_to_those_who_may_write(team: Team) -> None:
    experiment = team.owner.create_experiment("e")
    run = team.owner.create_run(experiment)
    # Its process (on this host) is gone: the next search of a writer marks it KILLED.
    team.pg.admin(f"UPDATE runs SET pid = 2147483647, pid_start = NULL "
                  f"WHERE run_id = '{run.run_id}'", database=team.database)
    reader = team.role("reader", "reader")
    mlnb.set_tracking_uri(team.url(reader))
    found = mlnb.search_runs([experiment], output_format="list")
    assert [(r.info.run_id, r.info.status) for r in found] == [(run.run_id, "RUNNING")]
    mlnb.set_tracking_uri(team.owner_url)
    assert mlnb.search_runs([experiment], output_format="list")[0].info.status == "KILLED"
