"""The last check before an export is moved into place: no secrets, no absolute local paths.

Looked for in every file of the project (and inside the mlnb wheel's members):

* the value of every environment variable whose name contains TOKEN, SECRET, KEY or PASSWORD
  (values shorter than 6 characters are ignored: ``1`` or ``yes`` would match everywhere);
* Jupyter server tokens in URLs (``?token=<hex>``);
* this machine's home folder and the notebook's absolute folder (and its git root).

The error names the file and the kind of finding, never the secret's value.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from mlnb.capture.git import find_git_dir
from mlnb.errors import InvalidParameterError

SECRET_NAME = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|PASSWD", re.IGNORECASE)
MIN_SECRET_LENGTH = 6
_JUPYTER_TOKEN = re.compile(rb"[?&]token=[0-9a-f]{16,}")


class ExportRefusedError(InvalidParameterError):
    """The export would write a secret or an absolute path of this machine."""


def secret_needles(environ: dict[str, str] | None = None) -> dict[str, bytes]:
    """``{description: value}`` for the secret-looking environment variables.

    :param environ: the environment; default ``os.environ``.
    """
    env = dict(os.environ if environ is None else environ)
    return {f"the value of environment variable {name}": value.encode()
            for name, value in sorted(env.items())
            if SECRET_NAME.search(name) and len(value.strip()) >= MIN_SECRET_LENGTH}


def path_needles(folders: Iterable[Path]) -> dict[str, bytes]:
    """The absolute paths that must not appear: home, the notebook's folder, its git root.

    :param folders: the notebook's folder and its git root.
    """
    needles: dict[str, bytes] = {}
    home = str(Path.home())
    if len(home) > 1:
        needles["this machine's home folder"] = (home.rstrip("/") + "/").encode()
    for folder in folders:
        for variant in {str(folder), str(folder.resolve())}:
            needles[f"the notebook's absolute folder ({Path(variant).name})"] = variant.encode()
        git_dir = find_git_dir(folder)
        if git_dir is not None and git_dir.name == ".git":
            needles["the absolute path of the git repository"] = (str(git_dir.parent) + "/").encode()
    return needles


def _contents(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        content = path.read_bytes()
        yield name, content
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{name}!{member}", archive.read(member)


def find_leaks(root: Path, folders: Iterable[Path], environ: dict[str, str] | None = None
               ) -> list[str]:
    """Human-readable findings: ``"main.py: the value of environment variable MY_TOKEN"``.

    :param root: the project folder.
    :param folders: the notebook's folder and its git root.
    :param environ: the environment; default ``os.environ``.
    """
    needles = {**secret_needles(environ), **path_needles(folders)}
    findings = []
    for name, content in _contents(root):
        for what, needle in needles.items():
            if needle and needle in content:
                findings.append(f"{name}: {what}")
        if _JUPYTER_TOKEN.search(content):
            findings.append(f"{name}: a Jupyter server token (?token=...)")
    return findings


def scan_project(root: Path, folders: Iterable[Path]) -> None:
    """Raise :class:`ExportRefusedError` listing every leak found under ``root``.

    :param root: the project folder.
    :param folders: the notebook's folder and its git root.
    """
    findings = find_leaks(root, folders)
    if findings:
        listed = "\n  ".join(findings[:20])
        raise ExportRefusedError(
            "Export refused: the project would contain\n  " + listed + "\nRemove these from the "
            "notebook's code (read secrets from the environment at run time, use paths relative "
            "to the notebook's folder) and export again. Nothing was written.")
