"""``mlnb store copy SRC DST`` (issue 14): everything of a store, into another, on either engine.

Real SQLite files and the real PostgreSQL server of the ``pg`` fixture; every comparison is of
the tables themselves (surrogate ids aside), of artifact bytes, and of models loaded from DST.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pg_server import free_port
from test_models_data import forest

import mlnb
from mlnb.entities import Metric, Param, RunTag
from mlnb.errors import StoreError
from mlnb.store import Store, StoreLocation
from mlnb.store.copy import copy_store
from mlnb.store.location import database_location
from mlnb.tracking import state as tracking_state

ROOT = Path(__file__).resolve().parent.parent

# Each table as compared: every column but the surrogate ids a copy renumbers (and the MAC,
# which is bound to the store's id), rows in a stable order.
DUMP = {
    # (Default is in every store, matched by name: its times are DST's own.)
    "experiments": "SELECT experiment_id, name, lifecycle_stage, CASE WHEN experiment_id = 0 "
                   "THEN 0 ELSE creation_time + last_update_time END FROM experiments "
                   "ORDER BY experiment_id",
    "experiment_tags": "SELECT experiment_id, key, value FROM experiment_tags ORDER BY 1, 2",
    "runs": "SELECT * FROM runs ORDER BY run_id",
    "params": "SELECT * FROM params ORDER BY run_id, key",
    "tags": "SELECT * FROM tags ORDER BY run_id, key",
    "metric_series": "SELECT run_id, key, value, is_nan, step, timestamp FROM metric_series "
                     "ORDER BY run_id, key",
    "metric_chunks": "SELECT s.run_id, s.key, c.points, c.min_step, c.max_step, c.in_step_order, "
                     "c.summary, c.steps, c.timestamps, c.vals FROM metric_chunks c JOIN "
                     "metric_series s ON s.series_id = c.series_id ORDER BY s.run_id, s.key, "
                     "c.chunk_id",
    "metric_tail": "SELECT s.run_id, s.key, t.step, t.timestamp, t.value, t.is_nan FROM "
                   "metric_tail t JOIN metric_series s ON s.series_id = t.series_id "
                   "ORDER BY s.run_id, s.key, t.point_id",
    "artifacts": "SELECT run_id, path, size, sha256, created, origin FROM artifacts "
                 "ORDER BY run_id, path",
    "registered_models": "SELECT * FROM registered_models ORDER BY name",
    "registered_model_tags": "SELECT * FROM registered_model_tags ORDER BY name, key",
    "model_versions": "SELECT * FROM model_versions ORDER BY name, version",
    "model_version_tags": "SELECT * FROM model_version_tags ORDER BY name, version, key",
    "registered_model_aliases": "SELECT * FROM registered_model_aliases ORDER BY name, alias",
    "model_version_files": "SELECT * FROM model_version_files ORDER BY name, version, path",
    "model_registry_events": "SELECT name, version, kind, from_value, to_value, time, user_id "
                             "FROM model_registry_events ORDER BY time, name, kind, version",
    "logged_models": "SELECT * FROM logged_models ORDER BY model_id",
    "logged_model_params": "SELECT * FROM logged_model_params ORDER BY model_id, key",
    "logged_model_tags": "SELECT * FROM logged_model_tags ORDER BY model_id, key",
    "datasets": "SELECT * FROM datasets ORDER BY dataset_id",
    "run_inputs": "SELECT * FROM run_inputs ORDER BY run_id, position",
    "run_input_tags": "SELECT * FROM run_input_tags ORDER BY run_id, dataset_id, key",
    "run_model_inputs": "SELECT * FROM run_model_inputs ORDER BY run_id, position",
}


def dump(store: Store, *, with_ids: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the copy writes (with ``with_ids``: ids and MACs too)."""
    out = {name: [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                  for row in store.cx.query(sql)] for name, sql in DUMP.items()}
    if with_ids:
        out["ids"] = [tuple(r) for r in store.cx.query(
            "SELECT series_id, run_id, key FROM metric_series ORDER BY series_id")]
        out["macs"] = [tuple(r) for r in store.cx.query(
            "SELECT run_id, path, mac FROM artifacts ORDER BY run_id, path")]
        out["events"] = [tuple(r) for r in store.cx.query(
            "SELECT * FROM model_registry_events ORDER BY event_id")]
    return out


