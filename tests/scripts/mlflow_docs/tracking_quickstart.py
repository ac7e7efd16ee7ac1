"""Tracking as MLflow's documentation shows it (module imports, the client, entities, the
artifacts module, asynchronous logging). Run unchanged by real MLflow and by mlnb
(tests/test_mlflow_scripts.py); prints one JSON line of what it read back."""

import json
import os
import sys
import tempfile

import mlflow
import mlflow.artifacts
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient as TrackingClient

mlflow.set_experiment("docs-quickstart")

with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params({"learning_rate": 0.01, "epochs": 3}, synchronous=True)
    mlflow.log_param("optimizer", "adam", synchronous=True)
    mlflow.set_tags({"team": "research"}, synchronous=True)
    mlflow.set_tag("stage", "dev")
    for epoch in range(3):
        mlflow.log_metrics({"loss": 1.0 / (epoch + 1), "accuracy": 0.5 + 0.1 * epoch}, step=epoch,
                           synchronous=False)
    operations = mlflow.log_metric("final_loss", 0.25, synchronous=False)
    operations.wait()
    mlflow.log_metric("synced", 1.0, step=7, synchronous=True)
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_param("fold", 1)
        mlflow.log_metric("fold_score", 0.8)
    mlflow.log_dict({"layers": [64, 32], "activation": "relu"}, "config/model.json")
    mlflow.log_text("training finished\n", "notes/summary.txt")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "features.txt")
        with open(path, "w") as handle:
            handle.write("a,b,c\n")
        mlflow.log_artifact(path, artifact_path="data")
    mlflow.flush_async_logging()
    artifact_uri = parent.info.artifact_uri

client = MlflowClient()
run_id = parent.info.run_id
client.log_batch(run_id, metrics=[Metric("batch_metric", 2.5, 1700000000000, 3)],
                 params=[Param("batch_param", "x")], tags=[RunTag("batch_tag", "y")],
                 synchronous=True)
client.log_metric(run_id, "client_metric", 4.0, timestamp=1700000000001, step=2)
client.set_tag(run_id, "client_tag", "z")

run = TrackingClient().get_run(run_id)
history = client.get_metric_history(run_id, "loss")
experiments = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)

try:
    client.get_run("0" * 32)
    missing = "found"
except MlflowException as exc:
    missing = exc.error_code

downloaded = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config",
                                                 dst_path=tempfile.mkdtemp())
out = {
    "run_id": run_id,
    "child_id": child.info.run_id,
    "info_keys": sorted(dict(run.info)),
    "info_status": dict(run.info)["status"],
    "run_keys": sorted(dict(run)),
    "metric": {k: v for k, v in dict(history[0]).items() if k != "timestamp"},
    "param": dict(Param("p", "v")),
    "experiment_keys": sorted(dict(experiments[0])),
    "experiments": sorted(e.name for e in experiments),
    "missing": missing,
    "load_dict": mlflow.artifacts.load_dict(artifact_uri + "/config/model.json"),
    "load_text": mlflow.artifacts.load_text(f"runs:/{run_id}/notes/summary.txt"),
    "listed": sorted((f.path, f.is_dir) for f in mlflow.artifacts.list_artifacts(run_id=run_id)),
    "listed_uri": sorted(dict(f)["path"] for f in mlflow.artifacts.list_artifacts(
        artifact_uri=f"runs:/{run_id}/config")),
    "downloaded": sorted(os.listdir(downloaded)),
    "file_info_keys": sorted(dict(client.list_artifacts(run_id, "data")[0])),
    "mlflow_module": type(mlflow).__name__ + ":" + mlflow.__name__,
    "mlflow_modules": sorted({m.__name__.split(".")[0] for n, m in sys.modules.items()
                              if n == "mlflow" or n.startswith("mlflow.")}),
}
print(json.dumps(out))
