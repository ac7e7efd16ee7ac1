"""The model folder: an ``MLmodel`` YAML descriptor beside the model's files.

``MLmodel`` names the flavors, the mlnb version, when and by which run the model was made, its
signature and input example, and the sha256 and size of every other file in the folder.
``requirements.txt`` and ``python_env.yaml`` pin the packages the model needs, at the versions
installed where it was saved.

A model is built in memory as ``{file name: bytes}`` and then written either to a folder
(``save_model``) or into a run's artifacts through the store (``log_model``), which records each
file's sha256: that record is what later lets a pickle load without ``trusted=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlnb._version import __version__
from mlnb.capture.environment import distribution_version, pinned_requirements, python_version
from mlnb.entities import MLMODEL, MODEL_ORIGIN
from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError, UntrustedModelError
from mlnb.models.signature import ModelSignature
from mlnb.models.uri import ModelLocation
from mlnb.store.artifacts import resolve_inside, safe_relpath, sha256_of
from mlnb.tracking.client import current_store

if TYPE_CHECKING:
    pass



@dataclass
class ModelDescriptor:
    """The parsed ``MLmodel`` file."""

    flavors: dict[str, dict[str, Any]]
    run_id: str | None = None
    artifact_path: str | None = None
    utc_time_created: str = ""
    mlnb_version: str = ""
    model_uuid: str = ""
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as the ``MLmodel`` mapping."""
        out: dict[str, Any] = {
            "artifact_path": self.artifact_path, "flavors": self.flavors,
            "mlnb_version": self.mlnb_version, "model_uuid": self.model_uuid,
            "run_id": self.run_id, "utc_time_created": self.utc_time_created,
        }
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        out["files"] = self.files
        return out

    def to_yaml(self) -> bytes:
        """The ``MLmodel`` file's bytes."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False).encode("utf-8")

    @classmethod
    def from_yaml(cls, data: bytes, where: str = "MLmodel") -> ModelDescriptor:
        """Parse ``MLmodel`` bytes (safe YAML: the file cannot build objects).

        :param data: the file's bytes.
        :param where: the file's name or path, for error messages.
        :raises InvalidParameterError: for invalid YAML or no ``flavors`` mapping.
        """
        import yaml

        try:
            raw = yaml.safe_load(data)  # never yaml.load: an MLmodel file must not build objects
        except yaml.YAMLError:
            raise InvalidParameterError(f"{where} is not valid YAML.") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("flavors"), dict):
            raise InvalidParameterError(f"{where} has no 'flavors' mapping; it is not a model file.")
        signature = raw.get("signature")
        files = raw.get("files") or {}
        return cls(
            flavors=raw["flavors"], run_id=raw.get("run_id"), artifact_path=raw.get("artifact_path"),
            utc_time_created=str(raw.get("utc_time_created") or ""),
            mlnb_version=str(raw.get("mlnb_version") or ""), model_uuid=str(raw.get("model_uuid") or ""),
            signature=ModelSignature.from_dict(signature) if signature else None,
            saved_input_example_info=raw.get("saved_input_example_info"),
            files=files if isinstance(files, dict) else {},
        )

    @classmethod
    def load(cls, folder: Path) -> ModelDescriptor:
        """Parse the ``MLmodel`` file of a model folder.

        :param folder: the model folder.
        :raises NotFoundError: when the folder has no ``MLmodel``.
        """
        path = folder / MLMODEL
        if not path.is_file():
            raise NotFoundError(f"There is no MLmodel file in {folder}; it is not a model folder.")
        return cls.from_yaml(path.read_bytes(), str(path))


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` returns (MLflow's names)."""

    model_uri: str
    run_id: str | None
    artifact_path: str
    signature: ModelSignature | None
    flavors: dict[str, dict[str, Any]]
    utc_time_created: str
    model_uuid: str
    mlnb_version: str
    registered_model_version: str | None = None
    saved_input_example_info: dict[str, Any] | None = None


