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
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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


# --- requirement lines that fetch from the network ------------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_VCS = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)
# pip's options whose value is a location: what pip does with a remote one.
_LOCATION_OPTIONS = {"-i": "uses the package index", "--index-url": "uses the package index",
                     "--extra-index-url": "uses the extra package index",
                     "-f": "looks for packages at", "--find-links": "looks for packages at",
                     "-e": "installs in editable mode from", "--editable": "installs in editable mode from",
                     "-r": "reads requirements from", "--requirement": "reads requirements from",
                     "-c": "reads constraints from", "--constraint": "reads constraints from"}
_INCLUDES = frozenset({"-r", "--requirement", "-c", "--constraint"})


@dataclass(frozen=True)
class FetchingLine:
    """A requirements line that makes pip fetch from the network, with where it was found."""

    file: str  # the requirements file's name, relative to the project when inside it
    number: int  # 1-based line number (the first line of a continued line)
    text: str
    why: str  # "looks for packages at https://..."

    def __str__(self) -> str:
        return f"{self.file} line {self.number}: {self.text}  ({self.why})"


def is_remote(location: str) -> bool:
    """Whether pip would fetch ``location`` over the network (a URL that is not ``file:``, or a
    version-control URL such as ``git+https://``).

    :param location: a requirement's location or option value.
    """
    bare = _VCS.sub("", location.strip())
    if bare != location.strip() and not bare.lower().startswith("file:"):
        return True  # git+ssh://, git+https://, hg+http://: a clone
    return bool(_SCHEME.match(bare)) and not bare.lower().startswith("file:")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with pip's rules: ``\\`` continues a line, ``#`` after a space
    (or at the start) begins a comment."""
    number, parts = 0, list[str]()
    for index, raw in enumerate(text.splitlines(), 1):
        if not parts:
            number = index
        if raw.endswith("\\"):
            parts.append(raw[:-1])
            continue
        parts.append(raw)
        line = re.sub(r"(^|\s)#.*$", "", "".join(parts)).strip()
        parts = []
        if line:
            yield number, line


def _option(words: list[str], index: int) -> tuple[str, str, int]:
    """(option, value, words used) for the option at ``words[index]``: ``--opt=v``, ``--opt v``,
    ``-fv`` or ``-f v``."""
    word = words[index]
    following = words[index + 1] if index + 1 < len(words) else ""
    if word.startswith("--"):
        option, sep, value = word.partition("=")
        return (option, value, 1) if sep else (option, following, 2)
    option, value = word[:2], word[2:].lstrip("=")
    return (option, value, 1) if value else (option, following, 2)


def _fetches(words: list[str]) -> Iterator[tuple[str, str]]:
    """``("fetch", why)`` for each part of one line that fetches, ``("include", file)`` for each
    local requirements or constraints file it includes."""
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-"):
            option, value, used = _option(words, index)
            if option not in _LOCATION_OPTIONS:
                index += 1  # --pre, --hash=..., --no-binary: nothing to fetch
                continue
            index += used
            if is_remote(value):
                yield "fetch", f"{_LOCATION_OPTIONS[option]} {value}"
            elif option in _INCLUDES and value:
                yield "include", value
            continue
        location = word.split("@", 1)[1] if "@" in word and not is_remote(word) else word
        if is_remote(location):  # a bare URL, or name@URL (the name @ URL form: the URL word)
            yield "fetch", f"downloads {location}"
        index += 1


def fetching_lines(requirements: Path, root: Path | None = None,
                   seen: set[Path] | None = None) -> list[FetchingLine]:
    """The lines of ``requirements`` (and of the local files it includes with ``-r``/``-c``) that
    make pip fetch from the network: remote ``--index-url``, ``--extra-index-url``,
    ``--find-links``, ``-e`` VCS or URL, ``name @ URL`` and bare URLs.

    :param requirements: the requirements file.
    :param root: the folder file names are shown relative to (default: the file's folder).
    :param seen: files already read (an include cycle is read once).
    """
    root = root or requirements.parent
    seen = set() if seen is None else seen
    if requirements.resolve() in seen or not requirements.is_file():
        return []
    seen.add(requirements.resolve())
    try:
        shown = requirements.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(requirements)
    found: list[FetchingLine] = []
    for number, line in _logical_lines(requirements.read_text(encoding="utf-8", errors="replace")):
        for kind, text in _fetches(line.split()):
            if kind == "fetch":
                found.append(FetchingLine(shown, number, line, text))
            else:
                found += fetching_lines(requirements.parent / text, root, seen)
    return found
