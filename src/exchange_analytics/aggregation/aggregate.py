"""OHLCV aggregation of a bar frame into 1h / 4h / 1d buckets (SPEC §5).

A *bar frame* is a DataFrame indexed by a ``DatetimeIndex`` named ``timestamp`` (UTC,
``datetime64[ns, UTC]``, ascending, unique, bar open time) with float64 columns
open, high, low, close, volume. An *aggregated frame* adds ``bar_count`` (int64) and
``is_complete`` (bool) and is indexed by bucket start.

Why numpy and not ``DataFrame.resample``: a bucket is a run of consecutive rows of a sorted
frame, so the whole aggregation is "find where each run starts" (a ``searchsorted`` of the
bucket grid) followed by one ``reduceat`` per column. That is several times faster than
``resample().agg()`` (``bench/bench_aggregation.py`` measures it), never creates the empty
weekend buckets that ``resample`` would have to drop again, and handles the DST-aware New York
grid, which ``resample`` cannot express.

No look-ahead: a bucket only ever holds bars whose open time lies inside it, and the forming
bucket is flagged ``is_complete=False`` until ``data_end`` reaches its end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd

from exchange_analytics.aggregation.buckets import (
    Int64Array,
    bucket_runs,
    bucket_starts,
    check_day_boundary,
    end_unchecked,
    format_ns,
    step_ns,
)
from exchange_analytics.domain import DayBoundary, Timeframe

FloatArray = npt.NDArray[np.float64]

#: The one aggregation rule, as pandas named aggregation: output column -> (input column,
#: reduction). open = first open, high = max high, low = min low, close = last close,
#: volume = sum of volumes, bar_count = number of source bars. ``aggregate`` applies exactly
#: these reductions with numpy; ``frame.resample(rule).agg(**OHLCV_AGG)`` applies the same
#: rule with pandas (the benchmark and the tests use that as the reference).
#:
#: bar_count is reported in 5-minute bars, so that ``bar_count`` / (bucket length / 5 min)
#: is how full a bucket is whatever it was built from: a 5m source bar counts 1 and a
#: provider 1h bar (older history, SPEC §5) counts 12.
OHLCV_AGG: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "open": ("open", "first"),
        "high": ("high", "max"),
        "low": ("low", "min"),
        "close": ("close", "last"),
        "volume": ("volume", "sum"),
        "bar_count": ("close", "count"),
    }
)

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
AGGREGATED_COLUMNS: tuple[str, ...] = (*OHLCV_AGG, "is_complete")
_M5_NS = step_ns(Timeframe.M5)

# reduction name -> f(values, first index of each run, last index of each run)
_Reducer = Callable[[FloatArray, Int64Array, Int64Array], npt.NDArray[np.generic]]
_REDUCERS: Mapping[str, _Reducer] = MappingProxyType(
    {
        "first": lambda values, first, _last: values[first],
        "last": lambda values, _first, last: values[last],
        "max": lambda values, first, _last: np.maximum.reduceat(values, first),
        "min": lambda values, first, _last: np.minimum.reduceat(values, first),
        "sum": lambda values, first, _last: np.add.reduceat(values, first),
        "count": lambda _values, first, last: last - first + 1,
    }
)


@dataclass(frozen=True, slots=True)
class BarArrays:
    """A validated bar frame as plain arrays (int64 epoch-ns open times + float64 columns)."""

    timestamps: Int64Array
    columns: dict[str, FloatArray]

    def __len__(self) -> int:
        return int(self.timestamps.size)

    def slice(self, start: int, stop: int) -> BarArrays:
        return BarArrays(
            self.timestamps[start:stop], {k: v[start:stop] for k, v in self.columns.items()}
        )


def bar_arrays(bars: pd.DataFrame, what: str = "bars") -> BarArrays:
    """Check that ``bars`` is a bar frame and take its arrays (views where possible).

    Raises ValueError naming the first offending timestamp when the index is not strictly
    increasing: storage always hands out sorted unique bars, so disorder means a caller bug
    that silently re-sorting would hide.
    """
    if not isinstance(bars, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(bars).__name__}")
    index = bars.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError(
            f"{what} must be indexed by a timezone-aware DatetimeIndex of bar open times (UTC); "
            f"got {type(index).__name__} with tz={getattr(index, 'tz', None)}"
        )
    if index.hasnans:
        raise ValueError(f"{what} has NaT timestamps; every bar needs its open time")
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}; need {BAR_COLUMNS}")
    timestamps = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    increasing = timestamps[1:] > timestamps[:-1]
    if not increasing.all():
        i = int(np.argmin(increasing)) + 1
        raise ValueError(
            f"{what} must be sorted by strictly increasing timestamp; row {i} "
            f"({format_ns(int(timestamps[i]))}) is not after row {i - 1} "
            f"({format_ns(int(timestamps[i - 1]))})"
        )
    columns = {c: np.asarray(bars[c].to_numpy(dtype=np.float64)) for c in BAR_COLUMNS}
    return BarArrays(timestamps, columns)


def _timestamp_ns(value: pd.Timestamp, what: str) -> int:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {stamp}")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)


def check_source(timeframe: Timeframe, source_timeframe: Timeframe) -> None:
    if source_timeframe.seconds > timeframe.seconds:
        raise ValueError(
            f"cannot aggregate {source_timeframe.value} bars into shorter {timeframe.value} buckets"
        )


def aggregate_arrays(
    bars: BarArrays,
    timeframe: Timeframe,
    day_boundary: DayBoundary,
    source_timeframe: Timeframe,
) -> tuple[Int64Array, dict[str, npt.NDArray[np.generic]]]:
    """Bucket starts and the ``OHLCV_AGG`` columns (without is_complete) of sorted bars.

    Every source bar must lie wholly inside one bucket (open time + source length <= bucket
    end): that is what "re-validated onto the grid" means for provider 1h bars, and it rejects
    a misaligned bar instead of letting it leak into the next bucket.
    """
    check_day_boundary(day_boundary)
    check_source(timeframe, source_timeframe)
    starts, first = bucket_runs(bars.timestamps, timeframe, day_boundary)
    if not len(bars):
        return starts, {
            c: np.zeros(0, dtype=np.int64 if c == "bar_count" else np.float64) for c in OHLCV_AGG
        }
    last = np.append(first[1:], len(bars)) - 1
    ends = end_unchecked(starts, timeframe, day_boundary)
    overhang = bars.timestamps[last] + step_ns(source_timeframe) > ends
    if overhang.any():
        k = int(np.argmax(overhang))
        raise ValueError(
            f"{source_timeframe.value} bar at {format_ns(int(bars.timestamps[last[k]]))} "
            f"runs past the end of its {timeframe.value} bucket "
            f"({format_ns(int(ends[k]))}); source bars must be aligned to their timeframe"
        )
    columns: dict[str, npt.NDArray[np.generic]] = {}
    for out, (source, rule) in OHLCV_AGG.items():
        columns[out] = _REDUCERS[rule](bars.columns[source], first, last)
    # bar_count in 5-minute bars (see OHLCV_AGG)
    columns["bar_count"] = columns["bar_count"].astype(np.int64) * (
        step_ns(source_timeframe) // _M5_NS
    )
    return starts, columns


def aggregated_frame(
    starts: Int64Array,
    columns: Mapping[str, npt.NDArray[np.generic]],
    is_complete: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """Assemble the aggregated-frame contract (index, column order and dtypes)."""
    index = pd.DatetimeIndex(starts, dtype="datetime64[ns, UTC]", name="timestamp")
    data: dict[str, npt.NDArray[np.generic]] = {
        c: np.asarray(columns[c], dtype=np.float64) for c in BAR_COLUMNS
    }
    data["bar_count"] = np.asarray(columns["bar_count"], dtype=np.int64)
    data["is_complete"] = np.asarray(is_complete, dtype=bool)
    return pd.DataFrame(data, index=index, columns=list(AGGREGATED_COLUMNS), copy=False)


def completeness(
    starts: Int64Array, timeframe: Timeframe, day_boundary: DayBoundary, data_end_ns: int
) -> npt.NDArray[np.bool_]:
    """is_complete: the stored data reaches the bucket's end (SPEC §5)."""
    return np.asarray(data_end_ns >= end_unchecked(starts, timeframe, day_boundary))


