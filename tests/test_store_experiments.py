"""Experiments in the store: create, get, duplicate names, rename, tags, delete and restore."""

from __future__ import annotations

import pytest

from mlnb.entities import ViewType
from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError, RunStateError
from mlnb.store import Store

pytestmark = pytest.mark.both_backends


def test_create_and_get_by_id_and_name(store: Store) -> None:
    eid = store.create_experiment("churn", tags={"team": "ml"})
    by_id = store.get_experiment(eid)
    by_name = store.get_experiment_by_name("churn")
    assert by_id == by_name
    assert by_id.name == "churn"
    assert by_id.tags == {"team": "ml"}
    assert by_id.lifecycle_stage == "active"
    assert by_id.artifact_location.startswith("file://")
    assert store.get_experiment_by_name("nope") is None


def test_default_experiment_exists(store: Store) -> None:
    assert store.get_experiment("0").name == "Default"


def test_duplicate_name_is_refused(store: Store) -> None:
    store.create_experiment("churn")
    with pytest.raises(AlreadyExistsError, match="'churn' already exists"):
        store.create_experiment("churn")


def test_duplicate_of_deleted_name_says_restore(store: Store) -> None:
    eid = store.create_experiment("old")
    store.set_experiment_lifecycle(eid, "deleted")
    with pytest.raises(AlreadyExistsError, match="deleted"):
        store.create_experiment("old")


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 501, "bad\x00name"])
def test_bad_names_are_refused(store: Store, name: object) -> None:
    with pytest.raises(InvalidParameterError):
        store.create_experiment(name)  # type: ignore[arg-type]


def test_unknown_ids(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'999'"):
        store.get_experiment("999")
    with pytest.raises(NotFoundError, match="'abc'"):
        store.get_experiment("abc")


def test_delete_and_restore_cascade_to_runs(store: Store) -> None:
    eid = store.create_experiment("e")
    runs = [store.create_run(eid).run_id for _ in range(3)]
    store.set_experiment_lifecycle(eid, "deleted")
    assert store.get_experiment(eid).lifecycle_stage == "deleted"
    assert all(store.get_run_info(r).lifecycle_stage == "deleted" for r in runs)
    assert store.search_runs([eid]) == []
    assert len(store.search_runs([eid], view_type=ViewType.DELETED_ONLY)) == 3
    assert [e.name for e in store.search_experiments()] == ["Default"]
    with pytest.raises(RunStateError, match="deleted"):
        store.create_run(eid)
    store.set_experiment_lifecycle(eid, "active")
    assert all(store.get_run_info(r).lifecycle_stage == "active" for r in runs)
    assert len(store.search_runs([eid])) == 3


def test_default_experiment_cannot_be_deleted(store: Store) -> None:
    with pytest.raises(InvalidParameterError, match="Default"):
        store.set_experiment_lifecycle("0", "deleted")


def test_rename(store: Store) -> None:
    eid = store.create_experiment("a")
    store.create_experiment("taken")
    store.rename_experiment(eid, "b")
    assert store.get_experiment(eid).name == "b"
    assert store.get_experiment_by_name("a") is None
    with pytest.raises(AlreadyExistsError):
        store.rename_experiment(eid, "taken")
    assert store.get_experiment(eid).name == "b"


def test_experiment_tags_set_and_overwrite(store: Store) -> None:
    eid = store.create_experiment("e")
    store.set_experiment_tag(eid, "owner", "ann")
    store.set_experiment_tag(eid, "owner", "bob")
    store.set_experiment_tag(eid, "stage", 3)
    assert store.get_experiment(eid).tags == {"owner": "bob", "stage": "3"}
    with pytest.raises(InvalidParameterError, match="empty"):
        store.set_experiment_tag(eid, "", "x")


def test_search_experiments_filter_and_order(store: Store) -> None:
    for name in ("beta", "alpha", "gamma"):
        store.create_experiment(name, tags={"kind": "cv" if name != "beta" else "nlp"})
    names = [e.name for e in store.search_experiments(order_by=["name ASC"])]
    assert names == ["Default", "alpha", "beta", "gamma"]
    found = store.search_experiments(filter_string="tags.kind = 'cv'", order_by=["name DESC"])
    assert [e.name for e in found] == ["gamma", "alpha"]
    assert [e.name for e in store.search_experiments(filter_string="name LIKE 'al%'")] == ["alpha"]
    assert len(store.search_experiments(max_results=2)) == 2
