"""Checks of what is read back from the store where it drives a decision or a computation.

The store's file can be written by anything (another tool, a hand-made ``UPDATE``, a bug of an
older mlnb), and SQLite keeps a text in an INTEGER column. A value that would make a caller
raise (a pid that is text, a start time that is not a number) marks its row malformed: a listing
skips that row with a :class:`~mlnb.errors.MalformedRowWarning` naming it, and reading that one
row by id is a :class:`~mlnb.errors.StoreError` that says what is wrong, never a ``TypeError``
from deep inside mlnb.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from mlnb.entities import LifecycleStage, ModelVersionStage, RunInfo, RunStatus
from mlnb.errors import MalformedRowWarning

_MAX_PID = 2**31 - 1  # pid_t is a 32-bit signed integer
_MAX_TIME_MS = 2**53  # as far as a JSON number (a double) holds integers exactly
_STAGES = (LifecycleStage.ACTIVE, LifecycleStage.DELETED)


class MalformedRow(Exception):
    """A row with a value of the wrong type or range; the message says which and why."""


def skip(what: str, problem: MalformedRow) -> None:
    """Warn that ``what`` (e.g. ``run 1f3c...``) was skipped because of ``problem``.

    :param what: the row, named so that the user can find it.
    :param problem: what is wrong with it.
    """
    warnings.warn(f"mlnb skipped {what} of the store: {problem}. Delete or repair the row.",
                  MalformedRowWarning, stacklevel=3)


def integer(value: Any, name: str, low: int = 0, high: int = _MAX_TIME_MS) -> int:
    """``value`` if it is an integer (not a bool) in ``[low, high]``, else :class:`MalformedRow`.

    :param value: what the column held.
    :param name: the column, for the message.
    :param low: the least value allowed.
    :param high: the greatest value allowed.
    """
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise MalformedRow(f"its {name} is {value!r}, not an integer from {low} to {high}")
    return value


def text(value: Any, name: str, allowed: Sequence[str] | None = None) -> str:
    """``value`` if it is a string (one of ``allowed`` when given), else :class:`MalformedRow`.

    :param value: what the column held.
    :param name: the column, for the message.
    :param allowed: the closed set of values the column may hold, if any.
    """
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        wanted = f"one of {', '.join(allowed)}" if allowed is not None else "a text"
        raise MalformedRow(f"its {name} is {value!r}, not {wanted}")
    return value


def run_info(row: Sequence[Any], artifact_root_uri: str) -> RunInfo:
    """A :class:`RunInfo` from ``run_id, experiment_id, name, status, start_time, end_time,
    lifecycle_stage, user_id``, each checked.

    :param row: the row, in that column order.
    :param artifact_root_uri: the store's artifact root, for the run's artifact URI.
    :raises MalformedRow: naming the first bad column.
    """
    run_id, experiment_id, name, status, start, end, stage, user = row
    if type(run_id) is str and type(experiment_id) is int and type(name) is str \
            and status in RunStatus.ALL and type(start) is int and 0 <= start <= _MAX_TIME_MS \
            and (end is None or (type(end) is int and 0 <= end <= _MAX_TIME_MS)) \
            and stage in _STAGES and type(user) is str and experiment_id >= 0:
        # the usual, well-formed row (a listing of 100,000 runs): no call per column
        return RunInfo(run_id=run_id, experiment_id=str(experiment_id), run_name=name,
                       status=status, start_time=start, end_time=end, lifecycle_stage=stage,
                       user_id=user, artifact_uri=f"{artifact_root_uri}/{run_id}")
    run_id = text(row[0], "run_id")
    end_time = None if row[5] is None else integer(row[5], "end_time")
    return RunInfo(
        run_id=run_id, experiment_id=str(integer(row[1], "experiment_id", high=2**63 - 1)),
        run_name=text(row[2], "name"), status=text(row[3], "status", RunStatus.ALL),
        start_time=integer(row[4], "start_time"), end_time=end_time,
        lifecycle_stage=text(row[6], "lifecycle_stage", _STAGES), user_id=text(row[7], "user_id"),
        artifact_uri=f"{artifact_root_uri}/{run_id}",
    )


def experiment_fields(row: Sequence[Any]) -> tuple[str, str, str, int | None, int | None]:
    """``(experiment_id, name, lifecycle_stage, creation_time, last_update_time)`` of an
    experiments row, each checked.

    :param row: ``experiment_id, name, lifecycle_stage, creation_time, last_update_time``.
    :raises MalformedRow: naming the first bad column.
    """
    return (str(integer(row[0], "experiment_id", high=2**63 - 1)), text(row[1], "name"),
            text(row[2], "lifecycle_stage", _STAGES), _optional_time(row[3], "creation_time"),
            _optional_time(row[4], "last_update_time"))


def version_fields(row: Sequence[Any]) -> tuple[str, int, str]:
    """``(name, version, current_stage)`` of a model_versions row, checked: what the registry's
    decisions (promotion, archiving, aliases, the latest version) rest on.

    :param row: ``name, version, creation_time, last_updated_time, description, user_id,
        current_stage, ...`` in the registry's column order.
    :raises MalformedRow: naming the first bad column.
    """
    _optional_time(row[2], "creation_time")
    _optional_time(row[3], "last_updated_time")
    return (text(row[0], "name"), integer(row[1], "version", low=1, high=2**63 - 1),
            text(row[6], "current_stage", ModelVersionStage.ALL))


def _optional_time(value: Any, name: str) -> int | None:
    return None if value is None else integer(value, name)


def process(pid: Any, start: Any) -> tuple[int, str | None]:
    """The ``(pid, pid_start)`` a RUNNING run recorded, checked before anyone signals the pid:
    a pid of 0 or below would address a process group (or, for -1, every process).

    :param pid: the ``pid`` column.
    :param start: the ``pid_start`` column (clock ticks since boot, as text), or None.
    :raises MalformedRow: when either is not what mlnb writes.
    """
    checked = integer(pid, "pid", low=1, high=_MAX_PID)
    if start is not None and not isinstance(start, str):
        raise MalformedRow(f"its pid_start is {start!r}, not a process start time (a text)")
    return checked, start


def metric_value(value: Any, is_nan: Any) -> float:
    """A stored metric value: NaN where ``is_nan`` says so (SQLite stores NaN as NULL).

    :param value: the ``value`` column (a number, or NULL for NaN).
    :param is_nan: the ``is_nan`` column, 0 or 1.
    :raises MalformedRow: for a value that is not a number.
    """
    if type(is_nan) is not int or is_nan not in (0, 1):
        raise MalformedRow(f"its is_nan is {is_nan!r}, not 0 or 1")
    if is_nan:
        return math.nan
    if type(value) not in (int, float):
        raise MalformedRow(f"its value is {value!r}, not a number")
    return float(value)
