"""MLflow 3's logged models: every log_model gives the model an id (models:/m-<id>) linked to
its run, found by get_logged_model and search_logged_models, loaded and registered by it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import mlnb
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import Store, StoreLocation

pytestmark = pytest.mark.both_backends


def _fit() -> tuple[LogisticRegression, object]:
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=300).fit(X, y), X


def test_log_model_names_a_logged_model_of_its_run(tracking: Path) -> None:
    model, X = _fit()
    with mlnb.start_run() as run:
        info = mlnb.sklearn.log_model(model, name="clf")
    assert info.model_id is not None and info.model_id.startswith("m-")
    assert len(info.model_id) == 34 and info.name == "clf"
    logged = mlnb.get_logged_model(info.model_id)
    assert (logged.source_run_id, logged.artifact_path, logged.status, logged.name) == (
        run.run_id, "clf", "READY", "clf")
    assert logged.model_uri == f"models:/{info.model_id}"
    assert dict(logged)["artifact_location"] == f"runs:/{run.run_id}/clf"
    loaded = mlnb.sklearn.load_model(f"models:/{info.model_id}")
    assert (loaded.predict(X) == model.predict(X)).all()
    version = mlnb.register_model(f"models:/{info.model_id}", "by-id")
    assert (version.run_id, version.source) == (run.run_id, f"runs:/{run.run_id}/clf")


def test_search_logged_models_filters_and_orders(tracking: Path) -> None:
    model, _ = _fit()
    with mlnb.start_run():
        first = mlnb.sklearn.log_model(model, name="a")
        second = mlnb.sklearn.log_model(model, name="b")
    found = mlnb.search_logged_models(output_format="list")
    assert [m.model_id for m in found] == [second.model_id, first.model_id]  # newest first
    named = mlnb.search_logged_models(filter_string="name = 'a'", output_format="list")
    assert [m.model_id for m in named] == [first.model_id]
    oldest = mlnb.search_logged_models(
        order_by=[{"field_name": "creation_timestamp", "ascending": True}], output_format="list",
        max_results=1)
    assert [m.model_id for m in oldest] == [first.model_id]
    frame = mlnb.search_logged_models()
    assert list(frame["model_id"]) == [second.model_id, first.model_id]
    assert list(frame["model_uri"]) == [f"models:/{second.model_id}", f"models:/{first.model_id}"]


def test_bad_and_unknown_ids_are_clear_errors(tracking: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'m-12' is not a logged model id"):
        mlnb.get_logged_model("m-12")
    missing = "m-" + "0" * 32
    with pytest.raises(NotFoundError, match=f"No logged model with id '{missing}'"):
        mlnb.pyfunc.load_model(f"models:/{missing}")
    with pytest.raises(NotFoundError, match=f"No logged model with id '{missing}'"):
        mlnb.register_model(f"models:/{missing}", "x")
    with pytest.raises(InvalidParameterError, match=r"datasets=\.\.\.\) is not supported"):
        mlnb.search_logged_models(datasets=[object()])


@pytest.mark.sqlite_only
def test_migration_0008_is_last_and_recorded(store: Store, store_dir: Path) -> None:
    from mlnb.store import schema

    names = [m.name for m in schema.migrations._migrations]
    assert names[names.index("0008_logged_models") + 1] == "0009_prediction_log"
    rows = store.cx.query("SELECT name FROM _sqlite_migrations WHERE name = ?",
                          ["0008_logged_models"])
    assert rows == [("0008_logged_models",)]
    again = Store(StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts"))
    again.close()  # reopening applies nothing twice