def aggregate(
    bars: pd.DataFrame,
    timeframe: Timeframe,
    day_boundary: DayBoundary,
    data_end: pd.Timestamp | None = None,
    source_timeframe: Timeframe = Timeframe.M5,
) -> pd.DataFrame:
    """Aggregate a bar frame (5m, or provider 1h bars) into ``timeframe`` buckets.

    Only buckets holding at least one source bar exist: weekends and provider gaps stay gaps,
    and ``bar_count`` says how full a bucket is. ``is_complete`` is ``data_end >= bucket end``
    where ``data_end`` is when the stored data ends (open time of the latest stored source bar
    plus its length); by default it is derived from the last row of ``bars``, so pass it
    explicitly when ``bars`` is a slice of a longer history.

    Raises ValueError for an unsorted or duplicated index (naming the first bad timestamp),
    a naive index, missing columns, or a source bar that does not fit in its bucket. Prices
    are taken as they are: storage only holds bars validated on the way in (SPEC §3.2).
    """
    arrays = bar_arrays(bars)
    starts, columns = aggregate_arrays(arrays, timeframe, day_boundary, source_timeframe)
    if data_end is not None:
        end_ns = _timestamp_ns(data_end, "data_end")
    elif len(arrays):
        end_ns = int(arrays.timestamps[-1]) + step_ns(source_timeframe)
    else:
        end_ns = 0
    return aggregated_frame(starts, columns, completeness(starts, timeframe, day_boundary, end_ns))


