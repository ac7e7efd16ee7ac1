"""Copying traces (``mlnb store copy``): each trace DST lacks, by its id, whole.

A trace id (``tr-`` and 32 hex digits) means the same trace in every store, so a trace DST has is
never written again; one DST lacks is written with its tags, metadata and spans in the same
transaction (a few hundred traces a transaction), under the experiment DST matched by name, and
linked to its run when DST has that run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mlnb.store.dialect import Writer
from mlnb.store.sql import chunks, marks

if TYPE_CHECKING:
    from mlnb.store import Store

TRACES_PER_TRANSACTION = 500
_INFO = ("trace_id, experiment_id, run_id, name, request_time, execution_duration, state, "
         "request_preview, response_preview")
_SPAN = ("trace_id, span_id, parent_span_id, name, span_type, start_time_ns, end_time_ns, "
         "status_code, status_message, attributes, events")


def copy_traces(src: Store, dst: Store, experiments: dict[int, int],
                report: Callable[[int, int], None]) -> int:
    """Copy the traces of SRC that DST lacks. Returns how many were copied.

    :param src: the store to read.
    :param dst: the store to write.
    :param experiments: SRC experiment id -> DST experiment id (every SRC experiment).
    :param report: called with (traces copied, traces to copy) after each transaction.
    """
    ids = [str(r[0]) for r in src.cx.query("SELECT trace_id FROM trace_info ORDER BY trace_id")]
    have: set[str] = set()
    for part in chunks(ids):
        have |= {str(r[0]) for r in dst.cx.query(
            f"SELECT trace_id FROM trace_info WHERE trace_id IN ({marks(part)})", list(part))}
    wanted = [i for i in ids if i not in have]
    done = 0
    for start in range(0, len(wanted), TRACES_PER_TRANSACTION):
        part = wanted[start:start + TRACES_PER_TRANSACTION]
        infos = _rows(src, f"SELECT {_INFO} FROM trace_info", part)
        runs = {str(r[2]) for r in infos if r[2] is not None}
        known = _known_runs(dst, sorted(runs))
        with dst.cx.write() as tx:
            tx.executemany(f"INSERT INTO trace_info ({_INFO}) VALUES ({marks(list(_INFO.split(',')))})",
                           [(r[0], experiments[int(r[1])], r[2] if r[2] in known else None, *r[3:])
                            for r in infos])
            _copy_children(src, tx, part)
        done += len(part)
        report(done, len(wanted))
    return done


def _rows(store: Store, select: str, trace_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for part in chunks(trace_ids):
        out += [tuple(r) for r in store.cx.query(
            f"{select} WHERE trace_id IN ({marks(part)})", list(part))]
    return out


def _known_runs(dst: Store, run_ids: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for part in chunks(run_ids):
        known |= {str(r[0]) for r in dst.cx.query(
            f"SELECT run_id FROM runs WHERE run_id IN ({marks(part)})", list(part))}
    return known


def _copy_children(src: Store, tx: Writer, trace_ids: Sequence[str]) -> None:
    for table in ("trace_tags", "trace_request_metadata"):
        tx.executemany(f"INSERT INTO {table} (trace_id, key, value) VALUES (?, ?, ?)",
                       _rows(src, f"SELECT trace_id, key, value FROM {table}", trace_ids))
    tx.executemany(f"INSERT INTO spans ({_SPAN}) VALUES ({marks(list(_SPAN.split(',')))})",
                   _rows(src, f"SELECT {_SPAN} FROM spans", trace_ids))
