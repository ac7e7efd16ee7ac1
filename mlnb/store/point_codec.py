"""Packing a metric's points into compact chunks, and reading them back (numpy only for charts).

A chunk holds up to a few thousand points of one series, in the order they were logged, as three
blobs: steps and timestamps as zlib-compressed 64-bit deltas (a training loop's steps and clock
move by small, regular amounts, so they shrink to almost nothing), values as raw IEEE-754 doubles
(zlib-compressed only when that saves a tenth: losses do not compress, accuracies of a small test
set do). Raw doubles keep NaN and ±inf bit for bit, which SQLite's REAL column cannot (it reads
NaN back as NULL).

Beside the blobs a chunk keeps a summary: its first, last, lowest and highest points, then the same
four points of each of up to :data:`SUMMARY_STRETCHES` equal stretches of it, so a chart of a long
series can be drawn from the summaries alone, without unpacking a point, at a resolution finer than
one point group per chunk. Chunks written before the stretches were added have the first part only,
and read as one stretch.

Every blob starts with one byte naming its encoding; an unknown byte or a damaged blob raises
:class:`~mlnb.store.records.MalformedRow`, so a reader skips that chunk with a warning instead of
failing the whole history.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING, Any

from mlnb.store.records import MalformedRow

if TYPE_CHECKING:
    from numpy.typing import NDArray

_DELTAS = 0  # first value, then differences (the usual case)
_RAW = 1  # the values themselves (differences that overflow 64 bits)
_PLAIN = 2  # doubles as they are
_ZLIB = 3  # doubles, zlib-compressed

_INT64 = (-(2**63), 2**63 - 1)
_BIG_ENDIAN = sys.byteorder == "big"
_POINT = struct.Struct("<qqd")  # step, timestamp, value
_BLOCK = 4 * _POINT.size  # first, last, lowest, highest
SUMMARY_STRETCHES = 16  # stretches a chunk's summary describes (0.4 bytes a point at 4,000 points)
_MIN_STRETCH = 16  # points in a stretch at the least: short chunks get fewer stretches


@dataclass(frozen=True)
class Packed:
    """One chunk ready to store: its blobs and what the index and charts need to know of it."""

    points: int
    steps: bytes
    timestamps: bytes
    values: bytes
    min_step: int
    max_step: int
    in_step_order: bool  # steps never go down within the chunk
    summary: bytes  # first, last, lowest, highest point, then per stretch (see :func:`summary_blocks`)


def pack(steps: Sequence[int], timestamps: Sequence[int], values: Sequence[float]) -> Packed:
    """Pack points (in logging order) into one chunk.

    :param steps: each point's step (64-bit integers).
    :param timestamps: each point's time in ms (64-bit integers).
    :param values: each point's value (any float, NaN and ±inf included).
    """
    count = len(steps)
    if not count or count != len(timestamps) or count != len(values):
        raise ValueError("a chunk needs the same, non-zero number of steps, timestamps and values")
    in_order = all(a <= b for a, b in pairwise(steps))
    return Packed(count, _pack_ints(steps), _pack_ints(timestamps), _pack_floats(values),
                  min(steps), max(steps), in_order, _summary(steps, timestamps, values))


def unpack(packed_steps: bytes, packed_timestamps: bytes, packed_values: bytes,
           points: int) -> tuple[list[int], list[int], list[float]]:
    """The steps, timestamps and values of a chunk, in logging order.

    :param packed_steps: the steps blob.
    :param packed_timestamps: the timestamps blob.
    :param packed_values: the values blob.
    :param points: how many points the chunk's row says it holds.
    :raises MalformedRow: when a blob is damaged or its length disagrees with ``points``.
    """
    steps = _unpack_ints(packed_steps, points, "steps")
    timestamps = _unpack_ints(packed_timestamps, points, "timestamps")
    values = _unpack_floats(packed_values, points)
    return steps, timestamps, values


def unpack_arrays(packed_steps: bytes, packed_timestamps: bytes, packed_values: bytes,
                  points: int) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`unpack` as numpy arrays (int64, int64, float64), for charts of long series: no
    Python object per point. Imports numpy, so only readers of long series pay for it.

    :param packed_steps: the steps blob.
    :param packed_timestamps: the timestamps blob.
    :param packed_values: the values blob.
    :param points: how many points the chunk's row says it holds.
    :raises MalformedRow: as :func:`unpack`.
    """
    import numpy as np  # only for charts of long series: ``import mlnb`` stays light

    steps = _unpack_int_array(packed_steps, points, "steps")
    timestamps = _unpack_int_array(packed_timestamps, points, "timestamps")
    if not isinstance(packed_values, bytes) or not packed_values or packed_values[0] not in (
            _PLAIN, _ZLIB):
        raise MalformedRow("a chunk's values blob of an unknown kind")
    try:
        raw = zlib.decompress(packed_values[1:]) if packed_values[0] == _ZLIB else packed_values[1:]
        values = np.frombuffer(raw, dtype="<f8")
    except (zlib.error, ValueError) as exc:
        raise MalformedRow(f"a damaged values blob ({exc})") from None
    if len(values) != points:
        raise MalformedRow(f"a values blob of {len(values)} points where the chunk says {points}")
    return steps, timestamps, values.astype(np.float64)


