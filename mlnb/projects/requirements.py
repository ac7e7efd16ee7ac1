"""The project's environment: pinned requirements, ``python_env.yaml`` and a wheel of mlnb.

``requirements.txt`` pins the distributions behind the modules the notebook imports (found with
:mod:`ast`, not by running it) at the versions installed now, plus mlnb itself. mlnb is not on
PyPI, so the export also writes a wheel of the installed mlnb into ``.mlnb-wheel/``: the
virtualenv env-manager installs mlnb from there (``--find-links``), on this machine or another,
without needing the mlnb source checkout. The wheel is built here, byte for byte reproducibly,
from the files of the imported ``mlnb`` package (no build backend needed, works offline).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from mlnb._version import __version__
from mlnb.capture import environment

WHEEL_DIR = ".mlnb-wheel"
# Files of the mlnb package that a project's script never needs (the JupyterLab front end).
_WHEEL_SKIPPED = frozenset({"__pycache__", "labextension", "node_modules"})
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def imported_modules(trees: Iterable[ast.Module]) -> set[str]:
    """Top-level names of the modules imported anywhere in the code (absolute imports only).

    :param trees: the code's syntax trees.
    """
    modules: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def local_modules(modules: Iterable[str], folder: Path) -> dict[str, Path]:
    """Imported modules that are files or packages next to the notebook (copied, not pinned).

    :param modules: import names.
    :param folder: the notebook's folder.
    """
    found = {}
    for name in sorted(modules):
        for candidate in (folder / f"{name}.py", folder / name / "__init__.py"):
            if candidate.is_file():
                found[name] = candidate if candidate.name != "__init__.py" else candidate.parent
                break
    return found


def requirements_text(modules: Iterable[str]) -> str:
    """``requirements.txt``: ``name==version`` for the imported distributions and mlnb.

    :param modules: import names.
    """
    pins = environment.pinned_requirements(modules, extra=("mlnb",))
    header = (f"# Pinned by mlnb export for Python {environment.python_version()}: the packages "
              "the notebook imports, plus mlnb\n# (mlnb is installed from .mlnb-wheel/).\n")
    return header + "".join(f"{pin}\n" for pin in pins)


def python_env_yaml() -> str:
    """MLflow's ``python_env.yaml``: the Python version and the pip requirements."""
    return (f"python: {environment.python_version()}\n"
            "build_dependencies:\n  - pip\n"
            "dependencies:\n  - -r requirements.txt\n")


def mlnb_version() -> str:
    """The installed mlnb's version (the package's own when not installed)."""
    return environment.distribution_version("mlnb") or __version__


def build_mlnb_wheel(out_dir: Path) -> Path:
    """Write ``mlnb-<version>-py3-none-any.whl`` of the imported mlnb package into ``out_dir``.

    :param out_dir: the folder to write the wheel into.
    """
    package = Path(__file__).resolve().parent.parent
    version = mlnb_version()
    dist_info = f"mlnb-{version}.dist-info"
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"mlnb-{version}-py3-none-any.whl"
    members: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if path.is_file() and not path.is_symlink() and not set(relative.parts) & _WHEEL_SKIPPED \
                and path.suffix not in (".pyc", ".pyo"):
            members.append((f"mlnb/{relative.as_posix()}", path.read_bytes()))
    members.append((f"{dist_info}/METADATA", _metadata_text(version).encode()))
    members.append((f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: mlnb.projects\n"
                    b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    members.append((f"{dist_info}/entry_points.txt",
                    b"[console_scripts]\nmlnb = mlnb.cli:main\n"))
    record = "".join(f"{name},sha256={_urlsafe_digest(data)},{len(data)}\n" for name, data in members)
    record += f"{dist_info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*members, (f"{dist_info}/RECORD", record.encode())]:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return wheel


def _metadata_text(version: str) -> str:
    lines = ["Metadata-Version: 2.1", "Name: mlnb", f"Version: {version}",
             "Summary: Experiment tracking, models, a registry and reproducible projects, inside Jupyter"]
    try:
        requires = metadata.requires("mlnb") or []
        python = metadata.metadata("mlnb")["Requires-Python"]
    except metadata.PackageNotFoundError:
        requires, python = [], None
    if python:
        lines.append(f"Requires-Python: {python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return "\n".join(lines) + "\n"


def _urlsafe_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
