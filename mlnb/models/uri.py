"""Model URIs: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
``models:/<name>@<alias>``, ``models:/m-<id>`` (MLflow 3's logged models), local folders and,
when the store's artifacts are in S3, ``s3://`` URIs under its root (a run's ``artifact_uri``
plus a path). No other scheme is accepted.

A URI is only ever parsed into its parts and looked up in the store; it never becomes part of a
shell command (MLflow's CVE-2026-0596 passed a model URI to ``bash -c``), and text that looks like
shell syntax (``$(``, ``;``, backticks) is refused outright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mlnb.entities import MLMODEL, LoggedModel, ModelVersion
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.registry.uri import (
    check_uri_text,
    logged_model_of,
    parse_registry_uri,
    resolve_registry_uri,
)
from mlnb.store import Store
from mlnb.store.artifacts import safe_relpath
from mlnb.store.logged_models import MODEL_ID
from mlnb.tracking.client import current_store, existing_store

__all__ = ["MLMODEL", "ModelLocation", "check_uri_text", "parse_registry_uri", "resolve_model_uri",
           "resolve_registry_uri"]

_RUNS = re.compile(r"^runs:/([0-9a-f]{32})(?:/(.*))?$")


@dataclass(frozen=True)
class ModelLocation:
    """Where a model URI points: its local folder and, when the store wrote it, the owner of its
    artifact records: its run, or (``run_id`` holding an ``m-`` id) a logged model without a run,
    whose folder is its own (``artifact_path`` ``""``)."""

    uri: str
    local_dir: Path
    run_id: str | None = None
    artifact_path: str | None = None  # the model folder's path inside its owner's artifacts
    store: Store | None = None
    version: ModelVersion | None = None


def resolve_model_uri(uri: str, store: Store | None = None) -> ModelLocation:
    """Find the folder of the model a URI names.

    :param uri: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
        ``models:/<name>@<alias>`` or a local folder (or its ``MLmodel`` file).
    :param store: the store to look in; default the current one.
    """
    return _resolve(uri, store, allow_deleted=False)


def _resolve(uri: str, store: Store | None, allow_deleted: bool) -> ModelLocation:
    # allow_deleted: a registered version's files, when its logged model was deleted since (as
    # in MLflow, the version still loads; models:/m-<id> of a deleted model does not).
    text = check_uri_text(uri)
    if text.startswith("models:/m-"):
        st = store or current_store()
        model = logged_model_of(st, text, allow_deleted=allow_deleted)
        if model is not None:
            return _logged_model_location(text, model, st)
    if text.startswith("models:"):
        st = store or current_store()
        mv = resolve_registry_uri(st, text)
        run_location = _resolve(mv.storage_location or mv.source, st, allow_deleted=True)
        return ModelLocation(text, run_location.local_dir, run_location.run_id,
                             run_location.artifact_path, st, mv)
    if text.startswith("runs:"):
        match = _RUNS.match(text)
        if match is None:
            raise InvalidParameterError(
                f"Model URI {uri!r} is not valid: write runs:/<32-hex run id>/<artifact path>.")
        st = store or current_store()
        run_id = match.group(1)
        path = safe_relpath(match.group(2) or "", allow_empty=True)
        st.get_run_info(run_id)
        folder = st.artifact_path(run_id, path)
        return _checked(ModelLocation(text, folder, run_id, path, st))
    if text.startswith("s3:"):
        st = store or current_store()
        in_bucket = st.run_path_of_uri(text)
        if in_bucket is not None:  # a run's artifact_uri in this store's S3 root, plus a path
            return resolve_model_uri(f"runs:/{in_bucket[0]}/{in_bucket[1]}", st)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", text):
        raise InvalidParameterError(
            f"Model URI {uri!r} has a scheme mlnb does not read; use runs:/, models:/ or a local "
            "folder path.")
    return _local(text, store)


def _logged_model_location(text: str, model: LoggedModel, store: Store) -> ModelLocation:
    """A logged model's folder: in its run's artifacts (checked as runs:/ are), or its own."""
    if model.source_run_id is not None and model.artifact_path is not None:
        found = resolve_model_uri(model.artifact_location, store)
        return ModelLocation(text, found.local_dir, found.run_id, found.artifact_path, store)
    if model.status != "READY":
        raise NotFoundError(
            f"Logged model {model.model_id} is {model.status}: its files are not complete. "
            "Finalize it with mlnb.finalize_logged_model(model_id, 'READY') once they are.")
    try:
        folder = store.artifact_path(model.model_id)
    except NotFoundError:
        raise NotFoundError(f"{text!r} is not a model: logged model {model.model_id} has no "
                            "files (an external model keeps them elsewhere).") from None
    return _checked(ModelLocation(text, folder, model.model_id, "", store))


def _local(text: str, store: Store | None) -> ModelLocation:
    folder = Path(text).expanduser()
    if folder.name == MLMODEL and folder.is_file():
        folder = folder.parent
    folder = folder.resolve()
    st = store or existing_store()
    if st is not None:
        root = st.location.artifact_root.resolve()
        if folder.is_relative_to(root) and folder != root:
            parts = folder.relative_to(root).parts
            if len(parts) >= 2 and re.fullmatch(r"[0-9a-f]{32}", parts[0]):
                return _checked(ModelLocation(text, folder, parts[0], "/".join(parts[1:]), st))
            if len(parts) >= 2 and parts[0] == "models" and MODEL_ID.fullmatch(parts[1]):
                # a logged model without a run: its own folder, models/<model_id>
                return _checked(ModelLocation(text, folder, parts[1], "/".join(parts[2:]), st))
    return _checked(ModelLocation(text, folder))


def _checked(location: ModelLocation) -> ModelLocation:
    if not (location.local_dir / MLMODEL).is_file():
        raise NotFoundError(
            f"{location.uri!r} is not a model: there is no MLmodel file in {location.local_dir}.")
    return location
