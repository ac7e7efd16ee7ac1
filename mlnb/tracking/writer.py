"""The metric buffer: ``log_metric`` appends to memory; batches reach the store by size and time.

Training loops call ``log_metric`` thousands of times, and a commit per call would cost more than
the training step. Points are validated when logged (a bad key or value fails at the call that
made it), held in memory, and written in one transaction when

* the buffer holds :data:`MAX_PENDING` points (by the call that fills it),
* the oldest point has waited :data:`FLUSH_INTERVAL_S` (by a background thread),
* :meth:`MetricWriter.flush` is called (``end_run``, ``mlnb.flush()``, any read of the store
  through the tracking API, and interpreter exit).

The same calls first wait for the background work registered with :func:`register_background`
(autolog's images, drawn off the fit's critical path): what a read returns includes it.

What a hard crash (``kill -9``, power loss) can lose: the points logged in the last
:data:`FLUSH_INTERVAL_S` seconds before it. Everything flushed is committed whole or not at all.

When the store cannot be written for a while (the team store's database restarting, a network
outage), the points are kept in memory and written once it is back: up to
:data:`MAX_KEPT_WHILE_DOWN` points (about 50 MB). ``log_metric`` does not fail meanwhile; only a
point beyond that bound fails, with an error saying how many are kept. Flushes that must confirm
the points are stored (``end_run``, ``mlnb.flush()``) raise the store's error, keeping the points.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import warnings
import weakref
from collections import defaultdict
from collections.abc import Callable

from mlnb.entities import Metric
from mlnb.errors import NotFoundError, RunStateError, StoreError
from mlnb.store import Store, validation

MAX_PENDING = 5_000
MAX_KEPT_WHILE_DOWN = 500_000
FLUSH_INTERVAL_S = 1.0

Point = tuple[str, str, float, int, int]  # run_id, key, value, timestamp, step


class MetricWriter:
    """Buffers metric points for one store and writes them in batches.

    :param store: the store the points go to.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[Point] = []
        self._writable: set[str] = set()  # runs seen to exist and be active
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        _writers.add(self)

    def add(self, run_id: str, key: str, value: object, timestamp: int, step: int) -> None:
        """Validate one point and buffer it; flushes inline when the buffer is full.

        :param run_id: the run; it must exist and not be deleted (checked once per run).
        :param key: the metric's name.
        :param value: a number.
        :param timestamp: milliseconds since the epoch.
        :param step: the training step.
        """
        validation.check_key(key, "Metric")  # cached per distinct key
        number = validation.metric_value(key, value)
        # Checked here, not at flush: a point the store cannot hold must fail at the call that
        # logged it, never take a whole batch of good points down with it later.
        step = validation.metric_int(key, step, "step")
        timestamp = validation.metric_int(key, timestamp, "timestamp")
        if run_id not in self._writable:
            # Once per run: a point for a missing or deleted run fails here, at the user's call,
            # instead of being dropped with a warning at the next flush.
            self.store.check_writable(run_id)
            self._writable.add(run_id)
        if os.getpid() != self._pid:
            self._after_fork()
        with self._lock:
            if len(self._pending) >= MAX_KEPT_WHILE_DOWN:
                raise StoreError(
                    f"mlnb cannot write to the store and keeps {len(self._pending):,} metric "
                    "points in memory, as many as it holds; this one was not kept. They are "
                    "written once the store is back (mlnb.flush() tries now).")
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append((run_id, key, number, timestamp, step))
            full = len(self._pending) % MAX_PENDING == 0
        if full:
            # Inline, so that memory stays bounded; a store that is down keeps the points
            # (warned once) instead of failing the training loop.
            self.flush(raise_errors=False)
        elif self._thread is None:
            self._start_thread()

    def forget(self, run_id: str | None = None) -> None:
        """A run (``None``: every run) is being deleted: check again before taking its points.

        :param run_id: the run, or None for all.
        """
        if run_id is None:
            self._writable.clear()
        else:
            self._writable.discard(run_id)

    def add_many(self, points: list[Point]) -> None:
        """Validate and buffer several points, as :meth:`add` does for each.

        :param points: ``(run_id, key, value, timestamp, step)`` tuples.
        """
        for run_id, key, value, timestamp, step in points:
            self.add(run_id, key, value, timestamp, step)

    def flush(self, *, raise_errors: bool = True, wait_background: bool = True) -> None:
        """Write every buffered point now; on return they are committed to the store.

        On a store error the points stay buffered for the next attempt.

        :param raise_errors: raise the store error; when False, warn instead (the background
            thread).
        :param wait_background: first wait for the work registered with
            :func:`register_background` (False: the timed background flush, which must not).
        """
        if wait_background:
            wait_background_work()
        if os.getpid() != self._pid:
            self._after_fork()
        if not self._pending:
            # Another thread (the background one) may have taken the points and be writing
            # them: it holds the store's lock until it commits, so wait for that.
            self.store.wait_idle()
            return
        batch: list[Point] = []
        try:
            # The batch is taken only once the store's lock is held: a flush that finds the
            # buffer empty can then rely on wait_idle() for "everything logged is on disk".
            with self.store.transaction():
                with self._lock:
                    batch, self._pending = self._pending, []
                by_run: dict[str, list[Metric]] = defaultdict(list)
                for run_id, key, value, timestamp, step in batch:
                    by_run[run_id].append(Metric(key, value, timestamp, step))
                for run_id, metrics in by_run.items():
                    self._write_run(run_id, metrics)
        except StoreError:
            with self._lock:  # keep the points for the next attempt (e.g. after a full disk)
                self._pending = batch + self._pending
            if raise_errors:
                raise
            warnings.warn("mlnb could not write metrics yet; they are kept in memory and will "
                          f"be retried (up to {MAX_KEPT_WHILE_DOWN:,} points)", RuntimeWarning,
                          stacklevel=2)

    def _write_run(self, run_id: str, metrics: list[Metric]) -> None:
        try:
            for start in range(0, len(metrics), validation.MAX_METRICS_PER_BATCH):
                chunk = metrics[start : start + validation.MAX_METRICS_PER_BATCH]
                self.store.log_batch(run_id, metrics=chunk)
        except (NotFoundError, RunStateError) as exc:
            # The run was deleted while points were buffered: they have nowhere to go.
            warnings.warn(f"Dropped {len(metrics)} metric points: {exc}", RuntimeWarning,
                          stacklevel=3)

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=_flush_loop, args=(weakref.ref(self),), name="mlnb-metric-writer",
                daemon=True,
            )
        self._thread.start()

    def _after_fork(self) -> None:
        # The parent's buffered points are the parent's to write; the child starts empty.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pending = []
        self._thread = None

    def due(self) -> bool:
        """Whether the oldest buffered point has waited :data:`FLUSH_INTERVAL_S`."""
        return bool(self._pending) and time.monotonic() - self._oldest >= FLUSH_INTERVAL_S


