"""``mlnb import mlflow SOURCE`` (issue 15): MLflow stores written by real MLflow (a file store,
an SQLite database, a running ``mlflow server``) imported into mlnb, then read back through
MLflow's own client and mlnb's and compared field by field.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_server import free_port
from test_store_copy import dump

import mlnb
from mlnb.errors import NotFoundError
from mlnb.store import Store
from mlnb.store.location import resolve
from mlnb.store.mlflow_import import import_mlflow, open_reader

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "scripts" / "mlflow_history.py"
PY = sys.executable


def _make(tracking_uri: str, cwd: Path, *args: str) -> None:
    """Run the MLflow script with real MLflow against ``tracking_uri``."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_ALLOW_FILE_STORE": "true"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([PY, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One file store and one SQLite database, each filled by the same MLflow script."""
    tmp = tmp_path_factory.mktemp("mlflow-sources")
    (tmp / "files").mkdir()
    (tmp / "db").mkdir()
    _make((tmp / "files" / "mlruns").as_uri(), tmp / "files")
    _make(f"sqlite:///{tmp / 'db' / 'mlflow.db'}", tmp / "db")
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # for the reading client in this process
    yield {"files": str(tmp / "files" / "mlruns"), "db": f"sqlite:///{tmp / 'db' / 'mlflow.db'}"}
    if old is None:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _mlflow_client(source: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow

    uri = Path(source).as_uri() if "://" not in source else source
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _value(v: float) -> str:
    return "nan" if math.isnan(v) else repr(v)


def _mlflow_files(client: Any, run_id: str, folder: str = "") -> list[str]:
    found = []
    for entry in client.list_artifacts(run_id, folder or None):
        found += _mlflow_files(client, run_id, entry.path) if entry.is_dir else [entry.path]
    return found


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file()}


def assert_same_as_mlflow(source: str, store_uri: str, tmp: Path) -> None:
    """Everything MLflow's client reads from SOURCE, mlnb's reads from the store."""
    import mlflow.artifacts
    from mlflow.entities import ViewType

    theirs = _mlflow_client(source)
    uri = theirs._tracking_client.tracking_uri
    ours = mlnb.MlnbClient(store_uri)
    store = Store(resolve(store_uri))
    try:
        experiments = theirs.search_experiments(view_type=ViewType.ACTIVE_ONLY)
        assert {e.name for e in experiments} == {e.name for e in ours.search_experiments()}
        checked_runs = 0
        for exp in experiments:
            mine_exp = ours.get_experiment_by_name(exp.name)
            assert mine_exp is not None and mine_exp.tags == exp.tags
            runs = theirs.search_runs([exp.experiment_id], run_view_type=ViewType.ALL)
            active = [r for r in runs if r.info.lifecycle_stage == "active"]
            for run in active:
                mine = ours.get_run(run.info.run_id)
                assert mine.info.experiment_id == mine_exp.experiment_id
                assert (mine.info.run_name, mine.info.status, mine.info.start_time,
                        mine.info.end_time, mine.info.user_id) == (
                    run.info.run_name, run.info.status, run.info.start_time, run.info.end_time,
                    run.info.user_id)
                assert mine.data.params == run.data.params
                assert mine.data.tags == run.data.tags
                assert set(mine.data.metrics) == set(run.data.metrics)
                full = theirs.get_run(run.info.run_id)  # search_runs leaves model inputs out
                want_inputs = sorted(json.dumps([dict(d.dataset), {t.key: t.value for t in d.tags}],
                                                sort_keys=True) for d in full.inputs.dataset_inputs)
                assert want_inputs and sorted(json.dumps([dict(d.dataset), d.tags], sort_keys=True)
                                              for d in ours.get_dataset_inputs(run.info.run_id)
                                              ) == want_inputs
                assert store.model_inputs_of_runs([run.info.run_id])[run.info.run_id] == [
                    m.model_id for m in full.inputs.model_inputs]
                for key in run.data.metrics:
                    want = sorted((m.step, m.timestamp, _value(m.value))
                                  for m in theirs.get_metric_history(run.info.run_id, key))
                    got = sorted((m.step, m.timestamp, _value(m.value))
                                 for m in ours.get_metric_history(run.info.run_id, key))
                    assert got == want, key
                expected = {}
                for path in _mlflow_files(theirs, run.info.run_id):
                    local = mlflow.artifacts.download_artifacts(
                        run_id=run.info.run_id, artifact_path=path, dst_path=str(tmp / "dl"),
                        tracking_uri=uri)
                    expected[path] = Path(local).read_bytes()
                for model in theirs.search_logged_models([exp.experiment_id]):
                    if model.source_run_id == run.info.run_id:
                        folder = Path(mlflow.artifacts.download_artifacts(
                            artifact_uri=model.artifact_location,
                            dst_path=str(tmp / "dl" / model.model_id), tracking_uri=uri))
                        expected.update({f"{model.name}/{p}": b for p, b in _tree(folder).items()})
                got_files = {p: store.artifact_path(run.info.run_id, p).read_bytes()
                             for p, _, _ in store.artifact_files(run.info.run_id, "")}
                assert got_files == expected
                checked_runs += 1
            for run in runs:
                if run.info.lifecycle_stage == "deleted":  # MLflow's trash stays behind
                    assert not store.cx.query("SELECT 1 FROM runs WHERE run_id = ?",
                                              [run.info.run_id])
        assert checked_runs == 2
        names = sorted(m.name for m in theirs.search_registered_models())
        assert names == ["legacy", "m"]
        for name in names:
            model, mine_model = theirs.get_registered_model(name), ours.get_registered_model(name)
            assert mine_model.tags == model.tags
            assert mine_model.aliases == {a: str(v) for a, v in model.aliases.items()}
            want_versions = sorted(
                (int(v.version), v.current_stage, v.status, v.tags, v.run_id, v.description or "")
                for v in theirs.search_model_versions(f"name='{name}'"))
            got_versions = sorted(
                (int(v.version), v.current_stage, v.status, v.tags, v.run_id, v.description)
                for v in ours.search_model_versions(f"name='{name}'"))
            assert got_versions == want_versions
    finally:
        store.close()


# --- field by field ---------------------------------------------------------------------------


@pytest.mark.both_backends
def test_file_store_import_matches_mlflow_field_by_field(sources: dict[str, str], store_uri: str,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow's client may make its default mlflow.db here
    reader = open_reader(sources["files"])
    dst = Store(resolve(store_uri))
    summary = import_mlflow(reader, dst)
    dst.close()
    assert (summary.runs, summary.logged_models, summary.models, summary.versions) == (2, 1, 2, 3)
    assert summary.copy.runs_new == 2 and not summary.copy.conflicts
    assert_same_as_mlflow(sources["files"], store_uri, tmp_path)


@pytest.mark.both_backends
def test_sqlite_database_import_matches_mlflow_field_by_field(sources: dict[str, str],
                                                              store_uri: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    reader = open_reader(sources["db"])
    dst = Store(resolve(store_uri))
    summary = import_mlflow(reader, dst)
    reader.close()
    dst.close()
    # MLflow's database clamped +-inf when they were logged; the import keeps what MLflow returns.
    assert summary.clamped_infinity
    assert_same_as_mlflow(sources["db"], store_uri, tmp_path)


def test_registry_sources_become_runs_uris_with_pinned_files(sources: dict[str, str],
                                                             tmp_path: Path) -> None:
    store = Store(resolve(str(tmp_path / "dst")))
    import_mlflow(open_reader(sources["files"]), store)
    rows = store.cx.query("SELECT name, version, source, run_id FROM model_versions "
                          "ORDER BY name, version")
    assert [(n, v, s.split("/")[-1]) for n, v, s, _ in rows] == [
        ("legacy", 1, "legacy_model"), ("m", 1, "model"), ("m", 2, "model")]
    assert all(s == f"runs:/{r}/{s.split('/')[-1]}" for _, _, s, r in rows)
    pins = store.model_version_pins("m", 1)
    assert set(pins) >= {"MLmodel", "model.skops"}
    history = [(k, f, t) for _, k, f, t in store.cx.query(
        "SELECT version, kind, from_value, to_value FROM model_registry_events "
        "WHERE name = 'm' ORDER BY time, event_id")]
    assert ("stage", "None", "Staging") in history and ("alias:champion", None, "1") in history
    store.close()


def test_mlflow_files_are_foreign_user_artifacts(sources: dict[str, str], tmp_path: Path) -> None:
    store = Store(resolve(str(tmp_path / "dst")))
    import_mlflow(open_reader(sources["files"]), store)
    run_id = store.cx.query("SELECT run_id FROM runs WHERE name = 'train'")[0][0]
    proof = store.artifact_proof(run_id, "model/model.skops")
    assert proof is not None
    assert (proof.origin, proof.signed, proof.vouched) == ("user", False, False)
    store.close()


def test_importing_twice_changes_nothing(sources: dict[str, str], tmp_path: Path) -> None:
    store = Store(resolve(str(tmp_path / "dst")))
    import_mlflow(open_reader(sources["db"]), store)
    before = dump(store, with_ids=True)
    again = import_mlflow(open_reader(sources["db"]), store)
    assert dump(store, with_ids=True) == before
    c = again.copy
    assert (c.experiments_new, c.runs_new, c.runs_updated, c.runs_unchanged) == (0, 0, 0, 2)
    assert (c.artifacts_copied, c.logged_models_new, c.models_new, c.versions_new) == (0, 0, 0, 0)
    assert c.versions_unchanged == 3
    store.close()


def test_a_moved_file_store_reads_its_own_files_links_and_bad_runs_are_said(
        tmp_path: Path, sources: dict[str, str]) -> None:
    import shutil

    copy = tmp_path / "mlruns"
    shutil.copytree(sources["files"], copy, symlinks=True)
    hello = next(copy.rglob("notes/hello.txt"))
    hello.write_text("changed in the copy")  # the copy's file is read, not the original's
    (hello.parent / "link.txt").symlink_to("/etc/hostname")
    child = next(t.parents[1] for t in copy.rglob("tags/mlflow.runName")
                 if t.read_text() == "child")
    (child / "metrics" / "loss").write_text("not a point\n")
    model_meta = next(copy.glob("*/models/m-*/meta.yaml"))  # the logged model's files elsewhere
    model_meta.write_text("\n".join(
        "artifact_location: s3://bucket/m" if line.startswith("artifact_location:") else line
        for line in model_meta.read_text().splitlines()))
    store = Store(resolve(str(tmp_path / "dst")))
    summary = import_mlflow(open_reader(str(copy)), store)
    reasons = dict(summary.skipped)
    assert reasons[f"run {child.name}"] == (
        f"metric file {child / 'metrics' / 'loss'} line 1 is not '<timestamp> <value> <step>': "
        "'not a point'")
    assert [r[0] for r in store.cx.query("SELECT name FROM runs")] == ["train"]
    run_id = hello.parents[2].name
    assert reasons[f"artifacts of logged model {model_meta.parent.name}"] == (
        "its artifacts are at s3://bucket/m, which is not a folder on this machine (import from "
        "the MLflow server, http://..., to bring them)")
    for version in ("1", "2"):  # registered from that model: no files to pin, not registered
        assert reasons[f"model 'm' version {version}"] == (
            f"its files (model) are not among run {run_id}'s artifacts")
    assert reasons["alias 'champion' of model 'm'"] == "its version 1 is not imported"
    assert [r[0] for r in store.cx.query("SELECT name FROM model_versions")] == ["legacy"]
    assert reasons[f"artifacts of run {run_id}"] == "symbolic links not copied: notes/link.txt"
    assert [p for p, _, _ in store.artifact_files(run_id, "notes")] == ["notes/hello.txt"]
    assert store.artifact_path(run_id, "notes/hello.txt").read_text() == "changed in the copy"
    store.close()


# --- the command line -------------------------------------------------------------------------


def _mlnb(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    env.pop("MLNB_TRACKING_URI", None)
    return subprocess.run([PY, "-m", "mlnb", "import", "mlflow", *args], capture_output=True,
                          text=True, env=env, timeout=600, cwd=cwd)


def test_cli_imports_with_progress_summary_and_skips(sources: dict[str, str],
                                                     tmp_path: Path) -> None:
    done = _mlnb(sources["files"], "--to", str(tmp_path / "dst"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"Importing MLflow {sources['files']} -> {tmp_path / 'dst'}")
    assert "reading: 2/2" in done.stderr and "runs: 2/2" in done.stderr
    assert "registry: 2/2" in done.stderr
    out = done.stdout
    assert ("Read from MLflow " + sources["files"] + ": 2 experiments, 2 runs, 157 metric points, "
            "8 artifact files, 1 logged models, 2 dataset inputs, 2 registered models (3 versions)") in out
    assert "  runs: 2 new, 0 updated, 0 unchanged, 0 in conflict" in out
    assert "  registry: 2 new models, 3 new versions, 0 versions already there" in out
    assert "Skipped (2):" in out
    assert "deleted in MLflow (in its trash); its runs are not imported" in out
    assert ": deleted in MLflow\n" in out
    assert "as a pickle loads in mlnb only with trusted=True; a skops file" in out
    again = _mlnb(sources["files"], "--to", str(tmp_path / "dst"))
    assert again.returncode == 0
    assert "  runs: 0 new, 0 updated, 2 unchanged, 0 in conflict" in again.stdout
    assert "  artifacts: 0 files copied (0 B)" in again.stdout
    # Without --to: the store the location rules find (here: .mlnb in the current folder).
    here = _mlnb(sources["db"], cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    assert "stores +inf and -inf as +/-1.797e308" in here.stdout
    assert (tmp_path / ".mlnb" / "mlnb.db").is_file()


def test_cli_bad_source_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    mlnb_store = Store(resolve(str(tmp_path / "an-mlnb-store")))
    mlnb_store.close()
    port = free_port()
    web = subprocess.Popen([PY, "-m", "http.server", "--bind", "127.0.0.1", str(free_port())],
                           cwd=tmp_path / "empty", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           text=True)
    not_mlflow = _serving(web)
    cases = {
        str(tmp_path / "nowhere"): f"{tmp_path / 'nowhere'} does not exist or is not a folder.",
        str(tmp_path / "empty"): f"{tmp_path / 'empty'} is not an MLflow file store",
        f"sqlite:///{tmp_path / 'nope.db'}": f"{tmp_path / 'nope.db'} does not exist",
        f"sqlite:///{other}": "is not an MLflow tracking database (it has no alembic_version, "
                              "experiments, runs, params, tags, metrics table)",
        f"sqlite:///{tmp_path / 'an-mlnb-store' / 'mlnb.db'}": "is an mlnb store, not MLflow's; "
                                                               "copy it with mlnb store copy",
        f"http://127.0.0.1:{port}": f"cannot reach http://127.0.0.1:{port}",
        "s3://bucket/mlruns": "not from s3:// URIs",
        not_mlflow: f"{not_mlflow} does not answer as an MLflow server: GET "
                    "/api/2.0/mlflow/experiments/search answered 404",
    }
    for source, message in cases.items():
        done = _mlnb(source, "--to", str(tmp_path / "dst"))
        assert done.returncode == 2, (source, done.stderr)
        assert done.stderr.startswith("mlnb: error: "), done.stderr
        assert message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert not (tmp_path / "dst").exists()  # nothing made for a source that cannot be read
    web.terminate()
    web.wait()


def _serving(web: subprocess.Popen[str]) -> str:
    """The URL of a plain web server (not MLflow) once it answers."""
    import urllib.request

    port = int(web.args[-1])  # type: ignore[index]
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return url
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the plain web server did not start")


# --- an interrupted import --------------------------------------------------------------------


def test_a_killed_import_leaves_whole_runs_and_a_rerun_completes(tmp_path: Path) -> None:
    _make(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path, "--many", "20", "--mb", "2")
    source = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen([PY, "-m", "mlnb", "import", "mlflow", source, "--to",
                             str(tmp_path / "dst")], stderr=subprocess.PIPE, text=True, env=env,
                            stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("runs: 4/20"):  # copying into the destination, a fifth done
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    store = Store(resolve(str(tmp_path / "dst")))
    runs = [r[0] for r in store.cx.query("SELECT run_id FROM runs")]
    assert 4 <= len(runs) < 20
    for run_id in runs:  # each run whole: its param, its 50 points, its file and its record
        assert store.cx.query("SELECT count(*) FROM params WHERE run_id = ?", [run_id])[0][0] == 1
        assert store.count_points(run_id, "m") == 50
        assert len(store.artifact_files(run_id, "")) == 1
    assert store.integrity_check() == "ok"
    store.close()
    assert [p.name[:12] for p in (tmp_path / "tmp").iterdir()] == ["mlnb-import-"]  # left behind
    done = _mlnb(source, "--to", str(tmp_path / "dst"), env={"TMPDIR": str(tmp_path / "tmp")})
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []  # the killed import's staging folder too
    assert f"runs: {20 - len(runs)} new, 0 updated, {len(runs)} unchanged" in done.stdout
    fresh = tmp_path / "fresh"
    assert _mlnb(source, "--to", str(fresh)).returncode == 0
    resumed, clean = Store(resolve(str(tmp_path / "dst"))), Store(resolve(str(fresh)))
    assert {k: v for k, v in dump(resumed).items() if k != "artifacts"} == {
        k: v for k, v in dump(clean).items() if k != "artifacts"}
    assert [r[:4] for r in dump(resumed)["artifacts"]] == [r[:4] for r in dump(clean)["artifacts"]]
    resumed.close()
    clean.close()


# --- a running MLflow server ------------------------------------------------------------------


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """``mlflow server`` on loopback (SQLite backend, artifacts proxied), filled by the script."""
    port = free_port()
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    env.pop("PYTHONPATH", None)
    server = subprocess.Popen(
        [PY, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        import urllib.request

        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no mlflow server"
                time.sleep(0.5)
        _make(url, tmp_path)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.e2e
def test_server_import_matches_mlflow_field_by_field(mlflow_server: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = _mlnb(mlflow_server, "--to", str(tmp_path / "dst"))
    assert done.returncode == 0, done.stderr
    assert "runs: 2 new" in done.stdout and "Skipped (2):" in done.stdout
    assert_same_as_mlflow(mlflow_server, str(tmp_path / "dst"), tmp_path)
    # The server's database alone does not hold the proxied files: said, not guessed.
    direct = _mlnb(f"sqlite:///{tmp_path / 'server.db'}", "--to", str(tmp_path / "direct"))
    assert direct.returncode == 0, direct.stderr
    assert "which is not a folder on this machine (import from the MLflow server" in direct.stdout


@pytest.mark.e2e  # MLflow filling a PostgreSQL database takes half a minute
def test_postgresql_database_import_matches_mlflow(pg: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's tracking database on PostgreSQL (MLflow writes it through SQLAlchemy and
    psycopg), read with SQL in a read-only session."""
    monkeypatch.chdir(tmp_path)
    name = pg.new_database(template=None)  # empty: MLflow makes its own tables
    url = pg.url(name)
    mlflow_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    _make(mlflow_url, tmp_path)
    done = _mlnb(url, "--to", str(tmp_path / "dst"))
    assert done.returncode == 0, done.stderr
    assert "(MLflow schema " in done.stdout and "runs: 2 new" in done.stdout
    assert_same_as_mlflow(mlflow_url, str(tmp_path / "dst"), tmp_path)
    pg.drop_database(name)


def test_cli_a_store_failing_midway_says_where_and_a_rerun_finishes(sources: dict[str, str],
                                                                     tmp_path: Path) -> None:
    store = Store(resolve(str(tmp_path / "dst")))
    with store.cx.write() as tx:  # the store refuses the child run's metric, as a full disk would
        tx.execute("CREATE TRIGGER refuse BEFORE INSERT ON metric_series "
                   "WHEN NEW.value = 0.5 AND NEW.key = 'loss' "
                   "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    store.close()
    done = _mlnb(sources["files"], "--to", str(tmp_path / "dst"))
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mlnb: error: ") and "refused by the test" in last
    assert last.endswith("The import stopped after 1 of 2 runs; the store holds only whole runs "
                         "and models. Run the same command again to finish it.")
    store = Store(resolve(str(tmp_path / "dst")))
    assert [r[0] for r in store.cx.query("SELECT name FROM runs")] == ["train"]
    with store.cx.write() as tx:
        tx.execute("DROP TRIGGER refuse")
    store.close()
    again = _mlnb(sources["files"], "--to", str(tmp_path / "dst"))
    assert again.returncode == 0, again.stderr
    assert "runs: 1 new, 0 updated, 1 unchanged" in again.stdout


def test_an_mlflow_skops_model_loads_after_import_and_a_changed_file_is_refused(
        sources: dict[str, str], tmp_path: Path) -> None:
    """MLflow 3 saves scikit-learn models as skops files by default: skops vouches for their
    types, and the store's records (and the registry's pins) for their bytes, so they load
    without trusted=True; the MLmodel MLflow wrote lists no hashes of its own."""
    from mlnb.errors import UntrustedModelError

    store = Store(resolve(str(tmp_path / "dst")))
    import_mlflow(open_reader(sources["db"]), store)
    mlnb.set_tracking_uri(str(tmp_path / "dst"))
    run_id = store.cx.query("SELECT run_id FROM runs WHERE name = 'train'")[0][0]
    for uri in ("models:/m@champion", "models:/m/2", f"runs:/{run_id}/model"):
        model = mlnb.pyfunc.load_model(uri)
        assert [round(float(v), 6) for v in model.predict([[3.0]])] == [3.0], uri
    assert [round(c, 6) for c in mlnb.sklearn.load_model("models:/m/1").coef_.tolist()] == [1.0]
    folder = store.artifact_path(run_id, "model")
    (folder / "extra.py").write_text("print('planted')\n")  # a file the store never recorded
    with pytest.raises(UntrustedModelError,
                       match=r"extra\.py in the model .* is not a file the store recorded"):
        mlnb.pyfunc.load_model(f"runs:/{run_id}/model")
    (folder / "extra.py").unlink()
    (folder / "model.skops").write_bytes((folder / "model.skops").read_bytes() + b"x")
    with pytest.raises(UntrustedModelError, match=r"model\.skops of the model .* has changed"):
        mlnb.pyfunc.load_model(f"runs:/{run_id}/model")
    store.close()


def test_an_mlflow_skops_file_with_types_skops_does_not_trust_needs_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A skops file MLflow wrote, uploaded as a run's artifacts: a type skops does not vouch for
    (a function of the user's module) is refused by name, whatever the MLmodel's own
    ``skops_trusted_types`` says; with trusted=True it loads."""
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from mlnb.errors import UntrustedModelError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.sklearn
    (tmp_path / "userfns.py").write_text("def double(x):\n    return x * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from userfns import double  # type: ignore[import-not-found]

    X = np.array([[1.0], [2.0], [3.0]])
    model = make_pipeline(FunctionTransformer(double), LinearRegression()).fit(X, [1.0, 2.0, 3.0])
    mlflow.sklearn.save_model(model, str(tmp_path / "saved"), serialization_format="skops",
                              skops_trusted_types=["userfns.double"])
    mlnb.set_tracking_uri(str(tmp_path / "store"))
    with mlnb.start_run() as run:
        mlnb.log_artifacts(str(tmp_path / "saved"), "model")
    uri = f"runs:/{run.info.run_id}/model"
    with pytest.raises(UntrustedModelError, match=r"skops does not trust \(userfns\.double\)"):
        mlnb.pyfunc.load_model(uri)
    loaded = mlnb.pyfunc.load_model(uri, trusted=True)
    assert [round(float(v), 6) for v in loaded.predict(np.array([[4.0]]))] == [4.0]


def test_a_model_mlflow_logged_outside_a_run_is_imported_as_one(tmp_path: Path) -> None:
    """MLflow 3 logs a model with no run: it comes in as a logged model without a run (its files
    in its own folder), and its registered version with it, loading by name, alias and id."""
    source = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _make(source, tmp_path, "--runless")
    store = Store(resolve(str(tmp_path / "dst")))
    summary = import_mlflow(open_reader(source), store)
    assert (summary.runs, summary.logged_models, summary.versions) == (0, 1, 1)
    assert not [s for s in summary.skipped if "free" in s[0] or "logged model" in s[0]]
    [model] = store.cx.query("SELECT model_id, source_run_id, artifact_path, status FROM "
                             "logged_models")
    assert model[1:] == (None, None, "READY")
    files = {r[0] for r in store.cx.query(
        "SELECT path FROM logged_model_artifacts WHERE model_id = ?", [model[0]])}
    assert {"MLmodel", "model.skops"} <= files
    version = store.get_model_version("free", "1")
    assert (version.source, version.run_id) == (f"models:/{model[0]}", None)
    mlnb.set_tracking_uri(str(tmp_path / "dst"))
    for uri in ("models:/free/1", "models:/free@champion", f"models:/{model[0]}"):
        loaded = mlnb.pyfunc.load_model(uri)
        assert [round(float(v), 6) for v in loaded.predict([[3.0]])] == [3.0], uri
    again = import_mlflow(open_reader(source), store)
    assert (again.copy.logged_models_new, again.copy.versions_new) == (0, 0)
    store.close()


@pytest.mark.parametrize("kind", ["db", "files"])
def test_a_model_deleted_in_mlflow_is_imported_deleted(tmp_path: Path, kind: str) -> None:
    """MLflow 3's soft delete: a deleted logged model comes in deleted (not found by id, not
    searched, its files kept), and one deleted in MLflow after an import is deleted by the next."""
    source = (f"sqlite:///{tmp_path / 'mlflow.db'}" if kind == "db"
              else (tmp_path / "mlruns").as_uri())
    _make(source, tmp_path, "--deleted-models")
    store = Store(resolve(str(tmp_path / "dst")))
    summary = import_mlflow(open_reader(source), store)
    assert summary.logged_models == 3
    assert not [s for s in summary.skipped if "logged model" in s[0]]
    stages = dict(store.cx.query("SELECT name, lifecycle_stage FROM logged_models"))
    assert stages == {"in-run": "deleted", "outside": "deleted", "kept": "active"}
    eid = [e.experiment_id for e in store.search_experiments() if e.name == "gone-models"]
    assert [m.name for m in store.search_logged_models(eid)] == ["kept"]
    gone = {name: mid for mid, name in store.cx.query("SELECT model_id, name FROM logged_models")}
    with pytest.raises(NotFoundError, match="was deleted"):
        store.get_logged_model(gone["outside"])
    files = {r[0] for r in store.cx.query(
        "SELECT path FROM logged_model_artifacts WHERE model_id = ?", [gone["outside"]])}
    assert "MLmodel" in files  # MLflow keeps a deleted model's files; so does the import
    _make(source, tmp_path, "--delete-all-models")
    again = import_mlflow(open_reader(source), store)
    assert again.copy.logged_models_new == 0
    assert store.search_logged_models(eid) == []
    assert dict(store.cx.query("SELECT name, lifecycle_stage FROM logged_models"))["kept"] == \
        "deleted"
    store.close()
