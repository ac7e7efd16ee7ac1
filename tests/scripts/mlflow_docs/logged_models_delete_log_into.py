"""MLflow 3's ``MlflowClient.delete_logged_model``: a deleted model is no longer found by id,
searched or loaded; a version registered before stays and loads. And ``log_model(...,
model_id=...)``: a model's files logged into a model ``initialize_logged_model`` or
``create_external_model`` made, which becomes READY and keeps its name and params. Run unchanged
by real MLflow and by mlnb (tests/test_mlflow_scripts.py)."""

import json

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

experiment = mlflow.set_experiment("docs-delete-models")
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(X, y)
client = MlflowClient()

with mlflow.start_run():
    in_run = mlflow.sklearn.log_model(model, name="in_run")
outside = mlflow.sklearn.log_model(model, name="outside")
kept = mlflow.initialize_logged_model(name="kept")
version = mlflow.register_model(f"models:/{outside.model_id}", "iris-deleted")
client.delete_logged_model(in_run.model_id)
client.delete_logged_model(outside.model_id)
client.delete_logged_model(outside.model_id)  # again


def outcome(call):
    """What a call gives: 'ok', or the MLflow error code it raised."""
    try:
        call()
        return "ok"
    except MlflowException as exc:
        return exc.error_code


pending = mlflow.initialize_logged_model(name="agent", params={"alpha": "0.5"})
into = mlflow.sklearn.log_model(model, model_id=pending.model_id)
agent = mlflow.get_logged_model(pending.model_id)
external = mlflow.create_external_model(name="service")
into_external = mlflow.sklearn.log_model(model, model_id=external.model_id)
service = mlflow.get_logged_model(external.model_id)
gone = mlflow.initialize_logged_model(name="gone")
client.delete_logged_model(gone.model_id)

found = mlflow.search_logged_models(experiment_ids=[experiment.experiment_id],
                                    output_format="list")
print(json.dumps({
    "get_deleted": outcome(lambda: mlflow.get_logged_model(outside.model_id)),
    "get_deleted_in_run": outcome(lambda: client.get_logged_model(in_run.model_id)),
    "found": sorted(m.name for m in found),
    "found_frame": sorted(mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id])["name"]),
    "load_deleted": outcome(lambda: mlflow.sklearn.load_model(f"models:/{outside.model_id}")),
    "version_loads": len(mlflow.sklearn.load_model("models:/iris-deleted/1").predict(X)),
    "version_source_is_model": version.source == f"models:/{outside.model_id}",
    "delete_unknown": outcome(lambda: client.delete_logged_model("m-" + "0" * 32)),
    "into_same_id": into.model_id == pending.model_id,
    "into_uri": into.model_uri == f"models:/{pending.model_id}",
    "into_status": str(agent.status).rsplit(".", 1)[-1],
    "into_name": agent.name,
    "into_params": agent.params,
    "into_loads": len(mlflow.sklearn.load_model(into.model_uri).predict(X)),
    "external_same_id": into_external.model_id == external.model_id,
    "external_status": str(service.status).rsplit(".", 1)[-1],
    "external_tags": {k: v for k, v in service.tags.items()  # each tool's own left out
                      if not k.startswith("mlflow.") or k == "mlflow.model.isExternal"},
    "external_loads": len(mlflow.pyfunc.load_model(into_external.model_uri).predict(X)),
    "into_deleted": outcome(lambda: mlflow.sklearn.log_model(model, model_id=gone.model_id)),
    "into_unknown": outcome(lambda: mlflow.sklearn.log_model(model, model_id="m-" + "1" * 32)),
    "kept_status": str(client.get_logged_model(kept.model_id).status).rsplit(".", 1)[-1],
}, sort_keys=True))
