"""MLflow 3's logged models as its documentation shows them: ``log_model(name=...)`` returns a
ModelInfo whose ``model_id`` names the model (``models:/<model_id>``), found again with
``mlflow.get_logged_model`` and ``mlflow.search_logged_models``, loaded and registered by that
URI. Run unchanged by real MLflow and by mlnb (tests/test_mlflow_scripts.py)."""

import json

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

mlflow.set_experiment("docs-logged-models")
X, y = load_iris(return_X_y=True, as_frame=True)

with mlflow.start_run(run_name="train") as run:
    model = LogisticRegression(max_iter=500).fit(X, y)
    mlflow.log_metric("accuracy", float(model.score(X, y)))
    model_info = mlflow.sklearn.log_model(model, name="iris_model")

logged = mlflow.get_logged_model(model_info.model_id)
found = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id],
                                    output_format="list")
named = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id],
                                    filter_string="name = 'iris_model'", output_format="list")
loaded = mlflow.pyfunc.load_model(f"models:/{model_info.model_id}")
version = mlflow.register_model(f"models:/{model_info.model_id}", "iris-logged")
by_version = mlflow.sklearn.load_model("models:/iris-logged/1")
print(json.dumps({
    "run_id": run.info.run_id,
    "model_id_form": [model_info.model_id[:2], len(model_info.model_id)],
    "logged_name": logged.name,
    "logged_model_id_same": logged.model_id == model_info.model_id,
    "logged_run_is_the_run": logged.source_run_id == run.info.run_id,
    "logged_status": str(logged.status).rsplit(".", 1)[-1],
    "found_ids": [m.model_id == model_info.model_id for m in found],
    "named": len(named),
    "predictions": [int(p) for p in loaded.predict(X.iloc[:5])],
    "version": str(version.version),
    "version_run_is_the_run": version.run_id == run.info.run_id,
    "by_version": [int(p) for p in by_version.predict(X.iloc[:5])],
}))
