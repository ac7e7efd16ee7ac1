"""Where a registered version comes from: always a model that mlnb's model writer logged into
this store, named by its ``runs:/<run_id>/<path>`` folder or its logged model's ``models:/m-<id>``
(the only form for a logged model without a run).

A local path is accepted only when it lies inside the store's artifact root, and is rewritten to
its ``runs:/`` form (MLflow's CVE-2023-1177 let a source name any file on the server). A folder
copied in with ``log_artifacts`` is not a model mlnb wrote, and is refused.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from mlnb.entities import MLMODEL, MODEL_ORIGIN
from mlnb.errors import InvalidParameterError, NotFoundError, UntrustedModelError
from mlnb.registry.uri import logged_model_of, resolve_registry_uri
from mlnb.store import Store
from mlnb.store.artifacts import safe_relpath, sha256_of
from mlnb.store.registry_checks import check_source


def model_source(store: Store, model_uri: str) -> str:
    """The source to register for a model URI, checked to name a logged model in ``store``.

    ``runs:/<id>/<path>`` is checked as is; ``models:/m-<id>`` (a logged model) is checked where
    its files are and kept; ``models:/...`` gives its version's source; a local path (or
    ``file://`` URI) must lie inside the store's artifact root.

    :param store: the store the model must be in.
    :param model_uri: the URI or path the user gave.
    :raises InvalidParameterError: for a path outside the artifact root or another URI scheme.
    :raises NotFoundError: when the folder has no ``MLmodel``.
    :raises UntrustedModelError: when mlnb's model writer did not write it.
    """
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise InvalidParameterError(f"A model URI must be non-empty text, not {model_uri!r}.")
    logged = logged_model_of(store, model_uri) if model_uri.startswith("models:/m-") else None
    if logged is not None:
        if logged.source_run_id is None or logged.artifact_path is None:
            _check_runless(store, logged.model_id, logged.status)
            return logged.model_uri
        # a logged model of a run: its run's folder, checked as any runs:/ is
        model_source(store, logged.artifact_location)
        return logged.model_uri
    if model_uri.startswith("models:"):
        return resolve_registry_uri(store, model_uri).source
    in_bucket = store.run_path_of_uri(model_uri.strip())
    if model_uri.startswith("runs:"):
        source = model_uri
    elif in_bucket is not None:  # under the store's S3 artifact root: its runs:/ form
        source = f"runs:/{in_bucket[0]}/{in_bucket[1]}"
    else:
        source = _local_source(store, model_uri)
    run_id, path = check_source(source)
    try:
        store.artifact_record(run_id, f"{path}/MLmodel")
    except NotFoundError:
        raise NotFoundError(
            f"{model_uri!r} is not a logged model: run {run_id} has no {path}/MLmodel. "
            "Log one with mlnb.sklearn.log_model(...) or mlnb.pyfunc.log_model(...)."
        ) from None
    # A folder copied in with log_artifacts (or an edited MLmodel) is not a model mlnb wrote:
    # registering it would put a foreign pickle one models:/ URI away from being loaded.
    require_model_writer(store, run_id, path)
    return f"runs:/{run_id}/{path}"


def _check_runless(store: Store, model_id: str, status: str) -> None:
    """A logged model without a run registers once it is READY and its MLmodel is the model
    writer's, unchanged (as :func:`require_model_writer` asks of a run's folder)."""
    if status != "READY":
        raise InvalidParameterError(
            f"Logged model {model_id} is {status}: only a READY model can be registered (its "
            "files are complete once mlnb.finalize_logged_model(model_id, 'READY') says so).")
    try:
        store.artifact_record(model_id, MLMODEL)
    except NotFoundError:
        raise NotFoundError(
            f"models:/{model_id} has no MLmodel: it is not a model mlnb can load (an external "
            "model keeps its files elsewhere). Log one with log_model(...).") from None
    require_model_writer(store, model_id, "")


def _local_source(store: Store, uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme and len(parsed.scheme) > 1:
        raise InvalidParameterError(
            f"Model URI {uri!r} has the scheme {parsed.scheme!r}; use runs:/<run_id>/<path>, "
            "models:/<name>/<version> or a folder inside this store's artifact root.")
    else:
        path = Path(uri)
    root = store.location.artifact_root.resolve()
    real = path.resolve()
    if not real.is_relative_to(root) or real == root:
        raise InvalidParameterError(
            f"Model source {uri!r} is refused: it is outside this store's artifact root. Log the "
            "model to a run (mlnb.sklearn.log_model) and register its runs:/ URI."
        )
    parts = real.relative_to(root).parts
    if len(parts) < 2:
        raise InvalidParameterError(f"Model source {uri!r} does not name a model inside a run.")
    return f"runs:/{parts[0]}/{'/'.join(parts[1:])}"


def require_model_writer(store: Store, run_id: str, artifact_path: str) -> None:
    """Refuse a model folder whose MLmodel mlnb's model writer did not write, or that changed since.

    ``register_model`` calls this on the source it registers.

    :param store: the store of the run.
    :param run_id: the run, or a logged model without a run (its files are its own folder).
    :param artifact_path: the model's folder inside the run's artifacts (``""`` for a logged
        model's own folder).
    :raises UntrustedModelError: when the recorded origin or hash does not match.
    """
    path = safe_relpath(artifact_path, allow_empty=True)
    mlmodel = f"{path}/{MLMODEL}" if path else MLMODEL
    record = store.artifact_origin(run_id, mlmodel)
    try:
        on_disk = sha256_of(store.artifact_path(run_id, mlmodel))
    except (NotFoundError, OSError):
        on_disk = None
    if record is None or record[1] != MODEL_ORIGIN or on_disk != record[0]:
        where = f"runs:/{run_id}/{path}" if path else f"models:/{run_id}"
        raise UntrustedModelError(
            f"{where} was not written by mlnb's model writer (log_model), or its "
            "MLmodel was changed since: files copied in with log_artifact(s) are not a logged "
            "model and are not registered. Log the model with mlnb.sklearn.log_model(...) or "
            "mlnb.pyfunc.log_model(...)."
        )
