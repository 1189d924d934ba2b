"""Bucket arithmetic: which 1h / 4h / 1d bucket a bar belongs to (SPEC §5).

Everything works on int64 epoch nanoseconds (``DatetimeIndex.asi8``) so that a million bars
are bucketed by a handful of vectorised numpy passes.

Two alignments exist (``DayBoundary``):

``utc``
    1h on the hour, 4h at 00/04/08/12/16/20 UTC, 1d at 00:00 UTC: plain floors of the epoch.
``new_york``
    The FX convention: the trading day starts at 17:00 America/New_York (the "New York
    close"), which is 21:00 UTC in summer and 22:00 UTC in winter; 4h buckets start at
    17, 21, 01, 05, 09, 13 New York wall-clock time. The grid lives on New York wall-clock
    time, so across a daylight-saving switch (02:00 local on a Sunday) the bucket containing
    it is shorter or longer: the 4h bucket from 01:00 is 3 h long in March and 5 h in November,
    and the day is 23 or 25 h. 1h and 5m buckets are identical for both alignments because
    New York's offset is a whole number of hours.

New York offsets are not looked up per element: the UTC instants where the offset changes are
found once per calendar year with ``zoneinfo`` (cached), and each timestamp's offset is then a
``searchsorted`` into that short table. Wall-clock times are turned back into UTC the way
``zoneinfo`` does for ``fold=0``: an ambiguous time (the repeated hour in November) is the
earlier instant, which is what makes a November 4h bucket start at 01:00 EDT and last 5 h.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from exchange_analytics.domain import DayBoundary, Timeframe

#: The accepted values of ``DAY_BOUNDARY``, in the order they are documented.
DAY_BOUNDARIES: tuple[str, ...] = tuple(boundary.value for boundary in DayBoundary)

Int64Array = npt.NDArray[np.int64]

NS_PER_SECOND = 1_000_000_000
HOUR_NS = 3600 * NS_PER_SECOND
_DAY_S = 86_400
NEW_YORK = ZoneInfo("America/New_York")
#: The FX trading day (and the 4h grid) is anchored at 17:00 New York wall-clock time.
NEW_YORK_DAY_START_HOUR = 17
_INT64_MAX = np.iinfo(np.int64).max
#: Below this size the per-element path is as fast as building an hourly table.
_TABLE_MIN_SIZE = 4096


def step_ns(timeframe: Timeframe) -> int:
    """Nominal bucket length in nanoseconds (a New York 4h/1d bucket may differ by an hour)."""
    return timeframe.seconds * NS_PER_SECOND


def check_day_boundary(day_boundary: str) -> None:
    if day_boundary not in DAY_BOUNDARIES:
        raise ValueError(f"day_boundary {day_boundary!r} is not one of {', '.join(DAY_BOUNDARIES)}")


def uses_wall_clock(timeframe: Timeframe, day_boundary: DayBoundary) -> bool:
    """True when the grid follows New York wall-clock time (and so moves with DST)."""
    check_day_boundary(day_boundary)
    return day_boundary == DayBoundary.NEW_YORK and timeframe in (Timeframe.H4, Timeframe.D1)


def _as_ns(values: npt.ArrayLike, what: str) -> Int64Array:
    array = np.asarray(values)
    if array.dtype != np.int64:
        raise TypeError(
            f"{what} must be an int64 array of epoch nanoseconds (e.g. DatetimeIndex.asi8), "
            f"got dtype {array.dtype}"
        )
    return array


# --- New York offset table -------------------------------------------------------------


def _offset_seconds(epoch_s: int) -> int:
    offset = datetime.fromtimestamp(epoch_s, NEW_YORK).utcoffset()
    if offset is None:  # pragma: no cover - zoneinfo always answers for an aware datetime
        raise RuntimeError("zoneinfo returned no UTC offset for America/New_York")
    return int(offset.total_seconds())


def _jan1(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp())


@functools.lru_cache(maxsize=256)
def _year_transitions(year: int) -> tuple[tuple[int, int], ...]:
    """``(utc_second, offset_after)`` for each New York offset change during ``year``.

    Sampled once per UTC day (transitions are months apart) and then bisected to the second,
    so a year costs ~370 zoneinfo calls once per process instead of one per timestamp.
    """
    found: list[tuple[int, int]] = []
    prev_s = _jan1(year)
    prev_off = _offset_seconds(prev_s)
    for day_s in range(prev_s + _DAY_S, _jan1(year + 1) + 1, _DAY_S):
        off = _offset_seconds(day_s)
        if off != prev_off:
            lo, hi = prev_s, day_s  # offset(lo) == prev_off, offset(hi) != prev_off
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_seconds(mid) == prev_off:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, _offset_seconds(hi)))
        prev_s, prev_off = day_s, off
    return tuple(found)


@functools.lru_cache(maxsize=64)
def _offset_table_years(first_year: int, last_year: int) -> tuple[Int64Array, Int64Array]:
    changes = [c for year in range(first_year, last_year + 1) for c in _year_transitions(year)]
    instants = np.array([s for s, _ in changes], dtype=np.int64) * NS_PER_SECOND
    offsets = np.array(
        [_offset_seconds(_jan1(first_year))] + [o for _, o in changes], dtype=np.int64
    )
    offsets *= NS_PER_SECOND
    instants.setflags(write=False)
    offsets.setflags(write=False)
    return instants, offsets


def _offset_table(lo_ns: int, hi_ns: int) -> tuple[Int64Array, Int64Array]:
    """Offset-change instants and the offsets in force around them, covering [lo, hi].

    ``offsets[k]`` holds for ``instants[k-1] <= t < instants[k]``; one spare year on each side
    absorbs the wall-clock arithmetic that steps up to a day past the input range.
    """
    first = datetime.fromtimestamp(lo_ns // NS_PER_SECOND, UTC).year - 1
    last = datetime.fromtimestamp(hi_ns // NS_PER_SECOND, UTC).year + 1
    return _offset_table_years(first, last)


def _offsets_at(utc_ns: Int64Array, instants: Int64Array, offsets: Int64Array) -> Int64Array:
    return offsets[np.searchsorted(instants, utc_ns, side="right")]


def _wall_to_utc(wall_ns: Int64Array, instants: Int64Array, offsets: Int64Array) -> Int64Array:
    """UTC instants of New York wall-clock times, with ``zoneinfo``'s ``fold=0`` semantics.

    Each distinct offset gives a candidate ``wall - offset``; it is valid when that offset is
    really in force at the candidate. Of several valid ones (the repeated November hour) the
    earliest wins. A wall time skipped in March has no valid candidate and, like ``fold=0``,
    is read with the offset in force before the switch.
    """
    candidates = np.unique(offsets)
    best = np.full(wall_ns.shape, _INT64_MAX, dtype=np.int64)
    for offset in candidates:
        utc = wall_ns - offset
        valid = _offsets_at(utc, instants, offsets) == offset
        np.minimum(best, np.where(valid, utc, _INT64_MAX), out=best)
    skipped = best == _INT64_MAX
    if skipped.any():
        wall = wall_ns[skipped]
        before = _offsets_at(wall - candidates.max(), instants, offsets)
        best[skipped] = wall - before
    return best


def _wall_grid_floor(wall_ns: Int64Array, period_ns: int) -> Int64Array:
    anchor = NEW_YORK_DAY_START_HOUR * HOUR_NS
    shifted = wall_ns - anchor
    return shifted - np.mod(shifted, period_ns) + anchor


# --- public API ----------------------------------------------------------------------------


def bucket_starts(
    timestamps_ns: npt.ArrayLike, timeframe: Timeframe, day_boundary: DayBoundary
) -> Int64Array:
    """The start (int64 epoch ns) of the ``timeframe`` bucket holding each bar open time.

    Input order does not matter and is kept. UTC grids are one vectorised floor. On a New
    York grid every bucket boundary is a whole UTC hour (since New York adopted standard time
    in 1883), so a bar's bucket depends only on its UTC hour: for dense input the start is
    computed once per hour of the covered range and gathered by hour number, so 1M
    timestamps cost a few milliseconds, sorted or not. Sparse input (a few bars years apart)
    is computed per element from the offset table instead, which gives the same answer
    without building a table for decades.
    """
    ts = _as_ns(timestamps_ns, "timestamps_ns")
    if not uses_wall_clock(timeframe, day_boundary) or ts.size < _TABLE_MIN_SIZE:
        return _starts_direct(ts, timeframe, day_boundary)
    first_hour = int(ts.min())
    first_hour -= first_hour % HOUR_NS
    last = int(ts.max())
    if (last - first_hour) // HOUR_NS > 4 * ts.size:
        return _starts_direct(ts, timeframe, day_boundary)
    hours = _int_range(first_hour, last, HOUR_NS)
    instants, offsets = _offset_table(first_hour, last)
    if np.any(offsets % HOUR_NS) or np.any(instants % HOUR_NS):  # local mean time, pre-1883
        return _starts_direct(ts, timeframe, day_boundary)
    per_hour = _starts_direct(hours, timeframe, day_boundary)
    return per_hour[(ts - first_hour) // HOUR_NS]


def bucket_runs(
    sorted_ns: Int64Array, timeframe: Timeframe, day_boundary: DayBoundary
) -> tuple[Int64Array, Int64Array]:
    """The non-empty buckets of non-decreasing timestamps: their starts and first positions.

    ``first[k]`` is the index of the first timestamp in bucket ``starts[k]``; bucket ``k``
    holds ``sorted_ns[first[k]:first[k + 1]]``. This is what ``np.*.reduceat`` wants. The
    caller guarantees the order (``aggregate`` checks it once). When the data is dense
    relative to its time span the work is per bucket (grid + ``searchsorted``), otherwise
    per element; both give the same result.
    """
    n = sorted_ns.size
    if n == 0:
        return sorted_ns.copy(), np.zeros(0, dtype=np.int64)
    lo, hi = int(sorted_ns[0]), int(sorted_ns[-1])
    if _grid_size_estimate(lo, hi, timeframe, day_boundary) <= 2 * n + 4096:
        grid = grid_between(lo, hi, timeframe, day_boundary)
        first = np.searchsorted(sorted_ns, grid, side="left").astype(np.int64)
        nonempty = first < np.append(first[1:], n)
        return grid[nonempty], first[nonempty]
    starts = _starts_direct(sorted_ns, timeframe, day_boundary)
    first = np.flatnonzero(starts[1:] != starts[:-1]) + 1
    first = np.concatenate((np.zeros(1, dtype=np.int64), first.astype(np.int64)))
    return starts[first], first


def _starts_direct(ts: Int64Array, timeframe: Timeframe, day_boundary: DayBoundary) -> Int64Array:
    step = step_ns(timeframe)
    if not uses_wall_clock(timeframe, day_boundary):
        return ts - np.mod(ts, step)
    if ts.size == 0:
        return ts.copy()
    instants, offsets = _offset_table(int(ts.min()), int(ts.max()))
    wall = ts + _offsets_at(ts, instants, offsets)
    return _wall_to_utc(_wall_grid_floor(wall, step), instants, offsets)


def bucket_end_ns(
    starts_ns: npt.ArrayLike, timeframe: Timeframe, day_boundary: DayBoundary
) -> Int64Array:
    """The exclusive end of each bucket: the start of the next bucket on the same grid.

    ``starts_ns`` must be bucket starts (as returned by ``bucket_starts``); anything else is a
    ValueError naming the first offender, because an off-grid "start" has no meaningful end.
    On a New York grid the end is the start plus 4 h / 24 h of wall-clock time, so it is
    3 h / 23 h or 5 h / 25 h after the start across a DST switch.
    """
    starts = _as_ns(starts_ns, "starts_ns")
    on_grid = bucket_starts(starts, timeframe, day_boundary) == starts
    if not on_grid.all():
        bad = int(starts[np.argmin(on_grid)])
        raise ValueError(
            f"{format_ns(bad)} is not the start of a {timeframe.value} bucket "
            f"(day_boundary={day_boundary}); pass values from bucket_starts()"
        )
    return end_unchecked(starts, timeframe, day_boundary)


def end_unchecked(
    starts: Int64Array, timeframe: Timeframe, day_boundary: DayBoundary
) -> Int64Array:
    """``bucket_end_ns`` for starts known to be on the grid (skips the check)."""
    step = step_ns(timeframe)
    if not uses_wall_clock(timeframe, day_boundary) or starts.size == 0:
        return starts + step
    instants, offsets = _offset_table(int(starts.min()), int(starts.max()) + step)
    wall = starts + _offsets_at(starts, instants, offsets)
    return _wall_to_utc(wall + step, instants, offsets)


def grid_between(
    first_ns: int, last_ns: int, timeframe: Timeframe, day_boundary: DayBoundary
) -> Int64Array:
    """Every bucket start from the bucket holding ``first_ns`` up to ``last_ns``, ascending.

    A New York bucket is at least 3 hours long, so probing the range once an hour (plus at
    ``last_ns`` itself) hits every bucket; the grid is the distinct starts of those probes (the
    mapping is monotone, so "distinct" is a comparison with the neighbour, not a sort).
    """
    first = int(_starts_direct(np.array([first_ns], dtype=np.int64), timeframe, day_boundary)[0])
    if not uses_wall_clock(timeframe, day_boundary):
        return _int_range(first, last_ns, step_ns(timeframe))
    probes = np.append(_int_range(first, last_ns, HOUR_NS), np.int64(last_ns))
    starts = _starts_direct(probes, timeframe, day_boundary)
    keep = np.ones(starts.shape, dtype=bool)
    keep[1:] = starts[1:] != starts[:-1]
    return starts[keep]


def _int_range(first: int, last: int, step: int) -> Int64Array:
    """``first, first + step, ...`` up to ``last`` inclusive, in exact integer arithmetic.

    ``np.arange`` sizes its result in floating point, and epoch nanoseconds (~1.7e18) are
    beyond float64's exact integers, so it can silently drop the last point.
    """
    count = (last - first) // step + 1
    return first + step * np.arange(max(count, 0), dtype=np.int64)


def _grid_size_estimate(
    first_ns: int, last_ns: int, timeframe: Timeframe, day_boundary: DayBoundary
) -> int:
    """How many grid points ``grid_between`` would generate (hours for a New York grid)."""
    unit = HOUR_NS if uses_wall_clock(timeframe, day_boundary) else step_ns(timeframe)
    return (last_ns - first_ns) // unit + 2


def format_ns(epoch_ns: int) -> str:
    """ISO-8601 UTC text of an epoch-ns value, for error messages."""
    seconds, rest = divmod(epoch_ns, NS_PER_SECOND)
    return (datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=rest // 1000)).isoformat()