def _unpack_int_array(blob: bytes, points: int, what: str) -> NDArray[Any]:
    import numpy as np  # only for charts of long series: ``import mlnb`` stays light

    if not isinstance(blob, bytes) or not blob or blob[0] not in (_DELTAS, _RAW):
        raise MalformedRow(f"a chunk's {what} blob of an unknown kind")
    try:
        body = np.frombuffer(zlib.decompress(blob[1:]), dtype="<i8")
    except (zlib.error, ValueError) as exc:
        raise MalformedRow(f"a damaged {what} blob ({exc})") from None
    if len(body) != points:
        raise MalformedRow(f"a {what} blob of {len(body)} points where the chunk says {points}")
    if blob[0] == _RAW:
        return body.astype(np.int64)
    # Sums of a damaged blob may leave 64 bits, where numpy would wrap around silently: a float
    # sum finds any that come near the edge, and those are summed exactly (and refused) in Python.
    if len(body) and np.abs(np.cumsum(body, dtype=np.float64)).max() >= 2.0**62:
        return np.array(_unpack_ints(blob, points, what), dtype=np.int64)
    return np.cumsum(body, dtype=np.int64)


def summary_points(summary: bytes) -> list[tuple[int, int, float]]:
    """A chunk's first, last, lowest and highest points as ``(step, timestamp, value)``.

    Lowest and highest ignore NaN; a chunk of NaN alone gives its first point for both.

    :param summary: the chunk's summary blob.
    :raises MalformedRow: when the blob is not a summary.
    """
    _check_summary(summary)
    return _block(summary, 0)


def summary_blocks(summary: bytes) -> list[list[tuple[int, int, float]]]:
    """The stretches of a chunk, in logging order, each as its first, last, lowest and highest
    points (lowest and highest as in :func:`summary_points`); the whole chunk as one stretch when
    its summary has none (chunks written before stretches were kept).

    :param summary: the chunk's summary blob.
    :raises MalformedRow: when the blob is not a summary.
    """
    _check_summary(summary)
    count = len(summary) // _BLOCK
    if count == 1:
        return [_block(summary, 0)]
    return [_block(summary, i * _BLOCK) for i in range(1, count)]


def _check_summary(summary: bytes) -> None:
    blocks, rest = divmod(len(summary), _BLOCK)
    if rest or not (blocks == 1 or 3 <= blocks <= 1 + SUMMARY_STRETCHES):
        raise MalformedRow(f"a chunk summary of {len(summary)} bytes (expected {_BLOCK} and "
                           f"{SUMMARY_STRETCHES} more at the most, each of {_BLOCK})")


def _block(summary: bytes, offset: int) -> list[tuple[int, int, float]]:
    return [_POINT.unpack_from(summary, offset + i * _POINT.size) for i in range(4)]


