"""The SQLite store: every query mlnb runs, behind one object per store file.

Open one with :func:`open_store` (cached per process and location). Reads return the frozen
records of :mod:`mlnb.entities`; writes go through :meth:`Connection.write` (``BEGIN
IMMEDIATE``), and params, tags and metrics through the one primitive :meth:`Store.log_batch`.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlnb.entities import MODEL_ORIGIN, FileInfo
from mlnb.errors import (
    InvalidParameterError,
    NotFoundError,
    RunStateError,
    StoreError,
    StorePrivacyWarning,
)
from mlnb.store import pg_schema
from mlnb.store.access import AccessQueries
from mlnb.store.artifacts import ArtifactRoot, StoredFile, is_model_owner, safe_relpath
from mlnb.store.batches import BatchQueries
from mlnb.store.connection import Connection, refuse_foreign_database
from mlnb.store.datasets import DatasetQueries
from mlnb.store.dialect import StoreConnection
from mlnb.store.experiments import ExperimentQueries
from mlnb.store.heartbeat import Heartbeat
from mlnb.store.location import (
    StoreLocation,
    check_discovered,
    parse_artifact_uri,
    refuse_mlflow_file_store,
    resolve,
    warn_if_not_private,
)
from mlnb.store.logged_models import LoggedModelQueries
from mlnb.store.metrics import MetricQueries
from mlnb.store.pg import PgConnection
from mlnb.store.predictions import PredictionQueries
from mlnb.store.registry import RegistryQueries
from mlnb.store.registry_gates import GateQueries
from mlnb.store.registry_stages import StageQueries
from mlnb.store.run_table import RunTableQueries
from mlnb.store.runs import RunQueries
from mlnb.store.saved_views import SavedViewQueries
from mlnb.store.sql import now_ms
from mlnb.store.traces import TraceQueries
from mlnb.store.trust import artifact_mac, is_trusted, mac_verifies, user_key

__all__ = ["ARTIFACT_ORIGINS", "ArtifactProof", "Store", "StoreLocation", "open_store", "resolve"]

ARTIFACT_ORIGINS = ("user", "model")


@dataclass(frozen=True)
class ArtifactProof:
    """An artifact record and what vouches for it.

    ``signed``: its MAC verifies under this user's key (this user's mlnb wrote the record).
    ``vouched``: signed, or the store is one the user trusts with ``mlnb trust``.
    """

    sha256: str
    origin: str
    signed: bool
    vouched: bool


class Store(ExperimentQueries, RunQueries, BatchQueries, MetricQueries, RunTableQueries,
            RegistryQueries, StageQueries, GateQueries, LoggedModelQueries, PredictionQueries, AccessQueries,
            TraceQueries, DatasetQueries, SavedViewQueries):
    """One mlnb store: ``mlnb.db`` and its artifact root.

    :param location: where the database and the artifact root are; both folders are created
        (private) if missing.
    """

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        self._store_id: str | None = None
        self._warned_unsigned = False
        self.cx: StoreConnection
        self.heartbeats = None
        if location.database_url:
            self._open_team(location.database_url)
            return
        try:
            location.db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Again now that the folder exists: another user may have created it since resolve().
            if location.discovered:
                check_discovered(location)
            # Another program's database (MLflow's): refused before anything is created beside it
            # or written into it (WAL mode, migrations).
            refuse_mlflow_file_store(location)
            refuse_foreign_database(location.db_path)
            location.artifact_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the store at {location.db_path.parent}: {exc.strerror}. "
                "Choose a writable folder with mlnb.set_tracking_uri(...) or MLNB_TRACKING_URI."
            ) from exc
        if not location.discovered:
            warn_if_not_private(location)
        self.artifacts = self._artifact_root(location)
        self.artifact_root_uri = (location.artifact_url
                                  or location.artifact_root.resolve().as_uri())
        # attributes.artifact_uri in a filter: computed from the root, which no SQL text holds.
        root = self.artifact_root_uri
        self.cx = Connection(location.db_path,
                             functions={"mlnb_artifact_uri": lambda run_id: f"{root}/{run_id}"})

    def _open_team(self, url: str) -> None:
        """Open a PostgreSQL store: its schema, and the artifact root it records (set by the
        first client from ``MLNB_ARTIFACT_URI``; every later client uses the same one)."""
        self.cx = PgConnection(url)
        try:
            root = team_artifact_root(self.cx, self.location.display)
            local = self.location.db_path.parent
            if root.startswith("s3://"):
                self.location = replace(self.location, artifact_root=local / "artifacts-cache",
                                        artifact_url=root)
            else:
                self.location = replace(self.location, artifact_url=None,
                                        artifact_root=Path(unquote(urlparse(root).path)))
            local.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.location.artifact_root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.artifacts = self._artifact_root(self.location)
        except OSError as exc:
            self.cx.close()
            raise StoreError(f"Store {self.location.display}: cannot use the artifact root "
                             f"{self.location.artifact_root}: {exc.strerror}.") from exc
        except BaseException:
            self.cx.close()
            raise
        self.artifact_root_uri = root
        self.heartbeats = Heartbeat(self.beat)

    def __repr__(self) -> str:
        return f"<mlnb Store {self.location.display}>"

    def _artifact_root(self, location: StoreLocation) -> ArtifactRoot:
        """The local folder, or S3 (``MLNB_ARTIFACT_URI=s3://...``) read through the local
        folder as its cache; the S3 module (and boto3) is loaded only then."""
        if location.artifact_url is None:
            return ArtifactRoot(location.artifact_root)
        from mlnb.store.object_store import S3ArtifactRoot  # S3 only: boto3 is loaded by it

        return S3ArtifactRoot(location.artifact_url, location.artifact_root, self.artifact_files)

    def artifact_files(self, run_id: str, path: str) -> list[tuple[str, int, str]]:
        """``(path, size, sha256)`` recorded for the run's file ``path``, or for every file below
        the folder ``path`` (every file of the run for ``""``).

        :param run_id: the run.
        :param path: a file or folder inside the run's artifacts, checked by ``safe_relpath``.
        """
        rel = safe_relpath(path, allow_empty=True)
        like = rel + "/" if rel else ""
        table, owner = artifact_table(run_id)
        rows = self.cx.query(
            f"SELECT path, size, sha256 FROM {table} WHERE {owner} = ? "
            "AND (path = ? OR substr(path, 1, ?) = ?) ORDER BY path",
            [run_id, rel, len(like), like])
        return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]

    def run_path_of_uri(self, uri: str) -> tuple[str, str] | None:
        """``(run_id, path)`` of an artifact URI under this store's S3 root
        (``s3://bucket/prefix/<run_id>/<path>``), or None for a URI elsewhere.

        :param uri: the URI, e.g. a run's ``artifact_uri`` plus a path.
        :raises UnsafePathError: for a path under the root that could leave its run.
        """
        root = self.location.artifact_url
        if root is None or not uri.startswith(root + "/"):
            return None
        run_id, _, rest = uri[len(root) + 1:].partition("/")
        self.artifacts.run_dir(run_id)
        return run_id, safe_relpath(rest, allow_empty=True)

    # --- artifact records -------------------------------------------------------------------

    def put_artifact_bytes(self, run_id: str, path: str, data: bytes, *, origin: str = "user"
                           ) -> StoredFile:
        """Write ``data`` as an artifact of the run and record its size, hash and origin.

        :param run_id: the run; it must exist and not be deleted. Or a logged model without a
            run, while it is ``PENDING``.
        :param path: the artifact's path inside the run.
        :param data: the file's content.
        :param origin: ``"model"`` only for mlnb's model writer, else ``"user"``.
        """
        self._check_owner_writable(run_id, path)
        if origin == MODEL_ORIGIN:
            user_key()  # before writing: a model that cannot be vouched for is not written
        stored = self.artifacts.put_bytes(run_id, path, data)
        self.record_artifact(run_id, stored, origin=origin)
        return stored

    def put_artifact_file(self, run_id: str, source: Path, path: str, *, origin: str = "user"
                          ) -> StoredFile:
        """Copy the file ``source`` to the run's artifact ``path`` and record it.

        :param run_id: the run; it must exist and not be deleted. Or a logged model without a
            run, while it is ``PENDING``.
        :param source: the local file.
        :param path: the artifact's path inside the run.
        :param origin: ``"model"`` only for mlnb's model writer, else ``"user"``.
        """
        self._check_owner_writable(run_id, path)
        if origin == MODEL_ORIGIN:
            user_key()  # as in put_artifact_bytes
        stored = self.artifacts.put_file(run_id, source, path)
        self.record_artifact(run_id, stored, origin=origin)
        return stored

    def delete_artifacts(self, run_id: str, path: str) -> list[str]:
        """Delete one artifact file, or a folder with every file in it, of a run: the records
        first (a file that is not recorded is never served), then the files. A path with
        nothing recorded is no error, as in MLflow.

        :param run_id: the run; it must exist and not be deleted.
        :param path: a file or folder inside the run's artifacts (not the run's whole folder).
        :returns: the paths of the files deleted.
        :raises RunStateError: when a registered version's files are among them (they are
            pinned).
        """
        self.check_writable(run_id)
        rel = safe_relpath(path)
        for name, version, folder in self.registered_folders(run_id):
            if rel == folder or rel.startswith(folder + "/") or folder.startswith(rel + "/"):
                raise RunStateError(
                    f"Artifact {rel!r} of run {run_id} holds files of the model registered as "
                    f"{name!r} version {version}; a registered version's files cannot change. "
                    "Delete the model version first.")
        with self.cx.write() as conn:
            paths = [str(r[0]) for r in conn.execute(
                "SELECT path FROM artifacts WHERE run_id = ? AND (path = ? OR "
                "substr(path, 1, ?) = ?)", [run_id, rel, len(rel) + 1, rel + "/"]).fetchall()]
            conn.execute("DELETE FROM artifacts WHERE run_id = ? AND (path = ? OR "
                         "substr(path, 1, ?) = ?)", [run_id, rel, len(rel) + 1, rel + "/"])
        self.artifacts.remove(run_id, paths)
        return paths

    def record_artifact(self, run_id: str, stored: StoredFile, *, origin: str = "user") -> None:
        """Record a written artifact, signed with this user's key (:mod:`mlnb.store.trust`).

        :param run_id: the run the file belongs to.
        :param stored: what :class:`ArtifactRoot` wrote (path, size, sha256).
        :param origin: ``"model"`` only for mlnb's model writer; re-logging any path resets it,
            so a user file never inherits a model file's trust.
        """
        if origin not in ARTIFACT_ORIGINS:
            raise InvalidParameterError(f"Artifact origin must be one of {ARTIFACT_ORIGINS}, not {origin!r}.")
        mac = self._mac(run_id, stored, origin)
        # Written after the file is complete and renamed into place: a row never points at a
        # missing or partial file.
        table, owner = artifact_table(run_id)
        with self.cx.write() as conn:
            conn.execute(
                f"INSERT INTO {table} ({owner}, path, size, sha256, created, origin, mac) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT ({owner}, path) DO UPDATE SET size = excluded.size, "
                "sha256 = excluded.sha256, created = excluded.created, origin = excluded.origin, "
                "mac = excluded.mac",
                [run_id, stored.path, stored.size, stored.sha256, now_ms(), origin, mac],
            )

    def _mac(self, run_id: str, stored: StoredFile, origin: str) -> str | None:
        """The record's MAC under this user's key. Only the model writer's files need one (it is
        what lets a pickle load untrusted): an ordinary file is still recorded, unsigned, with a
        warning, where no key can be had (a service account with no writable home)."""
        try:
            return artifact_mac(self.store_id, run_id, stored.path, stored.sha256, origin)
        except StoreError as exc:
            if origin == MODEL_ORIGIN:
                raise
            if not self._warned_unsigned:
                self._warned_unsigned = True
                warnings.warn(f"mlnb records artifacts of this store unsigned: {exc.message}",
                              StorePrivacyWarning, stacklevel=4)
            return None

    @property
    def store_id(self) -> str:
        """This store's random id (made by migration ``0004_trust``; it travels with a copy)."""
        if self._store_id is None:
            rows = self.cx.query("SELECT value FROM store_meta WHERE key = 'store_id'")
            if not rows:
                raise StoreError(f"Store {self.location.display} has no id; it is damaged.")
            self._store_id = str(rows[0][0])
        return self._store_id

    def is_trusted_foreign(self) -> bool:
        """Whether the user ran ``mlnb trust`` on this store (at this place, with this id)."""
        return is_trusted(self.store_id, self.location.db_path)

    def artifact_proof(self, run_id: str, path: str) -> ArtifactProof | None:
        """What the store's record of an artifact proves, or None if it has no record.

        :param run_id: the run.
        :param path: the artifact's path inside the run.
        """
        rel = safe_relpath(path)
        table, owner = artifact_table(run_id)
        rows = self.cx.query(
            f"SELECT sha256, origin, mac FROM {table} WHERE {owner} = ? AND path = ?", [run_id, rel]
        )
        if not rows:
            return None
        sha, origin, mac = str(rows[0][0]), str(rows[0][1]), rows[0][2]
        signed = mac_verifies(mac, self.store_id, run_id, rel, sha, origin)
        return ArtifactProof(sha, origin, signed, signed or self.is_trusted_foreign())

    def artifact_signature_counts(self) -> tuple[int, int]:
        """``(records signed by this user's key, all records)`` of the store's artifacts."""
        rows = self.cx.query("SELECT run_id, path, sha256, origin, mac FROM artifacts UNION ALL "
                             "SELECT model_id, path, sha256, origin, mac FROM "
                             "logged_model_artifacts")
        signed = sum(mac_verifies(r[4], self.store_id, r[0], r[1], r[2], r[3]) for r in rows)
        return signed, len(rows)

    def _check_unpinned(self, run_id: str, path: str) -> None:
        """Refuse to write into the folder of a registered version: its files are pinned."""
        rel = safe_relpath(path)
        for name, version, folder in self.registered_folders(run_id):
            if rel == folder or rel.startswith(folder + "/"):
                raise RunStateError(
                    f"Artifact {rel!r} of run {run_id} is inside {folder!r}, the model registered "
                    f"as {name!r} version {version}; a registered version's files cannot change. "
                    "Log to another path (e.g. artifact_path='model-2') and register that.")

    def _check_owner_writable(self, owner: str, path: str) -> None:
        """Refuse a write to a deleted or missing run, into a registered version's folder, or to a
        logged model without a run that is finalized (its files are whole once it is READY or
        FAILED: what a registration pins cannot change afterwards)."""
        if not is_model_owner(owner):
            self.check_writable(owner)
            self._check_unpinned(owner, path)
            return
        self.require_writable()
        model = self.get_logged_model(owner)
        if model.source_run_id is not None:
            raise RunStateError(
                f"Logged model {owner} keeps its files in run {model.source_run_id}'s artifacts; "
                "write them there (runs:/ paths), not to the model.")
        if model.status != "PENDING":
            raise RunStateError(
                f"Logged model {owner} is {model.status}: its files cannot change once it is "
                "finalized. Initialize a new model (mlnb.initialize_logged_model) to log others.")

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        """The files and folders directly inside ``path`` of the run's artifacts.

        :param run_id: the run, or a logged model without a run.
        :param path: a folder inside the run's artifacts; default the top.
        """
        if is_model_owner(run_id):
            self.get_logged_model(run_id)
        else:
            self.get_run_info(run_id)
        prefix = safe_relpath(path, allow_empty=True)
        like = (prefix + "/" if prefix else "")
        table, owner = artifact_table(run_id)
        rows = self.cx.query(
            f"SELECT path, size, sha256 FROM {table} WHERE {owner} = ? AND substr(path, 1, ?) = ? "
            "ORDER BY path", [run_id, len(like), like],
        )
        entries: dict[str, FileInfo] = {}
        for full, size, sha in rows:
            rest = full[len(like):]
            head, sep, _ = rest.partition("/")
            name = like + head
            if sep:
                entries.setdefault(name, FileInfo(name, True))
            else:
                entries[name] = FileInfo(name, False, size, sha)
        return list(entries.values())

    def artifact_record(self, run_id: str, path: str) -> FileInfo:
        """The recorded size and sha256 of one artifact file.

        :param run_id: the run.
        :param path: the file's path inside the run's artifacts.
        :raises NotFoundError: when the run has no such recorded file.
        """
        rel = safe_relpath(path)
        table, owner = artifact_table(run_id)
        rows = self.cx.query(
            f"SELECT size, sha256 FROM {table} WHERE {owner} = ? AND path = ?", [run_id, rel]
        )
        if not rows:
            what = "Logged model" if is_model_owner(run_id) else "Run"
            raise NotFoundError(f"{what} {run_id} has no artifact {rel!r}.")
        return FileInfo(rel, False, rows[0][0], rows[0][1])

    def artifact_origin(self, run_id: str, path: str) -> tuple[str, str] | None:
        """``(sha256, origin)`` recorded for a run's artifact file, or None if it has no record.

        ``origin`` is ``"model"`` when mlnb's model writer wrote it, ``"user"`` otherwise.

        :param run_id: the run.
        :param path: the file's path inside the run's artifacts.
        """
        rel = safe_relpath(path)
        table, owner = artifact_table(run_id)
        rows = self.cx.query(
            f"SELECT sha256, origin FROM {table} WHERE {owner} = ? AND path = ?", [run_id, rel]
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def artifact_path(self, run_id: str, path: str = "") -> Path:
        """The local file or folder of a run's artifact, checked to stay inside the run. For an
        S3 root, the files are downloaded into the local cache and checked against their
        recorded sha256 first.

        :param run_id: the run.
        :param path: a path inside the run's artifacts; default the run's folder.
        :raises NotFoundError: when it does not exist.
        """
        return self.artifacts.local_path(run_id, path)

    def transaction(self) -> AbstractContextManager[object]:
        """One ``BEGIN IMMEDIATE`` transaction around several store calls: they commit together,
        or none does. Calls nest (an inner one joins the outer)."""
        return self.cx.write()

    def wait_idle(self) -> None:
        """Return once no other thread of this process is inside a transaction of this store."""
        self.cx.wait_idle()

    def change_counter(self) -> tuple[int, int]:
        """Changes whenever anyone commits to the store: SQLite's ``data_version`` moves on other
        connections' commits, ``total_changes`` on this connection's own. For caches of reads."""
        return self.cx.change_counter()

    def applied_migrations(self) -> list[str]:
        """The names of the schema migrations this store has, in the order they were applied."""
        if not self.location.is_sqlite:
            return pg_schema.applied_migrations(self.cx.query)
        return [row[0] for row in self.cx.query(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'mlnb' ORDER BY id")]

    def compact(self) -> tuple[int, int]:
        """Give back the space of deleted rows: SQLite's ``VACUUM`` rewrites the file without its
        free pages; on PostgreSQL, ``VACUUM`` makes the space reusable and ``ANALYZE`` refreshes
        the planner's statistics (after a large copy or upgrade).

        On SQLite it holds the write lock for as long as it runs (other writers wait). Returns
        the database's size in bytes before and after.
        """
        if not self.location.is_sqlite:
            size = "SELECT pg_database_size(current_database())"
            before = int(self.cx.query(size)[0][0])
            self.cx.query("VACUUM (ANALYZE)")  # not inside a transaction: a plain query
            return before, int(self.cx.query(size)[0][0])
        path = self.location.db_path
        self.cx.query("PRAGMA wal_checkpoint(TRUNCATE)")
        before = path.stat().st_size
        self.cx.query("VACUUM")  # cannot run inside a transaction: not through cx.write()
        self.cx.query("PRAGMA wal_checkpoint(TRUNCATE)")
        return before, path.stat().st_size

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` for a sound database).

        :raises StoreError: on PostgreSQL, which checks its pages itself and has no such call.
        """
        if not self.location.is_sqlite:
            raise StoreError("integrity_check is SQLite's; PostgreSQL checks its own pages "
                             "(see its amcheck extension).")
        return str(self.cx.query("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        """Close the database connection."""
        self.cx.close()


ARTIFACT_ENV = "MLNB_ARTIFACT_URI"


def artifact_table(owner: str) -> tuple[str, str]:
    """The table recording an owner's artifacts and its owner column: ``artifacts``/``run_id``
    for a run, ``logged_model_artifacts``/``model_id`` for a logged model without a run.

    :param owner: a run id or a logged model id.
    """
    if is_model_owner(owner):
        return "logged_model_artifacts", "model_id"
    return "artifacts", "run_id"


def team_artifact_root(cx: StoreConnection, shown: str) -> str:
    """The artifact root a team store records, recorded now from ``MLNB_ARTIFACT_URI`` if this
    is the store's first client.

    :param cx: the store's connection.
    :param shown: the store, password masked, for messages.
    :raises StoreError: when neither the store nor the environment names one, or the
        environment names another than the store's.
    """
    given = os.environ.get(ARTIFACT_ENV, "").strip() or None
    wanted = None if given is None else (parse_artifact_uri(given) or _artifact_uri(given))
    rows = cx.query("SELECT value FROM store_meta WHERE key = 'artifact_uri'")
    if rows:
        recorded = str(rows[0][0])
        if wanted is not None and wanted.rstrip("/") != recorded.rstrip("/"):
            raise StoreError(
                f"Store {shown} keeps its artifacts at {recorded}, but {ARTIFACT_ENV} names "
                f"{wanted}. Unset {ARTIFACT_ENV} (the store says where its artifacts are), or "
                "point it at the same place.")
        return recorded
    if wanted is None:
        raise StoreError(
            f"Store {shown} is new and needs a place for its artifacts that the whole team "
            f"reaches: set {ARTIFACT_ENV} (e.g. s3://bucket/mlnb or file:///shared/mlnb-artifacts) "
            "for this first use; the store records it for everyone after.")
    with cx.write() as tx:
        tx.execute("INSERT INTO store_meta (key, value) VALUES ('artifact_uri', ?) "
                   "ON CONFLICT (key) DO NOTHING", [wanted])
    return str(cx.query("SELECT value FROM store_meta WHERE key = 'artifact_uri'")[0][0])


def _artifact_uri(text: str) -> str:
    """A local artifact root (``file://`` URI or path) as an absolute ``file://`` URI."""
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path)).absolute().as_uri()
    return Path(text).expanduser().absolute().as_uri()


_stores: dict[tuple[str, Path, str | None], Store] = {}
_stores_lock = threading.Lock()


def open_store(uri: str | None = None) -> Store:
    """The store for ``uri`` (or the one found by the location rules), opened once per process.

    :param uri: a ``.mlnb`` folder, a ``.db`` file or a ``sqlite:///`` URI; default the location
        rules.
    """
    location = resolve(uri)
    # The artifact root is part of the key: MLNB_ARTIFACT_URI may change between calls.
    key = (location.key, location.artifact_root, location.artifact_url)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(location)
            _reap_quietly(store)
        return store


def _reap_quietly(store: Store) -> None:
    """Mark the runs of dead processes KILLED when a process first opens the store, so that
    ``get_run`` in a new process never shows a crashed run as RUNNING. Best effort: a store that
    cannot be written right now is reaped by the next search instead."""
    try:
        store.reap_dead_runs()
    except StoreError:
        pass
