"""Facts written in more than one place agree: the version, the REST API version, the typing marker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import tomllib

import mlnb
from mlnb.server.base import API_VERSION

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_same_in_python_pyproject_and_the_labextension() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    package = json.loads((ROOT / "labextension" / "package.json").read_text())["version"]
    assert (mlnb.__version__, package) == (pyproject, pyproject)


def test_rest_api_version_is_the_same_in_the_server_and_the_sidebar() -> None:
    tokens = (ROOT / "labextension" / "src" / "tokens.ts").read_text()
    match = re.search(r"export const API_VERSION = (\d+);", tokens)
    assert match is not None, "tokens.ts no longer declares API_VERSION"
    assert int(match.group(1)) == API_VERSION


def test_the_package_ships_its_type_information() -> None:
    assert (ROOT / "mlnb" / "py.typed").is_file()


def test_every_runtime_dependency_is_imported_somewhere() -> None:
    """A dependency nothing imports is dead weight on every install (anywidget once was one)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    import_names = {"scikit-learn": "sklearn", "pyyaml": "yaml", "sqlite-utils": "sqlite_utils",
                    "jupyter-server": "jupyter_server"}
    source = "\n".join(p.read_text() for p in (ROOT / "mlnb").rglob("*.py"))
    unused = []
    for dep in deps:
        name = re.split(r"[<>=!~\[ ]", dep, maxsplit=1)[0].lower()
        module = import_names.get(name, name.replace("-", "_"))
        if not re.search(rf"^\s*(import|from) {module}\b", source, re.M):
            unused.append(name)
    # jupyterlab is the host application: mlnb's labextension runs inside it, nothing imports it.
    assert unused == ["jupyterlab"]
