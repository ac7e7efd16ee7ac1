"""Write notebooks/quickstart.ipynb (without outputs): ``python tests/scripts/make_quickstart_notebook.py``.

The notebook is generated so that its JSON is always well formed; edit the cells here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"

CELLS: list[tuple[str, str]] = [
    ("md", """# mlnb quickstart

mlnb tracks experiments the way MLflow does — same function names — in a local SQLite store
(`.mlnb/` next to your notebook, or wherever `MLNB_TRACKING_URI` points). Nothing leaves
your machine."""),
    ("code", """import mlnb

print("store:", mlnb.get_tracking_uri())
experiment = mlnb.set_experiment("quickstart")
experiment.name, experiment.experiment_id"""),
    ("md", """## Runs with params and metrics

Each `with mlnb.start_run()` block is one run: it ends FINISHED, or FAILED if the block raises.
Metrics logged in a loop are buffered and written in batches."""),
    ("code", """import math

for lr in (0.1, 0.03, 0.01):
    with mlnb.start_run(run_name=f"lr-{lr}"):
        mlnb.log_params({"lr": lr, "epochs": 20})
        mlnb.set_tag("model", "toy")
        for epoch in range(20):
            loss = math.exp(-lr * 10 * epoch) + 0.05
            mlnb.log_metrics({"loss": loss, "accuracy": 1 - loss / 2}, step=epoch)"""),
    ("md", """## Nested runs

A parent run for a sweep, with one child run per fold."""),
    ("code", """with mlnb.start_run(run_name="cross-validation") as parent:
    mlnb.log_param("folds", 3)
    scores = []
    for fold in range(3):
        with mlnb.start_run(run_name=f"fold-{fold}", nested=True):
            score = 0.8 + fold * 0.05
            mlnb.log_metric("accuracy", score)
            scores.append(score)
    mlnb.log_metric("mean_accuracy", sum(scores) / len(scores))
parent.info.status"""),
    ("md", """## Searching runs

Filters use MLflow's syntax (`metrics.`, `params.`, `tags.`, `attributes.`); mlnb also
accepts `or`, `not` and parentheses. The result is a pandas DataFrame."""),
    ("code", """best = mlnb.search_runs(
    filter_string="params.epochs = '20' and metrics.accuracy > 0.5",
    order_by=["metrics.accuracy DESC"],
)
best[["tags.mlflow.runName", "params.lr", "metrics.accuracy"]]"""),
    ("md", "## A metric's full history"),
    ("code", """best_run_id = best.iloc[0]["run_id"]
history = mlnb.get_metric_history(best_run_id, "loss")
[(m.step, round(m.value, 3)) for m in history][:5]"""),
    ("md", """## Artifacts: dicts, text and tables

Artifacts are files kept with the run, under `artifacts/<run_id>/`."""),
    ("code", """with mlnb.start_run(run_name="with-artifacts") as run:
    mlnb.log_dict({"layers": [64, 32], "dropout": 0.1}, "config.json")
    mlnb.log_text("Trained on the toy data set.", "notes/readme.md")
    mlnb.log_table({"epoch": [0, 1, 2], "loss": [1.0, 0.6, 0.4]}, "tables/curve.json")
[f.path for f in mlnb.list_artifacts(run.info.run_id)]"""),
    ("md", """## The client

`mlnb.MlnbClient()` (also `mlnb.MlflowClient()`) does the same with explicit ids."""),
    ("code", """client = mlnb.MlnbClient()
run = client.get_run(best_run_id)
print(run.info.run_name, run.info.status, run.data.params)
page = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'",
                          order_by=["attributes.start_time ASC"], max_results=100)
[r.info.run_name for r in page]"""),
]


def build() -> nbformat.NotebookNode:
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    for kind, source in CELLS:
        notebook.cells.append(new_markdown_cell(source) if kind == "md" else new_code_cell(source))
    return notebook


def main() -> None:
    notebook = build()
    nbformat.validate(notebook)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
