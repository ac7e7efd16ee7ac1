"""An MLflow-style session run by the real ``mlflow`` client against a tracking server given by
``MLFLOW_TRACKING_URI`` (and ``MLFLOW_TRACKING_TOKEN``): tracking, nested runs, artifacts,
``log_model``, the registry with stages and aliases, ``load_model`` by alias. The same script
runs against ``mlflow server`` and against mlnb's servers; it prints one JSON line of results.

Usage: python mlflow_client_session.py WORKDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

work = Path(sys.argv[1])
work.mkdir(parents=True, exist_ok=True)
client = MlflowClient()
experiment = mlflow.set_experiment("session")
client.set_experiment_tag(experiment.experiment_id, "team", "ml")

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
y = np.array([0, 0, 1, 1])
with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params({"alpha": 0.5, "layers": 3})
    mlflow.set_tags({"stage": "dev", "owner": "ci"})
    for step in range(20):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.9, "f1": float("nan")}, step=3)
    for index in range(2):
        with mlflow.start_run(run_name=f"child-{index}", nested=True):
            mlflow.log_param("fold", index)
            mlflow.log_metric("fold_loss", 0.1 * index, step=index)
    (work / "notes.txt").write_text("hello from mlflow\n")
    (work / "plots").mkdir(exist_ok=True)
    (work / "plots" / "a.csv").write_text("x,y\n1,2\n")
    mlflow.log_artifact(str(work / "notes.txt"))
    mlflow.log_artifacts(str(work / "plots"), artifact_path="plots")
    mlflow.log_dict({"k": [1, 2]}, "config/settings.json")
    frame = pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1], "label": y})
    train = mlflow.data.from_pandas(frame, source="/data/train.csv", name="train", targets="label")
    mlflow.log_input(train, context="training")
    mlflow.log_metric("train_acc", 0.75, dataset=train)  # a point measured on a run's dataset
    mlflow.log_input(mlflow.data.from_numpy(X, targets=y), context="eval", tags={"fold": "all"})
    model = LogisticRegression().fit(X, y)
    # cloudpickle: a pickle mlnb did not write, which mlnb must load only with trusted=True.
    info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle")

first = mlflow.register_model(info.model_uri, "session-model")
second = mlflow.register_model(info.model_uri, "session-model")
client.transition_model_version_stage("session-model", first.version, "Production")
client.transition_model_version_stage("session-model", second.version, "Staging")
client.set_registered_model_alias("session-model", "champion", second.version)
client.set_registered_model_tag("session-model", "task", "classification")
client.set_model_version_tag("session-model", second.version, "validated", "yes")
client.update_registered_model("session-model", description="the session's model")
client.update_model_version("session-model", first.version, description="first")
loaded = mlflow.pyfunc.load_model("models:/session-model@champion")
prediction = [int(v) for v in loaded.predict(X)]
found = client.search_runs([experiment.experiment_id], "params.fold = '1'")
history = client.get_metric_history(parent.info.run_id, "loss")
print(json.dumps({
    "experiment_id": experiment.experiment_id, "parent": parent.info.run_id,
    "model_id": info.model_id, "prediction": prediction,
    "searched": [r.info.run_name for r in found], "history": len(history),
}))
