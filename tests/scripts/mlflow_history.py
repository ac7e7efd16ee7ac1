"""Fill an MLflow store (MLFLOW_TRACKING_URI) with real MLflow, for the import tests.

``python mlflow_history.py`` logs a bit of everything: experiments with tags, runs with params,
tags and metric histories (NaN, +inf, -inf), a nested run, datasets the runs used, artifacts in
folders, an MLflow 3 logged model (sklearn) registered twice with a stage, an alias and tags, a
model registered from a run's artifact folder, a deleted run and a deleted experiment.

``python mlflow_history.py --many N --mb M`` logs N plain runs instead, each with a param, a
metric of 50 steps and an artifact of M megabytes (for the interrupted import).

``python mlflow_history.py --runless`` logs an MLflow 3 model outside any run, with params and a
tag, and registers it (with an alias).

``python mlflow_history.py --deleted-models`` logs three MLflow 3 models (one in a run, two
outside) and deletes the one in the run and one outside; ``--delete-all-models`` then deletes
every model left (for an import run again).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import warnings

warnings.simplefilter("ignore")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402


def everything() -> None:
    client = MlflowClient()
    exp = mlflow.set_experiment("exp-a")
    client.set_experiment_tag(exp.experiment_id, "team", "vision")
    work = tempfile.mkdtemp()
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_params({"lr": 0.1, "depth": 3, "note": "ünïcode"})
        mlflow.set_tag("stage", "first")
        client.log_batch(run.info.run_id, metrics=[
            Metric("loss", 1.0 / (i + 1), 1_000 + i, i) for i in range(150)])
        for step, value in enumerate([math.nan, math.inf, -math.inf, 0.5]):
            mlflow.log_metric("odd", value, step=step, timestamp=2_000 + step)
        with open(os.path.join(work, "hello.txt"), "w") as out:
            out.write("hello")
        mlflow.log_artifact(os.path.join(work, "hello.txt"), "notes")
        with open(os.path.join(work, "blob.bin"), "wb") as out:
            out.write(os.urandom(70_000))
        mlflow.log_artifact(os.path.join(work, "blob.bin"), "data/deep")
        # An MLflow 2 style model folder among the run's own artifacts, registered from there.
        os.makedirs(os.path.join(work, "legacy"))
        with open(os.path.join(work, "legacy", "MLmodel"), "w") as out:
            out.write("flavors: {}\n")
        mlflow.log_artifacts(os.path.join(work, "legacy"), "legacy_model")
        from sklearn.linear_model import LinearRegression

        info = mlflow.sklearn.log_model(LinearRegression().fit([[1], [2]], [1, 2]), name="model")
        import numpy as np

        features = np.arange(8.0).reshape(4, 2)
        mlflow.log_input(mlflow.data.from_numpy(features, source="/data/train.npy", name="train"),
                         context="training", tags={"split": "a"})
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_metric("loss", 0.5)
            mlflow.log_input(mlflow.data.from_numpy(features, source="/data/train.npy",
                                                    name="train"), context="eval")
    with mlflow.start_run(run_name="doomed") as doomed:
        mlflow.log_param("x", 1)
    client.delete_run(doomed.info.run_id)
    first = mlflow.register_model(info.model_uri, "m")
    mlflow.register_model(info.model_uri, "m")
    client.transition_model_version_stage("m", first.version, "Staging")
    client.set_registered_model_alias("m", "champion", first.version)
    client.set_registered_model_tag("m", "owner", "ana")
    client.set_model_version_tag("m", first.version, "checked", "yes")
    client.create_registered_model("legacy")
    client.create_model_version("legacy", f"runs:/{run.info.run_id}/legacy_model",
                                run.info.run_id)
    gone = client.create_experiment("gone")
    with mlflow.start_run(experiment_id=gone):
        mlflow.log_param("y", 2)
    client.delete_experiment(gone)


def many(count: int, megabytes: float) -> None:
    client = MlflowClient()
    mlflow.set_experiment("bulk")
    work = tempfile.mkdtemp()
    blob = os.path.join(work, "blob.bin")
    for i in range(count):
        with mlflow.start_run(run_name=f"r{i}") as run:
            client.log_batch(run.info.run_id, params=[], metrics=[
                Metric("m", float(s), 1_000 + s, s) for s in range(50)])
            mlflow.log_param("i", i)
            with open(blob, "wb") as out:
                out.write(os.urandom(int(megabytes * 1_000_000)))
            mlflow.log_artifact(blob)


def runless() -> None:
    from sklearn.linear_model import LinearRegression

    mlflow.set_experiment("free-models")
    info = mlflow.sklearn.log_model(LinearRegression().fit([[1], [2]], [1, 2]), name="free",
                                    params={"fit": "ols"}, tags={"team": "nlp"})
    version = mlflow.register_model(info.model_uri, "free")
    MlflowClient().set_registered_model_alias("free", "champion", version.version)


def deleted_models() -> None:
    from sklearn.linear_model import LinearRegression

    mlflow.set_experiment("gone-models")
    fitted = LinearRegression().fit([[1], [2]], [1, 2])
    with mlflow.start_run():
        in_run = mlflow.sklearn.log_model(fitted, name="in-run")
    outside = mlflow.sklearn.log_model(fitted, name="outside")
    mlflow.sklearn.log_model(fitted, name="kept")
    MlflowClient().delete_logged_model(in_run.model_id)
    MlflowClient().delete_logged_model(outside.model_id)


def delete_all_models() -> None:
    experiment = mlflow.set_experiment("gone-models")
    for model in mlflow.search_logged_models(experiment_ids=[experiment.experiment_id],
                                             output_format="list"):
        MlflowClient().delete_logged_model(model.model_id)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--many", type=int, default=0)
    parser.add_argument("--mb", type=float, default=0.01)
    parser.add_argument("--runless", action="store_true")
    parser.add_argument("--deleted-models", action="store_true")
    parser.add_argument("--delete-all-models", action="store_true")
    args = parser.parse_args()
    if args.deleted_models:
        deleted_models()
    elif args.delete_all_models:
        delete_all_models()
    elif args.runless:
        runless()
    elif args.many:
        many(args.many, args.mb)
    else:
        everything()
