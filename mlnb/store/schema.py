"""The store's schema, as sqlite-utils migrations applied in order and recorded in the file.

Add a migration at the end; never edit one that has shipped. :func:`apply_migrations` runs
them inside the caller's ``BEGIN IMMEDIATE`` transaction, so two processes opening a brand-new
store at once serialise on the write lock and the second finds nothing left to do.
"""

from __future__ import annotations

import secrets

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from mlnb.errors import SchemaTooNewError
from mlnb.store.point_codec import chunk_extremes
from mlnb.store.saved_views import SAVED_VIEWS_SQL
from mlnb.store.traces import TRACES_SQL

migrations = Migrations("mlnb")


@migrations(name="0001_tracking")
def _tracking(db: Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE experiments (
            experiment_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            lifecycle_stage TEXT NOT NULL DEFAULT 'active',
            creation_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL
        );
        CREATE TABLE experiment_tags (
            experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (experiment_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            lifecycle_stage TEXT NOT NULL DEFAULT 'active',
            user_id TEXT NOT NULL DEFAULT '',
            parent_run_id TEXT,
            host TEXT,
            pid INTEGER,
            pid_start TEXT,
            deleted_time INTEGER
        );
        CREATE INDEX runs_by_experiment ON runs(experiment_id, start_time);
        CREATE INDEX runs_running ON runs(status) WHERE status = 'RUNNING';
        CREATE INDEX runs_by_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
        CREATE TABLE params (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE tags (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        -- value is NULL when is_nan = 1: SQLite cannot hold NaN (it reads it back as NULL).
        CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value REAL,
            is_nan INTEGER NOT NULL DEFAULT 0,
            step INTEGER NOT NULL,
            timestamp INTEGER NOT NULL
        );
        CREATE INDEX metrics_by_run_key ON metrics(run_id, key, step);
        CREATE TABLE latest_metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value REAL,
            is_nan INTEGER NOT NULL DEFAULT 0,
            step INTEGER NOT NULL,
            timestamp INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX latest_metrics_by_key ON latest_metrics(key, value);
        CREATE TABLE artifacts (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            created INTEGER NOT NULL,
            PRIMARY KEY (run_id, path)
        ) WITHOUT ROWID;
        INSERT INTO experiments (experiment_id, name, creation_time, last_update_time)
            VALUES (0, 'Default', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
                    CAST(strftime('%s', 'now') AS INTEGER) * 1000);
        """
    )


@migrations(name="0002_registry")
def _registry(db: Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE registered_models (
            name TEXT PRIMARY KEY,
            creation_time INTEGER NOT NULL,
            last_updated_time INTEGER NOT NULL,
            description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE registered_model_tags (
            name TEXT NOT NULL REFERENCES registered_models(name)
                ON DELETE CASCADE ON UPDATE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (name, key)
        ) WITHOUT ROWID;
        CREATE TABLE model_versions (
            name TEXT NOT NULL REFERENCES registered_models(name)
                ON DELETE CASCADE ON UPDATE CASCADE,
            version INTEGER NOT NULL,
            creation_time INTEGER NOT NULL,
            last_updated_time INTEGER NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL,
            run_id TEXT,
            status TEXT NOT NULL DEFAULT 'READY',
            current_stage TEXT NOT NULL DEFAULT 'None',
            user_id TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (name, version)
        );
        CREATE TABLE model_version_tags (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (name, version, key),
            FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
                ON DELETE CASCADE ON UPDATE CASCADE
        ) WITHOUT ROWID;
        CREATE TABLE registered_model_aliases (
            name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (name, alias),
            FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
                ON DELETE CASCADE ON UPDATE CASCADE
        ) WITHOUT ROWID;
        -- Every stage or alias change: when, what, from, to, who. Kept when a version is deleted.
        CREATE TABLE model_registry_events (
            event_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version INTEGER,
            kind TEXT NOT NULL,
            from_value TEXT,
            to_value TEXT,
            time INTEGER NOT NULL,
            user_id TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX model_registry_events_by_name ON model_registry_events(name, time);
        """
    )


@migrations(name="0003_artifact_origin")
def _artifact_origin(db: Database) -> None:
    # Who wrote each artifact: 'model' for mlnb's model writer (log_model), 'user' for everything
    # else (log_artifact(s), log_text, ...). Only model-written files load as pickles without
    # trusted=True; rows that existed before this migration cannot be vouched for, so are 'user'.
    _run_script(db, "ALTER TABLE artifacts ADD COLUMN origin TEXT NOT NULL DEFAULT 'user'")


@migrations(name="0004_trust")
def _trust(db: Database) -> None:
    # A random id per store, bound into each artifact record's MAC (mlnb.store.trust), so a
    # record cannot be moved to another store. Rows written before this migration get no MAC:
    # nothing proves who wrote them, so they count as foreign until the user trusts the store.
    _run_script(
        db,
        """
        CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        ALTER TABLE artifacts ADD COLUMN mac TEXT
        """,
    )
    db.execute("INSERT INTO store_meta (key, value) VALUES ('store_id', ?)", [secrets.token_hex(16)])


@migrations(name="0005_registry_pins")
def _registry_pins(db: Database) -> None:
    # The sha256 of every file of a registered version's model folder, pinned at registration:
    # loading models:/ refuses a file that changed, appeared or went missing since.
    _run_script(
        db,
        """
        CREATE TABLE model_version_files (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (name, version, path),
            FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
                ON DELETE CASCADE ON UPDATE CASCADE
        ) WITHOUT ROWID;
        -- Every artifact write asks whether its folder belongs to a registered version.
        CREATE INDEX model_versions_by_run ON model_versions(run_id)
        """,
    )
    # Versions registered before: pin what the store recorded for their folders then.
    for name, version, source, run_id in db.execute(
        "SELECT name, version, source, run_id FROM model_versions"
    ).fetchall():
        prefix = str(source).split("/", 2)[2] + "/" if str(source).count("/") >= 2 else ""
        if not prefix or prefix == "/":
            continue
        db.execute(
            "INSERT OR IGNORE INTO model_version_files (name, version, path, sha256) "
            "SELECT ?, ?, substr(path, ?), sha256 FROM artifacts "
            "WHERE run_id = ? AND substr(path, 1, ?) = ?",
            [name, version, len(prefix) + 1, run_id, len(prefix), prefix],
        )
@migrations(name="0006_latest_metric_rule")
def _latest_metric_rule(db: Database) -> None:
    # Until this rule, of two points tied on (step, timestamp) the one logged last was the latest;
    # now it is the greater value (MLflow's rule, runs.LATEST_RANK, NaN below every number).
    # Recompute every latest value from the full history so that old stores follow the rule too.
    # (The ordering is spelled out, not taken from LATEST_RANK: a shipped migration never changes.)
    _run_script(
        db,
        """
        DELETE FROM latest_metrics;
        INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp)
            SELECT run_id, key, value, is_nan, step, timestamp FROM (
                SELECT run_id, key, value, is_nan, step, timestamp, ROW_NUMBER() OVER (
                    PARTITION BY run_id, key
                    ORDER BY step DESC, timestamp DESC, is_nan = 0 DESC, COALESCE(value, 0) DESC
                ) AS position FROM metrics
            ) WHERE position = 1
        """,
    )


@migrations(name="0007_metric_series")
def _metric_series(db: Database) -> None:
    # One row per metric of a run (an integer id and its latest value) and its points packed in
    # chunks: about 8 bytes a point instead of 120 (issue "Scale").
    from mlnb.store import series_upgrade

    series_upgrade.upgrade(db.conn)


@migrations(name="0007_search_indexes")
def _search_indexes(db: Database) -> None:
    # Indexes in the order searches ask for (issue "Scale"): a page of an experiment's runs
    # newest first, and its count, from the index alone; params and tags by key and value, for
    # filters and for pages ordered by them (mlnb.store.run_search).
    _run_script(
        db,
        """
        CREATE INDEX runs_by_experiment_stage ON runs(experiment_id, lifecycle_stage, start_time);
        DROP INDEX runs_by_experiment;
        CREATE INDEX params_by_key ON params(key, value);
        CREATE INDEX tags_by_key ON tags(key, value)
        """,
    )


@migrations(name="0008_logged_models")
def _logged_models(db: Database) -> None:
    # MLflow 3's logged models: a model has an id of its own (m-<32 hex>), its experiment, the
    # run that logged it and where its files are in that run's artifacts (so the artifact
    # records, their trust and the registry's pins stay the run's), and params and tags.
    _run_script(
        db,
        """
        CREATE TABLE logged_models (
            model_id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
            name TEXT NOT NULL,
            source_run_id TEXT REFERENCES runs(run_id) ON DELETE CASCADE,
            artifact_path TEXT,
            model_type TEXT,
            status TEXT NOT NULL,
            creation_timestamp INTEGER NOT NULL,
            last_updated_timestamp INTEGER NOT NULL
        );
        CREATE INDEX logged_models_by_experiment
            ON logged_models(experiment_id, creation_timestamp);
        CREATE INDEX logged_models_by_run ON logged_models(source_run_id)
            WHERE source_run_id IS NOT NULL;
        CREATE TABLE logged_model_params (
            model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE logged_model_tags (
            model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID
        """,
    )


@migrations(name="0009_prediction_log")
def _prediction_log(db: Database) -> None:
    # An append-only log of what served or batch-scored models predicted: one row per predicted
    # row (its inputs and outputs as JSON text), the ground truth that arrives later keyed by
    # request id, and per model URI what sampling and retention dropped.
    _run_script(
        db,
        """
        CREATE TABLE predictions (
            prediction_id INTEGER PRIMARY KEY AUTOINCREMENT,
            model_uri TEXT NOT NULL,
            model_name TEXT,
            model_version TEXT,
            timestamp INTEGER NOT NULL,
            request_id TEXT NOT NULL,
            inputs TEXT NOT NULL,
            outputs TEXT NOT NULL,
            latency_ms REAL
        );
        CREATE INDEX predictions_by_model ON predictions(model_uri, timestamp);
        CREATE INDEX predictions_by_request ON predictions(request_id);
        CREATE TABLE prediction_ground_truth (
            request_id TEXT PRIMARY KEY,
            target TEXT NOT NULL,
            timestamp INTEGER NOT NULL
        );
        CREATE TABLE prediction_log_counts (
            model_uri TEXT PRIMARY KEY,
            logged INTEGER NOT NULL DEFAULT 0,
            sampled_out INTEGER NOT NULL DEFAULT 0,
            pruned INTEGER NOT NULL DEFAULT 0
        )
        """,
    )

@migrations(name="0010_run_heartbeat")
def _run_heartbeat(db: Database) -> None:
    # When the process running a run last said it lives (team stores: mlnb.store.heartbeat);
    # NULL where only the process id tells (a local SQLite store's runs).
    _run_script(db, "ALTER TABLE runs ADD COLUMN heartbeat INTEGER")


@migrations(name="0011_traces")
def _traces(db: Database) -> None:
    # GenAI traces in MLflow's model (trace_info, its tags and request metadata, one row per
    # span): a trace belongs to an experiment and, when one was active, to a run. Spans are
    # rows of their own so that listing traces never reads them (MLflow #24314).
    _run_script(db, TRACES_SQL.format(T="TEXT", I="INTEGER"))


@migrations(name="0012_datasets")
def _datasets(db: Database) -> None:
    # MLflow's datasets and run inputs: a dataset is one per experiment for a (name, digest);
    # a run's input links it to a dataset with tags of that use (mlflow.data.context); a run's
    # model inputs are the logged models it used. ``position`` keeps the order they were logged.
    _run_script(
        db,
        """
        CREATE TABLE datasets (
            dataset_id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            digest TEXT NOT NULL,
            source_type TEXT NOT NULL,
            source TEXT NOT NULL,
            schema TEXT,
            profile TEXT,
            UNIQUE (experiment_id, name, digest)
        );
        CREATE TABLE run_inputs (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            dataset_id TEXT NOT NULL REFERENCES datasets(dataset_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            PRIMARY KEY (run_id, dataset_id)
        ) WITHOUT ROWID;
        CREATE INDEX run_inputs_by_dataset ON run_inputs(dataset_id);
        CREATE TABLE run_input_tags (
            run_id TEXT NOT NULL,
            dataset_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, dataset_id, key),
            FOREIGN KEY (run_id, dataset_id) REFERENCES run_inputs(run_id, dataset_id)
                ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE TABLE run_model_inputs (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (run_id, model_id)
        ) WITHOUT ROWID
        """,
    )


@migrations(name="0013_logged_model_runless")
def _logged_model_runless(db: Database) -> None:
    # MLflow 3's logged models without a run (initialize_logged_model, log_model outside a run):
    # their files live in their own folder under the artifact root (models/<model_id>/), recorded
    # here as a run's are in `artifacts` (size, sha256, origin, MAC). A registered version
    # remembers which logged model it is (its source reads models:/<model_id>, as in MLflow 3).
    _run_script(
        db,
        """
        CREATE TABLE logged_model_artifacts (
            model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            created INTEGER NOT NULL,
            origin TEXT NOT NULL DEFAULT 'user',
            mac TEXT,
            PRIMARY KEY (model_id, path)
        ) WITHOUT ROWID;
        ALTER TABLE model_versions ADD COLUMN model_id TEXT
        """,
    )


@migrations(name="0014_saved_views")
def _saved_views(db: Database) -> None:
    # The Experiments workspace's saved views: a named state (columns, filter, grouping, charts)
    # per experiment, as JSON text (mlnb.store.saved_views).
    _run_script(db, SAVED_VIEWS_SQL.format(T="TEXT", I="INTEGER"))


@migrations(name="0015_chunk_extremes")
def _chunk_extremes(db: Database) -> None:
    # Each packed chunk's lowest and highest value as columns, so a metric's min and max are
    # aggregated in SQL (with the tail rows) without unpacking a point; filled from the
    # summaries for chunks written before.
    _run_script(db, "ALTER TABLE metric_chunks ADD COLUMN min_value REAL; "
                    "ALTER TABLE metric_chunks ADD COLUMN max_value REAL")
    rows = db.execute("SELECT chunk_id, summary FROM metric_chunks").fetchall()
    db.conn.executemany("UPDATE metric_chunks SET min_value = ?, max_value = ? WHERE chunk_id = ?",
                        [(*chunk_extremes(summary), chunk_id) for chunk_id, summary in rows])


@migrations(name="0016_logged_model_lifecycle")
def _logged_model_lifecycle(db: Database) -> None:
    # MLflow 3's delete_logged_model: a soft delete. A deleted model stays in the store (its
    # files, params, tags) but is no longer found by id, searched or loaded.
    _run_script(db, "ALTER TABLE logged_models ADD COLUMN lifecycle_stage TEXT NOT NULL "
                    "DEFAULT 'active'")


def _run_script(db: Database, script: str) -> None:
    # Not executescript(): in Python 3.11 it commits the caller's open transaction first.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


KNOWN = frozenset(m.name for m in migrations._migrations)


def apply_migrations(db: Database) -> None:
    """Bring the store's schema up to date; refuse a store written by a newer mlnb.

    Must run inside a ``BEGIN IMMEDIATE`` transaction the caller owns.

    :param db: the open database.
    :raises SchemaTooNewError: when the store has migrations this mlnb does not know.
    """
    applied = _applied(db)
    unknown = applied - KNOWN
    if unknown:
        raise SchemaTooNewError(
            f"This store was written by a newer mlnb (it has migrations {sorted(unknown)} that "
            "this version does not know). Upgrade mlnb to open it: pip install -U mlnb."
        )
    if applied != KNOWN:
        migrations.apply(db)


def _applied(db: Database) -> set[str]:
    if not db["_sqlite_migrations"].exists():
        return set()
    rows = db.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", ["mlnb"]
    ).fetchall()
    return {row[0] for row in rows}
