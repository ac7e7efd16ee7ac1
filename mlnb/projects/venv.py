"""The ``virtualenv`` env-manager: a fresh virtual environment built from ``requirements.txt``.

``python -m venv`` makes the environment; mlnb is installed into it from the project's
``.mlnb-wheel/`` (it is not on PyPI), then ``pip install -r requirements.txt``. Environments are
cached by the hash of (Python version, requirements, wheel, mode) under ``MLNB_ENV_ROOT`` (default
``~/.mlnb/envs``), as MLflow caches its own; a half-built one is deleted, never reused.

Offline mode (``offline=True``, ``mlnb run --offline``) is for machines without an index and for
fast tests: the new environment gets a ``.pth`` file that puts the *current* environment's
site-packages after its own (a layered environment), and pip runs with ``--no-index``. mlnb still
gets its own copy from the wheel, and pip still checks every pin of ``requirements.txt``: a
version that differs from what is installed here fails with pip's message, it is not ignored.
Offline means no network: a requirements line that fetches from a URL (a remote
``--find-links``, ``--index-url``, ``-e git+...``, ``name @ https://...``) is refused before any
process starts, and pip reads no configuration file. In either mode such lines are shown before
pip runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from mlnb.errors import InvalidParameterError, StoreError
from mlnb.projects.codegen import literal
from mlnb.projects.progress import Progress
from mlnb.projects.requirements import WHEEL_DIR, fetching_lines

ENV_ROOT_VAR = "MLNB_ENV_ROOT"
READY = ".mlnb-env-ready"


class EnvironmentBuildError(StoreError):
    """The virtual environment could not be built (pip failed, no matching Python)."""

    error_code = "INVALID_STATE"


def env_root(root: Path | None = None) -> Path:
    """Where project environments are kept: ``root``, else ``MLNB_ENV_ROOT``, else ``~/.mlnb/envs``.

    :param root: an explicit folder, or None.
    """
    if root is not None:
        return root
    configured = os.environ.get(ENV_ROOT_VAR)
    return Path(configured) if configured else Path.home() / ".mlnb" / "envs"


def python_bin(env: Path) -> Path:
    """The Python interpreter of a virtual environment.

    :param env: the environment's folder.
    """
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def required_python(project_dir: Path) -> str:
    """The Python version ``python_env.yaml`` asks for (this interpreter's without the file).

    :param project_dir: the project folder.
    """
    import yaml  # PyYAML: loaded on first use, not by import mlnb

    path = project_dir / "python_env.yaml"
    if not path.is_file():
        return ".".join(map(str, sys.version_info[:3]))
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return str(spec.get("python", "")).strip()


def base_interpreter(version: str) -> str:
    """This interpreter when its major.minor matches ``version``, else ``pythonX.Y`` on PATH.

    :param version: the wanted Python version.
    """
    wanted = version.split(".")[:2]
    if [str(v) for v in sys.version_info[:2]] == wanted:
        return sys.executable
    found = shutil.which(f"python{'.'.join(wanted)}")
    if found is None:
        raise EnvironmentBuildError(
            f"The project needs Python {version} (python_env.yaml) and this is Python "
            f"{sys.version.split()[0]}; install python{'.'.join(wanted)} or use --env-manager local.")
    return found


def env_key(project_dir: Path, offline: bool) -> str:
    """A hash of what the environment depends on: Python version, requirements, bundled wheels, offline
    mode.

    :param project_dir: the project folder.
    :param offline: whether it is built offline.
    """
    digest = hashlib.sha256()
    digest.update(required_python(project_dir).encode())
    digest.update((project_dir / "requirements.txt").read_bytes())
    for wheel in sorted((project_dir / WHEEL_DIR).glob("*.whl")):
        digest.update(wheel.read_bytes())
    digest.update(b"offline:" + (" ".join(_site_dirs()).encode() if offline else b"no"))
    return digest.hexdigest()[:16]


def prepare(project_dir: Path, progress: Progress, *, offline: bool = False,
            root: Path | None = None) -> Path:
    """Build (or reuse) the project's environment; returns its Python interpreter.

    :param project_dir: the project folder.
    :param progress: where stage details go.
    :param offline: build without a package index, on top of this interpreter's packages.
    :param root: where environments are kept.
    """
    if not (project_dir / "requirements.txt").is_file():
        raise InvalidParameterError(f"{project_dir} has no requirements.txt to build an environment from.")
    env = env_root(root) / f"{project_dir.name}-{env_key(project_dir, offline)}"
    if (env / READY).is_file():
        progress.detail(f"reusing the environment {env}")
        return python_bin(env)
    check_fetching_lines(project_dir, progress, offline)  # before any process is started
    shutil.rmtree(env, ignore_errors=True)
    try:
        _build(project_dir, env, progress, offline)
    except BaseException:
        shutil.rmtree(env, ignore_errors=True)
        raise
    (env / READY).write_text("ok\n")
    return python_bin(env)


def check_fetching_lines(project_dir: Path, progress: Progress, offline: bool) -> None:
    """Show every requirements line that makes pip fetch from the network; offline, refuse them.

    :param project_dir: the project, whose ``requirements.txt`` (and the local files it
        includes) is read.
    :param progress: where the lines are shown, before pip runs.
    :param offline: refuse instead of showing: offline means no network.
    """
    lines = fetching_lines(project_dir / "requirements.txt", project_dir)
    if lines and offline:
        listed = "\n  ".join(str(line) for line in lines)
        raise InvalidParameterError(
            f"--offline: these requirement lines fetch from the network:\n  {listed}\nOffline means "
            "no network: remove them, point them at local files (e.g. --find-links ./wheels with "
            "the wheels in the project), or run without --offline. Nothing was installed.")
    for line in lines:
        progress.detail(f"fetches from the network: {line}")


def _build(project_dir: Path, env: Path, progress: Progress, offline: bool) -> None:
    base = base_interpreter(required_python(project_dir))
    env.parent.mkdir(parents=True, exist_ok=True)
    # Offline, pip comes from the layered environment: skipping ensurepip saves seconds.
    _call([base, "-m", "venv", *(["--without-pip"] if offline else []), str(env)], progress, "venv")
    python = str(python_bin(env))
    if offline:
        site = _call([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     progress, "venv", quiet=True).strip()
        lines = "".join(f"import site; site.addsitedir({literal(d)})\n" for d in _site_dirs())
        (Path(site) / "_mlnb_layer.pth").write_text(lines, encoding="utf-8")
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
           *(["--no-index"] if offline else []), "--find-links", str(project_dir / WHEEL_DIR)]
    wheels = sorted((project_dir / WHEEL_DIR).glob("mlnb-*.whl"))
    if wheels:  # mlnb's own copy in the new environment, whatever the layer holds
        _call([*pip, "--no-deps", str(wheels[-1])], progress, "pip", offline=offline)
    _call([*pip, "-r", str(project_dir / "requirements.txt")], progress, "pip", offline=offline)


def _site_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


# Offline, pip must not find a remote location in its own configuration either.
_PIP_REMOTE_SETTINGS = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")


def _call(argv: list[str], progress: Progress, what: str, quiet: bool = False,
          offline: bool = False) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")
           and not (offline and k in _PIP_REMOTE_SETTINGS)}
    if offline:
        env["PIP_CONFIG_FILE"] = os.devnull  # no pip.conf: its find-links could be a URL
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if not quiet:  # pip's "Requirement already satisfied" lines are too many to show
        for line in done.stdout.splitlines():
            if line.strip() and not line.startswith(("Requirement already", "Looking in")):
                progress.detail(f"{what}: {line.strip()}")
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise EnvironmentBuildError(f"Building the environment failed at `{' '.join(argv[:4])} ...` "
                                    f"(exit {done.returncode}):\n{tail}")
    return done.stdout