# --- building --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _requirements(modules: tuple[str, ...]) -> tuple[str, ...]:
    # importlib.metadata is slow; a process asks for the same handful of packages every time.
    return tuple(pinned_requirements(modules))


@lru_cache(maxsize=1)
def _python_env() -> bytes:
    build = [f"{d}=={v}" for d in ("pip", "setuptools", "wheel")
             if (v := distribution_version(d)) is not None]
    lines = [f"python: {python_version()}", "build_dependencies:"]
    lines += [f"- {b}" for b in build] or ["- pip"]
    lines += ["dependencies:", "- -r requirements.txt"]
    return ("\n".join(lines) + "\n").encode()


def example_bytes(example: Any) -> tuple[bytes, dict[str, Any]]:
    """An input example as MLflow's JSON (``dataframe_split`` columns/data, or ``inputs``), with its
    ``saved_input_example_info``.

    :param example: a DataFrame, Series, dict of columns, or anything numpy can make an array of.
    """
    import numpy as np
    import pandas as pd

    if isinstance(example, dict) and all(not isinstance(v, dict) for v in example.values()):
        example = pd.DataFrame({str(k): v if hasattr(v, "__len__") and not isinstance(v, str) else [v]
                                for k, v in example.items()})
    if isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        body = {"columns": [str(c) for c in example.columns],
                "data": json.loads(example.to_json(orient="values", date_format="iso"))}
        info = {"artifact_path": "input_example.json", "type": "dataframe", "pandas_orient": "split"}
    else:
        array = np.asarray(example)
        body = {"inputs": json.loads(pd.Series(array.ravel()).to_json(orient="values"))}
        body["inputs"] = np.asarray(body["inputs"], dtype=object).reshape(array.shape).tolist()
        info = {"artifact_path": "input_example.json", "type": "ndarray", "format": "tf-serving"}
    return json.dumps(body, allow_nan=False).encode(), info


def build_model_files(
    payload: dict[str, bytes], flavors: dict[str, dict[str, Any]], *,
    modules: Iterable[str], signature: ModelSignature | None, input_example: Any,
    run_id: str | None, artifact_path: str | None,
) -> tuple[dict[str, bytes], ModelDescriptor]:
    """Every file of a model folder, ``MLmodel`` last, with the descriptor it holds.

    :param payload: the flavor's own files (name -> bytes).
    :param flavors: the ``flavors`` section of ``MLmodel``.
    :param modules: import names whose installed versions go into ``requirements.txt``.
    :param signature: the model's signature, or None.
    :param input_example: the input example, or None.
    :param run_id: the run the model is logged into (None for ``save_model``).
    :param artifact_path: its folder in the run (None for ``save_model``).
    """
    files = dict(payload)
    files["requirements.txt"] = ("\n".join(_requirements(tuple(sorted(set(modules))))) + "\n").encode()
    files["python_env.yaml"] = _python_env()
    example_info = None
    if input_example is not None:
        files["input_example.json"], example_info = example_bytes(input_example)
    descriptor = ModelDescriptor(
        flavors=flavors, run_id=run_id, artifact_path=artifact_path,
        utc_time_created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"),
        mlnb_version=__version__, model_uuid=secrets.token_hex(16), signature=signature,
        saved_input_example_info=example_info,
        files={name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
               for name, data in sorted(files.items())},
    )
    files[MLMODEL] = descriptor.to_yaml()
    return files, descriptor


def write_folder(path: str | os.PathLike[str], files: dict[str, bytes]) -> Path:
    """Write a model folder (private permissions, each file atomically); refuse a non-empty one.

    :param path: the folder.
    :param files: relative name -> bytes.
    :raises AlreadyExistsError: when ``path`` exists and is not an empty folder.
    """
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise AlreadyExistsError(f"{folder} already exists and is not empty; choose a new path.")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, data in files.items():
        target = folder / safe_relpath(name)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return folder


