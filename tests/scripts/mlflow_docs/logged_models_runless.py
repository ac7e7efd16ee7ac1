"""MLflow 3's logged models without a run, as its documentation shows them: ``log_model``
outside a run records a model and no run; ``initialize_logged_model`` starts a PENDING model
whose params are logged and which ``finalize_logged_model`` makes READY; ``set_active_model``
names the model later calls default to; a model without a run registers and loads by
``models:/``. Run unchanged by real MLflow and by mlnb (tests/test_mlflow_scripts.py)."""

import json

import mlflow
import mlflow.sklearn
from mlflow.entities import LoggedModelStatus
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

experiment = mlflow.set_experiment("docs-runless-models")
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(X, y)

info = mlflow.sklearn.log_model(model, name="outside_a_run")
outside = mlflow.get_logged_model(info.model_id)
runs_after_log = len(mlflow.search_runs(experiment_ids=[experiment.experiment_id],
                                        output_format="list"))

pending = mlflow.initialize_logged_model(name="agent", params={"temperature": "0.2"},
                                         tags={"team": "nlp"})
status_before = str(pending.status).rsplit(".", 1)[-1]
mlflow.log_model_params({"top_k": "5"}, model_id=pending.model_id)
mlflow.finalize_logged_model(pending.model_id, LoggedModelStatus.READY)
ready = mlflow.get_logged_model(pending.model_id)
mlflow.set_active_model(model_id=pending.model_id)
active_is_it = mlflow.get_active_model_id() == pending.model_id

version = mlflow.register_model(f"models:/{info.model_id}", "iris-runless")
loaded = mlflow.sklearn.load_model("models:/iris-runless/1")
found = mlflow.search_logged_models(experiment_ids=[experiment.experiment_id],
                                    order_by=[{"field_name": "name", "ascending": True}],
                                    output_format="list")
print(json.dumps({
    "runs_after_log": runs_after_log,
    "outside_run": outside.source_run_id,
    "outside_status": str(outside.status).rsplit(".", 1)[-1],
    "outside_uri_is_model": info.model_uri == f"models:/{info.model_id}",
    "status_before": status_before,
    "status_after": str(ready.status).rsplit(".", 1)[-1],
    "params": dict(sorted(ready.params.items())),
    "tags": {k: v for k, v in ready.tags.items() if not k.startswith("mlflow.")},
    "active_is_it": active_is_it,
    "version": str(version.version),
    "version_run": version.run_id,
    "version_source_is_model": version.source == f"models:/{info.model_id}",
    "predictions": [int(p) for p in loaded.predict(X.iloc[:5])],
    "found": [m.name for m in found],
}))
