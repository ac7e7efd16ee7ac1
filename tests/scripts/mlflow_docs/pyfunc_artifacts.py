"""A custom ``mlflow.pyfunc.PythonModel`` logged with ``artifacts=`` naming a local file, a local
folder, a run's artifact (``runs:/``) and a registered model (``models:/``), as MLflow's
documentation wraps a logged model. Run unchanged by real MLflow and by mlnb."""

import json
import os
import tempfile

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from sklearn.linear_model import LogisticRegression


class Wrapper(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["vocab"]) as handle:
            self.vocab = handle.read().split()
        self.folder = sorted(os.listdir(context.artifacts["folder"]))
        with open(context.artifacts["file"]) as handle:
            self.threshold = float(handle.read())
        self.inner = sorted(os.listdir(context.artifacts["inner"]))

    def predict(self, context, model_input, params=None):
        return [len(self.vocab) + self.threshold] * len(model_input)


mlflow.set_experiment("docs-pyfunc")
tmp = tempfile.mkdtemp()
with open(os.path.join(tmp, "threshold.txt"), "w") as handle:
    handle.write("0.5")
os.makedirs(os.path.join(tmp, "lookup"))
for name in ("a.json", "b.json"):
    with open(os.path.join(tmp, "lookup", name), "w") as handle:
        handle.write("{}")

with mlflow.start_run(run_name="inner") as inner_run:
    mlflow.log_text("alpha beta gamma", "vocab.txt")
    inner = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    mlflow.sklearn.log_model(inner, name="inner_model", registered_model_name="inner")

with mlflow.start_run(run_name="wrapper") as run:
    info = mlflow.pyfunc.log_model(
        name="wrapper", python_model=Wrapper(),
        artifacts={"vocab": f"runs:/{inner_run.info.run_id}/vocab.txt",
                   "folder": os.path.join(tmp, "lookup"),
                   "file": os.path.join(tmp, "threshold.txt"),
                   "inner": "models:/inner/1"})

loaded = mlflow.pyfunc.load_model(info.model_uri)
python_model = loaded.unwrap_python_model()
print(json.dumps({
    "run_id": run.info.run_id,
    "inner_id": inner_run.info.run_id,
    "predictions": [float(p) for p in loaded.predict([[1.0], [2.0]])],
    "folder": python_model.folder,
    "inner_has_mlmodel": "MLmodel" in python_model.inner,
}))
