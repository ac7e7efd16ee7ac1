"""``mlnb.artifacts``: MLflow's ``mlflow.artifacts`` functions over the store's artifacts.

``download_artifacts``, ``list_artifacts``, ``load_text``, ``load_dict`` and ``load_image`` take
the URIs MLflow's take where they name something in an mlnb store: ``runs:/<run_id>/<path>``,
``models:/<name>/<version|stage|latest>`` and ``models:/<name>@<alias>``, and the ``file://`` URI
(or path) of a run's artifacts, such as ``run.info.artifact_uri + "/config.json"`` (an
``s3://`` URI when the store's artifacts are in S3: ``MLNB_ARTIFACT_URI``). A path outside
the store's artifact root, or a cloud or server URI, is refused with an error saying so.

As MLflow does for local artifacts, ``download_artifacts`` without ``dst_path`` returns the
artifact's own path inside the store (do not write to it); with ``dst_path`` it copies.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlnb.entities import FileInfo
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.models.uri import resolve_model_uri
from mlnb.registry.uri import check_uri_text
from mlnb.store import Store, open_store
from mlnb.store.artifacts import safe_relpath
from mlnb.tracking.client import current_client

__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_image", "load_text"]

_RUNS = re.compile(r"^runs:/([0-9a-f]{32})(?:/(.*))?$")


@dataclass(frozen=True)
class _Place:
    """An artifact (file or folder) of a run: the run, its path there, and the path listings are
    relative to (the run's top, or a model's folder for ``models:/``)."""

    store: Store
    run_id: str
    path: str
    base: str = ""

    @property
    def local(self) -> Path:
        return self.store.artifact_path(self.run_id, self.path)


def _store(tracking_uri: str | None) -> Store:
    if tracking_uri is not None:
        return open_store(tracking_uri)
    client = current_client()
    client.writer.flush()  # a read sees what this process logged
    return client.store


def _place(artifact_uri: str | None, run_id: str | None, artifact_path: str | None,
           tracking_uri: str | None) -> _Place:
    if (run_id is None) == (artifact_uri is None):
        raise InvalidParameterError("Exactly one of `run_id` or `artifact_uri` must be specified.")
    if artifact_uri is not None and artifact_path is not None:
        raise InvalidParameterError(
            "`artifact_path` cannot be specified if `artifact_uri` is specified.")
    store = _store(tracking_uri)
    if run_id is not None:
        store.get_run_info(run_id)
        return _Place(store, run_id, safe_relpath(artifact_path or "", allow_empty=True))
    return _place_of_uri(store, str(artifact_uri))


def _place_of_uri(store: Store, uri: str) -> _Place:
    text = check_uri_text(uri)
    if text.startswith("runs:"):
        match = _RUNS.match(text)
        if match is None:
            raise InvalidParameterError(
                f"Artifact URI {uri!r} is not valid: write runs:/<32-hex run id>/<artifact path>.")
        store.get_run_info(match.group(1))
        return _Place(store, match.group(1), safe_relpath(match.group(2) or "", allow_empty=True))
    if text.startswith("models:"):
        location = resolve_model_uri(text, store)
        if location.run_id is None or location.artifact_path is None:
            raise NotFoundError(f"{uri!r} names no model logged in this store.")
        return _Place(store, location.run_id, location.artifact_path, location.artifact_path)
    in_bucket = store.run_path_of_uri(text)
    if in_bucket is not None:  # under this store's S3 root: a run's artifact_uri plus a path
        store.get_run_info(in_bucket[0])
        return _Place(store, *in_bucket)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme and len(parsed.scheme) > 1:
        raise InvalidParameterError(
            f"Artifact URI {uri!r}: mlnb reads artifacts from its own store only; use "
            "runs:/<run_id>/<path>, models:/<name>/<version> or a run's artifact_uri.")
    else:
        path = Path(text).expanduser()
    root = store.location.artifact_root.resolve()
    real = path.resolve()
    if not real.is_relative_to(root) or real == root:
        raise InvalidParameterError(
            f"Artifact URI {uri!r} is not inside this store's artifacts ({root}); use "
            "runs:/<run_id>/<path> or a run's artifact_uri.")
    parts = real.relative_to(root).parts
    store.get_run_info(parts[0])
    return _Place(store, parts[0], "/".join(parts[1:]))


def download_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                       artifact_path: str | None = None, dst_path: str | None = None,
                       tracking_uri: str | None = None) -> str:
    """The local path of an artifact file or folder; with ``dst_path``, a copy made there.

    As MLflow: give ``artifact_uri``, or ``run_id`` (with ``artifact_path`` for part of the run).
    Without ``dst_path`` the path returned is the artifact's own, inside the store (MLflow does the
    same for local artifacts): do not write to it. With ``dst_path`` (created if missing) the
    artifact is copied to ``dst_path/<its name>``, or the whole run's artifacts into ``dst_path``.

    :param artifact_uri: ``runs:/``, ``models:/`` or a ``file://`` URI inside the store.
    :param run_id: or the run whose artifacts to fetch.
    :param artifact_path: with ``run_id``: a path inside the run's artifacts.
    :param dst_path: a local folder to copy into.
    :param tracking_uri: the store to read; default the current one.
    :raises NotFoundError: for a run or artifact the store does not have.
    """
    place = _place(artifact_uri, run_id, artifact_path, tracking_uri)
    source = place.local
    if dst_path is None:
        return str(source)
    folder = Path(dst_path)
    folder.mkdir(parents=True, exist_ok=True)
    whole_run = artifact_uri is None and not place.path
    target = folder if whole_run else folder / source.name
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=_symlinks)
    else:
        shutil.copyfile(source, target)
    return str(target.resolve())


def _symlinks(folder: str, names: list[str]) -> list[str]:
    # mlnb never writes links into a store; one found there was planted and may point anywhere.
    return [name for name in names if (Path(folder) / name).is_symlink()]


def list_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                   artifact_path: str | None = None, tracking_uri: str | None = None
                   ) -> list[FileInfo]:
    """The files and folders directly inside an artifact folder, as MLflow lists them: paths
    relative to the run's top (to the model's folder for a ``models:/`` URI); empty for a file or
    a missing path.

    :param artifact_uri: ``runs:/``, ``models:/`` or a ``file://`` URI inside the store.
    :param run_id: or the run whose artifacts to list.
    :param artifact_path: with ``run_id``: a folder inside the run's artifacts.
    :param tracking_uri: the store to read; default the current one.
    """
    place = _place(artifact_uri, run_id, artifact_path, tracking_uri)
    cut = len(place.base) + 1 if place.base else 0
    return [FileInfo(f.path[cut:], f.is_dir, f.file_size, f.sha256)
            for f in place.store.list_artifacts(place.run_id, place.path)]


def _read_bytes(artifact_uri: str) -> bytes:
    place = _place(artifact_uri, None, None, None)
    source = place.local
    if source.is_dir():
        raise InvalidParameterError(f"Artifact {artifact_uri!r} is a folder, not a file.")
    return source.read_bytes()


def load_text(artifact_uri: str) -> str:
    """An artifact's contents as text (UTF-8).

    :param artifact_uri: e.g. ``run.info.artifact_uri + "/notes.txt"`` or ``runs:/<id>/notes.txt``.
    :raises InvalidParameterError: when the file is not valid UTF-8.
    """
    data = _read_bytes(artifact_uri)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterError(
            f"Artifact {artifact_uri!r} is not valid UTF-8. To read a file in another encoding, "
            "download it with mlnb.artifacts.download_artifacts and open it with its encoding."
        ) from None


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """An artifact's contents as a dict: JSON, as MLflow reads it, and also YAML for a
    ``.yaml``/``.yml`` file (which ``log_dict`` writes as YAML; MLflow's ``load_dict`` fails on it).

    :param artifact_uri: e.g. ``run.info.artifact_uri + "/config.json"``.
    :raises InvalidParameterError: when the file holds no JSON (or YAML) object.
    """
    text = load_text(artifact_uri)
    if artifact_uri.lower().endswith((".yaml", ".yml")):
        import yaml  # PyYAML: loaded on first use, not by import mlnb

        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidParameterError(f"Unable to read {artifact_uri!r} as YAML: {exc}.") from None
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidParameterError(
                f"Unable to form a JSON object from the content of {artifact_uri!r}.") from None
    if not isinstance(value, dict):
        raise InvalidParameterError(
            f"Artifact {artifact_uri!r} holds a {type(value).__name__}, not a dict.")
    return value


def load_image(artifact_uri: str) -> Any:
    """An image artifact as a ``PIL.Image.Image`` (needs Pillow).

    :param artifact_uri: e.g. ``run.info.artifact_uri + "/plot.png"``.
    :raises InvalidParameterError: when the file is not an image Pillow reads.
    """
    try:
        from PIL import Image  # Pillow: loaded on first use, and only needed here
    except ImportError:
        raise ImportError("load_image needs Pillow: pip install Pillow") from None
    place = _place(artifact_uri, None, None, None)
    try:
        image = Image.open(place.local)
        image.load()
    except Exception:  # Pillow's UnidentifiedImageError, OSError for truncated files
        raise InvalidParameterError(
            f"Unable to form a PIL Image object from the content of {artifact_uri!r}.") from None
    return image