def _flush_loop(ref: weakref.ref[MetricWriter]) -> None:
    while True:
        time.sleep(FLUSH_INTERVAL_S / 4)
        writer = ref()
        if writer is None:
            return
        if writer.due():
            try:
                writer.flush(raise_errors=False, wait_background=False)
            except Exception as exc:  # never let the background thread die silently
                warnings.warn(f"mlnb metric writer: {exc}", RuntimeWarning, stacklevel=1)
        del writer


_writers: weakref.WeakSet[MetricWriter] = weakref.WeakSet()
_background_waiters: list[Callable[[], None]] = []


def register_background(waiter: Callable[[], None]) -> None:
    """Have every user-facing flush (so every read, ``end_run`` and exit) first call ``waiter``.

    A layer above tracking that writes to runs from a thread of its own (autolog's images)
    registers how to wait for it; the waiter must return at once when called from that thread.

    :param waiter: returns once the background work queued so far is written.
    """
    if waiter not in _background_waiters:
        _background_waiters.append(waiter)


def wait_background_work() -> None:
    """Return once the background work of every registered waiter is written."""
    for waiter in list(_background_waiters):
        waiter()


def flush_all() -> None:
    """Flush every writer in this process (at exit, and for ``mlnb.flush()``)."""
    wait_background_work()  # even with no writer yet: autolog's images are written by return
    for writer in list(_writers):
        if writer._pid == os.getpid():
            writer.flush()


atexit.register(flush_all)
