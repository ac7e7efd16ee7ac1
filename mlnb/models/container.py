"""Container images of a model: ``mlnb models generate-dockerfile`` and ``build-docker``.

:func:`generate_dockerfile` writes a build context::

    DIR/Dockerfile         FROM python:<the model's Python>-slim, non-root user, HEALTHCHECK on
                           /ping, ENTRYPOINT ``python -m mlnb serve /opt/ml/model --host 0.0.0.0``
    DIR/requirements.txt   the model's pinned requirements, plus what ``mlnb serve`` itself needs
                           (pinned to the versions installed here)
    DIR/model/             a copy of the model folder
    DIR/mlnb/              the mlnb package that generated it (mlnb is not on PyPI), Python files
                           only; the image puts it on PYTHONPATH

The server inside the container binds all interfaces (the container's network is the boundary)
and accepts the ``Host`` names given with ``--allowed-host`` (via ``MLNB_SERVE_ALLOWED_HOSTS``, which
``docker run -e`` can change) besides the loopback names, so a DNS-rebinding page still cannot reach it.

:func:`build_docker` runs ``docker build`` where a Docker daemon answers; elsewhere it says so and
what to run instead. No model URI ever reaches a shell: commands are argument lists.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mlnb._version import __version__
from mlnb.capture.environment import distribution_version
from mlnb.errors import InvalidParameterError, MlnbError
from mlnb.models.uri import resolve_model_uri

PORT = 8080
MODEL_DIR = "/opt/ml/model"
APP_DIR = "/opt/mlnb"
ALLOWED_HOSTS_ENV = "MLNB_SERVE_ALLOWED_HOSTS"
SERVING_REQUIREMENTS = ("numpy", "pandas", "pyyaml", "sqlite-utils", "psutil")
"""What ``mlnb serve`` imports besides the model's own requirements."""
_PYTHON = re.compile(r"^python:\s*['\"]?(\d+\.\d+(?:\.\d+)?)['\"]?\s*$", re.MULTILINE)
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?$")


class DockerUnavailableError(MlnbError):
    """No Docker (or Podman) daemon answers on this machine."""

    error_code = "DOCKER_UNAVAILABLE"


