"""Writing a ``%%track`` cell's notebook snapshot off the cell's path, in a daemon thread.

The cell only notes what it knows (notebook path, cell id, executed source); reading the file,
building the snapshot (:mod:`mlnb.capture.notebook_snapshot`) and writing it through the store
happen in one daemon thread after the cell. Every read of the store through the tracking API,
``mlnb.flush()`` and interpreter exit wait for the queue first (``register_background``). A
problem is a ``RuntimeWarning`` naming the run, never an error of the cell; the same problem
again (a notebook never saved, each cell of it) is warned about once per kernel.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Callable

from mlnb.capture.notebook_snapshot import (
    NotebookNotOnDisk,
    SnapshotError,
    SnapshotRequest,
    take_snapshot,
)
from mlnb.tracking.writer import register_background

MAX_QUEUED = 4
_warned: set[str] = set()  # the problems already told, without their run ids

Writer = Callable[[str, bytes], object]


def save(request: SnapshotRequest, write: Writer, run_id: str) -> str | None:
    """Take the snapshot and write it with ``write(path, bytes)``; a problem is a warning.

    :param request: the executed cell, the notebook path and the cap.
    :param write: writes an artifact of the run (the store's artifact API).
    :param run_id: the run (named in the warning).
    :returns: the artifact path written, or None.
    """
    try:
        path, data, meta = take_snapshot(request)
        write(path, data)
    except NotebookNotOnDisk:
        # said nowhere: this thread's warning would land in whichever cell runs now, and a
        # notebook executed from memory has no file to keep (the run page says so itself)
        return None
    except SnapshotError as exc:
        if str(exc) not in _warned:
            _warned.add(str(exc))
            _warn(f"no notebook snapshot for run {run_id}: {exc}")
        return None
    except Exception as exc:  # the store failing, a bug: still only a warning
        _warn(f"no notebook snapshot for run {run_id}: {type(exc).__name__}: {exc}")
        return None
    if meta.get("outputs_dropped"):
        _warn(f"the notebook snapshot of run {run_id} was kept without outputs: "
              f"{meta['outputs_dropped']}")
    return path


def _warn(message: str) -> None:
    warnings.warn(f"mlnb: {message}", RuntimeWarning, stacklevel=3)


class _Saver:
    """A daemon thread draining a bounded queue of snapshots to write, in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[SnapshotRequest, Writer, str]] = queue.Queue(MAX_QUEUED)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, request: SnapshotRequest, write: Writer, run_id: str) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mlnb-notebook-snapshot",
                                                daemon=True)
                self._thread.start()
        self._queue.put((request, write, run_id))  # blocks while MAX_QUEUED wait

    def wait(self) -> None:
        if threading.current_thread() is not self._thread:
            self._queue.join()

    def _loop(self) -> None:
        while True:
            request, write, run_id = self._queue.get()
            try:
                save(request, write, run_id)
            except BaseException:  # save warns itself; the thread must survive anything
                pass
            finally:
                self._queue.task_done()


_saver = _Saver()


def submit(request: SnapshotRequest, write: Writer, run_id: str) -> None:
    """Queue a snapshot for the daemon thread to write.

    :param request: the executed cell, the notebook path and the cap.
    :param write: writes an artifact of the run (the store's artifact API).
    :param run_id: the run.
    """
    _saver.submit(request, write, run_id)


def wait() -> None:
    """Return once every queued snapshot is written (at once in the saving thread itself)."""
    _saver.wait()


register_background(wait)
