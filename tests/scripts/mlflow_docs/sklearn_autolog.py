"""scikit-learn autologging as MLflow's documentation shows it (``mlflow.sklearn.autolog()``,
then plain ``fit`` calls, then ``mlflow.last_active_run()``): a binary classifier, a multiclass
one and a grid search. Run unchanged by real MLflow and by mlnb (tests/test_mlflow_scripts.py).
"""

import json

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

mlflow.set_experiment("docs-autolog")
mlflow.sklearn.autolog()

X, y = load_breast_cancer(return_X_y=True)
binary = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
binary_run = mlflow.last_active_run()

X, y = load_iris(return_X_y=True)
LogisticRegression(max_iter=1000).fit(X, y)
multiclass_run = mlflow.last_active_run()

search = GridSearchCV(SVC(), {"kernel": ("linear", "rbf"), "C": [1, 10]}, cv=3)
search.fit(X, y)
search_run = mlflow.last_active_run()

client = MlflowClient()
children = client.search_runs(
    [search_run.info.experiment_id],
    f"tags.mlflow.parentRunId = '{search_run.info.run_id}'")
print(json.dumps({
    "binary_id": binary_run.info.run_id,
    "multiclass_id": multiclass_run.info.run_id,
    "search_id": search_run.info.run_id,
    "child_ids": {c.data.params["kernel"] + "-" + c.data.params["C"]: c.info.run_id
                  for c in children},
    "multiclass_roc_auc": multiclass_run.data.metrics["training_roc_auc"],
    "binary_artifacts": sorted(f.path for f in client.list_artifacts(binary_run.info.run_id)),
    "search_artifacts": sorted(f.path for f in client.list_artifacts(search_run.info.run_id)),
    "statuses": [r.info.status for r in (binary_run, multiclass_run, search_run)],
}))
