"""An MLflow tracking script written the way MLflow's documentation shows, with one line changed:
``import mlnb as mlflow``. Run by tests/test_mlflow_compat.py with MLNB_TRACKING_URI set.
"""

import json
import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import mlnb as mlflow
from mlnb.entities import Metric, Param, RunStatus, RunTag, ViewType

mlflow.set_experiment("mlflow-style")

params = {"learning_rate": 0.01, "epochs": 5, "optimizer": "adam"}
with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params(params)
    mlflow.set_tags({"team": "research", "priority": "high"})
    for lr in (0.1, 0.01):
        with mlflow.start_run(run_name=f"child-lr-{lr}", nested=True) as child:
            mlflow.log_param("lr", lr)
            for epoch in range(params["epochs"]):
                mlflow.log_metrics({"loss": 1.0 / (epoch + 1) * lr * 10, "accuracy": 0.5 + epoch * 0.1},
                                   step=epoch)
            mlflow.set_tag("child", "yes")
    for epoch in range(params["epochs"]):
        mlflow.log_metric("parent_loss", 2.0 - epoch * 0.25, step=epoch)

    mlflow.log_dict({"layers": [64, 32], "activation": "relu"}, "config/model.json")
    mlflow.log_dict({"seed": 42}, "config/extra.yaml")
    mlflow.log_text("training finished\n", "notes/summary.txt")
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [3, 1, 2])
    mlflow.log_figure(fig, "plots/curve.png")
    plt.close(fig)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "features.txt")
        with open(path, "w") as handle:
            handle.write("a,b,c\n")
        mlflow.log_artifact(path)
        mlflow.log_artifact(path, artifact_path="data")
    print("artifact_uri", mlflow.get_artifact_uri())

# Reading back, as the docs show.
runs = mlflow.search_runs(filter_string="params.lr = '0.1'", order_by=["metrics.accuracy DESC"])
print("search_rows", len(runs))
client = mlflow.MlflowClient()
child_id = runs.iloc[0]["run_id"]
history = client.get_metric_history(child_id, "loss")
print("history", [m.step for m in history])

client.log_batch(child_id, metrics=[Metric("extra", 1.5, 0, 0)], params=[Param("extra_p", "x")],
                 tags=[RunTag("extra_t", "y")])
assert client.get_run(parent.info.run_id).info.status == RunStatus.FINISHED
experiments = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
print("experiments", sorted(e.name for e in experiments))

mlflow.start_run(run_name="conflict")
mlflow.log_param("learning_rate", 0.1)
try:
    mlflow.log_param("learning_rate", 0.5)
except mlflow.exceptions.MlflowException as exc:
    print("caught", type(exc).__name__)
finally:
    mlflow.end_run()

try:
    client.get_run("0" * 32)
except mlflow.MlflowException as exc:
    print("caught", exc.error_code)

print(json.dumps({"parent": parent.info.run_id, "child": child_id}))