def log_files(files: dict[str, bytes], artifact_path: str, run_id: str) -> None:
    """Put the files into a run's artifacts through the current store, ``MLmodel`` last.

    The store records their sha256 with the origin ``"model"``: only such files load as pickles
    untrusted.

    :param files: relative name -> bytes.
    :param artifact_path: the model's folder inside the run's artifacts.
    :param run_id: the run.
    """
    store = current_store()
    for name in sorted(files, key=lambda n: n == MLMODEL):  # MLmodel last: a model is whole
        store.put_artifact_bytes(run_id, f"{artifact_path}/{name}", files[name], origin=MODEL_ORIGIN)


# --- trust -----------------------------------------------------------------------------------


def verified_file(location: ModelLocation, relname: str, *, runs_code: bool, trusted: bool) -> Path:
    """The path of a model file after checking where it came from.

    A file whose sha256 no longer matches the store's record is refused. A file whose loading would
    run code (a pickle) passes only if mlnb's model writer wrote it (origin ``"model"``), it is
    unchanged, and the ``MLmodel`` that named it is the model writer's and unchanged too: a foreign
    pickle copied in with ``log_artifact(s)``, or an edited ``MLmodel`` pointing elsewhere, is
    refused. ``trusted=True`` skips every check.

    :param location: where the model is.
    :param relname: the file's path inside the model folder.
    :param runs_code: whether loading the file runs code (a pickle).
    :param trusted: skip the checks.
    :raises NotFoundError: when the file is missing.
    :raises UntrustedModelError: when a check fails.
    """
    path = resolve_inside(location.local_dir, safe_relpath(relname))
    if not path.is_file():
        raise NotFoundError(f"The model at {location.uri!r} lacks its file {relname!r}.")
    if trusted:
        return path
    record = store_origin(location, relname)
    if record is not None:
        actual = sha256_of(path)
        if actual != record[0]:
            raise UntrustedModelError(
                f"{relname} of the model at {location.uri!r} has changed since the store wrote it "
                f"(sha256 {actual[:12]}... is not the recorded {record[0][:12]}...). It was not "
                "loaded. If you changed it yourself and trust it, pass trusted=True."
            )
    if not runs_code:
        return path
    if record is None:
        raise UntrustedModelError(
            f"{relname} of the model at {location.uri!r} is a pickle that this store did not "
            "write, and loading a pickle runs code. It was not loaded. Pass trusted=True only if "
            "you trust where it came from."
        )
    if record[1] != MODEL_ORIGIN or not _mlmodel_is_model_writers(location):
        raise UntrustedModelError(
            f"{relname} of the model at {location.uri!r} is a pickle that was not written by "
            "mlnb's model writer (log_model), or its MLmodel was changed since; it was copied in "
            "as an ordinary artifact (log_artifact/log_artifacts) or edited, and loading a pickle "
            "runs code. It was not loaded. Pass trusted=True only if you trust where it came from."
        )
    return path


def written_by_model_writer(location: ModelLocation, relname: str) -> bool:
    """Whether mlnb's model writer wrote this file and the MLmodel beside it, both unchanged.

    :param location: where the model is.
    :param relname: the file's path inside the model folder.
    """
    record = store_origin(location, relname)
    if record is None or record[1] != MODEL_ORIGIN:
        return False
    path = resolve_inside(location.local_dir, safe_relpath(relname))
    return path.is_file() and sha256_of(path) == record[0] and _mlmodel_is_model_writers(location)


def _mlmodel_is_model_writers(location: ModelLocation) -> bool:
    record = store_origin(location, MLMODEL)
    path = location.local_dir / MLMODEL
    return (record is not None and record[1] == MODEL_ORIGIN and path.is_file()
            and sha256_of(path) == record[0])


def store_origin(location: ModelLocation, relname: str) -> tuple[str, str] | None:
    """``(sha256, origin)`` the store recorded for this model file, or None if it has no record.

    :param location: where the model is (None without a store or run).
    :param relname: the file's path inside the model folder.
    """
    if location.store is None or location.run_id is None or location.artifact_path is None:
        return None
    prefix = f"{location.artifact_path}/" if location.artifact_path else ""
    try:
        return location.store.artifact_origin(location.run_id, prefix + relname)
    except (NotFoundError, InvalidParameterError):
        return None
