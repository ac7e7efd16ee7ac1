"""Fixtures shared by the whole suite: a fresh store per test, and clean tracking state."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import TEMPLATE, PgServer, start_server
from s3_server import (  # noqa: F401  (fixtures)
    S3Prefix,
    assert_artifacts_left_the_machine,
    s3_env,
    s3_server,
)

from mlnb.store import Store, StoreLocation
from mlnb.store.location import database_location, with_artifact_uri
from mlnb.tracking import fluent
from mlnb.tracking import state as tracking_state

# Test helper modules loaded as plugins or imported by tests: let pytest rewrite their asserts.
pytest.register_assert_rewrite("magic_shell", "jupyter_harness")

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"
CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.fixture
def checkout_reachable_by_others() -> Iterator[None]:
    """Another local user can reach this checkout (mlnb's source and its .venv), as a second
    user's process in a test must import mlnb. A fresh clone in a private folder (``mktemp -d``
    makes it 0700) cannot be reached: search permission (o+x: pass through, never list or read)
    is granted on each such folder above the checkout for the test, and taken back after."""
    changed: list[tuple[Path, int]] = []
    for folder in (CHECKOUT, *CHECKOUT.parents):
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
            changed.append((folder, mode))
    try:
        yield
    finally:
        for folder, mode in reversed(changed):
            folder.chmod(mode)


@pytest.fixture(autouse=True, scope="session")
def _private_mlnb_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's own per-user key folder (mlnb.store.trust), never the developer's real one;
    subprocesses inherit it, so they count as the same user."""
    import os

    old = os.environ.get("MLNB_HOME")
    os.environ["MLNB_HOME"] = str(tmp_path_factory.mktemp("mlnb-home") / "home")
    yield
    if old is None:
        os.environ.pop("MLNB_HOME", None)
    else:
        os.environ["MLNB_HOME"] = old


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module or test marked ``both_backends`` runs once on SQLite and once on PostgreSQL
    (through the ``store`` and ``tracking`` fixtures); everything else on SQLite."""
    if metafunc.definition.get_closest_marker("sqlite_only"):
        return
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store's engine: ``sqlite`` unless the test is marked ``both_backends``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A real PostgreSQL server for the session, with a template database that holds mlnb's
    schema (each test's database is a copy of it)."""
    from mlnb.store.pg import PgConnection

    server = start_server()
    try:
        server.new_database(template=None)  # numbered 0; renamed to the template below
        server.admin(f"ALTER DATABASE mlnb_test_{os.getpid()}_0 RENAME TO {TEMPLATE}")
        PgConnection(server.url(TEMPLATE)).close()  # migrate the template once
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg: PgServer) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database holding mlnb's (empty) schema, dropped after."""
    import mlnb.store

    name = pg.new_database()
    url = pg.url(name)
    yield url
    for key in [k for k in mlnb.store._stores if name in k[0]]:
        mlnb.store._stores.pop(key).close()
    pg.drop_database(name)


@pytest.fixture(scope="module", params=BACKENDS)
def module_store_uri(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[str]:
    """For a module's shared fixture (built once, searched by many tests): a store folder, then
    a PostgreSQL database (its artifacts in a folder beside), each the module's own."""
    folder = tmp_path_factory.mktemp("module-store")
    if request.param == "sqlite":
        yield str(folder)
        return
    server: PgServer = request.getfixturevalue("pg")
    name = server.new_database()
    old = os.environ.get("MLNB_ARTIFACT_URI")
    os.environ["MLNB_ARTIFACT_URI"] = (folder / "artifacts").as_uri()
    try:
        yield server.url(name)
    finally:
        if old is None:
            os.environ.pop("MLNB_ARTIFACT_URI", None)
        else:
            os.environ["MLNB_ARTIFACT_URI"] = old
        import mlnb.store

        for key in [k for k in mlnb.store._stores if name in k[0]]:
            mlnb.store._stores.pop(key).close()
        server.drop_database(name)


def open_uri(uri: str) -> Store:
    """A Store for a folder or a PostgreSQL URL (what the fixtures hand out)."""
    if uri.startswith("postgresql://"):
        return Store(database_location(uri))
    return Store(StoreLocation(Path(uri) / "mlnb.db", Path(uri) / "artifacts"))


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def artifact_backend() -> str:
    """Where the ``store`` and ``tracking`` fixtures keep artifacts: ``"local"`` (a folder) here;
    a test module where the backend matters overrides this fixture with the parameters
    ``["local", "s3"]`` (``s3``: the session's SeaweedFS, through ``MLNB_ARTIFACT_URI``)."""
    return "local"


@pytest.fixture
def artifact_s3(artifact_backend: str, request: pytest.FixtureRequest) -> S3Prefix | None:
    """This test's S3 prefix when ``artifact_backend`` is ``"s3"`` (it sets the environment),
    else None."""
    if artifact_backend == "s3":
        place: S3Prefix = request.getfixturevalue("s3_env")
        return place
    return None


@pytest.fixture
def store_uri(backend: str, store_dir: Path, artifact_s3: S3Prefix | None,
              request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's store as a tracking URI: the folder, or a PostgreSQL database whose artifacts
    go to ``store_dir/artifacts`` (or S3, as ``artifact_backend`` says)."""
    if backend == "sqlite":
        return str(store_dir)
    if artifact_s3 is None:
        monkeypatch.setenv("MLNB_ARTIFACT_URI", (store_dir / "artifacts").as_uri())
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_uri: str, store_dir: Path, artifact_s3: S3Prefix | None) -> Iterator[Store]:
    """A brand-new store in a temporary folder or database (``both_backends``), its artifacts as
    ``artifact_backend`` says."""
    if store_uri != str(store_dir):
        s = Store(database_location(store_uri))
    else:
        location = StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts")
        if artifact_s3 is not None:
            location = with_artifact_uri(location, artifact_s3.url, store_dir)
        s = Store(location)
    yield s
    s.close()
    if artifact_s3 is not None:
        assert_artifacts_left_the_machine(store_dir)


@pytest.fixture(autouse=True)
def _fresh_tracking_state() -> Iterator[None]:
    """No test sees another's tracking URI, experiment or active runs."""
    yield
    tracking_state.reset()


@pytest.fixture
def tracking(store_dir: Path, store_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
             artifact_s3: S3Prefix | None) -> Iterator[Path]:
    """The fluent API pointed at a fresh store (via MLNB_TRACKING_URI), in a temporary cwd
    (artifacts as ``artifact_backend`` says: ``artifact_s3`` sets MLNB_ARTIFACT_URI for S3)."""
    monkeypatch.setenv("MLNB_TRACKING_URI", store_uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    tracking_state.reset()
    yield store_dir
    while tracking_state.state.active:
        fluent.end_run()
    tracking_state.reset()
    if artifact_s3 is not None:
        assert_artifacts_left_the_machine(store_dir)




@pytest.fixture
def output_dir() -> Path:
    """test-output/: screenshots and other files a person may want to look at after a run."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR
