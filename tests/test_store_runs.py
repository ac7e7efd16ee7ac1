"""Runs in the store: their life, the log_batch primitive, its limits and the metric reads."""

from __future__ import annotations

import decimal
import math

import numpy as np
import pytest
from pg_server import SUPERUSER

from mlnb.entities import Metric, Param, RunTag, ViewType
from mlnb.errors import (
    InvalidParameterError,
    NotFoundError,
    ParamConflictError,
    RunStateError,
)
from mlnb.store import Store

pytestmark = pytest.mark.both_backends


def _counts(store: Store, run_id: str) -> tuple[int, int, int]:
    params, tags = (store.cx.query(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id])[0][0]
                    for table in ("params", "tags"))
    return store.count_points(run_id), params, tags


# --- the run's life -------------------------------------------------------------------------


def test_create_run_records_name_tags_and_owner(store: Store, backend: str) -> None:
    info = store.create_run("0", run_name="first", tags={"team": "a"}, user_id="ann",
                            start_time=1234)
    assert (info.run_name, info.status, info.start_time, info.user_id) == (
        "first", "RUNNING", 1234, "ann")
    assert info.end_time is None
    assert info.artifact_uri.endswith(f"/artifacts/{info.run_id}")
    run = store.get_run(info.run_id)
    # On PostgreSQL, also the database role that made it (the login, user_id, could be anyone).
    role = {} if backend == "sqlite" else {"mlnb.db_user": SUPERUSER}
    assert run.data.tags == {"mlflow.runName": "first", "team": "a", **role}
    assert store.cx.query("SELECT pid FROM runs WHERE run_id = ?", [info.run_id])[0][0] > 0


def test_create_run_without_name_gets_a_readable_one(store: Store) -> None:
    name = store.create_run("0").run_name
    assert len(name.split("-")) == 3


def test_create_run_bad_tag_creates_nothing(store: Store) -> None:
    with pytest.raises(InvalidParameterError, match=r"'bad..'|must not look like a path|not allowed"):
        store.create_run("0", tags={"ok": "1", "a/../b": "x"})
    assert store.cx.query("SELECT count(*) FROM runs")[0][0] == 0


def test_child_run_records_parent(store: Store) -> None:
    parent = store.create_run("0").run_id
    child = store.create_run("0", parent_run_id=parent).run_id
    assert store.get_run(child).data.tags["mlflow.parentRunId"] == parent
    assert store.child_run_ids(parent) == [child]
    with pytest.raises(NotFoundError):
        store.create_run("0", parent_run_id="f" * 32)


def test_create_run_in_unknown_experiment(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'42'"):
        store.create_run("42")


def test_update_run_status_end_time_and_name(store: Store) -> None:
    run_id = store.create_run("0", run_name="a").run_id
    info = store.update_run(run_id, status="FINISHED")
    assert info.status == "FINISHED" and info.end_time is not None
    info = store.update_run(run_id, run_name="b")
    assert info.run_name == "b"
    assert store.get_run(run_id).data.tags["mlflow.runName"] == "b"
    with pytest.raises(InvalidParameterError, match="'DONE' is not a run status"):
        store.update_run(run_id, status="DONE")
    with pytest.raises(NotFoundError):
        store.update_run("0" * 32, status="FINISHED")


def test_resume_makes_run_running_again(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.update_run(run_id, status="FAILED")
    store.resume_run(run_id)
    info = store.get_run_info(run_id)
    assert info.status == "RUNNING" and info.end_time is None


def test_delete_and_restore_run_keeps_data(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("p", "1")])
    store.set_run_lifecycle(run_id, "deleted")
    assert store.get_run_info(run_id).lifecycle_stage == "deleted"
    assert store.search_runs(["0"]) == []
    assert [r.info.run_id for r in store.search_runs(["0"], view_type=ViewType.DELETED_ONLY)] == [
        run_id]
    with pytest.raises(RunStateError, match="deleted"):
        store.log_batch(run_id, params=[Param("q", "2")])
    store.set_run_lifecycle(run_id, "active")
    run = store.get_run(run_id)
    assert run.data.metrics == {"m": 1.0} and run.data.params == {"p": "1"}


def test_delete_tag(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, tags=[RunTag("t", "v")])
    store.delete_tag(run_id, "t")
    assert "t" not in store.get_run(run_id).data.tags
    with pytest.raises(NotFoundError, match="'t'"):
        store.delete_tag(run_id, "t")


# --- log_batch: all or nothing --------------------------------------------------------------


def test_batch_with_one_bad_metric_writes_nothing(store: Store) -> None:
    run_id = store.create_run("0").run_id
    before = _counts(store, run_id)
    good = [Metric("loss", 0.1 * i, 1, i) for i in range(50)]
    with pytest.raises(TypeError, match="'acc'"):
        store.log_batch(run_id, metrics=[*good, Metric("acc", "high", 1, 0)],  # type: ignore[arg-type]
                        params=[Param("lr", "0.1")], tags=[RunTag("t", "x")])
    assert _counts(store, run_id) == before


def test_batch_with_param_conflict_writes_nothing(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, params=[Param("lr", "0.1")])
    before = _counts(store, run_id)
    with pytest.raises(ParamConflictError, match=r"'lr'.*'0.1'.*'0.2'"):
        store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)],
                        params=[Param("new", "1"), Param("lr", "0.2")], tags=[RunTag("t", "x")])
    assert _counts(store, run_id) == before
    assert store.get_run(run_id).data.params == {"lr": "0.1"}


def test_same_param_twice_in_one_batch(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, params=[Param("a", "1"), Param("a", "1")])
    with pytest.raises(ParamConflictError, match="twice"):
        store.log_batch(run_id, params=[Param("b", "1"), Param("b", "2")])
    assert store.get_run(run_id).data.params == {"a": "1"}


def test_param_values_are_text(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, params=[Param("n", 3), Param("f", 0.5), Param("b", True),  # type: ignore[arg-type]
                                    Param("nan", math.nan)])  # type: ignore[arg-type]
    assert store.get_run(run_id).data.params == {"n": "3", "f": "0.5", "b": "True", "nan": "nan"}


def test_log_to_unknown_run(store: Store) -> None:
    with pytest.raises(NotFoundError, match="No run"):
        store.log_batch("a" * 32, params=[Param("x", "1")])


# --- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("k" * 251, "251 characters"),
        ("", "empty"),
        ("..", "path"),
        ("a/../b", "path"),
        ("../x", "path"),
        ("/abs", "path"),
        ("bad\x00key", "not allowed"),
        ("line\nbreak", "not allowed"),
        ("tab\tkey", "not allowed"),
        ("evil\u202etxt.exe", "not allowed"),
        ("zero\u200bwidth", "not allowed"),
        ("semi;colon", "not allowed"),
        ("quote'key", "not allowed"),
    ],
)
@pytest.mark.parametrize("kind", ["metric", "param", "tag"])
def test_bad_keys_are_refused_naming_the_key(store: Store, key: str, why: str, kind: str) -> None:
    run_id = store.create_run("0").run_id
    before = _counts(store, run_id)
    batch = {"metric": {"metrics": [Metric(key, 1.0, 1, 0)]},
             "param": {"params": [Param(key, "v")]},
             "tag": {"tags": [RunTag(key, "v")]}}[kind]
    with pytest.raises(InvalidParameterError) as err:
        store.log_batch(run_id, **batch)  # type: ignore[arg-type]
    message = str(err.value)
    assert why in message
    assert kind.capitalize() in message
    if key and len(key) < 250:
        assert repr(key) in message
    assert _counts(store, run_id) == before


def test_non_text_key_is_refused(store: Store) -> None:
    run_id = store.create_run("0").run_id
    with pytest.raises(InvalidParameterError, match="must be text"):
        store.log_batch(run_id, params=[Param(7, "v")])  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["точность", "精度", "acc@k".replace("@", "_"), "val/loss", "a b:c-d.e",
                                 "k" * 250, "ñandú"])
def test_valid_unicode_keys_are_accepted(store: Store, key: str) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, metrics=[Metric(key, 0.5, 1, 0)], params=[Param(key, "v")],
                    tags=[RunTag(key, "v")])
    run = store.get_run(run_id)
    assert run.data.metrics[key] == 0.5 and run.data.params[key] == "v" and run.data.tags[key] == "v"


def test_param_value_limit(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, params=[Param("ok", "x" * 6000)])
    with pytest.raises(InvalidParameterError, match=r"'big' is 6001 characters.*6000"):
        store.log_batch(run_id, params=[Param("big", "x" * 6001)])
    with pytest.raises(InvalidParameterError, match="'huge'"):
        store.log_batch(run_id, params=[Param("huge", "x" * 1_000_000)])
    assert list(store.get_run(run_id).data.params) == ["ok"]


def test_tag_value_limit(store: Store) -> None:
    run_id = store.create_run("0").run_id
    with pytest.raises(InvalidParameterError, match="'t' is 8001"):
        store.log_batch(run_id, tags=[RunTag("t", "x" * 8001)])


@pytest.mark.parametrize(
    ("kind", "count", "limit"),
    [("metrics", 10_001, 10_000), ("params", 1_001, 1_000), ("tags", 1_001, 1_000)],
)
def test_batch_size_limits(store: Store, kind: str, count: int, limit: int) -> None:
    run_id = store.create_run("0").run_id
    before = _counts(store, run_id)
    items = {"metrics": lambda i: Metric(f"m{i % 10}", 1.0, 1, i),
             "params": lambda i: Param(f"p{i}", "v"), "tags": lambda i: RunTag(f"t{i}", "v")}[kind]
    with pytest.raises(InvalidParameterError, match=f"at most {limit} {kind}.*{count}"):
        store.log_batch(run_id, **{kind: [items(i) for i in range(count)]})  # type: ignore[arg-type]
    assert _counts(store, run_id) == before
    store.log_batch(run_id, **{kind: [items(i) for i in range(limit)]})  # type: ignore[arg-type]


