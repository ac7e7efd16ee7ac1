"""Reading MLflow's tracking database (``sqlite:///mlflow.db`` or ``postgresql://...``) with SQL,
read-only, every value bound.

The tables are MLflow's SQLAlchemy models (``mlflow/store/tracking/dbmodels/models.py`` and
``mlflow/store/model_registry/dbmodels/models.py``); ``alembic_version`` says the schema's
revision. Columns added over MLflow's versions (``deleted_time``, MLflow 3's ``logged_models``)
are read when the database has them. MLflow's database cannot hold ``±inf``: it clamped those to
``±1.797e308`` when they were logged, and they are imported so, as MLflow returns them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlnb.entities import DatasetInput
from mlnb.store.location import mask_password
from mlnb.store.mlflow_files import local_artifacts
from mlnb.store.mlflow_records import (
    MODEL_STATUS_NUMBERS,
    ArtifactFile,
    Columns,
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModel,
    MlflowReader,
    MlflowRun,
    MlflowVersion,
    SourceError,
    dataset_record,
)

_REQUIRED = ("experiments", "runs", "params", "tags", "metrics")


def sqlite_path(uri: str) -> Path:
    """The file of a ``sqlite:///`` URI (``sqlite:////abs/path`` or ``sqlite:///rel/path``).

    :param uri: the URI.
    """
    return Path(unquote(uri[len("sqlite:///"):]))


class SqlReader(MlflowReader):
    """MLflow's database, opened read-only.

    :param uri: ``sqlite:///path`` or ``postgresql://...``.
    :raises SourceError: when it cannot be opened or is not MLflow's.
    """

    def __init__(self, uri: str) -> None:
        self.describe = mask_password(uri)
        self._pg = not uri.startswith("sqlite:")
        self._conn: Any = self._connect_pg(uri) if self._pg else self._connect_sqlite(uri)
        try:
            self._check_schema()
        except BaseException:
            self.close()
            raise

    def _connect_sqlite(self, uri: str) -> sqlite3.Connection:
        path = sqlite_path(uri)
        if not path.is_file():
            raise SourceError(f"{path} does not exist: give the MLflow database's file, e.g. "
                              "sqlite:///mlflow.db (three slashes, then the path).")
        try:
            conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=30)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise SourceError(f"{path} cannot be read as an SQLite database: {exc}.") from None
        return conn

    def _connect_pg(self, uri: str) -> Any:
        try:
            import psycopg  # the team store's driver: loaded only for a PostgreSQL source
        except ImportError:
            raise SourceError("reading a PostgreSQL database needs psycopg: "
                              "pip install 'mlnb[team]'.") from None

        url = uri.replace("postgresql+psycopg2://", "postgresql://", 1).replace(
            "postgresql+psycopg://", "postgresql://", 1)
        try:
            conn = psycopg.connect(url, connect_timeout=10, autocommit=True,
                                   options="-c default_transaction_read_only=on")
        except psycopg.Error as exc:
            raise SourceError(f"cannot connect to {self.describe}: "
                              f"{str(exc).strip().splitlines()[0]}") from None
        return conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._pg:
            sql = sql.replace("?", "%s")
        cur = self._conn.execute(sql, list(params))
        return [tuple(r) for r in cur.fetchall()]

    def _tables(self) -> set[str]:
        if self._pg:
            rows = self._query("SELECT table_name FROM information_schema.tables "
                               "WHERE table_schema = current_schema()")
        else:
            rows = self._query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(r[0]) for r in rows}

    def _columns(self, table: str) -> set[str]:
        if self._pg:
            rows = self._query("SELECT column_name FROM information_schema.columns "
                               "WHERE table_schema = current_schema() AND table_name = ?", [table])
            return {str(r[0]) for r in rows}
        return {str(r[1]) for r in self._query(f"PRAGMA table_info({table})")}

    def _check_schema(self) -> None:
        tables = self._tables()
        if "_sqlite_migrations" in tables or "store_meta" in tables:
            raise SourceError(f"{self.describe} is an mlnb store, not MLflow's; copy it with "
                              "mlnb store copy SRC DST.")
        missing = [t for t in ("alembic_version", *_REQUIRED) if t not in tables]
        if missing:
            raise SourceError(f"{self.describe} is not an MLflow tracking database (it has no "
                              f"{', '.join(missing)} table). Give the database MLflow's "
                              "--backend-store-uri names.")
        rows = self._query("SELECT version_num FROM alembic_version")
        self.revision = str(rows[0][0]) if rows else "?"
        self.describe += f" (MLflow schema {self.revision})"
        self._has_tables = tables
        self._run_cols = self._columns("runs")

    # --- tracking ---------------------------------------------------------------------------

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment, with its tags."""
        tags: dict[str, dict[str, str]] = {}
        for key, value, eid in self._query("SELECT key, value, experiment_id FROM experiment_tags"):
            tags.setdefault(str(eid), {})[str(key)] = "" if value is None else str(value)
        return [MlflowExperiment(str(eid), str(name), str(stage or "active"), int(created or 0),
                                 int(updated or created or 0), tags.get(str(eid), {}))
                for eid, name, stage, created, updated in self._query(
                    "SELECT experiment_id, name, lifecycle_stage, creation_time, last_update_time "
                    "FROM experiments ORDER BY experiment_id")]

    def runs(self, experiment_id: str) -> list[MlflowRun]:
        """The experiment's runs with params and tags.

        :param experiment_id: the experiment.
        """
        deleted = "deleted_time" if "deleted_time" in self._run_cols else "NULL"
        rows = self._query(
            "SELECT run_uuid, name, status, start_time, end_time, lifecycle_stage, user_id, "
            f"artifact_uri, {deleted} FROM runs WHERE experiment_id = ? "
            "ORDER BY start_time, run_uuid", [int(experiment_id)])
        params = self._pairs("params", experiment_id)
        tags = self._pairs("tags", experiment_id)
        runs = []
        for run_id, name, status, start, end, stage, user, uri, deleted_at in rows:
            rid = str(run_id)
            run_tags = tags.get(rid, {})
            runs.append(MlflowRun(
                rid, experiment_id, str(name or run_tags.get("mlflow.runName") or ""),
                str(status or "FINISHED"), int(start or 0), None if end is None else int(end),
                str(stage or "active"), str(user or ""), str(uri or ""),
                None if deleted_at is None else int(deleted_at), params.get(rid, {}), run_tags))
        inputs, models = self._inputs(experiment_id)
        for run in runs:
            run.inputs, run.model_inputs = inputs.get(run.run_id, []), models.get(run.run_id, [])
        return runs

    def _inputs(self, experiment_id: str) -> tuple[dict[str, list[DatasetInput]], dict[str, list[str]]]:
        """``{run id: dataset inputs}`` and ``{run id: logged model ids}`` of one experiment's
        runs (none before MLflow 2.4 made the tables)."""
        if not {"datasets", "inputs", "input_tags"} <= self._has_tables:
            return {}, {}
        tags: dict[str, dict[str, str]] = {}
        for input_id, key, value in self._query(
                "SELECT t.input_uuid, t.name, t.value FROM input_tags t JOIN inputs i "
                "ON i.input_uuid = t.input_uuid JOIN datasets d ON d.dataset_uuid = i.source_id "
                "WHERE d.experiment_id = ? ORDER BY t.name", [int(experiment_id)]):
            tags.setdefault(str(input_id), {})[str(key)] = "" if value is None else str(value)
        datasets: dict[str, list[DatasetInput]] = {}
        for input_id, run_id, *fields in self._query(
                "SELECT i.input_uuid, i.destination_id, d.name, d.digest, d.dataset_source_type, "
                "d.dataset_source, d.dataset_schema, d.dataset_profile FROM inputs i "
                "JOIN datasets d ON d.dataset_uuid = i.source_id WHERE i.source_type = 'DATASET' "
                "AND i.destination_type = 'RUN' AND d.experiment_id = ? "
                "ORDER BY d.name, d.digest", [int(experiment_id)]):
            record = dataset_record(dict(zip(("name", "digest", "source_type", "source", "schema",
                                              "profile"), fields, strict=True)))
            datasets.setdefault(str(run_id), []).append(
                DatasetInput(record, tags.get(str(input_id), {})))
        models: dict[str, list[str]] = {}
        for run_id, model_id in self._query(
                "SELECT i.source_id, i.destination_id FROM inputs i JOIN runs r "
                "ON r.run_uuid = i.source_id WHERE i.source_type = 'RUN_INPUT' "
                "AND i.destination_type = 'MODEL_INPUT' AND r.experiment_id = ? "
                "ORDER BY i.destination_id", [int(experiment_id)]):
            models.setdefault(str(run_id), []).append(str(model_id))
        return datasets, models

    def _pairs(self, table: str, experiment_id: str) -> dict[str, dict[str, str]]:
        """``{run id: {key: value}}`` of params or tags of one experiment's runs (``table`` is a
        constant of this module)."""
        found: dict[str, dict[str, str]] = {}
        for run_id, key, value in self._query(
                f"SELECT t.run_uuid, t.key, t.value FROM {table} t JOIN runs r "
                "ON r.run_uuid = t.run_uuid WHERE r.experiment_id = ?", [int(experiment_id)]):
            found.setdefault(str(run_id), {})[str(key)] = "" if value is None else str(value)
        return found

    def metrics(self, run: MlflowRun) -> dict[str, Columns]:
        """The run's metric histories (in the order they were logged, as far as the timestamps
        tell; a NaN is ``is_nan`` with a 0 value in MLflow's table).

        :param run: the run.
        """
        found: dict[str, Columns] = {}
        for key, value, stamp, step, nan in self._query(
                "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
                "ORDER BY key, timestamp, step", [run.run_id]):
            steps, stamps, values = found.setdefault(str(key), ([], [], []))
            steps.append(int(step or 0))
            stamps.append(int(stamp or 0))
            values.append(float("nan") if nan else float(value))
        return found

    def artifacts(self, owner: MlflowRun | MlflowLoggedModel) -> tuple[list[ArtifactFile], str | None]:
        """The files of the run's (or logged model's) artifact location on this machine.

        :param owner: the run or logged model.
        """
        uri = owner.artifact_uri if isinstance(owner, MlflowRun) else owner.artifact_location
        return local_artifacts(uri)

    def logged_models(self) -> list[MlflowLoggedModel]:
        """MLflow 3's ``logged_models`` with params and tags (none before MLflow 3)."""
        if "logged_models" not in self._has_tables:
            return []
        params: dict[str, dict[str, str]] = {}
        tags: dict[str, dict[str, str]] = {}
        for table, into in (("logged_model_params", params), ("logged_model_tags", tags)):
            prefix = "param" if table.endswith("params") else "tag"
            for model_id, key, value in self._query(
                    f"SELECT model_id, {prefix}_key, {prefix}_value FROM {table}"):
                into.setdefault(str(model_id), {})[str(key)] = str(value)
        return [MlflowLoggedModel(
            str(mid), str(eid), str(name), None if run is None else str(run),
            None if mtype is None else str(mtype),
            MODEL_STATUS_NUMBERS.get(int(status), str(status)) if str(status).isdigit()
            else str(status), int(created or 0), int(updated or created or 0), str(location),
            str(stage or "active"), params.get(str(mid), {}), tags.get(str(mid), {}))
            for mid, eid, name, run, mtype, status, created, updated, location, stage in self._query(
                "SELECT model_id, experiment_id, name, source_run_id, model_type, status, "
                "creation_timestamp_ms, last_updated_timestamp_ms, artifact_location, "
                "lifecycle_stage FROM logged_models ORDER BY creation_timestamp_ms, model_id")]

    # --- registry ---------------------------------------------------------------------------

    def registered_models(self) -> list[MlflowModel]:
        """Registered models with tags, aliases and versions (with their tags)."""
        if "registered_models" not in self._has_tables:
            return []
        models = {str(n): MlflowModel(str(n), int(c or 0), int(u or c or 0), str(d or ""))
                  for n, c, u, d in self._query(
                      "SELECT name, creation_time, last_updated_time, description "
                      "FROM registered_models ORDER BY name")}
        for key, value, name in self._query("SELECT key, value, name FROM registered_model_tags"):
            if str(name) in models:
                models[str(name)].tags[str(key)] = "" if value is None else str(value)
        if "registered_model_aliases" in self._has_tables:
            for alias, version, name in self._query(
                    "SELECT alias, version, name FROM registered_model_aliases"):
                if str(name) in models:
                    models[str(name)].aliases[str(alias)] = int(version)
        version_tags: dict[tuple[str, int], dict[str, str]] = {}
        for key, value, name, version in self._query(
                "SELECT key, value, name, version FROM model_version_tags"):
            version_tags.setdefault((str(name), int(version)), {})[str(key)] = str(value or "")
        mv_cols = self._columns("model_versions")
        location = "storage_location" if "storage_location" in mv_cols else "NULL"
        model_id = "model_id" if "model_id" in mv_cols else "NULL"
        for row in self._query(
                "SELECT name, version, creation_time, last_updated_time, description, source, "
                f"run_id, status, current_stage, user_id, {location}, {model_id} "
                "FROM model_versions ORDER BY name, version"):
            name, number = str(row[0]), int(row[1])
            if name not in models or str(row[8] or "") == "Deleted_Internal":
                continue  # MLflow marks a deleted version so before it removes the row
            models[name].versions.append(MlflowVersion(
                number, int(row[2] or 0), int(row[3] or row[2] or 0), str(row[4] or ""),
                str(row[5] or ""), None if not row[6] else str(row[6]), str(row[7] or "READY"),
                str(row[8] or "None"), str(row[9] or ""), None if not row[10] else str(row[10]),
                None if not row[11] else str(row[11]), version_tags.get((name, number), {})))
        return list(models.values())

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def is_database_uri(source: str) -> bool:
    """Whether SOURCE names an MLflow database rather than a folder or a server.

    :param source: the SOURCE argument.
    """
    scheme = urlparse(source).scheme.lower()
    return scheme == "sqlite" or scheme.startswith("postgresql") or scheme == "postgres"
