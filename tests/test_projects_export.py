"""`mlnb export`: the project folder written from each example notebook, and what it must not hold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mlnb
from mlnb.errors import AlreadyExistsError
from mlnb.projects import export_notebook
from mlnb.projects.scan import ExportRefusedError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SECRET = "sekrit-123"


@pytest.fixture
def notebooks(tmp_path: Path, tracking: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example notebooks in a temp folder, with a fake secret in the environment."""
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    folder = tmp_path / "nb"
    folder.mkdir()
    for name in ("train_params.ipynb", "train_tracked.ipynb", "train_plain.ipynb"):
        shutil.copy(NOTEBOOKS / name, folder / name)
    shutil.copytree(NOTEBOOKS / "data", folder / "data")
    return folder


def all_bytes(folder: Path) -> dict[str, bytes]:
    import zipfile

    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            found[str(path.relative_to(folder))] = path.read_bytes()
            if path.suffix == ".whl":
                with zipfile.ZipFile(path) as archive:
                    found.update({f"{path.name}!{m}": archive.read(m) for m in archive.namelist()})
    return found


def assert_no_leaks(project: Path, notebook_folder: Path) -> None:
    needles = [SECRET, str(notebook_folder), str(notebook_folder.parent), str(Path.home()) + "/"]
    for name, content in all_bytes(project).items():
        for needle in needles:
            assert needle.encode() not in content, f"{needle!r} found in {name}"


def test_export_with_a_parameters_cell(notebooks: Path, tmp_path: Path) -> None:
    from mlflow.projects import _project_spec

    out = export_notebook(notebooks / "train_params.ipynb", tmp_path / "out" / "params", write=None)
    assert sorted(p.name for p in out.iterdir()) == [
        ".gitignore", ".mlnb-wheel", "MLproject", "README.md", "data", "data.lock.json", "main.py",
        "provenance.json", "python_env.yaml", "requirements.txt", "train_params.ipynb"]
    assert (out / ".gitignore").read_text() == "/.mlnb-run-state.json\n"  # what a run left
    # MLflow itself reads the MLproject: typed parameters, defaults, the command.
    spec = _project_spec.load_project(str(out))
    entry = spec.get_entry_point("main")
    assert {n: (p.type, p.default) for n, p in entry.parameters.items()} == {
        "data_path": ("path", "data/iris_small.csv"), "C": ("float", 1.0), "max_iter": ("int", 200),
        "test_size": ("float", 0.3), "seed": ("int", 42), "standardize": ("string", "true")}
    assert entry.command.startswith("python main.py --data_path {data_path} --C {C}")
    assert spec.env_type == "python_env"
    assert (out / "python_env.yaml").read_text().splitlines() == [
        "python: 3.11.7" if mlnb.capture.environment.python_version() == "3.11.7" else
        f"python: {mlnb.capture.environment.python_version()}",
        "build_dependencies:", "  - pip", "dependencies:", "  - -r requirements.txt"]
    pins = [line for line in (out / "requirements.txt").read_text().splitlines()
            if not line.startswith("#")]
    assert [p.split("==")[0] for p in pins] == ["mlnb", "pandas", "scikit-learn"]
    assert f"mlnb=={mlnb.__version__}" in pins
    assert list((out / ".mlnb-wheel").glob("mlnb-*-py3-none-any.whl"))
    assert (out / "data" / "iris_small.csv").read_bytes() == (notebooks / "data" / "iris_small.csv"
                                                              ).read_bytes()
    lock = json.loads((out / "data.lock.json").read_text())
    assert [(f["path"], f["copied"]) for f in lock["files"]] == [("data/iris_small.csv", True)]
    script = (out / "main.py").read_text()
    assert "model.fit(X_train, y_train)" in script and "%time" not in script.replace("# [mlnb]", "")
    assert "C = _params['C']" in script
    assert_no_leaks(out, notebooks)


