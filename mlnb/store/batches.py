"""A run's params, tags and metrics: :meth:`BatchQueries.log_batch`, the one primitive that
writes them (every other logging call is a batch of one). It validates everything before it
writes anything, so a bad item leaves the batch unwritten and the run as it was; the latest value
of each metric follows MLflow's rule (:data:`mlnb.store.runs.LATEST_RANK`); the points go where
:mod:`mlnb.store.metrics` keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlnb.entities import Metric, Param, RunTag
from mlnb.errors import InvalidParameterError, NotFoundError, ParamConflictError
from mlnb.store import validation
from mlnb.store.dialect import StoreConnection, Writer
from mlnb.store.metrics import Columns
from mlnb.store.runs import RUN_NAME_TAG
from mlnb.store.sql import chunks, marks


class BatchQueries:
    """The params, tags and metrics writes. Mixed into
    :class:`mlnb.store.Store`."""

    cx: StoreConnection

    if TYPE_CHECKING:  # from RunQueries, beside this class in Store

        def check_writable(self, run_id: str) -> None: ...

        def append_points(self, conn: Writer, run_id: str, key: str,
                          points: Columns) -> None: ...

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags of one run in one transaction, or nothing at all.

        Raises :class:`ParamConflictError` when a param already holds a different value.

        :param run_id: the run; it must exist and not be deleted.
        :param metrics: metric points.
        :param params: params.
        :param tags: tags.
        """
        validation.check_batch_sizes(len(metrics), len(params), len(tags))
        param_rows = _param_rows(params)
        # Keys in one global order (params, tags, then each metric's series by name): on
        # PostgreSQL two batches at once then lock rows in the same order and cannot deadlock.
        tag_rows = sorted(
            ((run_id, validation.check_key(t.key, "Tag"), validation.tag_value(t.key, t.value))
             for t in tags), key=lambda row: row[1])  # stable: a key given twice, the last wins
        metric_points = metric_columns(metrics)

        def write() -> None:
            with self.cx.write() as conn:
                self.check_writable(run_id)
                if param_rows:
                    self._check_param_conflicts(run_id, param_rows)
                    conn.executemany(
                        "INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                        [(run_id, k, param_rows[k]) for k in sorted(param_rows)],
                    )
                if tag_rows:
                    conn.executemany(
                        "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                        "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value", tag_rows,
                    )
                    for _, key, value in tag_rows:
                        if key == RUN_NAME_TAG:
                            conn.execute("UPDATE runs SET name = ? WHERE run_id = ?", [value, run_id])
                for key in sorted(metric_points):
                    self.append_points(conn, run_id, key, metric_points[key])

        self.cx.retrying(write)  # a deadlock or lost connection on PostgreSQL: once more

    def _check_param_conflicts(self, run_id: str, params: dict[str, str]) -> None:
        keys = list(params)
        for chunk in chunks(keys):
            for key, old in self.cx.query(
                f"SELECT key, value FROM params WHERE run_id = ? AND key IN ({marks(chunk)})",
                [run_id, *chunk],
            ):
                if old != params[key]:
                    raise ParamConflictError(
                        f"Param {key!r} of run {run_id} is already {old!r}; it cannot become "
                        f"{params[key]!r}. Params are fixed once logged: start a new run to try "
                        "another value."
                    )

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete one tag of a run.

        :param run_id: the run.
        :param key: the tag's name.
        :raises NotFoundError: when the run has no such tag.
        """
        with self.cx.write() as conn:
            self.check_writable(run_id)
            cur = conn.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", [run_id, key])
            if cur.rowcount == 0:
                raise NotFoundError(f"Run {run_id} has no tag {key!r}.")



def _param_rows(params: Sequence[Param]) -> dict[str, str]:
    rows: dict[str, str] = {}
    for p in params:
        key = validation.check_key(p.key, "Param")
        value = validation.param_value(key, p.value)
        if key in rows and rows[key] != value:
            raise ParamConflictError(
                f"Param {key!r} appears twice in one batch with different values "
                f"({rows[key]!r} and {value!r})."
            )
        rows[key] = value
    return rows


_INT64 = (-(2**63), 2**63 - 1)


def metric_columns(metrics: Sequence[Metric]) -> dict[str, Columns]:
    """Checked points grouped by key, in logging order: key -> (steps, timestamps, values).

    :param metrics: the points as given.
    :raises InvalidParameterError: (or a subclass) naming the first bad point.
    """
    out: dict[str, Columns] = {}
    low, high = _INT64
    for m in metrics:
        key, value, step, timestamp = m.key, m.value, m.step, m.timestamp
        columns = out.get(key) if type(key) is str else None
        if columns is None or type(value) is not float or type(step) is not int \
                or type(timestamp) is not int or not low <= step <= high \
                or not low <= timestamp <= high:  # anything but the usual point: check it all
            key, value, step, timestamp = _checked(m)
            columns = out.get(key)
            if columns is None:
                columns = out[key] = ([], [], [])
        columns[0].append(step)
        columns[1].append(timestamp)
        columns[2].append(value)
    return out


def _checked(m: Metric) -> tuple[str, float, int, int]:
    key = validation.check_key(m.key, "Metric")
    value = validation.metric_value(key, m.value)
    try:
        step = validation.metric_int(key, m.step, "step")
        timestamp = validation.metric_int(key, m.timestamp, "timestamp")
    except TypeError as exc:
        raise InvalidParameterError(str(exc)) from None
    return key, value, step, timestamp
