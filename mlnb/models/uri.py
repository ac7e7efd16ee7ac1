"""Model URIs: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|stage|latest>``,
``models:/<name>@<alias>`` and local folders. No other scheme is accepted.

A URI is only ever parsed into its parts and looked up in the store; it never becomes part of a
shell command (MLflow's CVE-2026-0596 passed a model URI to ``bash -c``), and text that looks like
shell syntax (``$(``, ``;``, backticks) is refused outright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlnb.entities import ModelVersion, ModelVersionStage
from mlnb.errors import InvalidParameterError, NotFoundError

if TYPE_CHECKING:
    from mlnb.store import Store

MLMODEL = "MLmodel"
_RUNS = re.compile(r"^runs:/([0-9a-f]{32})(?:/(.*))?$")
_SHELLISH = ("$(", ";", "`", "\n", "\r", "\x00")


@dataclass(frozen=True)
class ModelLocation:
    """Where a model URI points: its local folder and, when the store wrote it, its run."""

    uri: str
    local_dir: Path
    run_id: str | None = None
    artifact_path: str | None = None  # the model folder's path inside its run's artifacts
    store: Store | None = None
    version: ModelVersion | None = None


def current_store() -> Store:
    """The store the fluent API uses (``set_tracking_uri``, ``MLNB_TRACKING_URI``, ``.mlnb``)."""
    from mlnb.tracking.fluent import _client

    return _client().store


def check_uri_text(uri: object) -> str:
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterError(f"A model URI must be non-empty text, not {uri!r}.")
    if len(uri) > 4096:
        raise InvalidParameterError("A model URI may be at most 4096 characters long.")
    bad = [token for token in _SHELLISH if token in uri]
    if bad:
        raise InvalidParameterError(
            f"Model URI {uri[:200]!r} is invalid: it contains {', '.join(repr(b) for b in bad)}. "
            "Use runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias> or a folder."
        )
    return uri.strip()


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None, str | None]:
    """``models:/`` URI -> (name, version, stage, alias); exactly one of the last three is set
    (``latest`` gives no version, stage nor alias)."""
    from mlnb.store.registry import canonical_model_name, check_alias, version_number

    text = check_uri_text(uri)
    if not text.startswith("models:/"):
        raise InvalidParameterError(f"{uri!r} is not a models:/ URI.")
    rest = text[len("models:/"):]
    if "@" in rest:
        name, _, alias = rest.partition("@")
        return canonical_model_name(name), None, None, check_alias(alias)
    name, sep, which = rest.rpartition("/")
    if not sep or not name or not which:
        raise InvalidParameterError(
            f"Model URI {uri!r} is incomplete: write models:/<name>/<version or stage> or "
            "models:/<name>@<alias>.")
    name = canonical_model_name(name)
    if which.isdigit():
        return name, str(version_number(which)), None, None
    if which.lower() == "latest":
        return name, None, None, None
    stage = ModelVersionStage.canonical(which)
    if stage is None:
        raise InvalidParameterError(
            f"Model URI {uri!r}: {which!r} is neither a version number, 'latest' nor a stage "
            f"({', '.join(ModelVersionStage.ALL)}).")
    return name, None, stage, None


def resolve_registry_uri(store: Store, uri: str) -> ModelVersion:
    """The registered version a ``models:/`` URI names."""
    name, version, stage, alias = parse_registry_uri(uri)
    if alias is not None:
        return store.get_model_version_by_alias(name, alias)
    if version is not None:
        return store.get_model_version(name, version)
    latest = store.get_latest_versions(name, [stage] if stage else None)
    if not latest:
        where = f" in stage {stage}" if stage else ""
        raise NotFoundError(f"Registered model {name!r} has no version{where}.")
    return max(latest, key=lambda mv: int(mv.version))


def resolve_model_uri(uri: str, store: Store | None = None) -> ModelLocation:
    """Find the folder of the model a URI names (in ``store``, default the current one)."""
    from mlnb.artifacts import safe_relpath

    text = check_uri_text(uri)
    if text.startswith("models:"):
        st = store or current_store()
        mv = resolve_registry_uri(st, text)
        run_location = resolve_model_uri(mv.source, st)
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
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", text):
        raise InvalidParameterError(
            f"Model URI {uri!r} has a scheme mlnb does not read; use runs:/, models:/ or a local "
            "folder path.")
    return _local(text, store)


def _local(text: str, store: Store | None) -> ModelLocation:
    folder = Path(text).expanduser()
    if folder.name == MLMODEL and folder.is_file():
        folder = folder.parent
    folder = folder.resolve()
    st = store or _store_quietly()
    if st is not None:
        root = st.location.artifact_root.resolve()
        if folder.is_relative_to(root) and folder != root:
            parts = folder.relative_to(root).parts
            if len(parts) >= 2 and re.fullmatch(r"[0-9a-f]{32}", parts[0]):
                return _checked(ModelLocation(text, folder, parts[0], "/".join(parts[1:]), st))
    return _checked(ModelLocation(text, folder))


def _store_quietly() -> Store | None:
    """The current store if it exists already (loading a local folder never creates one)."""
    import os

    from mlnb.store import location, open_store
    from mlnb.tracking import fluent

    uri = fluent._state.tracking_uri or os.environ.get(location.ENV_VAR) or None
    try:
        if not location.resolve(uri).db_path.exists():
            return None
        return open_store(uri)
    except Exception:  # a local model folder loads even where no store can be opened
        return None


def _checked(location: ModelLocation) -> ModelLocation:
    if not (location.local_dir / MLMODEL).is_file():
        raise NotFoundError(
            f"{location.uri!r} is not a model: there is no MLmodel file in {location.local_dir}.")
    return location