def generate_dockerfile(model_uri: str, output_directory: str | Path,
                        allowed_hosts: Sequence[str] = ()) -> Path:
    """Write a Docker build context serving the model, and return the Dockerfile's path.

    The folder is written whole or not at all (built beside it, then renamed into place).

    :param model_uri: ``runs:/...``, ``models:/...`` or a model folder.
    :param output_directory: a folder that does not exist yet, or is empty.
    :param allowed_hosts: ``Host`` names the server accepts besides the loopback ones (the name
        clients use to reach the container, e.g. a service name).
    :raises InvalidParameterError: for a non-empty output folder or a bad host name.
    """
    hosts = [_check_host(h) for h in allowed_hosts]
    location = resolve_model_uri(model_uri)
    target = Path(output_directory).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidParameterError(
            f"{target} already exists and is not an empty folder; name a new folder for the "
            "build context.")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        work = Path(tmp) / "context"
        shutil.copytree(location.local_dir, work / "model", symlinks=False)
        python = model_python(work / "model")
        requirements = serving_requirements(work / "model")
        (work / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
        _copy_package(work / "mlnb")
        (work / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
        (work / "Dockerfile").write_text(dockerfile_text(python, hosts, model_uri))
        if target.exists():
            target.rmdir()
        work.rename(target)
    return target / "Dockerfile"


def model_python(model_dir: Path) -> str:
    """The Python version (``3.11.7``) a model folder's ``python_env.yaml`` records.

    :param model_dir: the model folder.
    :raises InvalidParameterError: when the model records none.
    """
    env = model_dir / "python_env.yaml"
    found = _PYTHON.search(env.read_text(errors="replace")) if env.is_file() else None
    if found is None:
        raise InvalidParameterError(
            f"The model in {model_dir} records no Python version (python_env.yaml with a "
            "'python: 3.x.y' line), so no base image can match it; log it again with this mlnb.")
    return found.group(1)


def serving_requirements(model_dir: Path) -> list[str]:
    """The model's pinned requirements without mlnb (copied into the image instead), plus the
    packages ``mlnb serve`` needs, pinned to the versions installed here when the model has none.

    :param model_dir: the model folder.
    """
    path = model_dir / "requirements.txt"
    lines = [line.strip() for line in path.read_text().splitlines()] if path.is_file() else []
    keep = [line for line in lines if line and not line.startswith("#")
            and _req_name(line) != "mlnb"]
    names = {_req_name(line) for line in keep}
    for dist in SERVING_REQUIREMENTS:
        version = distribution_version(dist)
        if _req_name(dist) not in names and version is not None:
            keep.append(f"{dist}=={version}")
    return sorted(keep, key=_req_name)


def _req_name(line: str) -> str:
    return re.split(r"[\s<>=!~;\[@]", line, maxsplit=1)[0].lower().replace("_", "-")


def _check_host(host: str) -> str:
    if not isinstance(host, str) or not _HOST.match(host):
        raise InvalidParameterError(
            f"{host!r} is not a host name: use letters, digits, dots and dashes (e.g. model-svc).")
    return host.lower()


def dockerfile_text(python: str, allowed_hosts: Sequence[str], model_uri: str) -> str:
    """The Dockerfile of a model's image.

    :param python: the model's Python version (the base image's tag).
    :param allowed_hosts: the ``Host`` names accepted besides the loopback ones.
    :param model_uri: the URI it was made from (a comment; JSON-quoted, never a command).
    """
    entry = ["python", "-m", "mlnb", "serve", MODEL_DIR, "--host", "0.0.0.0", "--port", str(PORT)]
    health = ["python", "-c", "import sys, urllib.request; "
              f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{PORT}/ping', timeout=4).status != 200)"]
    comment = json.dumps(model_uri).replace("\n", " ")
    return "\n".join([
        f"# The image of model {comment}, generated by mlnb {__version__}.",
        f"# Build: docker build -t NAME .   Run: docker run -p {PORT}:{PORT} NAME",
        f"FROM python:{python}-slim",
        "",
        f'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\\n'
        f'    PYTHONPATH={APP_DIR} {ALLOWED_HOSTS_ENV}="{",".join(allowed_hosts)}"',
        f"WORKDIR {APP_DIR}",
        f"COPY requirements.txt {APP_DIR}/requirements.txt",
        f"RUN pip install --no-cache-dir -r {APP_DIR}/requirements.txt \\\n"
        "    && useradd --no-log-init --create-home --uid 10001 mlnb",
        f"COPY mlnb {APP_DIR}/mlnb",
        f"COPY model {MODEL_DIR}",
        "USER 10001",  # numeric: resolvable without the image's /etc/passwd (hadolint DL3066)
        f"EXPOSE {PORT}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \\\n"
        f"    CMD {json.dumps(health)}",
        f"ENTRYPOINT {json.dumps(entry)}",
        "",
    ])


def _copy_package(destination: Path) -> None:
    """Copy the running mlnb's Python files (no build output, no caches) to ``destination``."""
    source = Path(__file__).resolve().parent.parent
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if rel.parts[0] == "labextension" or "__pycache__" in rel.parts:
            continue
        if path.is_file() and path.suffix in (".py", ".typed"):
            (destination / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination / rel)


def docker_command() -> list[str] | None:
    """``docker`` (or ``podman``) when one is installed and its daemon answers, else None."""
    for tool in ("docker", "podman"):
        exe = shutil.which(tool)
        if exe is None:
            continue
        try:
            done = subprocess.run([exe, "info"], capture_output=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return [exe]
    return None


def build_docker(model_uri: str, name: str, allowed_hosts: Sequence[str] = ()) -> None:
    """Build the model's image with ``docker build -t NAME`` where a Docker daemon answers.

    :param model_uri: ``runs:/...``, ``models:/...`` or a model folder.
    :param name: the image's name (``name`` or ``name:tag``, lower case).
    :param allowed_hosts: as for :func:`generate_dockerfile`.
    :raises DockerUnavailableError: when no daemon answers, saying what to run instead.
    :raises InvalidParameterError: for a bad image name.
    """
    if not _NAME.match(name):
        raise InvalidParameterError(
            f"{name!r} is not an image name: use lower-case letters, digits, '.', '_', '-' and "
            "'/', with an optional ':tag' (e.g. churn-model:1).")
    docker = docker_command()
    if docker is None:
        quoted = model_uri if re.fullmatch(r"[\w:/@.-]+", model_uri) else json.dumps(model_uri)
        raise DockerUnavailableError(
            "No Docker daemon answers on this machine (neither 'docker info' nor 'podman info' "
            "succeeds), so the image cannot be built here. Write the build context instead and "
            f"build it where Docker runs:\n  mlnb models generate-dockerfile {quoted} "
            f"--output-directory model-image\n  docker build -t {name} model-image")
    with tempfile.TemporaryDirectory(prefix="mlnb-image-") as tmp:
        context = generate_dockerfile(model_uri, Path(tmp) / "context", allowed_hosts).parent
        done = subprocess.run([*docker, "build", "-t", name, str(context)], check=False)
    if done.returncode != 0:
        raise MlnbError(f"docker build failed (exit {done.returncode}); its output is above.")
