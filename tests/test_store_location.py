"""Where the store lives: explicit > MLNB_TRACKING_URI > nearest .mlnb walking up > new ./.mlnb."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

import mlnb
from mlnb.errors import InvalidParameterError, StorePrivacyWarning, UnsafeStoreError
from mlnb.store import Store
from mlnb.store.location import resolve
from mlnb.tracking import state as tracking_state


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)


def test_new_store_in_cwd_when_nothing_is_configured(tmp_path: Path) -> None:
    loc = resolve(None, cwd=tmp_path)
    assert loc.db_path == tmp_path / ".mlnb" / "mlnb.db"
    assert loc.artifact_root == tmp_path / ".mlnb" / "artifacts"
    assert loc.uri == str(tmp_path / ".mlnb")


def test_nearest_store_walking_up(tmp_path: Path) -> None:
    (tmp_path / ".mlnb").mkdir()
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (tmp_path / "a" / "b" / ".mlnb").mkdir()
    assert resolve(None, cwd=deep).db_path == tmp_path / "a" / "b" / ".mlnb" / "mlnb.db"
    assert resolve(None, cwd=tmp_path / "a").db_path == tmp_path / ".mlnb" / "mlnb.db"


def test_env_beats_nearest_and_explicit_beats_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    (tmp_path / ".mlnb").mkdir()
    monkeypatch.setenv("MLNB_TRACKING_URI", str(tmp_path / "from-env"))
    assert resolve(None, cwd=tmp_path).db_path == tmp_path / "from-env" / "mlnb.db"
    assert resolve(str(tmp_path / "explicit"), cwd=tmp_path).db_path == (
        tmp_path / "explicit" / "mlnb.db")


def test_empty_env_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_TRACKING_URI", "")
    assert resolve(None, cwd=tmp_path).db_path == tmp_path / ".mlnb" / "mlnb.db"


@pytest.mark.parametrize(
    ("uri", "db", "artifacts"),
    [
        ("sqlite:///x.db", "x.db", "x-artifacts"),
        ("x.db", "x.db", "x-artifacts"),
        ("runs.sqlite", "runs.sqlite", "runs-artifacts"),
        ("sqlite:///sub/m.db", "sub/m.db", "sub/m-artifacts"),
        ("store", "store/mlnb.db", "store/artifacts"),
    ],
)
def test_relative_uris(tmp_path: Path, uri: str, db: str, artifacts: str) -> None:
    loc = resolve(uri, cwd=tmp_path)
    assert loc.db_path == tmp_path / db
    assert loc.artifact_root == tmp_path / artifacts


def test_absolute_and_file_uris(tmp_path: Path) -> None:
    assert resolve(f"sqlite:///{tmp_path}/a.db", cwd=Path("/")).db_path == tmp_path / "a.db"
    assert f"sqlite:///{tmp_path}".startswith("sqlite:////")  # the four-slash absolute form
    assert resolve(tmp_path.as_uri(), cwd=Path("/")).db_path == tmp_path / "mlnb.db"
    loc = resolve(f"sqlite:///{tmp_path}/a.db", cwd=Path("/"))
    assert loc.uri == f"sqlite:///{tmp_path}/a.db"


@pytest.mark.parametrize("uri", ["http://localhost:5000", "https://mlflow.example.com",
                                 "databricks://profile", "s3://bucket/x",
                                 "mysql://u@h/db"])
def test_remote_uris_are_refused(tmp_path: Path, uri: str) -> None:
    with pytest.raises(InvalidParameterError, match="local SQLite store or a PostgreSQL database"):
        resolve(uri, cwd=tmp_path)


@pytest.mark.parametrize("uri", ["postgresql://ann:pw@db:5432/mlnb", "postgres://ann:pw@db/mlnb",
                                 "postgresql+psycopg2://ann:pw@db/mlnb"])
def test_a_postgresql_url_names_the_team_store_and_never_shows_its_password(
        tmp_path: Path, uri: str) -> None:
    loc = resolve(uri, cwd=tmp_path)
    assert not loc.is_sqlite and loc.database_url and "pw" in loc.database_url
    assert loc.display.startswith(("postgresql://ann:***@db", "postgres://ann:***@db"))
    assert "pw" not in loc.display and "pw" not in loc.key and "pw" not in repr(loc)


def test_a_postgresql_url_without_a_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="names no database: add its name"):
        resolve("postgresql://ann@db:5432", cwd=tmp_path)


def test_set_tracking_uri_refuses_http_without_changing_state(tracking: Path) -> None:
    before = mlnb.get_tracking_uri()
    with pytest.raises(InvalidParameterError, match="never sends them to a server"):
        mlnb.set_tracking_uri("http://127.0.0.1:5000")
    assert mlnb.get_tracking_uri() == before


def test_fluent_api_creates_store_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracking_state.reset()
    with mlnb.start_run() as run:
        mlnb.log_param("p", 1)
    assert (tmp_path / ".mlnb" / "mlnb.db").is_file()
    assert mlnb.get_tracking_uri() == str(tmp_path / ".mlnb")
    assert mlnb.get_run(run.run_id).data.params == {"p": "1"}


def test_sqlite_uri_store_puts_artifacts_beside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    monkeypatch.chdir(tmp_path)
    tracking_state.reset()
    mlnb.set_tracking_uri("sqlite:///x.db")
    with mlnb.start_run() as run:
        mlnb.log_text("hi", "a.txt")
    assert (tmp_path / "x.db").is_file()
    assert (tmp_path / "x-artifacts" / run.run_id / "a.txt").read_text() == "hi"
    assert not (tmp_path / ".mlnb").exists()


@pytest.mark.parametrize("part", [".mlnb", ".mlnb/mlnb.db"])
@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_found_store_writable_by_group_or_others_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str, mode: int) -> None:
    if not hasattr(os, "geteuid"):
        pytest.skip("no POSIX owners and modes")
    Store(resolve(str(tmp_path / ".mlnb"))).close()  # a store of this user's, made by mlnb
    (tmp_path / part).chmod(mode & (0o777 if part == ".mlnb" else 0o666))
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    before = (tmp_path / ".mlnb" / "mlnb.db").stat().st_mtime_ns
    with pytest.raises(UnsafeStoreError) as caught:
        mlnb.MlnbClient()  # a client of the store found from the current folder
    who = "group" if mode & 0o020 else "others"
    assert str(caught.value).startswith(f"mlnb will not use the store {tmp_path / '.mlnb'}")
    assert f"{tmp_path / part} is writable by {who}" in str(caught.value)
    assert "MLNB_TRACKING_URI" in str(caught.value) and "chmod -R go-w" in str(caught.value)
    assert not (deep / ".mlnb").exists()
    assert (tmp_path / ".mlnb" / "mlnb.db").stat().st_mtime_ns == before


def test_an_explicit_store_that_is_not_private_is_used_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "geteuid"):
        pytest.skip("no POSIX owners and modes")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.chdir(tmp_path)
    tracking_state.reset()
    mlnb.set_tracking_uri(str(shared))
    with pytest.warns(StorePrivacyWarning, match=f"The mlnb store {shared} is not private: "
                      f"{shared} is writable by group and others"):
        with mlnb.start_run() as run:
            mlnb.log_param("p", 1)
    assert mlnb.get_run(run.info.run_id).data.params == {"p": "1"}
    assert not (tmp_path / ".mlnb").exists()


def test_a_private_explicit_store_gives_no_warning(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracking_state.reset()
    mlnb.set_tracking_uri(str(tmp_path / "mine"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StorePrivacyWarning)
        with mlnb.start_run():
            mlnb.log_param("p", 1)
