"""``mlnb import mlflow SOURCE``: MLflow's experiments, runs, metric histories, artifacts, logged
models and model registry, into an mlnb store.

How: the reader of SOURCE (:mod:`~mlnb.store.mlflow_files`, :mod:`~mlnb.store.mlflow_source`,
:mod:`~mlnb.store.mlflow_http`) fills a private *staging* mlnb store in a temporary folder, as
MLflow has the data (run ids, experiment ids, timestamps, steps, NaN and what MLflow made of
``±inf``, version numbers, stages, aliases, tags). The staging store is then copied into the
destination by :func:`mlnb.store.copy.copy_store`, which gives the import the copy's guarantees
instead of a second set of writers: experiments matched by name, runs by id, each run written
whole in one transaction after its files (sha256 checked), registered models with their history;
importing again adds only what is new, and an import killed midway is completed by running it
again (the destination holds whole runs only).

What is not imported, and why, is listed in the summary: deleted experiments and runs (MLflow's
trash), artifacts not on this machine (``s3://``, ``mlflow-artifacts:`` read from a database or a
folder), symbolic links, versions whose source cannot be mapped to an imported run's files.

MLflow's files come in as *user* artifacts, unsigned: a model MLflow wrote as a pickle loads in
mlnb only with ``trusted=True``, as any pickle mlnb did not write; a skops file (MLflow 3's
default for scikit-learn) loads when skops trusts every type in it, its bytes checked against the
store's records since MLflow's ``MLmodel`` lists no hashes.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlnb.entities import RunStatus
from mlnb.errors import InvalidParameterError, MlnbError
from mlnb.store import Store
from mlnb.store.artifacts import is_model_owner
from mlnb.store.copy import CopySummary, Progress, copy_store
from mlnb.store.datasets import (
    check_dataset,
    check_input_tags,
    link_input,
    link_model_input,
    record_dataset,
)
from mlnb.store.dialect import Writer
from mlnb.store.location import StoreLocation
from mlnb.store.logged_models import DELETED, MODEL_ID
from mlnb.store.mlflow_files import FileStoreReader
from mlnb.store.mlflow_http import HttpReader
from mlnb.store.mlflow_records import (
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModel,
    MlflowReader,
    MlflowRun,
    MlflowVersion,
    SourceError,
)
from mlnb.store.mlflow_source import SqlReader, is_database_uri
from mlnb.store.registry import PROMPT_SOURCE, PROMPT_TAG, PROMPT_TEXT_TAG
from mlnb.store.registry_checks import canonical_model_name
from mlnb.store.sql import now_ms

ProgressHook = Callable[[Progress], None]

_RUN_ID = re.compile(r"[0-9a-f]{32}")
# .../<run id>/artifacts/<path> in a file path, a file: URI or an mlflow-artifacts: URI
_IN_RUN = re.compile(r"/([0-9a-f]{32})/artifacts/(.+?)/*$")
_LOGGED_MODEL = re.compile(r"(?:^models:/|/models/)(m-[0-9a-f]+)(?:/artifacts)?/*$")


@dataclass
class ImportSummary:
    """What an import read, what it skipped and why, and what the copy into mlnb did."""

    source: str
    experiments: int = 0
    runs: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    logged_models: int = 0
    dataset_inputs: int = 0
    models: int = 0
    versions: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    clamped_infinity: bool = False
    copy: CopySummary = field(default_factory=CopySummary)


def import_mlflow(reader: MlflowReader, dst: Store, progress: ProgressHook | None = None
                  ) -> ImportSummary:
    """Import everything ``reader`` reads into ``dst`` (see the module's docstring).

    :param reader: the MLflow source, opened.
    :param dst: the mlnb store to import into.
    :param progress: called as the import moves on (``reading`` a run at a time, then the
        copy's stages).
    :raises SourceError: when the source fails while it is read (all of it is read into the
        staging store before anything is written into ``dst``).
    :raises StoreError: when ``dst`` fails midway (it holds whole runs; importing again completes).
    """
    summary = ImportSummary(reader.describe)
    report = progress or (lambda _: None)
    with staging_folder() as tmp:
        staging = Store(StoreLocation(tmp / "mlnb.db", tmp / "artifacts"))
        try:
            _stage(reader, staging, summary, report)
            summary.copy = copy_store(staging, dst, report)
        finally:
            staging.close()
    return summary


STAGING_PREFIX = "mlnb-import-"
_LOCK = ".in-use"
_ABANDONED_UNLOCKED_S = 86_400  # a folder with no lock file (being made, or an old mlnb's)


@contextlib.contextmanager
def staging_folder() -> Iterator[Path]:
    """A private temporary folder for the staging store, removed afterwards; and first, the
    folders of imports that were killed (their process holds no lock on them any more), which
    would otherwise keep a copy of a whole MLflow store in the temporary folder.
    """
    _remove_abandoned(Path(tempfile.gettempdir()))
    folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX))
    try:
        with open(folder / _LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if this process dies
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_abandoned(tmp: Path) -> None:
    for folder in tmp.glob(STAGING_PREFIX + "*"):
        try:
            if not (folder / _LOCK).exists():
                if time.time() - folder.stat().st_mtime > _ABANDONED_UNLOCKED_S:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            with open(folder / _LOCK) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while an import runs
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # in use, or not ours to remove


# --- staging ----------------------------------------------------------------------------------


@dataclass
class _Staged:
    """What the staging store holds, for mapping the registry's sources."""

    runs: set[str] = field(default_factory=set)
    files: dict[str, set[str]] = field(default_factory=dict)  # run id -> artifact paths
    # model id -> (run, folder), or (model id, "") for a model without a run
    models: dict[str, tuple[str, str]] = field(default_factory=dict)


def _stage(reader: MlflowReader, staging: Store, summary: ImportSummary,
           report: ProgressHook) -> None:
    staged = _Staged()
    kept = _stage_experiments(reader, staging, summary)
    runs = [run for exp in kept for run in _runs_to_import(reader, exp, summary)]
    with staging.cx.write():  # one transaction: the staging store is private and thrown away
        for done, run in enumerate(runs, 1):
            _stage_run(reader, staging, run, staged, summary)
            report(Progress("reading", done, len(runs), summary.artifact_bytes))
    for model in reader.logged_models():
        _stage_logged_model(reader, staging, model, staged, summary)
    for registered in reader.registered_models():
        _stage_registered_model(staging, registered, staged, summary)


def _stage_experiments(reader: MlflowReader, staging: Store, summary: ImportSummary
                       ) -> list[MlflowExperiment]:
    kept = []
    for exp in reader.experiments():
        if exp.lifecycle_stage == "deleted":
            summary.skipped.append((f"experiment {exp.name!r} (id {exp.experiment_id})",
                                    "deleted in MLflow (in its trash); its runs are not imported"))
        elif not exp.experiment_id.isdigit():
            summary.skipped.append((f"experiment {exp.name!r}",
                                    f"its id {exp.experiment_id!r} is not a number"))
        else:
            kept.append(exp)
    with staging.cx.write() as tx:
        tx.execute("DELETE FROM experiments")  # the new store's Default: MLflow's comes instead
        for exp in kept:
            tx.execute("INSERT INTO experiments (experiment_id, name, lifecycle_stage, "
                       "creation_time, last_update_time) VALUES (?, ?, 'active', ?, ?)",
                       [int(exp.experiment_id), exp.name, exp.creation_time, exp.last_update_time])
            tx.executemany("INSERT INTO experiment_tags (experiment_id, key, value) "
                           "VALUES (?, ?, ?)",
                           [(int(exp.experiment_id), k, v) for k, v in sorted(exp.tags.items())])
    summary.experiments = len(kept)
    return kept


def _runs_to_import(reader: MlflowReader, exp: MlflowExperiment, summary: ImportSummary
                    ) -> list[MlflowRun]:
    runs = []
    for run in reader.runs(exp.experiment_id):
        if run.lifecycle_stage == "deleted":
            summary.skipped.append((f"run {run.run_id}", "deleted in MLflow"))
        elif not _RUN_ID.fullmatch(run.run_id):
            summary.skipped.append((f"run {run.run_id!r}", "not a run id of 32 hex digits"))
        else:
            runs.append(run)
    return runs


def _stage_run(reader: MlflowReader, staging: Store, run: MlflowRun, staged: _Staged,
               summary: ImportSummary) -> None:
    """One run into the staging store: its files first, then its rows."""
    try:
        metrics = reader.metrics(run)
    except SourceError as exc:
        summary.skipped.append((f"run {run.run_id}", str(exc)))
        return
    records = _stage_files(reader, staging, run, run.run_id, "", summary)
    status = run.status if run.status in RunStatus.ALL else RunStatus.FINISHED
    with staging.cx.write() as tx:
        tx.execute("INSERT INTO runs (run_id, experiment_id, name, status, start_time, end_time, "
                   "lifecycle_stage, user_id, parent_run_id, deleted_time) "
                   "VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, NULL)",
                   [run.run_id, int(run.experiment_id), run.name, status, run.start_time,
                    run.end_time, run.user_id, run.tags.get("mlflow.parentRunId")])
        tx.executemany("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
                       [(run.run_id, k, v) for k, v in sorted(run.params.items())])
        tx.executemany("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                       [(run.run_id, k, v) for k, v in sorted(run.tags.items())])
        for key, points in sorted(metrics.items()):
            if points[0]:
                staging.append_points(tx, run.run_id, key, points)
                summary.metric_points += len(points[0])
                summary.clamped_infinity |= any(abs(v) == _CLAMPED for v in points[2])
        if status in RunStatus.TERMINAL:
            staging.fold_run_tails(tx, run.run_id)  # packed, as a run mlnb ended would be
        _record_files(tx, run.run_id, records)
        _stage_inputs(tx, run, summary)
    staged.runs.add(run.run_id)
    staged.files[run.run_id] = {path for path, _, _ in records}
    summary.runs += 1


def _stage_inputs(tx: Writer, run: MlflowRun, summary: ImportSummary) -> None:
    """The datasets and logged models a run used, checked as the API checks them (one that is
    not is named in the summary, not imported)."""
    for item in run.inputs:
        try:
            dataset = check_dataset(item.dataset)
            tags = check_input_tags(item.tags)
        except InvalidParameterError as exc:
            summary.skipped.append((f"dataset input {item.dataset.name[:80]!r} of run "
                                    f"{run.run_id}", str(exc)))
            continue
        link_input(tx, run.run_id, record_dataset(tx, int(run.experiment_id), dataset), tags)
        summary.dataset_inputs += 1
    for model_id in run.model_inputs:
        if MODEL_ID.fullmatch(model_id):
            link_model_input(tx, run.run_id, model_id)
        else:
            summary.skipped.append((f"model input {model_id[:80]!r} of run {run.run_id}",
                                    "not a logged model id (m- and 32 hex digits)"))


_CLAMPED = 1.7976931348623157e308  # MLflow's database stores ±inf as ±max float


def _stage_files(reader: MlflowReader, staging: Store, owner: MlflowRun | MlflowLoggedModel,
                 run_id: str, prefix: str, summary: ImportSummary
                 ) -> list[tuple[str, int, str]]:
    """Copy the owner's artifact files into the staging store's run ``run_id`` (below
    ``prefix``); ``(path, size, sha256)`` of each file written."""
    what = f"run {run_id}" if isinstance(owner, MlflowRun) else f"logged model {owner.model_id}"
    try:
        files, problem = reader.artifacts(owner)
    except SourceError as exc:
        files, problem = [], str(exc)
    if problem:
        summary.skipped.append((f"artifacts of {what}", problem))
    written = []
    for file in files:
        dest = f"{prefix}/{file.path}" if prefix else file.path
        try:
            with reader.open(owner, file) as chunks:
                stored = staging.artifacts.put_stream(run_id, dest, chunks)
        except (OSError, SourceError, MlnbError) as exc:
            summary.skipped.append((f"artifact {file.path!r} of {what}", _why(exc)))
            continue
        written.append((stored.path, stored.size, stored.sha256))
        summary.artifact_files += 1
        summary.artifact_bytes += stored.size
    return written


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing on disk"
    if isinstance(exc, OSError):
        return f"cannot be read: {exc.strerror or exc}"
    return str(exc)


def _record_files(tx: Writer, run_id: str, records: list[tuple[str, int, str]]) -> None:
    """Artifact records as MLflow's files get them: origin ``user``, unsigned (no mlnb vouched
    for them, so a model among them loads only when the user says it is trusted)."""
    t = now_ms()
    tx.executemany("INSERT INTO artifacts (run_id, path, size, sha256, created, origin, mac) "
                   "VALUES (?, ?, ?, ?, ?, 'user', NULL) ON CONFLICT (run_id, path) DO NOTHING",
                   [(run_id, path, size, sha, t) for path, size, sha in records])


# --- logged models ----------------------------------------------------------------------------


def _stage_logged_model(reader: MlflowReader, staging: Store, model: MlflowLoggedModel,
                        staged: _Staged, summary: ImportSummary) -> None:
    """An MLflow 3 logged model: logged in a run, its files go into the run's artifacts (where
    mlnb keeps such a model's files), in a folder named as the model if the run has none by that
    name; logged outside a run, into the model's own folder, as mlnb keeps a model without a
    run. A model deleted in MLflow comes in deleted (its files too: MLflow keeps them)."""
    what = f"logged model {model.model_id} ({model.name!r})"
    run_id = model.source_run_id
    if run_id is None:
        _stage_runless_model(reader, staging, model, staged, summary, what)
        return
    if run_id not in staged.runs:
        summary.skipped.append((what, "its run is not imported (the run was deleted in MLflow, "
                                      "or is absent)"))
        return
    files = staged.files[run_id]
    folder = model.name.strip("/") or model.model_id
    if any(p == folder or p.startswith(folder + "/") for p in files):
        folder = f"models/{model.model_id}"
    records = _stage_files(reader, staging, model, run_id, folder, summary)
    experiment = staging.cx.query("SELECT experiment_id FROM runs WHERE run_id = ?", [run_id])
    with staging.cx.write() as tx:
        _record_files(tx, run_id, records)
        tx.execute("INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, "
                   "artifact_path, model_type, status, creation_timestamp, "
                   "last_updated_timestamp, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [model.model_id, experiment[0][0], model.name, run_id, folder,
                    model.model_type, model.status, model.creation_timestamp,
                    model.last_updated_timestamp, _lifecycle(model)])
        for table, pairs in (("logged_model_params", model.params),
                             ("logged_model_tags", model.tags)):
            tx.executemany(f"INSERT INTO {table} (model_id, key, value) VALUES (?, ?, ?)",
                           [(model.model_id, k, v) for k, v in sorted(pairs.items())])
    files.update(path for path, _, _ in records)
    staged.models[model.model_id] = (run_id, folder)
    summary.logged_models += 1


def _stage_runless_model(reader: MlflowReader, staging: Store, model: MlflowLoggedModel,
                         staged: _Staged, summary: ImportSummary, what: str) -> None:
    if not staging.cx.query("SELECT 1 FROM experiments WHERE experiment_id = ?",
                            [int(model.experiment_id)]):
        summary.skipped.append((what, f"its experiment {model.experiment_id} is not imported"))
        return
    records = _stage_files(reader, staging, model, model.model_id, "", summary)
    t = now_ms()
    with staging.cx.write() as tx:
        tx.execute("INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, "
                   "artifact_path, model_type, status, creation_timestamp, "
                   "last_updated_timestamp, lifecycle_stage) "
                   "VALUES (?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?)",
                   [model.model_id, int(model.experiment_id), model.name, model.model_type,
                    model.status, model.creation_timestamp, model.last_updated_timestamp,
                    _lifecycle(model)])
        tx.executemany("INSERT INTO logged_model_artifacts (model_id, path, size, sha256, "
                       "created, origin, mac) VALUES (?, ?, ?, ?, ?, 'user', NULL)",
                       [(model.model_id, path, size, sha, t) for path, size, sha in records])
        for table, pairs in (("logged_model_params", model.params),
                             ("logged_model_tags", model.tags)):
            tx.executemany(f"INSERT INTO {table} (model_id, key, value) VALUES (?, ?, ?)",
                           [(model.model_id, k, v) for k, v in sorted(pairs.items())])
    staged.files[model.model_id] = {path for path, _, _ in records}
    staged.models[model.model_id] = (model.model_id, "")
    summary.logged_models += 1


def _lifecycle(model: MlflowLoggedModel) -> str:
    # MLflow's lifecycle stage of a logged model: "deleted" after delete_logged_model.
    return DELETED if model.lifecycle_stage == DELETED else "active"


# --- registry ---------------------------------------------------------------------------------


def _stage_registered_model(staging: Store, model: MlflowModel, staged: _Staged,
                            summary: ImportSummary) -> None:
    try:
        name = canonical_model_name(model.name)
    except InvalidParameterError as exc:
        summary.skipped.append((f"registered model {model.name!r}", str(exc)))
        return
    versions = []
    for v in model.versions:
        if v.tags.get(PROMPT_TAG, "").lower() == "true" and PROMPT_TEXT_TAG in v.tags:
            versions.append((v, PROMPT_SOURCE, ""))  # a prompt version: its tags, no files
            continue
        mapped = _map_source(v, staged)
        if isinstance(mapped, tuple):
            versions.append((v, *mapped))
        else:
            summary.skipped.append((f"model {name!r} version {v.version}", mapped))
    with staging.cx.write() as tx:
        tx.execute("INSERT INTO registered_models (name, creation_time, last_updated_time, "
                   "description) VALUES (?, ?, ?, ?)",
                   [name, model.creation_time, model.last_updated_time, model.description])
        tx.executemany("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)",
                       [(name, k, v) for k, v in sorted(model.tags.items())])
        events: list[tuple[int | None, str, str | None, str | None, int, str]] = []
        for v, owner, folder in versions:
            source = _stage_version(tx, name, v, owner, folder)
            events.append((v.version, "create_version", None, source, v.creation_time,
                           v.user_id))
            if v.current_stage not in ("None", ""):
                events.append((v.version, "stage", "None", v.current_stage, v.last_updated_time,
                               v.user_id))
        numbers = {v.version for v, _, _ in versions}
        aliases = sorted((a, n) for a, n in model.aliases.items() if n in numbers)
        summary.skipped += [(f"alias {a!r} of model {name!r}", f"its version {n} is not imported")
                            for a, n in sorted(model.aliases.items()) if n not in numbers]
        tx.executemany("INSERT INTO registered_model_aliases (name, alias, version) "
                       "VALUES (?, ?, ?)", [(name, a, n) for a, n in aliases])
        events += [(n, f"alias:{a}", None, str(n), model.last_updated_time, "") for a, n in aliases]
        tx.executemany("INSERT INTO model_registry_events (name, version, kind, from_value, "
                       "to_value, time, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(name, *e) for e in sorted(events, key=lambda e: e[4])])
    summary.models += 1
    summary.versions += len(versions)


def _stage_version(tx: Writer, name: str, v: MlflowVersion, owner: str, folder: str) -> str:
    """One version, its tags and its pinned files; returns the source it shows. ``owner``: the
    run holding its files, the logged model without a run that it is, or ``PROMPT_SOURCE`` for
    a prompt version (stored as mlnb stores its own: that source, no run, no files)."""
    prompt = owner == PROMPT_SOURCE
    runless = is_model_owner(owner)
    source = (PROMPT_SOURCE if prompt else f"models:/{owner}" if runless
              else f"runs:/{owner}/{folder}")
    tx.execute("INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
               "description, source, run_id, status, current_stage, user_id, model_id) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [name, v.version, v.creation_time, v.last_updated_time, v.description, source,
                None if runless or prompt else owner, v.status, v.current_stage, v.user_id,
                owner if runless else None])
    tx.executemany("INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)",
                   [(name, v.version, k, val) for k, val in sorted(v.tags.items())])
    if prompt:
        return source
    # The version's files pinned as registration pins them (mlnb.store.registry._pin_files).
    if runless:
        tx.execute("INSERT INTO model_version_files (name, version, path, sha256) "
                   "SELECT ?, ?, path, sha256 FROM logged_model_artifacts WHERE model_id = ?",
                   [name, v.version, owner])
        return source
    prefix = folder + "/"
    tx.execute("INSERT INTO model_version_files (name, version, path, sha256) "
               "SELECT ?, ?, substr(path, ?), sha256 FROM artifacts "
               "WHERE run_id = ? AND substr(path, 1, ?) = ?",
               [name, v.version, len(prefix) + 1, owner, len(prefix), prefix])
    return source


def _map_source(v: MlflowVersion, staged: _Staged) -> tuple[str, str] | str:
    """``(run id, folder)`` of the imported files a version's source names, or why there are
    none. MLflow's sources: ``runs:/<run>/<path>``, ``models:/<model id>`` (MLflow 3), and the
    files' location (``file:``, a path or ``mlflow-artifacts:``, ending in
    ``<run>/artifacts/<path>`` or ``models/<model id>/artifacts``)."""
    for text in (v.source, v.storage_location or ""):
        logged = _LOGGED_MODEL.search(text)
        model_id = logged.group(1) if logged else None
        if model_id is None and text == v.source and v.model_id and text.startswith("models:/"):
            model_id = v.model_id
        if model_id is not None:
            if model_id in staged.models:
                owner, folder = staged.models[model_id]
                if is_model_owner(owner):  # a model without a run: its own folder
                    return (owner, "") if staged.files.get(owner) else (
                        f"its logged model {model_id} has no files here")
                return _in_run(owner, folder, staged)
            return f"its logged model {model_id} is not imported (see above)"
        if text.startswith("runs:/"):
            run_id, _, path = text[len("runs:/"):].partition("/")
            return _in_run(run_id, path.strip("/"), staged)
        inside = _IN_RUN.search(text)
        if inside:
            return _in_run(inside.group(1), inside.group(2), staged)
    return (f"its source {v.source!r} is not a run's or a logged model's files "
            "(mlnb registers the models kept in a run and the logged models)")


def _in_run(run_id: str, folder: str, staged: _Staged) -> tuple[str, str] | str:
    if run_id not in staged.runs:
        return f"its run {run_id} is not imported (deleted in MLflow, or absent)"
    if not folder or not any(p.startswith(folder + "/") for p in staged.files.get(run_id, ())):
        return f"its files ({folder or 'the run root'}) are not among run {run_id}'s artifacts"
    return run_id, folder


# --- SOURCE -----------------------------------------------------------------------------------


def open_reader(source: str) -> MlflowReader:
    """The reader for SOURCE: an MLflow server (``http(s)://``), database (``sqlite:///``,
    ``postgresql://``, or a path to an SQLite file) or file store folder (a path or ``file://``).

    :param source: the SOURCE argument.
    :raises SourceError: naming what is wrong with it.
    """
    scheme = urlparse(source).scheme.lower()
    if scheme in ("http", "https"):
        return HttpReader(source)
    if is_database_uri(source):
        return SqlReader(source)
    if scheme == "file":
        path = Path(unquote(urlparse(source).path))
    elif len(scheme) > 1:
        raise SourceError(
            f"SOURCE {source!r}: mlnb imports from an MLflow file store folder (mlruns), an "
            "MLflow database (sqlite:///mlflow.db, postgresql://...) or an MLflow server "
            f"(http://...), not from {scheme}:// URIs.")
    else:
        path = Path(source).expanduser()
    if path.is_file():
        return SqlReader(f"sqlite:///{path.absolute()}")  # a database file named by its path
    return FileStoreReader(path)
