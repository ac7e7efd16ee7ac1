"""The model folder: an ``MLmodel`` YAML descriptor beside the model's files.

``MLmodel`` names the flavors, the mlnb version, when and by which run the model was made, its
signature and input example, and the sha256 and size of every other file in the folder.
``requirements.txt`` and ``python_env.yaml`` pin the packages the model needs, at the versions
installed where it was saved.

A model is built in memory as ``{file name: bytes}`` and then written either to a folder
(``save_model``) or into a run's artifacts through the store (``log_model``), which records each
file's sha256 signed with this user's key (:mod:`mlnb.store.trust`): that signed record is what
later lets a pickle load without ``trusted=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from mlnb._version import __version__
from mlnb.capture.environment import distribution_version, pinned_requirements, python_version
from mlnb.entities import MLMODEL, MODEL_ORIGIN
from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError, UntrustedModelError
from mlnb.models.signature import ModelSignature
from mlnb.models.uri import ModelLocation
from mlnb.store import ArtifactProof, Store
from mlnb.store.artifacts import (
    iter_source_files,
    replace_atomically,
    resolve_inside,
    safe_relpath,
    sha256_of,
)
from mlnb.tracking.client import current_store


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
    reference_data_info: dict[str, Any] | None = None
    model_id: str | None = None  # MLflow 3: the logged model's id (absent for save_model)

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as the ``MLmodel`` mapping."""
        out: dict[str, Any] = {
            "artifact_path": self.artifact_path, "flavors": self.flavors,
            "mlnb_version": self.mlnb_version, "model_uuid": self.model_uuid,
            "run_id": self.run_id, "utc_time_created": self.utc_time_created,
        }
        if self.model_id is not None:
            out["model_id"] = self.model_id
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.reference_data_info is not None:
            out["reference_data"] = self.reference_data_info
        out["files"] = self.files
        return out

    def to_yaml(self) -> bytes:
        """The ``MLmodel`` file's bytes."""
        import yaml  # PyYAML: loaded on first use, not by import mlnb

        return yaml.safe_dump(self.to_dict(), sort_keys=False).encode("utf-8")

    @classmethod
    def from_yaml(cls, data: bytes, where: str = "MLmodel") -> ModelDescriptor:
        """Parse ``MLmodel`` bytes (safe YAML: the file cannot build objects).

        :param data: the file's bytes.
        :param where: the file's name or path, for error messages.
        :raises InvalidParameterError: for invalid YAML or no ``flavors`` mapping.
        """
        import yaml  # PyYAML: loaded on first use, not by import mlnb

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
            reference_data_info=raw.get("reference_data") if isinstance(raw.get("reference_data"),
                                                                        dict) else None,
            model_id=raw.get("model_id") if isinstance(raw.get("model_id"), str) else None,
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
    model_id: str | None = None  # MLflow 3: the logged model's id (models:/<model_id>)
    name: str | None = None  # MLflow 3: the logged model's name


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
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

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


REFERENCE_FILE = "reference_data.parquet"
REFERENCE_MAX_ROWS = 100_000  # a sample this size estimates every column's distribution well


@dataclass(frozen=True)
class ReferenceSample:
    """Reference data with what a plain DataFrame cannot say: which column is the target, how
    many rows the data it was sampled from had, and that data's dataset digest (autolog builds
    one from a fit's training data).

    :param frame: the rows kept (a DataFrame).
    :param target: the name of the target column in ``frame``, or None.
    :param rows_given: rows of the data the sample was drawn from (default ``len(frame)``).
    :param dataset_digest: MLflow's digest of that data (the run's dataset input), or None.
    """

    frame: Any
    target: str | None = None
    rows_given: int | None = None
    dataset_digest: str | None = None


def _reference_parts(data: Any) -> tuple[Any, ReferenceSample]:
    """``(data, its ReferenceSample)``: a :class:`ReferenceSample`, a dataset of
    ``mlnb.data.from_pandas(df, targets=...)`` (its ``df`` and target column), or a table."""
    if isinstance(data, ReferenceSample):
        return data.frame, data
    if hasattr(data, "df") and hasattr(data, "targets") and hasattr(data, "digest"):
        return data.df, ReferenceSample(data.df, data.targets, None, data.digest)
    return data, ReferenceSample(data)


