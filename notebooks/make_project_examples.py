"""Write the example notebooks of `mlnb export` (no outputs stored) and their tiny data set.

Run: .venv/bin/python notebooks/make_project_examples.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def write_data() -> None:
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = [iris.target_names[t] for t in frame.pop("target")]
    small = frame.iloc[::2].round(1)  # 25 rows of each species
    (HERE / "data").mkdir(exist_ok=True)
    small.to_csv(HERE / "data" / "iris_small.csv", index=False)


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


TRAIN_PARAMS = [
    new_markdown_cell("# Iris, with parameters\nThe next cell is tagged `parameters` (papermill)."),
    new_code_cell('data_path = "data/iris_small.csv"  # the training data\n'
                  "C = 1.0  # inverse regularization strength\n"
                  "max_iter = 200\n"
                  "test_size = 0.3\n"
                  "seed = 42\n"
                  "standardize = True", metadata={"tags": ["parameters"]}),
    new_code_cell("import pandas as pd\n"
                  "from sklearn.linear_model import LogisticRegression\n"
                  "from sklearn.metrics import accuracy_score, f1_score, log_loss\n"
                  "from sklearn.model_selection import train_test_split\n"
                  "from sklearn.preprocessing import StandardScaler\n\n"
                  "import mlnb"),
    new_code_cell("df = pd.read_csv(data_path)\n"
                  "display(df.head())\n"
                  'X, y = df.drop(columns=["species"]), df["species"]\n'
                  "X_train, X_test, y_train, y_test = train_test_split(\n"
                  "    X, y, test_size=test_size, random_state=seed, stratify=y)\n"
                  "if standardize:\n"
                  "    scaler = StandardScaler().fit(X_train)\n"
                  "    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)"),
    new_code_cell("model = LogisticRegression(C=C, max_iter=max_iter)\n"
                  "%time model.fit(X_train, y_train)"),
    new_code_cell('mlnb.set_experiment("iris-params")\n'
                  'with mlnb.start_run(run_name="train-params"):\n'
                  '    mlnb.log_params({"data_path": data_path, "C": C, "max_iter": max_iter,\n'
                  '                     "test_size": test_size, "seed": seed, "standardize": standardize})\n'
                  "    predicted = model.predict(X_test)\n"
                  '    mlnb.log_metric("accuracy", accuracy_score(y_test, predicted))\n'
                  '    mlnb.log_metric("f1_macro", f1_score(y_test, predicted, average="macro"))\n'
                  '    mlnb.log_metric("log_loss", log_loss(y_test, model.predict_proba(X_test)))'),
]

TRAIN_TRACKED = [
    new_markdown_cell("# Iris, tracked cell by cell\n`%%track` makes a cell a run; autolog logs the fit."),
    new_code_cell("%load_ext mlnb"),
    new_code_cell("import pandas as pd\n"
                  "from sklearn.linear_model import LogisticRegression\n"
                  "from sklearn.metrics import accuracy_score, log_loss\n"
                  "from sklearn.model_selection import train_test_split\n\n"
                  "import mlnb\n\n"
                  'mlnb.set_experiment("iris-tracked")\n'
                  "%mlnb autolog"),
    new_code_cell('%%track prepare\n'
                  'df = pd.read_csv("data/iris_small.csv")\n'
                  'X, y = df.drop(columns=["species"]), df["species"]\n'
                  "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3,\n"
                  "                                                    random_state=0, stratify=y)\n"
                  "n_train = len(X_train)"),
    new_code_cell("%%track train --params C,max_iter\n"
                  "C = 0.5\n"
                  "max_iter = 300\n"
                  "model = LogisticRegression(C=C, max_iter=max_iter).fit(X_train, y_train)\n"
                  "test_accuracy = accuracy_score(y_test, model.predict(X_test))\n"
                  "test_log_loss = log_loss(y_test, model.predict_proba(X_test))\n"
                  'print(f"accuracy {test_accuracy:.3f}")'),
]

TRAIN_PLAIN = [
    new_markdown_cell("# Iris, plain\nNo parameters cell: the export takes its parameters from the run."),
    new_code_cell("import pandas as pd\n"
                  "from sklearn.ensemble import RandomForestClassifier\n"
                  "from sklearn.metrics import accuracy_score\n"
                  "from sklearn.model_selection import cross_val_score\n\n"
                  "import mlnb"),
    new_code_cell('df = pd.read_csv("data/iris_small.csv")\n'
                  'X, y = df.drop(columns=["species"]), df["species"]\n'
                  "n_estimators = 25\n"
                  "max_depth = 3"),
    new_code_cell('mlnb.set_experiment("iris-plain")\n'
                  'with mlnb.start_run(run_name="forest"):\n'
                  '    mlnb.log_params({"n_estimators": n_estimators, "max_depth": max_depth})\n'
                  "    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,\n"
                  "                                   random_state=0)\n"
                  '    scores = cross_val_score(model, X, y, cv=3)\n'
                  '    mlnb.log_metric("cv_accuracy", scores.mean())\n'
                  '    mlnb.log_metric("train_accuracy", accuracy_score(y, model.fit(X, y).predict(X)))'),
]


def main() -> None:
    write_data()
    for name, cells in (("train_params", TRAIN_PARAMS), ("train_tracked", TRAIN_TRACKED),
                        ("train_plain", TRAIN_PLAIN)):
        nbformat.write(notebook(cells), str(HERE / f"{name}.ipynb"))


if __name__ == "__main__":
    main()