def chunk_extremes(summary: bytes) -> tuple[float | None, float | None]:
    """A chunk's lowest and highest value from its summary, ``None`` for a chunk of NaN alone
    (the columns ``metric_chunks.min_value`` and ``max_value``, which SQL aggregates).

    :param summary: the chunk's summary blob.
    :raises MalformedRow: when the blob is not a summary.
    """
    low, high = (point[2] for point in summary_points(summary)[2:])
    if math.isnan(low):
        return None, None
    return low, high


def _summary(steps: Sequence[int], timestamps: Sequence[int], values: Sequence[float]) -> bytes:
    count = len(steps)
    stretches = max(1, min(SUMMARY_STRETCHES, count // _MIN_STRETCH))
    size = -(-count // stretches)
    parts = [_stretch(values, start, min(count, start + size)) for start in range(0, count, size)]
    # the whole chunk from its stretches: the first lowest of the stretches' lowest is the chunk's
    finite = [p for p in parts if not math.isnan(values[p[2]])]
    low = min((p[2] for p in finite), key=values.__getitem__) if finite else 0
    high = max((p[3] for p in finite), key=values.__getitem__) if finite else 0
    whole = (0, count - 1, low, high)
    blocks = [whole] if len(parts) == 1 else [whole, *parts]
    return b"".join(_POINT.pack(steps[i], timestamps[i], values[i])
                    for block in blocks for i in block)


def _stretch(values: Sequence[float], start: int, end: int) -> tuple[int, int, int, int]:
    """Indices of a stretch's first, last, lowest and highest point (NaN neither; first if all)."""
    finite = [i for i in range(start, end) if not math.isnan(values[i])]
    low = min(finite, key=values.__getitem__) if finite else start
    high = max(finite, key=values.__getitem__) if finite else start
    return start, end - 1, low, high


def _pack_ints(numbers: Sequence[int]) -> bytes:
    first = numbers[0]
    deltas = [first, *(b - a for a, b in pairwise(numbers))]
    try:
        body = array("q", deltas)
        mode = _DELTAS
    except OverflowError:  # steps at both ends of the 64-bit range: their difference overflows
        body = array("q", numbers)
        mode = _RAW
    if _BIG_ENDIAN:
        body.byteswap()
    return bytes([mode]) + zlib.compress(body.tobytes(), 1)


def _unpack_ints(blob: bytes, points: int, what: str) -> list[int]:
    if not isinstance(blob, bytes) or not blob or blob[0] not in (_DELTAS, _RAW):
        raise MalformedRow(f"a chunk's {what} blob of an unknown kind")
    try:
        body = array("q", zlib.decompress(blob[1:]))
    except (zlib.error, ValueError) as exc:
        raise MalformedRow(f"a damaged {what} blob ({exc})") from None
    if len(body) != points:
        raise MalformedRow(f"a {what} blob of {len(body)} points where the chunk says {points}")
    if _BIG_ENDIAN:
        body.byteswap()
    if blob[0] == _RAW:
        return body.tolist()
    numbers = list(accumulate(body))
    if numbers and not _INT64[0] <= min(numbers) <= max(numbers) <= _INT64[1]:
        raise MalformedRow(f"a {what} blob whose numbers leave 64 bits")
    return numbers


def _pack_floats(values: Sequence[float]) -> bytes:
    body = array("d", values)
    if _BIG_ENDIAN:
        body.byteswap()
    raw = body.tobytes()
    squeezed = zlib.compress(raw, 1)
    if len(squeezed) < 0.9 * len(raw):
        return bytes([_ZLIB]) + squeezed
    return bytes([_PLAIN]) + raw


def _unpack_floats(blob: bytes, points: int) -> list[float]:
    if not isinstance(blob, bytes) or not blob or blob[0] not in (_PLAIN, _ZLIB):
        raise MalformedRow("a chunk's values blob of an unknown kind")
    try:
        raw = zlib.decompress(blob[1:]) if blob[0] == _ZLIB else blob[1:]
        body = array("d", raw)
    except (zlib.error, ValueError) as exc:
        raise MalformedRow(f"a damaged values blob ({exc})") from None
    if len(body) != points:
        raise MalformedRow(f"a values blob of {len(body)} points where the chunk says {points}")
    if _BIG_ENDIAN:
        body.byteswap()
    return body.tolist()
