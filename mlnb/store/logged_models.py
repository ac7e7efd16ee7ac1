"""MLflow 3's logged models (migrations ``0008_logged_models``, ``0013_logged_model_runless``,
``0016_logged_model_lifecycle``): ids, params, tags, searches, deletion.

A model logged inside a run keeps its files where the model writer put them, in the run's
artifacts. A model without a run (``initialize_logged_model``, ``log_model`` outside a run)
keeps them in its own folder, ``models/<model_id>`` under the artifact root, recorded in
``logged_model_artifacts`` as a run's are in ``artifacts``. Either way the artifact records (size,
sha256, origin, MAC), the trust rules of loading and the registry's pins apply unchanged. The row
here gives the model its own id (``m-`` and 32 hex digits, MLflow's form), so that
``models:/m-<id>`` loads and registers it.

Deleting a model is MLflow's soft delete: its ``lifecycle_stage`` becomes ``deleted`` and it is
no longer found by id, searched, loaded or registered; its row, files, params and tags stay (a
store copy or an MLflow import carries the state).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from mlnb.entities import LoggedModel
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import validation
from mlnb.store.artifacts import safe_relpath
from mlnb.store.dialect import StoreConnection
from mlnb.store.search import (
    EntitySchema,
    KeyValueSource,
    compile_filter,
    compile_order_by,
    parse_filter,
    parse_order_by,
)
from mlnb.store.sql import now_ms, page_offset

MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
MAX_LOGGED_MODEL_RESULTS = 10_000

LOGGED_MODEL_SCHEMA = EntitySchema(
    name="a logged model",
    attributes={
        "name": ("lm.name", "str"),
        "model_id": ("lm.model_id", "str"),
        "source_run_id": ("lm.source_run_id", "str"),
        "model_type": ("lm.model_type", "str"),
        "status": ("lm.status", "str"),
        "creation_timestamp": ("lm.creation_timestamp", "num"),
        "creation_time": ("lm.creation_timestamp", "num"),
        "last_updated_timestamp": ("lm.last_updated_timestamp", "num"),
    },
    sources={
        "params": KeyValueSource("logged_model_params", (("model_id", "lm.model_id"),), False),
        "tags": KeyValueSource("logged_model_tags", (("model_id", "lm.model_id"),), False),
    },
)

_COLUMNS = ("lm.model_id, lm.experiment_id, lm.name, lm.source_run_id, lm.artifact_path, "
            "lm.creation_timestamp, lm.last_updated_timestamp, lm.model_type, lm.status")


def check_model_id(model_id: Any) -> str:
    """A logged model's id: ``m-`` and 32 hex digits.

    :param model_id: the id as given.
    :raises InvalidParameterError: for anything else.
    """
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id):
        raise InvalidParameterError(
            f"{model_id!r} is not a logged model id: an id is 'm-' and 32 hex digits, as "
            "ModelInfo.model_id gives it.")
    return model_id


LOGGED_MODEL_STATUSES = ("PENDING", "READY", "FAILED")
#: A deleted logged model's ``lifecycle_stage`` (an active one's is ``active``).
DELETED = "deleted"


def new_model_id() -> str:
    """A new logged model id: ``m-`` and 32 random hex digits."""
    return f"m-{secrets.token_hex(16)}"


def check_logged_model_status(status: Any) -> str:
    """A logged model's status, one of :data:`LOGGED_MODEL_STATUSES`.

    :param status: the status as given.
    :raises InvalidParameterError: for anything else.
    """
    if status not in LOGGED_MODEL_STATUSES:
        raise InvalidParameterError(
            f"{status!r} is not a logged model status; use one of {', '.join(LOGGED_MODEL_STATUSES)}.")
    return str(status)


class LoggedModelQueries:
    """Logged-model methods of :class:`~mlnb.store.Store`."""

    cx: StoreConnection
    artifact_root_uri: str

    def create_logged_model(
        self, experiment_id: str, name: str, source_run_id: str | None, artifact_path: str | None,
        model_type: str | None = None, params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None, *, model_id: str | None = None,
        status: str = "READY",
    ) -> LoggedModel:
        """Record a model the model writer logged into ``artifact_path`` of a run (READY), or a
        model without a run whose files go to its own folder.

        :param experiment_id: the model's experiment (the run's, for a model of a run).
        :param name: the model's name (``log_model(name=...)``).
        :param source_run_id: the run whose artifacts hold the files, or None for a model
            without a run.
        :param artifact_path: the model's folder inside that run's artifacts (None without a
            run: the files go to the model's own folder, ``models/<model_id>``).
        :param model_type: a free-form type, or None.
        :param params: the model's params (values become text).
        :param tags: the model's tags (values become text).
        :param model_id: its id, when the caller chose it first (the MLflow API names the folder
            after it); default a new random one.
        :param status: ``READY``, or ``PENDING`` for a model whose files are still being
            uploaded (MLflow's clients finalize it with :meth:`set_logged_model_status`).
        """
        name = validation.check_name(name, "Logged model")
        status = check_logged_model_status(status)
        if (source_run_id is None) != (artifact_path is None):
            raise InvalidParameterError(
                "A logged model of a run names its folder in the run's artifacts "
                "(artifact_path); a model without a run has none (its files go to its own folder).")
        path = None if artifact_path is None else safe_relpath(artifact_path)
        self._check_model_home(experiment_id, source_run_id)
        params = {validation.check_key(k, "Param"): validation.param_value(k, v)
                  for k, v in (params or {}).items()}
        tags = {validation.check_key(k, "Tag"): str(v) for k, v in (tags or {}).items()}
        model_id = new_model_id() if model_id is None else check_model_id(model_id)
        t = now_ms()
        with self.cx.write() as conn:
            conn.execute(
                "INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, "
                "artifact_path, model_type, status, creation_timestamp, last_updated_timestamp) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [model_id, int(experiment_id), name, source_run_id, path, model_type, status, t, t])
            conn.executemany(
                "INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?)",
                [(model_id, k, v) for k, v in params.items()])
            conn.executemany(
                "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?)",
                [(model_id, k, v) for k, v in tags.items()])
        return self.get_logged_model(model_id)

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        """A logged model by id.

        :param model_id: ``m-`` and 32 hex digits.
        :param allow_deleted: also find a deleted model (MLflow's ``allow_deleted``).
        :raises NotFoundError: when the store has no such model, or it was deleted.
        """
        check_model_id(model_id)
        rows = self.cx.query(f"SELECT {_COLUMNS}, lm.lifecycle_stage FROM logged_models lm "
                             "WHERE lm.model_id = ?", [model_id])
        if not rows:
            raise NotFoundError(f"No logged model with id {model_id!r} in this store.")
        if rows[0][-1] == DELETED and not allow_deleted:
            raise NotFoundError(f"Logged model {model_id!r} was deleted (delete_logged_model).")
        return self._logged_models([r[:-1] for r in rows])[0]

    def delete_logged_model(self, model_id: str) -> None:
        """Delete a logged model, as MLflow 3 does: a soft delete. It is no longer found by id,
        searched, loaded or registered; deleting it again changes nothing.

        :param model_id: the model.
        :raises NotFoundError: when the store has no such model.
        """
        self.get_logged_model(model_id, allow_deleted=True)
        with self.cx.write() as conn:
            conn.execute("UPDATE logged_models SET lifecycle_stage = ?, last_updated_timestamp = ? "
                         "WHERE model_id = ?", [DELETED, now_ms(), model_id])

    def search_logged_models(
        self, experiment_ids: Sequence[str], filter_string: str | None = None,
        max_results: int = 100, order_by: Sequence[str] | None = None, offset: int = 0,
    ) -> list[LoggedModel]:
        """Logged models of these experiments matching a filter (newest first by default).

        :param experiment_ids: the experiments to search.
        :param filter_string: the search grammar over ``name``, ``model_id``,
            ``source_run_id``, ``status``, ``creation_timestamp``, ``params.*`` and ``tags.*``.
        :param max_results: at most this many.
        :param order_by: order-by clauses such as ``["creation_timestamp DESC"]``.
        :param offset: rows to skip (paging).
        """
        ids = [int(e) for e in experiment_ids]
        if not ids:
            return []
        where = compile_filter(parse_filter(filter_string), LOGGED_MODEL_SCHEMA,
                               filter_string or "", self.cx.dialect)
        order = compile_order_by(parse_order_by(order_by), LOGGED_MODEL_SCHEMA)
        order_sql = (order.sql + ", " if order.sql else "") + \
            "lm.creation_timestamp DESC, lm.model_id"
        marks = ", ".join("?" for _ in ids)
        rows = self.cx.query(
            f"SELECT {_COLUMNS} FROM logged_models lm {order.joins} "
            f"WHERE lm.experiment_id IN ({marks}) AND lm.lifecycle_stage = 'active' "
            f"AND ({where.sql}) "
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?",
            [*order.join_params, *ids, *where.params,
             validation.result_limit(max_results, MAX_LOGGED_MODEL_RESULTS),
             page_offset(offset)],
        )
        return self._logged_models(rows)

    def _check_model_home(self, experiment_id: str, source_run_id: str | None) -> None:
        """The experiment must exist, and the run (if any) be in it: said plainly, not as a
        foreign-key failure."""
        if not str(experiment_id).isdigit() or not self.cx.query(
                "SELECT 1 FROM experiments WHERE experiment_id = ?", [int(experiment_id)]):
            raise NotFoundError(f"No experiment with id {str(experiment_id)[:40]!r}.")
        if source_run_id is None:
            return
        rows = self.cx.query("SELECT experiment_id FROM runs WHERE run_id = ?", [source_run_id])
        if not rows:
            raise NotFoundError(f"No run with id {source_run_id!r}.")
        if str(rows[0][0]) != str(experiment_id):
            raise InvalidParameterError(
                f"Run {source_run_id} is in experiment {rows[0][0]}, not {experiment_id}: a "
                "logged model belongs to its run's experiment.")

    def log_logged_model_params(self, model_id: str, params: Mapping[str, Any]) -> None:
        """Add params to a logged model. As a run's, a param once set keeps its value: setting
        it again to the same value is accepted, to another is refused.

        :param model_id: the model.
        :param params: the params (values become text).
        :raises NotFoundError: when the store has no such model.
        :raises InvalidParameterError: when a param already has another value.
        """
        rows = {validation.check_key(k, "Param"): validation.param_value(k, v)
                for k, v in params.items()}
        model = self.get_logged_model(model_id)
        for key, value in rows.items():
            if key in model.params and model.params[key] != value:
                raise InvalidParameterError(
                    f"Param {key!r} of logged model {model_id} is already {model.params[key]!r}; "
                    f"a param cannot change (to {value[:100]!r}). Log it under another key.")
        with self.cx.write() as conn:
            conn.executemany(
                "INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (model_id, key) DO NOTHING",
                [(model_id, k, v) for k, v in rows.items()])
            conn.execute("UPDATE logged_models SET last_updated_timestamp = ? WHERE model_id = ?",
                         [now_ms(), model_id])

    def set_logged_model_status(self, model_id: str, status: str) -> LoggedModel:
        """Finalize a logged model: ``READY`` once its files are uploaded, or ``FAILED``.

        :param model_id: the model.
        :param status: one of :data:`LOGGED_MODEL_STATUSES`.
        :raises NotFoundError: when the store has no such model.
        """
        status = check_logged_model_status(status)
        self.get_logged_model(model_id)
        with self.cx.write() as conn:
            conn.execute("UPDATE logged_models SET status = ?, last_updated_timestamp = ? "
                         "WHERE model_id = ?", [status, now_ms(), model_id])
        return self.get_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, Any]) -> None:
        """Set (or overwrite) tags of a logged model.

        :param model_id: the model.
        :param tags: the tags (values become text).
        :raises NotFoundError: when the store has no such model.
        """
        rows = [(model_id, validation.check_key(k, "Tag"), validation.tag_value(k, v))
                for k, v in tags.items()]
        self.get_logged_model(model_id)
        with self.cx.write() as conn:
            conn.executemany(
                "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value", rows)
            conn.execute("UPDATE logged_models SET last_updated_timestamp = ? WHERE model_id = ?",
                         [now_ms(), model_id])

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove one tag of a logged model.

        :param model_id: the model.
        :param key: the tag.
        :raises NotFoundError: when the model or the tag does not exist.
        """
        self.get_logged_model(model_id)
        with self.cx.write() as conn:
            cur = conn.execute("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?",
                               [model_id, key])
            if cur.rowcount == 0:
                raise NotFoundError(f"Logged model {model_id} has no tag {key!r}.")

    def logged_models_of_run(self, run_id: str) -> list[LoggedModel]:
        """The models a run logged, oldest first.

        :param run_id: the run.
        """
        rows = self.cx.query(
            f"SELECT {_COLUMNS} FROM logged_models lm WHERE lm.source_run_id = ? "
            "ORDER BY lm.creation_timestamp, lm.model_id", [run_id])
        return self._logged_models(rows)

    def logged_model_ids_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        """The ids of the models each run logged, oldest first (a page of runs in one query per
        500 runs, for MLflow's ``Run.outputs``).

        :param run_ids: the runs.
        """
        found: dict[str, list[str]] = {r: [] for r in run_ids}
        ids = list(run_ids)
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            for run_id, model_id in self.cx.query(
                    f"SELECT source_run_id, model_id FROM logged_models WHERE source_run_id IN "
                    f"({marks}) ORDER BY creation_timestamp, model_id", chunk):
                found[str(run_id)].append(str(model_id))
        return found

    def _logged_models(self, rows: list[Any]) -> list[LoggedModel]:
        ids = [str(r[0]) for r in rows]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            for table, into in (("logged_model_params", params), ("logged_model_tags", tags)):
                for model_id, key, value in self.cx.query(
                        f"SELECT model_id, key, value FROM {table} WHERE model_id IN ({marks})",
                        chunk):
                    into[str(model_id)][str(key)] = str(value)
        return [LoggedModel(
            model_id=str(r[0]), experiment_id=str(r[1]), name=str(r[2]),
            source_run_id=None if r[3] is None else str(r[3]),
            artifact_path=None if r[4] is None else str(r[4]), creation_timestamp=int(r[5]),
            last_updated_timestamp=int(r[6]), model_type=None if r[7] is None else str(r[7]),
            status=str(r[8]), params=params[str(r[0])], tags=tags[str(r[0])],
            storage_uri=None if r[3] is not None else f"{self.artifact_root_uri}/models/{r[0]}")
            for r in rows]
