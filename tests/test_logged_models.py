"""MLflow 3's logged models: every log_model gives the model an id (models:/m-<id>) linked to
its run, found by get_logged_model and search_logged_models, loaded and registered by it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import mlnb
from mlnb.errors import (
    InvalidParameterError,
    NotFoundError,
    RunStateError,
    UnsafePathError,
    UntrustedModelError,
)
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
    assert logged.model_uri == info.model_uri == f"models:/{info.model_id}"  # MLflow 3's URI
    assert dict(logged)["artifact_location"] == f"runs:/{run.run_id}/clf"
    loaded = mlnb.sklearn.load_model(info.model_uri)
    assert (loaded.predict(X) == model.predict(X)).all()
    by_run = mlnb.sklearn.load_model(f"runs:/{run.run_id}/clf")  # the run's path still loads
    assert (by_run.predict(X) == model.predict(X)).all()
    version = mlnb.register_model(info.model_uri, "by-id")
    assert (version.run_id, version.source, version.model_id) == (
        run.run_id, info.model_uri, info.model_id)
    assert version.storage_location == f"runs:/{run.run_id}/clf"
    # Registering the run's folder finds the logged model there, as MLflow 3 shows it.
    again = mlnb.register_model(f"runs:/{run.run_id}/clf", "by-id")
    assert (again.source, again.model_id) == (info.model_uri, info.model_id)
    found = mlnb.MlflowClient().search_model_versions(f"source = '{info.model_uri}'")
    assert sorted(v.version for v in found) == ["1", "2"]
    assert (mlnb.pyfunc.load_model("models:/by-id/2").predict(X) == model.predict(X)).all()


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


def test_log_model_outside_a_run_logs_a_model_without_a_run(tracking: Path) -> None:
    model, X = _fit()
    info = mlnb.sklearn.log_model(model, name="solo", registered_model_name="solo-reg")
    assert mlnb.search_runs(output_format="list") == []  # no run was made for it (MLflow 3)
    assert (info.run_id, info.model_uri, info.registered_model_version) == (
        None, f"models:/{info.model_id}", "1")
    logged = mlnb.get_logged_model(info.model_id)
    assert (logged.source_run_id, logged.status, logged.name) == (None, "READY", "solo")
    assert mlnb.last_logged_model() == logged
    store = mlnb.MlflowClient().store
    assert logged.artifact_location == f"{store.artifact_root_uri}/models/{info.model_id}"
    names = [f.path for f in mlnb.MlflowClient().list_logged_model_artifacts(info.model_id)]
    assert "MLmodel" in names and "model.skops" in names
    assert (mlnb.sklearn.load_model(info.model_uri).predict(X) == model.predict(X)).all()
    version = mlnb.MlflowClient().get_model_version("solo-reg", "1")
    assert (version.source, version.run_id, version.model_id) == (info.model_uri, None,
                                                                   info.model_id)
    assert (mlnb.pyfunc.load_model("models:/solo-reg/1").predict(X) == model.predict(X)).all()
    # A finalized model's files cannot change: what the registration pinned stays.
    with pytest.raises(RunStateError, match=f"Logged model {info.model_id} is READY: its files "
                                            "cannot change once it is finalized"):
        store.put_artifact_bytes(info.model_id, "model.skops", b"other bytes")
    folder = store.artifact_path(info.model_id)
    assert folder == store.location.artifact_root.resolve() / "models" / info.model_id
    (folder / "extra.pkl").write_bytes(b"planted")
    with pytest.raises(UntrustedModelError, match=r"extra\.pkl was added to the model folder of "
                                                  r"version 1 of 'solo-reg'"):
        mlnb.pyfunc.load_model("models:/solo-reg/1")


def test_initialize_log_files_finalize_without_a_run(tracking: Path, tmp_path: Path) -> None:
    mlnb.set_experiment("agents")
    model = mlnb.initialize_logged_model(name="agent", params={"temperature": 0.5},
                                         tags={"team": "a"}, model_type="agent")
    assert (model.status, model.source_run_id, model.params, model.model_type) == (
        "PENDING", None, {"temperature": "0.5"}, "agent")
    assert model.experiment_id == mlnb.get_experiment_by_name("agents").experiment_id
    client = mlnb.MlflowClient()
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "prompt.txt").write_text("hello")
    (tmp_path / "src" / "sub" / "cfg.json").write_text("{}")
    client.log_model_artifacts(model.model_id, tmp_path / "src")
    client.log_model_artifact(model.model_id, tmp_path / "src" / "prompt.txt", "copies")
    listed = client.list_logged_model_artifacts(model.model_id)
    assert [(f.path, f.is_dir) for f in listed] == [
        ("copies", True), ("prompt.txt", False), ("sub", True)]
    assert [f.path for f in client.list_logged_model_artifacts(model.model_id, "sub")] == [
        "sub/cfg.json"]
    with pytest.raises(UnsafePathError, match=r"it contains a '\.\.' part"):
        client.log_model_artifact(model.model_id, tmp_path / "src" / "prompt.txt", "../../x")
    done = mlnb.finalize_logged_model(model.model_id, "READY")
    assert done.status == "READY"
    with pytest.raises(RunStateError, match="cannot change once it is finalized"):
        client.log_model_artifact(model.model_id, tmp_path / "src" / "prompt.txt")
    # Not a model mlnb's writer wrote: it has no MLmodel, so it neither loads nor registers.
    with pytest.raises(NotFoundError, match="has no MLmodel"):
        mlnb.register_model(model.model_uri, "agent-reg")
    with pytest.raises(InvalidParameterError, match="'DONE' is not a logged model status"):
        mlnb.finalize_logged_model(model.model_id, "DONE")


def test_a_pending_or_user_written_model_is_not_registered(tracking: Path, tmp_path: Path
                                                           ) -> None:
    model, _ = _fit()
    info = mlnb.sklearn.log_model(model, name="orig")
    pending = mlnb.initialize_logged_model(name="copy")
    with pytest.raises(InvalidParameterError, match="is PENDING: only a READY model can be "
                                                    "registered"):
        mlnb.register_model(pending.model_uri, "x")
    with pytest.raises(NotFoundError, match="is PENDING: its files are not complete"):
        mlnb.pyfunc.load_model(pending.model_uri)
    # Files copied in by hand (a pickle beside an MLmodel) are not the model writer's.
    folder = mlnb.MlflowClient().store.artifact_path(info.model_id)
    mlnb.MlflowClient().log_model_artifacts(pending.model_id, folder)
    mlnb.finalize_logged_model(pending.model_id, "READY")
    with pytest.raises(UntrustedModelError, match=f"models:/{pending.model_id} was not written "
                                                  "by mlnb's model writer"):
        mlnb.register_model(pending.model_uri, "x")


def test_external_and_active_models(tracking: Path) -> None:
    with mlnb.start_run() as run:
        linked = mlnb.create_external_model(name="svc", params={"k": "1"})
    assert (linked.status, linked.source_run_id, linked.tags["mlflow.model.isExternal"]) == (
        "READY", run.run_id, "true")
    assert mlnb.get_active_model_id() is None
    with mlnb.set_active_model(name="agent") as active:  # none of that name: created
        assert mlnb.get_active_model_id() == active.model_id
        mlnb.log_model_params({"alpha": 1})
        mlnb.log_model_params({"alpha": "1"})  # the same value again is fine
        with pytest.raises(InvalidParameterError, match=r"Param 'alpha' of logged model .* is "
                                                        r"already '1'"):
            mlnb.log_model_params({"alpha": 2})
    assert mlnb.get_active_model_id() is None
    again = mlnb.set_active_model(name="agent")
    assert again.model_id == active.model_id  # found by name, not created twice
    mlnb.clear_active_model()
    with pytest.raises(InvalidParameterError, match="no model_id given and no active model"):
        mlnb.log_model_params({"beta": 1})
    mlnb.set_logged_model_tags(active.model_id, {"stage": "dev"})
    mlnb.delete_logged_model_tag(active.model_id, "mlflow.model.isExternal")
    got = mlnb.get_logged_model(active.model_id)
    assert (got.params, got.tags, got.source_run_id) == ({"alpha": "1"}, {"stage": "dev"}, None)
    found = mlnb.search_logged_models(filter_string="params.alpha = '1'", output_format="list")
    assert [m.model_id for m in found] == [active.model_id]
    page = mlnb.MlflowClient().search_logged_models(["0"], max_results=1)
    assert len(page) == 1 and page.token == "1"
    with pytest.raises(InvalidParameterError, match="is named 'agent', not 'other'"):
        mlnb.set_active_model(name="other", model_id=active.model_id)


def test_delete_logged_model_is_mlflows_soft_delete(tracking: Path) -> None:
    model, X = _fit()
    client = mlnb.MlflowClient()
    with mlnb.start_run() as run:
        in_run = mlnb.sklearn.log_model(model, name="clf")
    solo = mlnb.sklearn.log_model(model, name="solo", registered_model_name="solo-reg")
    kept = mlnb.create_external_model(name="kept")
    assert client.delete_logged_model(in_run.model_id) is None
    client.delete_logged_model(solo.model_id)
    client.delete_logged_model(solo.model_id)  # deleting it again changes nothing, as in MLflow
    for info in (in_run, solo):
        gone = f"Logged model '{info.model_id}' was deleted"
        with pytest.raises(NotFoundError, match=gone):
            mlnb.get_logged_model(info.model_id)
        with pytest.raises(NotFoundError, match=gone):
            mlnb.pyfunc.load_model(info.model_uri)
        with pytest.raises(NotFoundError, match=gone):
            mlnb.register_model(info.model_uri, "x")
        with pytest.raises(NotFoundError, match=gone):
            mlnb.set_logged_model_tags(info.model_id, {"k": "v"})
        with pytest.raises(NotFoundError, match=gone):
            mlnb.log_model_params({"k": "v"}, model_id=info.model_id)
    assert [m.model_id for m in mlnb.search_logged_models(output_format="list")] == [
        kept.model_id]
    assert list(mlnb.search_logged_models()["name"]) == ["kept"]
    assert client.search_logged_models(["0"]) == [kept]
    # The row and the files stay (MLflow's soft delete): found when asked for deleted ones too.
    assert client.store.get_logged_model(solo.model_id, allow_deleted=True).name == "solo"
    # A version registered before the deletion still loads, as in MLflow.
    assert (mlnb.pyfunc.load_model("models:/solo-reg/1").predict(X) == model.predict(X)).all()
    by_run = mlnb.sklearn.load_model(f"runs:/{run.run_id}/clf")
    assert (by_run.predict(X) == model.predict(X)).all()
    missing = "m-" + "0" * 32
    with pytest.raises(NotFoundError, match=f"No logged model with id '{missing}'"):
        client.delete_logged_model(missing)
    with pytest.raises(InvalidParameterError, match="'m-1' is not a logged model id"):
        client.delete_logged_model("m-1")


def test_log_model_into_an_existing_logged_model(tracking: Path) -> None:
    model, X = _fit()
    pending = mlnb.initialize_logged_model(name="agent", params={"alpha": "1"}, tags={"t": "v"})
    info = mlnb.sklearn.log_model(model, model_id=pending.model_id)
    got = mlnb.get_logged_model(pending.model_id)
    assert (info.model_id, info.model_uri, info.name) == (
        pending.model_id, f"models:/{pending.model_id}", "agent")
    assert (got.status, got.name, got.params, got.tags, got.source_run_id) == (
        "READY", "agent", {"alpha": "1"}, {"t": "v"}, None)
    assert (mlnb.sklearn.load_model(info.model_uri).predict(X) == model.predict(X)).all()
    assert [m.model_id for m in mlnb.search_logged_models(output_format="list")] == [
        pending.model_id]  # no second model
    # An external model (READY, no files) takes the files and loses its external tag.
    external = mlnb.create_external_model(name="svc")
    done = mlnb.sklearn.log_model(model, name="svc", model_id=external.model_id,
                                  registered_model_name="svc-reg")
    got = mlnb.get_logged_model(external.model_id)
    assert (got.status, got.tags, done.registered_model_version) == ("READY", {}, "1")
    assert (mlnb.pyfunc.load_model("models:/svc-reg/1").predict(X) == model.predict(X)).all()
    # A model initialized in a run keeps its files in that run's artifacts.
    with mlnb.start_run() as run:
        of_run = mlnb.initialize_logged_model(name="of-run")
        mlnb.sklearn.log_model(model, model_id=of_run.model_id)
    got = mlnb.get_logged_model(of_run.model_id)
    assert (got.status, got.source_run_id) == ("READY", run.info.run_id)
    path = f"runs:/{run.info.run_id}/{got.artifact_path}"
    assert (mlnb.sklearn.load_model(path).predict(X) == model.predict(X)).all()


def test_log_model_into_a_model_refuses_what_it_cannot_do(tracking: Path) -> None:
    model, _ = _fit()
    missing = "m-" + "0" * 32
    with pytest.raises(NotFoundError, match=f"No logged model with id '{missing}'"):
        mlnb.sklearn.log_model(model, model_id=missing)
    gone = mlnb.initialize_logged_model(name="gone")
    mlnb.MlflowClient().delete_logged_model(gone.model_id)
    with pytest.raises(NotFoundError, match=f"Logged model '{gone.model_id}' was deleted"):
        mlnb.sklearn.log_model(model, model_id=gone.model_id)  # as MLflow: not found
    full = mlnb.initialize_logged_model(name="full")
    mlnb.sklearn.log_model(model, model_id=full.model_id)
    with pytest.raises(RunStateError, match=f"Logged model {full.model_id} \\('full'\\) already "
                                            "has files"):
        mlnb.sklearn.log_model(model, model_id=full.model_id)
    other = mlnb.initialize_logged_model(name="named")
    with pytest.raises(InvalidParameterError, match="its name stays; drop name='different'"):
        mlnb.sklearn.log_model(model, name="different", model_id=other.model_id)
    assert mlnb.get_logged_model(other.model_id).status == "PENDING"  # untouched
    with pytest.raises(InvalidParameterError, match="is not a logged model id"):
        mlnb.sklearn.log_model(model, model_id="m-1")


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