# --- metric values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float32(0.5), 0.5),
        (np.int64(3), 3.0),
        (np.array(2.5), 2.5),
        (decimal.Decimal("1.25"), 1.25),
        (True, 1.0),
        (False, 0.0),
        (7, 7.0),
    ],
)
def test_metric_values_are_coerced(store: Store, value: object, expected: float) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, metrics=[Metric("m", value, 1, 0)])  # type: ignore[arg-type]
    assert store.get_metric_history(run_id, "m")[0].value == expected
    assert type(store.get_run(run_id).data.metrics["m"]) is float


@pytest.mark.parametrize("value", ["0.5", None, [1.0], [1.0, 2.0], b"1", {"a": 1}, np.array([1.0, 2.0]),
                                   1 + 2j])
def test_non_numbers_raise_type_error_naming_the_key(store: Store, value: object) -> None:
    run_id = store.create_run("0").run_id
    with pytest.raises(TypeError, match="'val_loss'"):
        store.log_batch(run_id, metrics=[Metric("val_loss", value, 1, 0)])  # type: ignore[arg-type]
    assert _counts(store, run_id)[0] == 0


def test_bad_step_is_refused(store: Store) -> None:
    run_id = store.create_run("0").run_id
    with pytest.raises(InvalidParameterError, match=r"'m'.*step"):
        store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, "first")])  # type: ignore[arg-type]


def test_nan_and_infinities_round_trip_in_latest_and_history(store: Store) -> None:
    run_id = store.create_run("0").run_id
    for key, value in (("nan", math.nan), ("pinf", math.inf), ("ninf", -math.inf)):
        store.log_batch(run_id, metrics=[Metric(key, 1.0, 1, 0), Metric(key, value, 2, 1)])
    metrics = store.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf
    history = store.get_metric_history(run_id, "nan")
    assert history[0].value == 1.0 and math.isnan(history[1].value)


# --- metric reads ---------------------------------------------------------------------------


def test_latest_metric_is_highest_step_not_last_logged(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, metrics=[Metric("m", 5.0, 100, 5)])
    store.log_batch(run_id, metrics=[Metric("m", 1.0, 200, 1)])  # late, but an earlier step
    assert store.get_run(run_id).data.metrics["m"] == 5.0
    store.log_batch(run_id, metrics=[Metric("m", 6.0, 300, 6), Metric("m", 2.0, 300, 2)])
    assert store.get_run(run_id).data.metrics["m"] == 6.0


def test_get_metric_history_ordered_by_step(store: Store) -> None:
    run_id = store.create_run("0").run_id
    store.log_batch(run_id, metrics=[Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in (3, 1, 2, 0)])
    history = store.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert [m.timestamp for m in history] == [1000, 1001, 1002, 1003]
    assert store.get_metric_history(run_id, "absent") == []
    with pytest.raises(NotFoundError):
        store.get_metric_history("b" * 32, "loss")


def test_metric_histories_bulk(store: Store) -> None:
    runs = [store.create_run("0").run_id for _ in range(3)]
    for i, run_id in enumerate(runs):
        store.log_batch(run_id, metrics=[Metric("a", float(i + s), 1, s) for s in range(4)]
                        + [Metric("b", -1.0, 1, 0)])
    all_keys = store.metric_histories(runs)
    assert set(all_keys) == set(runs)
    assert [m.value for m in all_keys[runs[2]]["a"]] == [2.0, 3.0, 4.0, 5.0]
    assert set(all_keys[runs[0]]) == {"a", "b"}
    only_b = store.metric_histories(runs[:2], keys=["b"])
    assert only_b == {r: {"b": [store.get_metric_history(r, "b")[0]]} for r in runs[:2]}
    assert store.metric_keys(runs) == ["a", "b"]


def test_metric_histories_many_runs_are_chunked(store: Store) -> None:
    runs = [store.create_run("0").run_id for _ in range(620)]
    for run_id in runs:
        store.log_batch(run_id, metrics=[Metric("x", 1.0, 1, 0)])
    out = store.metric_histories(runs, keys=["x"])
    assert len(out) == 620 and all(len(v["x"]) == 1 for v in out.values())
    assert len(store.search_runs(["0"], max_results=1000)) == 620


# --- search paging --------------------------------------------------------------------------


def test_search_runs_offset_paging_is_stable(store: Store) -> None:
    ids = [store.create_run("0", run_name=f"r{i}", start_time=1000 + i // 2).run_id for i in range(25)]
    seen: list[str] = []
    offset = 0
    while True:
        page = store.search_runs(["0"], max_results=7, offset=offset)
        seen += [r.info.run_id for r in page]
        offset += len(page)
        if len(page) < 7:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen)) == 25
    assert store.count_runs(["0"]) == 25


@pytest.mark.parametrize("bad", [0, -1, 50_001, "10"])
def test_search_runs_bad_max_results(store: Store, bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="max_results"):
        store.search_runs(["0"], max_results=bad)  # type: ignore[arg-type]