def reference_bytes(data: Any) -> tuple[bytes, dict[str, Any]]:
    """A reference sample as Parquet bytes and its ``MLmodel`` entry (rows kept, rows given,
    columns; the target column and the source data's digest when known).

    A seeded sample of :data:`REFERENCE_MAX_ROWS` rows is kept when ``data`` is larger, so the
    same data always gives the same file.

    :param data: a DataFrame (or anything ``pandas.DataFrame`` accepts), a dataset of
        ``mlnb.data.from_pandas(df, targets="label")`` (its ``targets`` column is recorded as
        the target), or a :class:`ReferenceSample`.
    :raises InvalidParameterError: for data that is not a table, or is empty, or a target that is
        not one of its columns.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    data, sample = _reference_parts(data)
    try:
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"reference_data must be a table (a pandas DataFrame), not {type(data).__name__}.") from None
    if frame.empty:
        raise InvalidParameterError("reference_data has no rows; pass the data the model was "
                                    "trained on.")
    if sample.target is not None and str(sample.target) not in [str(c) for c in frame.columns]:
        raise InvalidParameterError(
            f"The reference data's target column {sample.target!r} is not one of its columns.")
    given = len(frame)
    if given > REFERENCE_MAX_ROWS:
        frame = frame.sample(n=REFERENCE_MAX_ROWS, random_state=0).sort_index()
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1).reset_index(drop=True)
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (ValueError, TypeError, ImportError) as problem:
        raise InvalidParameterError(
            f"reference_data cannot be saved as Parquet ({problem}); give columns of numbers, "
            "text, booleans or dates.") from None
    info: dict[str, Any] = {"artifact_path": REFERENCE_FILE, "format": "parquet",
                            "rows": len(frame), "rows_given": sample.rows_given or given,
                            "columns": list(frame.columns)}
    if sample.target is not None:
        info["target"] = str(sample.target)
    if sample.dataset_digest is not None:
        info["dataset_digest"] = sample.dataset_digest
    return buffer.getvalue(), info


def build_model_files(
    payload: dict[str, bytes], flavors: dict[str, dict[str, Any]], *,
    modules: Iterable[str], signature: ModelSignature | None, input_example: Any,
    run_id: str | None, artifact_path: str | None, reference_data: Any = None,
    model_id: str | None = None,
) -> tuple[dict[str, bytes], ModelDescriptor]:
    """Every file of a model folder, ``MLmodel`` last, with the descriptor it holds.

    :param payload: the flavor's own files (name -> bytes).
    :param flavors: the ``flavors`` section of ``MLmodel``.
    :param modules: import names whose installed versions go into ``requirements.txt``.
    :param signature: the model's signature, or None.
    :param input_example: the input example, or None.
    :param run_id: the run the model is logged into (None for ``save_model``).
    :param artifact_path: its folder in the run (None for ``save_model``).
    :param reference_data: data the model was trained on (see :func:`reference_bytes`), saved
        as a sample in ``reference_data.parquet`` (hash-recorded like every file) for drift
        monitoring.
    :param model_id: the logged model's id (None for ``save_model``).
    """
    files = dict(payload)
    reference_info = None
    if reference_data is not None:
        files[REFERENCE_FILE], reference_info = reference_bytes(reference_data)
    files["requirements.txt"] = ("\n".join(_requirements(tuple(sorted(set(modules))))) + "\n").encode()
    files["python_env.yaml"] = _python_env()
    example_info = None
    if input_example is not None:
        files["input_example.json"], example_info = example_bytes(input_example)
    descriptor = ModelDescriptor(
        flavors=flavors, run_id=run_id, artifact_path=artifact_path, model_id=model_id,
        utc_time_created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"),
        mlnb_version=__version__, model_uuid=secrets.token_hex(16), signature=signature,
        saved_input_example_info=example_info, reference_data_info=reference_info,
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
        replace_atomically(target, data)
    return folder


def log_files(files: dict[str, bytes], artifact_path: str, run_id: str,
              user_files: Iterable[str] = ()) -> None:
    """Put the files into a run's artifacts through the current store, ``MLmodel`` last.

    The store records the sha256 of the files mlnb's model writer made with the origin
    ``"model"``: only such files load as pickles untrusted. Files whose bytes the user supplied
    (a PythonModel's ``artifacts``) are recorded as ``"user"``: otherwise a user file named
    ``MLmodel`` beside a pickle would make a folder that loads as a trusted model.

    :param files: relative name -> bytes.
    :param artifact_path: the model's folder inside the run's artifacts (``""`` for a logged
        model's own folder).
    :param run_id: the run, or a logged model without a run.
    :param user_files: the names among ``files`` whose content the user supplied.
    """
    store = current_store()
    supplied = set(user_files)
    prefix = f"{artifact_path}/" if artifact_path else ""
    for name in sorted(files, key=lambda n: n == MLMODEL):  # MLmodel last: a model is whole
        origin = "user" if name in supplied else MODEL_ORIGIN
        store.put_artifact_bytes(run_id, prefix + name, files[name], origin=origin)


# --- trust ---------------------------------------------------------------------------------
#
# Two questions, asked on every load unless the caller passes trusted=True:
# 1. Integrity (check_files): is every file the one that was saved? Each file must match the
#    sha256 its MLmodel records (and the store's record, when the store holds it); a version
#    loaded through models:/ must also match, file for file, the hashes pinned when it was
#    registered (no file changed, added or removed).
# 2. Origin (verified_file): may a file whose loading runs code (a pickle, a skops file with
#    types skops does not vouch for) load? Only if this user's mlnb wrote it with the model
#    writer: the store's record says origin "model", its MAC verifies under this user's key
#    (mlnb.store.trust) or the user trusted the store with `mlnb trust`, and the MLmodel that
#    names it passes the same test. A copied or cloned store carries its rows but not the key.


def check_files(location: ModelLocation, descriptor: ModelDescriptor, *, trusted: bool) -> None:
    """Refuse (UntrustedModelError) a model folder whose files are not the ones saved.

    :param location: where the model is.
    :param descriptor: its parsed ``MLmodel``.
    :param trusted: skip every check (the caller vouches for the folder).
    """
    if trusted:
        return
    if location.version is not None and location.store is not None:
        _check_pins(location, location.store)  # first: its message names the registration
    mlmodel_proof = store_proof(location, MLMODEL)
    if mlmodel_proof is not None:
        _require_same(location, MLMODEL, mlmodel_proof.sha256, "since the store wrote it")
    if not descriptor.files:
        _check_recorded_folder(location)
        return
    for name, meta in sorted(descriptor.files.items()):
        proof = store_proof(location, name)
        if proof is not None:
            _require_same(location, name, proof.sha256, "since the store wrote it")
        recorded = meta.get("sha256") if isinstance(meta, dict) else None
        _require_same(location, name, str(recorded), "since the model was saved (its MLmodel "
                      "records another sha256)")


def _check_recorded_folder(location: ModelLocation) -> None:
    """A model folder whose ``MLmodel`` lists no hashes (MLflow writes none) is checked against
    the store instead: every file in it must be one the store recorded, unchanged since. Outside
    a store nothing can vouch for the files, and the folder is refused."""
    if location.store is None or location.run_id is None or location.artifact_path is None:
        raise UntrustedModelError(
            f"The MLmodel of the model at {location.uri!r} lists no files with their sha256, so "
            "mlnb cannot check that they are the ones saved. It was not loaded. Pass "
            "trusted=True only if you trust where it came from.")
    for path in sorted(location.local_dir.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        relname = path.relative_to(location.local_dir).as_posix()
        proof = store_proof(location, relname)
        if proof is None or path.is_symlink():
            raise UntrustedModelError(
                f"{relname} in the model at {location.uri!r} is not a file the store recorded, "
                "and the model's MLmodel lists no hashes to check it by. It was not loaded. "
                "Remove the file, or pass trusted=True only if you trust the folder as it is.")
        _require_same(location, relname, proof.sha256, "since the store recorded it")


def _require_same(location: ModelLocation, relname: str, expected: str, since: str) -> None:
    path = resolve_inside(location.local_dir, safe_relpath(relname))
    if not path.is_file():
        raise UntrustedModelError(
            f"The model at {location.uri!r} lacks its file {relname!r}. It was not loaded; "
            "pass trusted=True only if you trust the folder as it is.")
    actual = sha256_of(path)
    if actual != expected:
        raise UntrustedModelError(
            f"{relname} of the model at {location.uri!r} has changed {since}: its sha256 is "
            f"{actual[:12]}..., not {expected[:12]}.... It was not loaded. If you changed it "
            "yourself and trust it, pass trusted=True.")


def _check_pins(location: ModelLocation, store: Store) -> None:
    """A registered version's folder must hold exactly the files pinned at registration."""
    mv = location.version
    assert mv is not None
    pins = store.model_version_pins(mv.name, mv.version)
    on_disk = {rel for _, rel in iter_source_files(location.local_dir)
               if not Path(rel).name.startswith(".tmp-")}  # an interrupted write's leftover
    what = f"version {mv.version} of {mv.name!r}"
    for rel in sorted(on_disk - set(pins)):
        raise UntrustedModelError(
            f"{rel} was added to the model folder of {what} after it was registered; a "
            "registered version's files cannot change. It was not loaded. Pass trusted=True "
            "only if you trust the folder as it is.")
    for rel, sha in sorted(pins.items()):
        if rel not in on_disk:
            raise UntrustedModelError(
                f"{rel} was removed from the model folder of {what} after it was registered. "
                "It was not loaded; pass trusted=True only if you trust the folder as it is.")
        _require_same(location, rel, sha, f"since {what} was registered")


def verified_file(location: ModelLocation, relname: str, *, runs_code: bool, trusted: bool,
                  what: str = "is a pickle") -> Path:
    """The path of a model file after checking where it came from.

    A file whose sha256 no longer matches the store's record is refused. A file whose loading
    would run code passes only if this user's mlnb wrote it with the model writer (see the
    comment above), unchanged, and the ``MLmodel`` that named it too: a foreign pickle copied in
    with ``log_artifact(s)``, an edited ``MLmodel`` pointing elsewhere, or a store written by
    someone else is refused. ``trusted=True`` skips every check.

    :param location: where the model is.
    :param relname: the file, relative to the model folder.
    :param runs_code: loading the file runs code of the file's choosing.
    :param trusted: skip every check.
    :param what: how the refusal describes the file ("is a pickle").
    :raises NotFoundError: when the file is missing.
    :raises UntrustedModelError: when a check fails.
    """
    path = resolve_inside(location.local_dir, safe_relpath(relname))
    if not path.is_file():
        raise NotFoundError(f"The model at {location.uri!r} lacks its file {relname!r}.")
    if trusted:
        return path
    proof = store_proof(location, relname)
    if proof is not None:
        _require_same(location, relname, proof.sha256, "since the store wrote it")
    if not runs_code:
        return path
    if proof is None:
        raise UntrustedModelError(
            f"{relname} of the model at {location.uri!r} {what} that this store did not "
            "write, and loading it runs code. It was not loaded. Pass trusted=True only if "
            "you trust where it came from.")
    mlmodel = store_proof(location, MLMODEL)
    mlmodel_same = (mlmodel is not None and (location.local_dir / MLMODEL).is_file()
                    and sha256_of(location.local_dir / MLMODEL) == mlmodel.sha256)
    if proof.origin != MODEL_ORIGIN or mlmodel is None or mlmodel.origin != MODEL_ORIGIN \
            or not mlmodel_same:
        raise UntrustedModelError(
            f"{relname} of the model at {location.uri!r} {what} that was not written by "
            "mlnb's model writer (log_model), or its MLmodel was changed since; it was copied in "
            "as an ordinary artifact (log_artifact/log_artifacts, or an MLflow client's upload "
            "through mlnb's MLflow REST API) or edited, and loading it "
            "runs code. It was not loaded. Pass trusted=True only if you trust where it came from.")
    if not (proof.vouched and mlmodel.vouched):
        raise UntrustedModelError(_foreign_message(location, relname, what))
    return path


def _foreign_message(location: ModelLocation, relname: str, what: str) -> str:
    where = location.store.location.uri if location.store is not None else "?"
    return (
        f"{relname} of the model at {location.uri!r} {what}, and loading it would run code "
        f"chosen by whoever wrote it. The store {where} was written by someone else: its "
        "records are not signed with your mlnb key (it was copied or cloned from another user "
        "or machine, or written by an mlnb too old to sign), so nothing shows that your own "
        "log_model wrote this file. It was not loaded. If you trust whoever made this store, "
        f"run `mlnb trust {where}` (it explains what that implies), or pass trusted=True "
        "(--trusted for mlnb serve and mlnb predict) for this one load.")


def store_proof(location: ModelLocation, relname: str) -> ArtifactProof | None:
    """The store's record of this model file and what vouches for it, or None if it has none.

    :param location: where the model is (no proof without a store or run).
    :param relname: the file's path inside the model folder.
    """
    if location.store is None or location.run_id is None or location.artifact_path is None:
        return None
    prefix = f"{location.artifact_path}/" if location.artifact_path else ""
    try:
        return location.store.artifact_proof(location.run_id, prefix + relname)
    except (NotFoundError, InvalidParameterError):
        return None