def touched_bucket_starts(
    new_timestamps: pd.DatetimeIndex, timeframe: Timeframe, day_boundary: DayBoundary
) -> pd.DatetimeIndex:
    """The distinct bucket starts (ascending) touched by newly arrived bars.

    A cycle recomputes exactly these buckets, loading the stored source bars from the first
    touched start onwards, instead of re-aggregating the whole history (SPEC §5).
    """
    if not isinstance(new_timestamps, pd.DatetimeIndex) or new_timestamps.tz is None:
        raise ValueError("new_timestamps must be a timezone-aware DatetimeIndex (UTC)")
    ns = np.asarray(new_timestamps.as_unit("ns").asi8, dtype=np.int64)
    starts = np.unique(bucket_starts(ns, timeframe, day_boundary))
    return pd.DatetimeIndex(starts, dtype="datetime64[ns, UTC]", name="timestamp")


def combine_history(
    m5: pd.DataFrame,
    h1: pd.DataFrame,
    timeframe: Timeframe,
    day_boundary: DayBoundary,
    data_end: pd.Timestamp | None,
) -> pd.DataFrame:
    """One alignment for all history (SPEC §5): 5m-built buckets, 1h-built older ones.

    A bucket is built from 5m bars only when its start is at or after the first stored 5m
    bar, i.e. when 5m data exists for the whole bucket. Every older bucket (including the one
    the first 5m bar falls into, if that bar is not at a bucket start) is built from the
    provider's 1h bars with the same rule and grid; 5m bars before that switch are not used.
    For ``timeframe`` 1h the older buckets are the provider's 1h bars themselves, checked
    against the grid. Either input may be empty.

    ``data_end`` defaults to the end of the latest 5m bar (the latest 1h bar's end when there
    is no 5m data): completeness is defined by the stored 5m data (SPEC §5), and a provider 1h
    bar that extends past it must not mark a forming 5m-built bucket complete.
    """
    fine = bar_arrays(m5, "m5")
    coarse = bar_arrays(h1, "h1")
    check_day_boundary(day_boundary)
    check_source(timeframe, Timeframe.H1)
    if len(fine):
        first = int(fine.timestamps[0])
        bucket = bucket_starts(np.array([first], dtype=np.int64), timeframe, day_boundary)
        switch = (
            first
            if int(bucket[0]) == first
            else int(end_unchecked(bucket, timeframe, day_boundary)[0])
        )
    else:
        switch = np.iinfo(np.int64).max
    old = coarse.slice(0, int(np.searchsorted(coarse.timestamps, switch, side="left")))
    new = fine.slice(int(np.searchsorted(fine.timestamps, switch, side="left")), len(fine))
    old_starts, old_cols = aggregate_arrays(old, timeframe, day_boundary, Timeframe.H1)
    new_starts, new_cols = aggregate_arrays(new, timeframe, day_boundary, Timeframe.M5)
    if data_end is not None:
        end_ns = _timestamp_ns(data_end, "data_end")
    elif len(fine):
        end_ns = int(fine.timestamps[-1]) + _M5_NS
    elif len(coarse):
        end_ns = int(coarse.timestamps[-1]) + step_ns(Timeframe.H1)
    else:
        end_ns = 0
    starts = np.concatenate((old_starts, new_starts))
    columns = {c: np.concatenate((old_cols[c], new_cols[c])) for c in OHLCV_AGG}
    return aggregated_frame(starts, columns, completeness(starts, timeframe, day_boundary, end_ns))


__all__ = [
    "AGGREGATED_COLUMNS",
    "BAR_COLUMNS",
    "OHLCV_AGG",
    "aggregate",
    "combine_history",
    "touched_bucket_starts",
]
