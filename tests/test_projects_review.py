"""Fixes from the review of `mlnb export` / `mlnb run` (issue 7): bool parameters, repeated -P,
a --run from another notebook, an unwritable --out, %env lines, and the project run's experiment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mlnb
from mlnb.cli import main as cli
from mlnb.errors import InvalidParameterError
from mlnb.projects import convert, export_notebook, run_project
from mlnb.projects.mlproject import load_project

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SECRET = "sekrit-123"


@pytest.fixture
def notebooks(tmp_path: Path, tracking: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    folder = tmp_path / "nb"
    folder.mkdir()
    for name in ("train_params.ipynb", "train_plain.ipynb"):
        shutil.copy(NOTEBOOKS / name, folder / name)
    shutil.copytree(NOTEBOOKS / "data", folder / "data")
    return folder


@pytest.fixture
def project(notebooks: Path, tmp_path: Path) -> Path:
    return export_notebook(notebooks / "train_params.ipynb", tmp_path / "project", write=None)


def all_runs() -> list[mlnb.entities.Run]:
    found = mlnb.search_runs(search_all_experiments=True, output_format="list")
    assert isinstance(found, list)
    return found


# --- 1. bool parameters are validated before the run -------------------------------------------


def test_a_bool_parameter_is_declared_for_mlnb_and_stays_a_string_for_mlflow(project: Path) -> None:
    from mlflow.projects import _project_spec

    assert _project_spec.load_project(str(project)).get_entry_point("main").parameters[
        "standardize"].type == "string"
    spec = load_project(project).entry_point("main").parameters["standardize"]
    assert spec.is_bool and spec.type == "string"


def test_a_bad_bool_value_is_refused_before_any_run_exists(project: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", str(project), "-P", "standardize=maybe"]) == 2
    err = capsys.readouterr().err
    assert "Parameter 'standardize'" in err and "'maybe'" in err
    assert "true/false" in err and "yes/no" in err and "1/0" in err
    assert "usage:" not in err
    assert all_runs() == []


# --- 2. a repeated -P is an error --------------------------------------------------------------


def test_a_repeated_parameter_is_an_error_naming_it(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", str(project), "-P", "C=1", "-P", "max_iter=3", "-P", "C=2"]) == 2
    err = capsys.readouterr().err
    assert "'C'" in err and "more than once" in err
    assert all_runs() == []


# --- 3. --run must come from this notebook -----------------------------------------------------


def test_export_refuses_a_run_made_by_another_notebook(notebooks: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    plain = (notebooks / "train_plain.ipynb").read_text()
    cell_source = json.loads(plain)["cells"][3]["source"]
    source = "".join(cell_source) if isinstance(cell_source, list) else cell_source
    with mlnb.start_run(run_name="forest", tags={"mlnb.notebook.path": str(notebooks / "train_plain.ipynb"),
                                                 "mlnb.cell.source": source}) as run:
        mlnb.log_metric("cv_accuracy", 0.9)
    code = cli(["export", str(notebooks / "train_params.ipynb"), "--run", run.info.run_id,
                "--out", str(tmp_path / "wrong")])
    err = capsys.readouterr().err
    assert code == 2
    assert run.info.run_id in err and "train_plain.ipynb" in err and "train_params.ipynb" in err
    assert not (tmp_path / "wrong").exists()
    # The same run exports fine from its own notebook, even renamed (its cell is still there).
    shutil.copy(notebooks / "train_plain.ipynb", notebooks / "renamed.ipynb")
    assert cli(["export", str(notebooks / "renamed.ipynb"), "--run", run.info.run_id,
                "--out", str(tmp_path / "right")]) == 0


def test_a_run_without_notebook_provenance_is_exported_with_a_warning(notebooks: Path,
                                                                      tmp_path: Path) -> None:
    with mlnb.start_run(run_name="bare") as run:
        mlnb.log_param("C", "0.5")
    lines: list[str] = []
    out = export_notebook(notebooks / "train_params.ipynb", tmp_path / "bare", run.info.run_id,
                          write=lines.append)
    assert out.is_dir()
    assert any("warning" in line and run.info.run_id in line and "train_params.ipynb" in line
               for line in lines), lines


# --- 4. an unwritable --out --------------------------------------------------------------------


def test_an_unwritable_out_names_the_option_and_leaves_nothing(notebooks: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["export", str(notebooks / "train_plain.ipynb"), "--out", "/proc/x"]) == 2
    err = capsys.readouterr().err
    assert "--out /proc/x" in err and "cannot be written" in err
    assert ".mlnb-export" not in err
    (tmp_path / "a_file").write_text("x")
    target = tmp_path / "a_file" / "sub" / "proj"
    assert cli(["export", str(notebooks / "train_plain.ipynb"), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"--out {target}" in err and "not a folder" in err
    assert (tmp_path / "a_file").read_text() == "x"
    assert not list(tmp_path.rglob(".mlnb-export-*"))


def test_a_refused_export_removes_the_parent_folders_it_created(notebooks: Path, tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.read(notebooks / "train_plain.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(f'api_key = "{SECRET}"'))
    nbformat.write(notebook, notebooks / "leaky.ipynb")
    with pytest.raises(InvalidParameterError, match="MY_API_TOKEN"):
        export_notebook(notebooks / "leaky.ipynb", tmp_path / "new" / "deeper" / "leaky", write=None)
    assert not (tmp_path / "new").exists()


# --- 5. %env ------------------------------------------------------------------------------------


def test_env_lines_are_translated_and_secrets_never_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    cell = convert.translate_cell("%env MODE=fast\n%env MY_OTHER=" + SECRET + "\n%env API_KEY=abcdefgh\n"
                                  "%env MODE\nif True:\n    %env DEPTH 3", 2, [])
    lines = cell.body.splitlines()
    assert lines[0] == "os.environ['MODE'] = 'fast'"
    assert lines[1].startswith("os.environ.setdefault('MY_OTHER', os.environ.get('MY_OTHER', ''))")
    assert "must be set" in lines[1] and "MY_OTHER" in lines[1]
    assert lines[2].startswith("os.environ.setdefault('API_KEY', os.environ.get('API_KEY', ''))")
    assert lines[3] == "print(os.environ.get('MODE'))"
    assert lines[5] == "    os.environ['DEPTH'] = '3'"
    assert cell.needs_os
    text = cell.body + "\n".join(cell.notes)
    assert SECRET not in text and "abcdefgh" not in text
    assert not any("fast" in note for note in cell.notes)  # values are redacted in every note


def test_env_cells_export_and_run_with_the_variable_set(notebooks: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"%env MODE=fast\n%env MY_OTHER={SECRET}"),
        nbformat.v4.new_code_cell("import os\n\nimport mlnb\n\nwith mlnb.start_run(run_name='uses-env'):\n"
                                  "    mlnb.log_param('mode', os.environ['MODE'])\n"
                                  "    mlnb.log_param('other_set', os.environ['MY_OTHER'] == "
                                  "os.environ['MY_API_TOKEN'])"),
    ]
    nbformat.write(notebook, notebooks / "env.ipynb")
    out = export_notebook(notebooks / "env.ipynb", tmp_path / "env", write=None)
    script = (out / "main.py").read_text()
    assert "\nimport os\n" in script.split("with _mlnb_project")[0]
    for name in ("main.py", "README.md"):
        assert SECRET not in (out / name).read_text()
    assert "MY\\_OTHER=&lt;redacted&gt;" in (out / "README.md").read_text()  # Markdown-escaped
    copied = (out / "env.ipynb").read_text()
    assert "%env MODE=fast" in copied and "MY_OTHER=<redacted>" in copied
    monkeypatch.setenv("MY_OTHER", SECRET)  # the user sets the secret at run time
    run_project(out, write=None)
    (child,) = [r for r in all_runs() if r.info.run_name == "uses-env"]
    assert child.data.params == {"mode": "fast", "other_set": "True"}


# --- 6. the project run goes where the notebook's runs go --------------------------------------


def test_the_project_run_shares_the_notebooks_experiment(project: Path) -> None:
    assert json.loads((project / "provenance.json").read_text())["experiment"] == "iris-params"
    result = run_project(project, {"standardize": "No"}, write=None)
    parent = mlnb.get_run(result.run_id)
    (child,) = [r for r in all_runs() if r.info.run_name == "train-params"]
    experiment = mlnb.MlnbClient().get_experiment(parent.info.experiment_id)
    assert experiment.name == "iris-params"
    assert child.info.experiment_id == parent.info.experiment_id
    # "No" was accepted and reached the notebook's code as False (logged as str(), as in the notebook)
    assert parent.data.params["standardize"] == child.data.params["standardize"] == "False"
    other = run_project(project, experiment_name="elsewhere", write=None)
    assert mlnb.MlnbClient().get_experiment(mlnb.get_run(other.run_id).info.experiment_id
                                            ).name == "elsewhere"


def test_the_source_runs_experiment_is_the_default(notebooks: Path, tmp_path: Path) -> None:
    mlnb.set_experiment("chosen")
    with mlnb.start_run(run_name="forest", tags={"mlnb.notebook.path": "train_plain.ipynb"}) as run:
        mlnb.log_params({"n_estimators": 5, "max_depth": 2})
    out = export_notebook(notebooks / "train_plain.ipynb", tmp_path / "plain", run.info.run_id,
                          write=None)
    assert json.loads((out / "provenance.json").read_text())["experiment"] == "chosen"
