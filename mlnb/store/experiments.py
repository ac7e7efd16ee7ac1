"""Experiments: create (race-free by name), read, search, rename, tag, delete and restore."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlnb.entities import Experiment, LifecycleStage, ViewType
from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError, StoreError
from mlnb.store import records, validation
from mlnb.store.dialect import StoreConnection
from mlnb.store.search import (
    EntitySchema,
    KeyValueSource,
    compile_filter,
    compile_order_by,
    parse_filter,
    parse_order_by,
)
from mlnb.store.sql import (
    experiment_int,
    marks,
    now_ms,
    result_limit,
    view_stages,
)

EXPERIMENT_SCHEMA = EntitySchema(
    name="an experiment",
    attributes={
        "name": ("e.name", "str"),
        "experiment_id": ("CAST(e.experiment_id AS TEXT)", "str"),
        "creation_time": ("e.creation_time", "num"),
        "last_update_time": ("e.last_update_time", "num"),
        "lifecycle_stage": ("e.lifecycle_stage", "str"),
    },
    sources={
        "tags": KeyValueSource("experiment_tags", (("experiment_id", "e.experiment_id"),), False),
    },
)


class ExperimentQueries:
    """The experiments tables' SQL. Mixed into :class:`mlnb.store.Store`."""

    cx: StoreConnection
    artifact_root_uri: str

    def create_experiment(self, name: str, tags: dict[str, Any] | None = None) -> str:
        """Create an experiment with its tags and return its id.

        :param name: a name no experiment has (deleted ones included).
        :param tags: tags of the experiment.
        :raises AlreadyExistsError: when the name is taken.
        """
        validation.check_name(name, "Experiment")
        tags = {validation.check_key(k, "Tag"): validation.tag_value(k, v)
                for k, v in (tags or {}).items()}
        with self.cx.write(serial=True) as conn:
            row = conn.execute(
                "SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ?", [name]
            ).fetchone()
            if row is not None:
                extra = " (it is deleted: restore it or pick another name)" \
                    if row[1] == LifecycleStage.DELETED else ""
                raise AlreadyExistsError(f"Experiment {name!r} already exists{extra}.")
            t = now_ms()
            experiment_id = int(conn.execute(
                "INSERT INTO experiments (name, creation_time, last_update_time) VALUES (?, ?, ?) "
                "RETURNING experiment_id", [name, t, t],
            ).fetchone()[0])
            conn.executemany(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
                [(experiment_id, k, v) for k, v in tags.items()],
            )
        return str(experiment_id)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment named ``name``, created if there is none, in one write transaction:
        processes calling ``set_experiment`` on a new name at the same moment all get it.

        :param name: the experiment's name.
        """
        validation.check_name(name, "Experiment")
        with self.cx.write(serial=True):  # on PostgreSQL too: one creator, the others find it
            found = self.get_experiment_by_name(name)
            if found is not None:
                return found
            return self.get_experiment(self.create_experiment(name))

    def _experiment_from_row(self, row: Sequence[Any]) -> Experiment:
        """The experiment of a row; :class:`records.MalformedRow` when a column is not what
        mlnb writes."""
        experiment_id, name, stage, created, updated = records.experiment_fields(row)
        tags: dict[str, str] = {str(key): str(value) for key, value in self.cx.query(
            "SELECT key, value FROM experiment_tags WHERE experiment_id = ?", [row[0]]
        )}
        return Experiment(
            experiment_id=experiment_id, name=name, artifact_location=self.artifact_root_uri,
            lifecycle_stage=stage, tags=tags, creation_time=created, last_update_time=updated,
        )

    def _one_experiment(self, row: Sequence[Any]) -> Experiment:
        try:
            return self._experiment_from_row(row)
        except records.MalformedRow as problem:
            raise StoreError(
                f"Experiment {row[0]!r} in the store is malformed: {problem}. It was not written "
                "by mlnb as it is; repair or delete its row.") from None

    def _listed_experiments(self, rows: Sequence[Sequence[Any]]) -> list[Experiment]:
        found = []
        for row in rows:
            try:
                found.append(self._experiment_from_row(row))
            except records.MalformedRow as problem:
                records.skip(f"experiment {row[0]!r}", problem)
        return found

    _EXPERIMENT_COLUMNS = ("e.experiment_id, e.name, e.lifecycle_stage, e.creation_time, "
                           "e.last_update_time")

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        """The experiment with this id.

        :param experiment_id: the id.
        :raises NotFoundError: when there is none.
        """
        rows = self.cx.query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments e WHERE e.experiment_id = ?",
            [experiment_int(experiment_id)],
        )
        if not rows:
            raise NotFoundError(f"No experiment with id {experiment_id!r}.")
        return self._one_experiment(rows[0])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this exact name, or None.

        :param name: the name.
        """
        rows = self.cx.query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments e WHERE e.name = ?", [name]
        )
        return self._one_experiment(rows[0]) if rows else None

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        """Experiments matching a filter, in ``order_by`` order then by id.

        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        :param filter_string: the search grammar over ``name``, times and ``tags.*``.
        :param max_results: at most this many.
        :param order_by: order-by clauses.
        """
        where = compile_filter(parse_filter(filter_string), EXPERIMENT_SCHEMA, filter_string or "",
                               self.cx.dialect)
        order = compile_order_by(parse_order_by(order_by), EXPERIMENT_SCHEMA)
        stages = view_stages(view_type)
        order_sql = (order.sql + ", " if order.sql else "") + "e.experiment_id"
        rows = self.cx.query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments e {order.joins} "
            f"WHERE e.lifecycle_stage IN ({marks(stages)}) AND {where.sql} "
            f"ORDER BY {order_sql} LIMIT ?",
            [*order.join_params, *stages, *where.params, result_limit(max_results)],
        )
        return self._listed_experiments(rows)

    def experiment_ids(self, view_type: int = ViewType.ALL) -> list[str]:
        """The ids of every experiment in ``view_type``, oldest first.

        :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
        """
        stages = view_stages(view_type)
        rows = self.cx.query(
            f"SELECT experiment_id FROM experiments WHERE lifecycle_stage IN ({marks(stages)}) "
            "ORDER BY experiment_id", list(stages))
        return [str(row[0]) for row in rows]

    def set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        """Delete (``deleted``) or restore (``active``) an experiment and its runs.

        :param experiment_id: the experiment; the Default one (id 0) cannot be deleted.
        :param stage: ``deleted`` or ``active``.
        """
        eid = experiment_int(experiment_id)
        if eid == 0 and stage == LifecycleStage.DELETED:
            raise InvalidParameterError("The Default experiment (id 0) cannot be deleted.")
        with self.cx.write(serial=True) as conn:
            self.get_experiment(experiment_id)
            t = now_ms()
            conn.execute(
                "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                "WHERE experiment_id = ?", [stage, t, eid],
            )
            conn.execute(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?",
                [stage, t if stage == LifecycleStage.DELETED else None, eid],
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment.

        :param experiment_id: the experiment.
        :param new_name: a name no other experiment has.
        :raises AlreadyExistsError: when it is taken.
        """
        validation.check_name(new_name, "Experiment")
        with self.cx.write(serial=True) as conn:
            self.get_experiment(experiment_id)
            if self.get_experiment_by_name(new_name) is not None:
                raise AlreadyExistsError(f"Experiment {new_name!r} already exists.")
            conn.execute(
                "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
                [new_name, now_ms(), experiment_int(experiment_id)],
            )

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set one tag of an experiment.

        :param experiment_id: the experiment.
        :param key: the tag's name.
        :param value: any value, stored as text.
        """
        validation.check_key(key, "Tag")
        text = validation.tag_value(key, value)
        with self.cx.write(serial=True) as conn:
            self.get_experiment(experiment_id)
            conn.execute(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                [experiment_int(experiment_id), key, text],
            )


    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an experiment.

        :param experiment_id: the experiment.
        :param key: the tag's name.
        :raises NotFoundError: when the experiment or the tag does not exist.
        """
        with self.cx.write(serial=True) as conn:
            self.get_experiment(experiment_id)
            cur = conn.execute("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                               [experiment_int(experiment_id), key])
            if cur.rowcount == 0:
                raise NotFoundError(f"Experiment {experiment_id} has no tag {key!r}.")
