"""Heartbeats of the runs a process is running, for stores shared across machines.

A process id says nothing on another machine, so on the team store (PostgreSQL) a run's
liveness is its heartbeat: while a process runs a run, a daemon thread stamps the run's
``heartbeat`` column with the database server's clock (one clock for every machine, so skewed
client clocks cannot kill a live run) every :func:`interval_s` seconds (``MLNB_HEARTBEAT_S``,
default 30). A RUNNING run whose last heartbeat is older than :func:`dead_after_ms` (four
intervals: two minutes by default) is dead, whichever machine ran it, and the next reaper marks
it KILLED. On the run's own machine its process id is checked as well (instantly), as on SQLite.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

ENV_VAR = "MLNB_HEARTBEAT_S"
DEFAULT_INTERVAL_S = 30.0
MISSED_BEATS = 4


def interval_s() -> float:
    """Seconds between two heartbeats of a run (``MLNB_HEARTBEAT_S``, default 30)."""
    try:
        value = float(os.environ.get(ENV_VAR, DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


def dead_after_ms() -> int:
    """How old a run's last heartbeat must be for the run to count as dead (four intervals)."""
    return int(interval_s() * MISSED_BEATS * 1000)


class Heartbeat:
    """The runs this process runs in one store, stamped every interval by a daemon thread.

    :param beat: stamps the given runs (one write transaction).
    """

    def __init__(self, beat: Callable[[list[str]], None]) -> None:
        self._beat = beat
        self._runs: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def track(self, run_id: str) -> None:
        """Keep stamping ``run_id`` until :meth:`untrack`.

        :param run_id: a run this process now runs.
        """
        with self._lock:
            if os.getpid() != self._pid:  # a forked child: its parent's thread is not here
                self._pid, self._runs, self._thread = os.getpid(), set(), None
            self._runs.add(run_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="mlnb-heartbeat",
                                                daemon=True)
                self._thread.start()

    def untrack(self, run_id: str) -> None:
        """Stop stamping ``run_id`` (it ended).

        :param run_id: the run.
        """
        with self._lock:
            self._runs.discard(run_id)

    def _loop(self) -> None:
        while True:
            self._wake.wait(interval_s())
            with self._lock:
                runs = sorted(self._runs)
            if not runs:
                continue
            try:
                self._beat(runs)
            except Exception:
                # the next one retries (the connection reconnects), and only four missed beats
                # in a row make the run look dead
                continue