def test_export_of_tracked_cells_and_autolog(notebooks: Path, tmp_path: Path) -> None:
    out = export_notebook(notebooks / "train_tracked.ipynb", tmp_path / "tracked", write=None)
    script = (out / "main.py").read_text()
    assert "with mlnb.start_run(run_name='prepare', nested=True):" in script
    assert "with mlnb.start_run(run_name='train', nested=True):" in script
    assert "        model = LogisticRegression(C=C, max_iter=max_iter).fit(X_train, y_train)" in script
    assert "    mlnb.autolog()" in script
    assert "%load_ext" not in script.replace("# [mlnb] dropped (the script imports mlnb): %load_ext", "")
    assert "params=['C', 'max_iter']" in script
    compile(script, "main.py", "exec")
    notebook = json.loads((out / "train_tracked.ipynb").read_text())
    assert all(c.get("outputs", []) == [] for c in notebook["cells"])
    assert_no_leaks(out, notebooks)


def test_export_without_parameters_cell_takes_params_from_the_run(notebooks: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    # A run recorded from this notebook (as the kernel's provenance tags it), found without --run.
    with mlnb.start_run(run_name="forest", tags={"mlnb.notebook.path": str(notebooks / "train_plain.ipynb")}):
        mlnb.log_params({"n_estimators": 40, "max_depth": 3, "criterion": "gini"})
        mlnb.log_metric("cv_accuracy", 0.95)
    out = export_notebook(notebooks / "train_plain.ipynb", tmp_path / "plain", write=None)
    mlproject = (out / "MLproject").read_text()
    assert "n_estimators:\n        type: int\n        default: 40" in mlproject
    assert "criterion" not in mlproject
    script = (out / "main.py").read_text()
    assert "n_estimators = 25\n    n_estimators = _params['n_estimators']  # injected parameter" in script
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["run"]["metrics"] == {"cv_accuracy": 0.95}
    readme = (out / "README.md").read_text()
    assert "cv\\_accuracy" in readme and "criterion: recorded by the run" in readme
    assert_no_leaks(out, notebooks)


def test_a_secret_in_the_notebook_refuses_the_export_and_writes_nothing(notebooks: Path,
                                                                        tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.read(notebooks / "train_plain.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(f'api_key = "{SECRET}"'))
    nbformat.write(notebook, notebooks / "leaky.ipynb")
    with pytest.raises(ExportRefusedError, match="MY_API_TOKEN") as caught:
        export_notebook(notebooks / "leaky.ipynb", tmp_path / "leaky", write=None)
    assert SECRET not in str(caught.value)
    assert not (tmp_path / "leaky").exists()
    assert not list(tmp_path.glob(".mlnb-export-*"))


def test_absolute_paths_inside_the_notebook_folder_are_made_relative(notebooks: Path,
                                                                     tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.read(notebooks / "train_plain.ipynb", as_version=4)
    absolute = str(notebooks / "data" / "iris_small.csv")
    notebook.cells[2].source = notebook.cells[2].source.replace('"data/iris_small.csv"', repr(absolute))
    nbformat.write(notebook, notebooks / "absolute.ipynb")
    out = export_notebook(notebooks / "absolute.ipynb", tmp_path / "absolute", write=None)
    assert "pd.read_csv('data/iris_small.csv')" in (out / "main.py").read_text()
    assert (out / "data" / "iris_small.csv").is_file()
    assert_no_leaks(out, notebooks)


def test_large_data_files_are_referenced_by_sha256_not_copied(notebooks: Path, tmp_path: Path) -> None:
    out = export_notebook(notebooks / "train_plain.ipynb", tmp_path / "big", max_copy_bytes=100,
                          write=None)
    lock = json.loads((out / "data.lock.json").read_text())
    assert [(f["path"], f["copied"], len(f["sha256"])) for f in lock["files"]] == [
        ("data/iris_small.csv", False, 64)]
    assert not (out / "data").exists()
    assert "NOT copied" in (out / "README.md").read_text()


def test_export_refuses_a_non_empty_destination(notebooks: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(AlreadyExistsError, match="not empty"):
        export_notebook(notebooks / "train_plain.ipynb", tmp_path / "taken", write=None)
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