def sqlite_store(folder: Path) -> Store:
    return Store(StoreLocation(folder / "mlnb.db", folder / "artifacts"))


@pytest.fixture
def team(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A new, empty team store: PostgreSQL, artifacts in a folder of its own."""
    monkeypatch.setenv("MLNB_ARTIFACT_URI", (tmp_path / "team-artifacts").as_uri())
    store = Store(database_location(pg_url))
    # Recorded in the store now; unset, so the local stores the tests fill keep their own root.
    monkeypatch.delenv("MLNB_ARTIFACT_URI")
    yield store
    store.close()


def fill(folder: Path, tmp_path: Path) -> dict[str, str]:
    """A local store with a bit of everything; returns the ids the tests look at."""
    mlnb.set_tracking_uri(str(folder))
    client = mlnb.MlnbClient()
    exp = mlnb.set_experiment("exp-a")
    client.set_experiment_tag(exp.experiment_id, "team", "vision")
    gone = client.create_experiment("gone")
    client.delete_experiment(gone)
    model, _ = forest()
    with mlnb.start_run(run_name="train") as run:
        mlnb.log_params({"lr": 0.1, "depth": 3})
        mlnb.set_tag("note", "first")
        client.log_batch(run.info.run_id, metrics=[
            Metric("loss", 1.0 / (i + 1), 1_000 + i, i) for i in range(5_000)])
        client.log_batch(run.info.run_id, metrics=[
            Metric("odd", v, 2_000 + i, i)
            for i, v in enumerate([math.nan, math.inf, -math.inf, 0.5])])
        client.log_batch(run.info.run_id, metrics=[Metric("mix", float(i), 3_000, i)
                                                   for i in range(150)])
        for i in range(150, 170):
            mlnb.log_metric("mix", float(i), step=i)
        mlnb.log_text("hello", "notes/hello.txt")
        blob = tmp_path / "blob.bin"
        blob.write_bytes(os.urandom(70_000))
        mlnb.log_artifact(str(blob), "data")
        info = mlnb.sklearn.log_model(model, "model", registered_model_name="m")
        mlnb.log_input(mlnb.data.from_numpy(np.arange(6.0).reshape(3, 2), source="/d.npy"),
                       context="training")
        with mlnb.start_run(run_name="child", nested=True) as child:
            mlnb.log_metric("loss", 0.5)
            mlnb.log_input(mlnb.data.from_numpy(np.arange(6.0).reshape(3, 2), source="/d.npy"),
                           context="eval")
            client.log_inputs(child.info.run_id, models=[info.model_id])
    with mlnb.start_run(run_name="doomed") as doomed:
        mlnb.log_param("x", 1)
    client.delete_run(doomed.info.run_id)
    client.create_model_version("m", info.model_uri, run.info.run_id)
    third = client.create_model_version("m", info.model_uri, run.info.run_id)
    client.delete_model_version("m", third.version)  # a gap, remembered by the history
    client.transition_model_version_stage("m", "1", "Staging")
    client.transition_model_version_stage("m", "1", "Production")
    client.set_registered_model_alias("m", "champion", "2")
    client.set_registered_model_tag("m", "owner", "ana")
    client.set_model_version_tag("m", "1", "checked", "yes")
    tracking_state.reset()
    return {"run": run.info.run_id, "child": child.info.run_id, "doomed": doomed.info.run_id}


def _artifact_bytes(store: Store) -> dict[tuple[str, str], bytes]:
    return {(r, p): store.artifact_path(r, p).read_bytes()
            for r, p in store.cx.query("SELECT run_id, path FROM artifacts")}


def test_round_trip_sqlite_postgresql_sqlite_keeps_every_field(team: Store, tmp_path: Path) -> None:
    ids = fill(tmp_path / "a", tmp_path)
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    first = copy_store(a, team)
    assert (first.runs_new, first.experiments_new, first.versions_new) == (3, 2, 2)
    assert first.inputs_new == 3 and len(dump(a)["datasets"]) == 1
    back = copy_store(team, b)
    assert back.runs_new == 3 and not back.conflicts
    expected = dump(a)
    assert len(expected["metric_chunks"]) >= 3 and expected["metric_tail"]
    for copy in (team, b):
        assert dump(copy) == expected
        assert _artifact_bytes(copy) == _artifact_bytes(a)
        loss = copy.get_metric_history(ids["run"], "loss")
        assert len(loss) == 5_000 and loss[-1].value == 1.0 / 5_000
        odd = [m.value for m in copy.get_metric_history(ids["run"], "odd")]
        assert math.isnan(odd[0]) and odd[1:3] == [math.inf, -math.inf]
        proof = copy.artifact_proof(ids["run"], "model/MLmodel")
        assert proof is not None and proof.signed  # this user's records, signed for DST
    model, X = forest()
    for uri in ("models:/m/1", "models:/m@champion", f"runs:/{ids['run']}/model"):
        mlnb.set_tracking_uri(str(tmp_path / "b"))
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), model.predict(X))
        mlnb.set_tracking_uri(team.location.database_url)
        np.testing.assert_array_equal(mlnb.sklearn.load_model(uri).predict(X), model.predict(X))
    history = [(e.kind, e.from_value, e.to_value) for e in team.get_model_version_history("m", "1")]
    assert ("stage", "None", "Staging") in history and ("stage", "Staging", "Production") in history
    for s in (a, b):
        s.close()


def test_copying_twice_changes_nothing(team: Store, tmp_path: Path) -> None:
    fill(tmp_path / "a", tmp_path)
    a = sqlite_store(tmp_path / "a")
    copy_store(a, team)
    before, moved = dump(team, with_ids=True), team.change_counter()
    again = copy_store(a, team)
    assert (again.runs_new, again.runs_updated, again.runs_unchanged) == (0, 0, 3)
    assert (again.experiments_new, again.versions_new, again.models_new) == (0, 0, 0)
    assert again.artifacts_copied == 0 and again.logged_models_new == 0 and again.inputs_new == 0
    assert dump(team, with_ids=True) == before
    assert team.change_counter() == moved  # not a single write
    a.close()


def test_new_ids_in_postgresql_do_not_collide_with_copied_ones(team: Store, tmp_path: Path) -> None:
    fill(tmp_path / "a", tmp_path)
    a = sqlite_store(tmp_path / "a")
    copy_store(a, team)
    copied = {e.experiment_id for e in team.search_experiments(view_type=3)}
    assert copied == {"0", "1", "2"}  # kept: they were free
    new = team.create_experiment("made-after-the-copy")
    assert int(new) > 2
    a.close()


def test_ids_taken_in_dst_get_the_next_free_ones(tmp_path: Path) -> None:
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    a.create_experiment("mine")  # id 1 in both
    b.create_experiment("theirs")
    copy_store(a, b)
    assert {e.name: e.experiment_id for e in b.search_experiments()} == {
        "Default": "0", "theirs": "1", "mine": "2"}


def _run_with(store: Store, points: int) -> str:
    experiment = store.create_experiment("e")
    run = store.create_run(experiment, run_name="live")
    store.log_batch(run.run_id, metrics=[Metric("loss", float(i), i, i) for i in range(points)],
                    params=[Param("lr", "0.1")])
    return run.run_id


def test_a_run_still_running_in_dst_is_refreshed(tmp_path: Path) -> None:
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    run_id = _run_with(a, 150)
    copy_store(a, b)
    a.log_batch(run_id, metrics=[Metric("loss", float(i), i, i) for i in range(150, 230)],
                tags=[RunTag("phase", "done")])
    a.update_run(run_id, "FINISHED", 10**12)
    summary = copy_store(a, b)
    assert (summary.runs_updated, summary.runs_unchanged, summary.conflicts) == (1, 0, [])
    assert b.get_run(run_id).info.status == "FINISHED"
    assert b.get_run(run_id).data.tags["phase"] == "done"
    assert [m.value for m in b.get_metric_history(run_id, "loss")] == [float(i) for i in range(230)]
    assert copy_store(a, b).runs_unchanged == 1


def test_a_run_that_disagrees_with_dst_is_left_as_dst_has_it(tmp_path: Path) -> None:
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    run_id = _run_with(a, 10)
    a.update_run(run_id, "FINISHED", 10**12)
    copy_store(a, b)
    b.log_batch(run_id, metrics=[Metric("loss", 99.0, 0, 99)])  # DST has a point SRC lacks
    a.log_batch(run_id, params=[Param("new", "1")])
    before = dump(b)
    summary = copy_store(a, b)
    assert summary.conflicts == [(run_id, "metric 'loss' has 11 points in DST, 10 in SRC, and "
                                          "they differ")]
    assert dump(b) == before  # not even the new param


def test_a_failure_midway_leaves_whole_runs_and_a_rerun_completes(team: Store,
                                                                  tmp_path: Path) -> None:
    a = sqlite_store(tmp_path / "a")
    for name in ("one", "boom", "three"):
        experiment = a.get_or_create_experiment("e").experiment_id
        run = a.create_run(experiment, run_name=name)
        a.log_batch(run.run_id, metrics=[Metric("m", 1.0, 0, i) for i in range(300)],
                    params=[Param("p", name)])
        a.put_artifact_bytes(run.run_id, "f.txt", name.encode())
    # DST refuses midway: PostgreSQL itself rejects the last row of the second run.
    team.cx.query("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                  "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$")
    team.cx.query("CREATE TRIGGER refuse_boom BEFORE INSERT ON artifacts FOR EACH ROW "
                  "WHEN (NEW.size = 4) EXECUTE FUNCTION refuse()")  # b"boom": its last statement
    with pytest.raises(StoreError, match="refused by the test"):
        copy_store(a, team)
    names = [r[0] for r in team.cx.query("SELECT name FROM runs ORDER BY name")]
    assert names == ["one"]  # the refused run left nothing: no row, param, point or record
    assert team.cx.query("SELECT count(*) FROM params")[0][0] == 1
    assert team.cx.query("SELECT count(*) FROM metric_series")[0][0] == 1
    assert team.cx.query("SELECT count(*) FROM artifacts")[0][0] == 1
    team.cx.query("DROP TRIGGER refuse_boom ON artifacts")
    summary = copy_store(a, team)
    assert (summary.runs_new, summary.runs_unchanged) == (2, 1)
    assert dump(team) == dump(a)
    a.close()


# --- the command line, through a real subprocess -------------------------------------------


def _mlnb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full.pop("MLNB_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "mlnb", "store", "copy", *args],
                          capture_output=True, text=True, env=full, timeout=300)


def test_cli_copies_with_progress_and_a_summary(team: Store, tmp_path: Path) -> None:
    fill(tmp_path / "a", tmp_path)
    a = sqlite_store(tmp_path / "a")
    _log_predictions(a, "models:/m/1", 0, 12)
    a.close()
    url = team.location.database_url
    assert url is not None and ":s3cret-admin-pw@" in url
    done = _mlnb(str(tmp_path / "a"), url)
    assert done.returncode == 0, done.stderr
    assert "s3cret-admin-pw" not in done.stdout + done.stderr
    assert "Copying " in done.stderr and "runs: 3/3" in done.stderr
    assert "experiments: 3/3" in done.stderr and "registry: 1/1" in done.stderr
    assert "runs: 3 new, 0 updated, 0 unchanged, 0 in conflict" in done.stdout
    assert "registry: 1 new models, 2 new versions" in done.stdout
    assert "predictions: 12/12" in done.stderr
    assert "prediction log: 12 rows, 0 ground-truth records copied" in done.stdout
    again = _mlnb(str(tmp_path / "a"), url)
    assert again.returncode == 0
    assert "runs: 0 new, 0 updated, 3 unchanged, 0 in conflict" in again.stdout
    assert "artifacts: 0 files copied" in again.stdout
    assert "prediction log" not in again.stdout
    pulled = _mlnb(url, str(tmp_path / "pulled"))
    assert pulled.returncode == 0, pulled.stderr
    assert "runs: 3 new" in pulled.stdout


def test_cli_reports_conflicts_with_exit_status_1(tmp_path: Path) -> None:
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    run_id = _run_with(a, 3)
    a.update_run(run_id, "FINISHED", 10**12)
    copy_store(a, b)
    b.cx.query("SELECT 1")
    with b.cx.write() as tx:
        tx.execute("UPDATE params SET value = '0.2' WHERE run_id = ?", [run_id])
    a.close()
    b.close()
    done = _mlnb(str(tmp_path / "a"), str(tmp_path / "b"))
    assert done.returncode == 1, done.stderr
    assert f"{run_id}: param 'lr' is '0.1' in SRC but '0.2' in DST" in done.stdout
    assert "1 runs differ from DST's copy and were left as DST has them" in done.stdout


def test_cli_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    a = sqlite_store(tmp_path / "a")
    a.close()
    missing = _mlnb(str(tmp_path / "nowhere"), str(tmp_path / "b"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("mlnb: error: SRC: there is no mlnb store at")
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "b").exists()
    same = _mlnb(str(tmp_path / "a"), str(tmp_path / "a" / "mlnb.db"))
    assert same.returncode == 2 and "are the same store" in same.stderr
    port = free_port()
    down = _mlnb(str(tmp_path / "a"), f"postgresql://ana:hunter2pw@127.0.0.1:{port}/team")
    assert down.returncode == 2
    assert "mlnb: error: DST: Store postgresql://ana:***@127.0.0.1" in down.stderr
    assert "cannot be reached" in down.stderr
    assert "hunter2pw" not in down.stderr + down.stdout
    assert "Traceback" not in missing.stderr + same.stderr + down.stderr


def test_a_version_number_taken_in_dst_is_renumbered_and_aliases_follow(tmp_path: Path) -> None:
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    for store in (b, a):  # DST's own version 1 comes from another run
        run = store.create_run("0")
        store.create_model_version("m", f"runs:/{run.run_id}/model", create_model=True)
    a.set_registered_model_alias("m", "best", "1")
    first = copy_store(a, b)
    assert first.renumbered == [("m", 1, 2)]
    assert b.get_model_version_by_alias("m", "best").run_id == a.get_model_version("m", 1).run_id
    events = [(e.version, e.kind, e.to_value) for e in b.get_model_version_history("m")]
    assert ("2", "alias:best", "2") in events
    again = copy_store(a, b)
    assert (again.versions_new, again.versions_unchanged, again.renumbered) == (0, 1, [])


def _log_predictions(store: Store, uri: str, start: int, n: int, *,
                     retention: Any = None, sampled_out: int = 0) -> None:
    from mlnb.store.predictions import PredictionRow
    store.append_predictions(uri, "m", "1", [
        PredictionRow(1_000 + i, f"req-{i}", f'{{"x": {i}}}', f"[{i % 2}]", 2.5)
        for i in range(start, start + n)], sampled_out=sampled_out, retention=retention)


def _prediction_log(store: Store, uri: str) -> tuple[list[tuple[Any, ...]], tuple[int, ...]]:
    counts = store.prediction_counts(uri)
    return (store.read_predictions(uri),
            (counts.logged, counts.sampled_out, counts.pruned, counts.kept))


def test_the_prediction_log_is_copied_once_with_its_ground_truth_and_counts(
        team: Store, tmp_path: Path) -> None:
    from mlnb.store.predictions import Retention
    a = sqlite_store(tmp_path / "a")
    _log_predictions(a, "models:/m/1", 0, 30, sampled_out=7)
    _log_predictions(a, "models:/m/1", 30, 10, retention=Retention(max_rows=35))  # prunes 5
    _log_predictions(a, "models:/other@champion", 100, 3)
    a.log_ground_truth(["req-6", "req-101"], ["1", "0"])
    team.log_ground_truth(["req-101"], ["1"])  # DST's own: kept
    first = copy_store(a, team)
    assert (first.predictions_copied, first.ground_truth_copied) == (38, 1)
    rows, counts = _prediction_log(team, "models:/m/1")
    assert counts == (40, 7, 5, 35)  # what SRC counts, and logged - pruned = kept
    assert [r[:6] for r in rows] == [r[:6] for r in a.read_predictions("models:/m/1")]
    assert [r[8] for r in rows if r[1] == "req-6"] == ["1"]
    assert team.read_predictions("models:/other@champion")[1][8] == "1"

    again = copy_store(a, team)
    assert (again.predictions_copied, again.ground_truth_copied) == (0, 0)
    assert _prediction_log(team, "models:/m/1")[1] == (40, 7, 5, 35)

    # SRC logs more and its retention drops rows DST already holds, and some never copied.
    _log_predictions(a, "models:/m/1", 40, 10, retention=Retention(max_rows=20), sampled_out=2)
    later = copy_store(a, team)
    assert later.predictions_copied == 10
    rows, counts = _prediction_log(team, "models:/m/1")
    assert counts == (50, 9, 5, 45) and len(rows) == 45
    a.close()


def test_a_stopped_prediction_log_copy_resumes_without_duplicates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlnb.store import copy_predictions
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    _log_predictions(a, "models:/m/1", 0, 25, sampled_out=4)
    monkeypatch.setattr(copy_predictions, "ROWS_PER_TRANSACTION", 10)

    def stop(done: int, total: int) -> None:
        if done == 20:
            raise StoreError("the disk is full")

    with pytest.raises(StoreError, match="disk is full"):
        copy_predictions.copy_prediction_log(a, b, stop)
    assert _prediction_log(b, "models:/m/1")[1] == (20, 0, 0, 20)  # whole chunks only
    assert copy_predictions.copy_prediction_log(a, b, lambda d, t: None).rows == 5
    assert _prediction_log(b, "models:/m/1") == _prediction_log(a, "models:/m/1")
    a.close()
    b.close()


def test_traces_are_copied_once_whole_and_linked_to_their_runs(team: Store, tmp_path: Path) -> None:
    mlnb.set_tracking_uri(str(tmp_path / "a"))
    mlnb.set_experiment("llm")

    @mlnb.trace(span_type="CHAIN")
    def answer(question: str) -> str:
        with mlnb.start_span("retrieve", span_type="RETRIEVER") as span:
            span.set_outputs(["doc <1>"])
        return question.upper()

    with mlnb.start_run() as run:
        answer("in a run")
    answer("outside")
    mlnb.flush()
    a = sqlite_store(tmp_path / "a")
    tracking_state.reset()
    ids = [str(r[0]) for r in a.cx.query("SELECT trace_id FROM trace_info ORDER BY trace_id")]
    assert len(ids) == 2
    first = copy_store(a, team)
    assert first.traces_copied == 2
    for trace_id in ids:
        mine, theirs = a.get_trace(trace_id), team.get_trace(trace_id)
        assert theirs.spans is not None and len(theirs.spans) == 2
        assert (theirs.run_id, theirs.spans, theirs.metadata, theirs.request_preview) == (
            mine.run_id, mine.spans, mine.metadata, mine.request_preview)
        assert team.get_experiment(theirs.experiment_id).name == "llm"
    assert {a.get_trace(i).run_id for i in ids} == {run.info.run_id, None}
    assert copy_store(a, team).traces_copied == 0
    a.close()


def test_a_deleted_logged_model_is_copied_deleted(tmp_path: Path) -> None:
    mlnb.set_tracking_uri(str(tmp_path / "a"))
    client = mlnb.MlnbClient()
    gone = mlnb.create_external_model(name="gone")
    later = mlnb.create_external_model(name="later")
    client.delete_logged_model(gone.model_id)
    a, b = sqlite_store(tmp_path / "a"), sqlite_store(tmp_path / "b")
    assert copy_store(a, b).logged_models_new == 2
    stage = "SELECT name, lifecycle_stage FROM logged_models ORDER BY name"
    assert b.cx.query(stage) == [("gone", "deleted"), ("later", "active")]
    assert [m.name for m in b.search_logged_models(["0"])] == ["later"]
    client.delete_logged_model(later.model_id)  # deleted after the first copy: the next carries it
    again = copy_store(a, b)
    assert again.logged_models_new == 0
    assert b.cx.query(stage) == [("gone", "deleted"), ("later", "deleted")]
    assert dump(b)["logged_models"] == dump(a)["logged_models"]
    for s in (a, b):
        s.close()
