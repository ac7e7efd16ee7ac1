"""Who is running a run, and whether that process is still alive.

A run records the host, pid and the pid's start time (so a recycled pid is not mistaken for the
original process). A RUNNING run whose process is gone was killed (kill -9, a kernel restart, an
out-of-memory kill) and is marked KILLED by :meth:`Store.reap_dead_runs`.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache


@lru_cache(maxsize=1)
def this_host() -> str:
    """This machine's host name (runs record it with their process id)."""
    return socket.gethostname()


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown.

    :param pid: the process id.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def is_alive(pid: int, start: str | None) -> bool:
    """True when ``pid`` exists and, where its start time was recorded, is the same process.

    :param pid: the process id.
    :param start: its recorded start time, or None.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if start is None:
        return True
    current = process_start(pid)
    return current is None or current == start


_starts: dict[int, str | None] = {}


def current_process() -> tuple[str, int, str | None]:
    """(host, pid, start) of the calling process, recorded on the runs it starts."""
    pid = os.getpid()  # looked up each time: a forked child is a different process
    if pid not in _starts:
        _starts[pid] = process_start(pid)
    return this_host(), pid, _starts[pid]
