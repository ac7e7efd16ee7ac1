"""`mlnb run` and `mlnb reproduce`: parameters and data checked, the project run tracked, and the
metrics of a notebook's run reproduced in a fresh virtualenv."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import mlnb
from mlnb.cli import main as cli
from mlnb.errors import InvalidParameterError
from mlnb.projects import export_notebook, reproduce_run, run_project, verify_project
from mlnb.projects.data import DataFileError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture
def notebooks(tmp_path: Path, tracking: Path) -> Path:
    folder = tmp_path / "nb"
    folder.mkdir()
    for name in ("train_params.ipynb", "train_tracked.ipynb", "train_plain.ipynb"):
        shutil.copy(NOTEBOOKS / name, folder / name)
    shutil.copytree(NOTEBOOKS / "data", folder / "data")
    return folder


@pytest.fixture
def project(notebooks: Path, tmp_path: Path) -> Path:
    return export_notebook(notebooks / "train_params.ipynb", tmp_path / "project", write=None)


def execute_notebook(path: Path) -> None:
    """Run the notebook in a real kernel (its runs go to the test's store, MLNB_TRACKING_URI)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    os.environ["JPY_SESSION_NAME"] = str(path)  # what Jupyter Server tells a notebook's kernel
    try:
        NotebookClient(notebook, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        del os.environ["JPY_SESSION_NAME"]


def runs_named(name: str) -> list[mlnb.entities.Run]:
    found = mlnb.search_runs(search_all_experiments=True, output_format="list",
                             filter_string=f"attributes.run_name = '{name}'")
    assert isinstance(found, list)
    return found


def test_run_tags_the_project_and_logs_its_parameters(project: Path) -> None:
    result = run_project(project, {"C": "0.5", "max_iter": "150"}, write=None)
    run = mlnb.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlnb.project.name"] == "train_params"
    assert run.data.tags["mlnb.project.dir"] == str(project)
    assert run.data.tags["mlnb.project.entry_point"] == "main"
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "150"
    child = runs_named("train-params")[0]
    assert child.data.tags["mlflow.parentRunId"] == result.run_id
    assert child.data.params["C"] == "0.5" and 0 <= child.data.metrics["accuracy"] <= 1


def test_wrong_type_and_unknown_parameter_are_clear_errors(project: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidParameterError, match=r"'max_iter' expects an int \(e.g. 3\), got 'many'"):
        run_project(project, {"max_iter": "many"}, write=None)
    assert cli(["run", str(project), "-P", "C=high"]) == 2
    assert "Parameter 'C' expects a float (e.g. 0.1), got 'high'" in capsys.readouterr().err
    assert cli(["run", str(project), "-P", "lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "Unknown parameter 'lr'" in err and "C, data_path, max_iter, seed, standardize, test_size" in err
    assert mlnb.search_runs(search_all_experiments=True, output_format="list") == []


def test_a_missing_or_changed_data_file_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'data_path' \\(path\\): there is no file"):
        run_project(project, {"data_path": str(tmp_path / "nope.csv")}, write=None)
    (project / "data" / "iris_small.csv").write_text("sepal_length\n1\n")
    with pytest.raises(DataFileError, match=r"'data/iris_small\.csv' has changed since the export"):
        run_project(project, write=None)
    (project / "data" / "iris_small.csv").unlink()
    with pytest.raises(DataFileError, match=r"Data file 'data/iris_small\.csv' is missing"):
        run_project(project, write=None)


@pytest.mark.e2e
def test_notebook_run_reproduced_in_a_fresh_virtualenv(notebooks: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    execute_notebook(notebooks / "train_params.ipynb")
    original = runs_named("train-params")[0]
    out = export_notebook(notebooks / "train_params.ipynb", tmp_path / "exported",
                          original.info.run_id, write=None)
    env_root = tmp_path / "envs"
    outcome = verify_project(out, env_manager="virtualenv", offline=True, env_root=env_root)
    assert outcome.ok, outcome.table()
    assert {c.key for c in outcome.checks} == {"accuracy", "f1_macro", "log_loss"}
    # A new virtualenv was built and used: the run's interpreter and its own copy of mlnb.
    (env,) = [p for p in env_root.iterdir() if p.is_dir()]
    assert (env / "pyvenv.cfg").is_file()
    assert mlnb.get_run(outcome.new_run_id).data.tags["mlnb.project.python"] == str(env / "bin" / "python")
    assert list(env.glob("lib/python3*/site-packages/mlnb/projects/runtime.py"))
    # The project's run, reproduced by id: `mlnb reproduce` finds its project from its tags.
    assert cli(["reproduce", outcome.new_run_id]) == 0
    printed = capsys.readouterr().out
    assert "REPRODUCED: 3 match, 0 mismatch" in printed and "log_loss" in printed


@pytest.mark.e2e
def test_tracked_notebook_reproduces(notebooks: Path, tmp_path: Path) -> None:
    execute_notebook(notebooks / "train_tracked.ipynb")
    original = runs_named("train")[0]
    assert "test_accuracy" in original.data.metrics
    outcome = reproduce_run(original.info.run_id)
    assert outcome.ok, outcome.table()
    assert {"test_accuracy", "test_log_loss"} <= {c.key for c in outcome.checks if c.status == "match"}


@pytest.mark.e2e
def test_unseeded_randomness_is_named_when_metrics_differ(notebooks: Path, tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.read(notebooks / "train_plain.ipynb", as_version=4)
    noise = '"cv_accuracy", scores.mean() + __import__("random").random()'
    notebook.cells[3].source = notebook.cells[3].source.replace(
        "random_state=0", "bootstrap=True").replace('"cv_accuracy", scores.mean()', noise)
    notebook.cells.insert(1, nbformat.v4.new_code_cell("%load_ext mlnb"))  # records the notebook's path
    nbformat.write(notebook, notebooks / "noisy.ipynb")
    execute_notebook(notebooks / "noisy.ipynb")
    original = runs_named("forest")[0]
    outcome = reproduce_run(original.info.run_id, write=None)
    assert not outcome.ok
    assert any(c.key == "cv_accuracy" and c.status == "mismatch" for c in outcome.checks)
    assert any("RandomForestClassifier(...)" in h and "no random_state" in h for h in outcome.hints)
    assert "NOT REPRODUCED" in outcome.summary()
