"""Small helpers every query module of the store shares: placeholders, id chunks, limits,
offsets, view types and the clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from mlnb.entities import ViewType
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import validation

MAX_RESULTS_LIMIT = 50_000
MAX_OFFSET = 1_000_000_000  # far past any real store, far below SQLite's 64-bit integers
CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


class _ProcessClock:
    """Wall-clock milliseconds that never go backwards within one process.

    Each reading is the later of the wall clock and the previous reading plus the monotonic
    time elapsed since it: when the system clock is stepped back, time keeps moving forward at
    the monotonic rate until the wall clock catches up; when it jumps forward (a suspend, an NTP
    step), readings follow it. So a point logged later never gets an older timestamp than one
    logged before it, and a run ended by the process that started it never ends before it began.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0.0
        self._last_mono = time.monotonic()

    def now_ms(self) -> int:
        with self._lock:
            mono = time.monotonic()
            reading = max(time.time() * 1000, self._last_ms + (mono - self._last_mono) * 1000)
            self._last_ms, self._last_mono = reading, mono
            return int(reading)


_clock = _ProcessClock()


def now_ms() -> int:
    """Milliseconds since the epoch, as MLflow's timestamps, never less than a reading this
    process took before (see :class:`_ProcessClock`)."""
    return _clock.now_ms()


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    """``items`` in slices short enough for one ``IN (...)`` list.

    :param items: the items.
    """
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def marks(items: Sequence[Any]) -> str:
    """``?, ?, ?``: one bound placeholder per item.

    :param items: the items.
    """
    return ", ".join("?" * len(items))


def experiment_int(experiment_id: str | int) -> int:
    """An experiment id as the integer the tables store (NotFoundError for anything else).

    :param experiment_id: the id as given.
    """
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise NotFoundError(f"No experiment with id {experiment_id!r}.") from None


def view_stages(view_type: int) -> tuple[str, ...]:
    """The lifecycle stages a ``ViewType`` selects.

    :param view_type: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL``.
    """
    try:
        return ViewType.stages(view_type)
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"view_type must be ViewType.ACTIVE_ONLY (1), DELETED_ONLY (2) or ALL (3), "
            f"not {view_type!r}."
        ) from None


def page_offset(offset: int) -> int:
    """A search's row offset: a negative one counts as 0, a huge one is refused.

    :param offset: the offset as given.
    """
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise InvalidParameterError(f"offset must be an integer, not {offset!r}.")
    if offset > MAX_OFFSET:
        raise InvalidParameterError(f"offset may be at most {MAX_OFFSET:,}, not {offset}.")
    return max(0, offset)


def result_limit(max_results: int) -> int:
    """A checked ``max_results``: a positive integer up to :data:`MAX_RESULTS_LIMIT`.

    :param max_results: the limit as given.
    """
    return validation.result_limit(max_results, MAX_RESULTS_LIMIT)
