"""A scikit-learn model logged, registered and loaded back as MLflow's documentation shows it
(``import mlflow.sklearn``, ``from mlflow.models import infer_signature``, ``mlflow.pyfunc``).
Run unchanged by real MLflow and by mlnb (tests/test_mlflow_scripts.py)."""

import json

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

mlflow.set_experiment("docs-sklearn")
X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
params = {"C": 0.5, "max_iter": 500, "random_state": 0}

with mlflow.start_run(run_name="logreg") as run:
    model = LogisticRegression(**params).fit(X_train, y_train)
    mlflow.log_params(params)
    mlflow.log_metric("accuracy", float(model.score(X_test, y_test)))
    signature = infer_signature(X_train, model.predict(X_train))
    model_info = mlflow.sklearn.log_model(model, name="model", signature=signature,
                                          input_example=X_train.iloc[:3])

version = mlflow.register_model(model_info.model_uri, "iris-classifier")
client = MlflowClient()
client.set_registered_model_alias("iris-classifier", "champion", version.version)
loaded = mlflow.pyfunc.load_model("models:/iris-classifier@champion")
predictions = loaded.predict(X_test.iloc[:5])
sk_loaded = mlflow.sklearn.load_model(model_info.model_uri)

registered = client.get_registered_model("iris-classifier")
mv = client.get_model_version("iris-classifier", version.version)
print(json.dumps({
    "run_id": run.info.run_id,
    "predictions": [int(p) for p in predictions],
    "sk_predictions": [int(p) for p in sk_loaded.predict(X_test.iloc[:5])],
    "registered_keys": sorted(dict(registered)),
    "registered_aliases": dict(registered)["aliases"],
    "version_keys": sorted(dict(mv)),
    "version": str(dict(mv)["version"]),
    "version_run_id": dict(mv)["run_id"],
    "signature_inputs": signature.inputs.input_names(),
}))
