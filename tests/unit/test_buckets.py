"""Bucket grids (SPEC §5): UTC floors and the DST-aware New York grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from exchange_analytics.aggregation import DAY_BOUNDARIES, aggregate, bucket_end_ns, bucket_starts
from exchange_analytics.domain import Timeframe

NY = ZoneInfo("America/New_York")
HOUR = 3_600 * 10**9


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def start_of(text: str, timeframe: Timeframe, boundary: str) -> int:
    return int(bucket_starts(np.array([ns(text)]), timeframe, boundary)[0])


@pytest.mark.parametrize(
    ("bar", "timeframe", "boundary", "expected"),
    [
        ("2024-05-06 13:47", Timeframe.M5, "utc", "2024-05-06 13:45"),
        ("2024-05-06 13:47", Timeframe.H1, "utc", "2024-05-06 13:00"),
        ("2024-05-06 13:47", Timeframe.H4, "utc", "2024-05-06 12:00"),
        ("2024-05-06 23:55", Timeframe.D1, "utc", "2024-05-06 00:00"),
        ("2024-05-06 13:47", Timeframe.H1, "new_york", "2024-05-06 13:00"),
        ("2024-07-10 20:55", Timeframe.D1, "new_york", "2024-07-09 21:00"),
        ("2024-07-10 21:00", Timeframe.D1, "new_york", "2024-07-10 21:00"),
        ("2024-01-10 21:55", Timeframe.D1, "new_york", "2024-01-09 22:00"),
        ("2024-01-10 22:00", Timeframe.D1, "new_york", "2024-01-10 22:00"),
        ("2024-07-10 00:30", Timeframe.H4, "new_york", "2024-07-09 21:00"),
        ("2024-07-10 13:00", Timeframe.H4, "new_york", "2024-07-10 13:00"),
        ("2024-01-10 03:00", Timeframe.H4, "new_york", "2024-01-10 02:00"),
        ("2024-01-10 21:59", Timeframe.H4, "new_york", "2024-01-10 18:00"),
    ],
    ids=[
        "5m-floor",
        "1h-on-the-hour",
        "4h-utc-at-12",
        "1d-utc-midnight",
        "1h-new-york-is-utc-hour",
        "1d-new-york-summer-before-close",
        "1d-new-york-summer-close-21utc",
        "1d-new-york-winter-before-close",
        "1d-new-york-winter-close-22utc",
        "4h-new-york-summer-17edt",
        "4h-new-york-summer-09edt",
        "4h-new-york-winter-21est",
        "4h-new-york-winter-13est",
    ],
)
def test_bucket_start_examples(
    bar: str, timeframe: Timeframe, boundary: str, expected: str
) -> None:
    assert start_of(bar, timeframe, boundary) == ns(expected)


@pytest.mark.parametrize(
    ("bar", "timeframe", "start", "end", "hours"),
    [
        ("2024-03-10 07:30", Timeframe.H4, "2024-03-10 06:00", "2024-03-10 09:00", 3),
        ("2024-11-03 05:30", Timeframe.H4, "2024-11-03 05:00", "2024-11-03 10:00", 5),
        ("2024-11-03 06:30", Timeframe.H4, "2024-11-03 05:00", "2024-11-03 10:00", 5),
        ("2024-03-10 12:00", Timeframe.D1, "2024-03-09 22:00", "2024-03-10 21:00", 23),
        ("2024-11-03 12:00", Timeframe.D1, "2024-11-02 21:00", "2024-11-03 22:00", 25),
        ("2025-03-09 08:10", Timeframe.H4, "2025-03-09 06:00", "2025-03-09 09:00", 3),
        ("2025-11-02 09:55", Timeframe.H4, "2025-11-02 05:00", "2025-11-02 10:00", 5),
        ("2025-03-09 20:55", Timeframe.D1, "2025-03-08 22:00", "2025-03-09 21:00", 23),
        ("2025-11-02 21:55", Timeframe.D1, "2025-11-01 21:00", "2025-11-02 22:00", 25),
    ],
    ids=[
        "2024-march-4h-is-3h",
        "2024-november-4h-is-5h-first-0100",
        "2024-november-4h-is-5h-repeated-0100",
        "2024-march-day-is-23h",
        "2024-november-day-is-25h",
        "2025-march-4h-is-3h",
        "2025-november-4h-is-5h",
        "2025-march-day-is-23h",
        "2025-november-day-is-25h",
    ],
)
def test_new_york_dst_switch_buckets(
    bar: str, timeframe: Timeframe, start: str, end: str, hours: int
) -> None:
    got_start = start_of(bar, timeframe, "new_york")
    got_end = int(bucket_end_ns(np.array([got_start]), timeframe, "new_york")[0])
    assert (got_start, got_end) == (ns(start), ns(end))
    assert got_end - got_start == hours * HOUR


def reference_new_york_start(t_ns: int, timeframe: Timeframe) -> int:
    """The definition, one timestamp at a time with zoneinfo: floor New York wall-clock time
    to the 17:00-anchored grid, then read that wall time back with fold=0 (earlier instant)."""
    wall = datetime.fromtimestamp(t_ns // 10**9, UTC).astimezone(NY).replace(tzinfo=None)
    period = 4 if timeframe is Timeframe.H4 else 24
    shifted = wall - timedelta(hours=17)
    midnight = datetime(shifted.year, shifted.month, shifted.day)
    hours = int((shifted - midnight).total_seconds()) // 3600
    floored = midnight + timedelta(hours=hours - hours % period + 17)
    return int(floored.replace(tzinfo=NY, fold=0).astimezone(UTC).timestamp()) * 10**9


def _five_minute(seconds: np.ndarray) -> np.ndarray:
    return (seconds - seconds % 300) * 10**9


def _near_switches(years: range, step_s: int) -> list[np.ndarray]:
    chunks = []
    for year in years:
        for month, day in ((3, 5), (3, 28), (10, 24), (11, 1)):
            first = int(datetime(year, month, day, tzinfo=UTC).timestamp())
            chunks.append(np.arange(first, first + 10 * 86_400, step_s, dtype=np.int64))
    return chunks


def sample(kind: str) -> np.ndarray:
    """Timestamps for the three code paths of ``bucket_starts`` on a New York grid.

    dense: > 4096 bars, covering the range at least once per 4 hours (hourly table);
    sparse: bars decades apart (per element); lmt: dense around 1883-11-18, when New York
    left local mean time (-4:56:02), so buckets are not whole UTC hours (per element).
    """
    rng = np.random.default_rng(7)
    if kind == "dense":
        lo, hi = 1_672_531_200, 1_767_225_600  # 2023-01-01 .. 2026-01-01
        anywhere = rng.integers(lo, hi, 20_000, dtype=np.int64)
        return _five_minute(np.concatenate([anywhere, *_near_switches(range(2023, 2026), 1_500)]))
    if kind == "sparse":
        anywhere = rng.integers(631_152_000, 2_840_140_800, 6_000, dtype=np.int64)  # 1990..2060
        return _five_minute(
            np.concatenate([anywhere, *_near_switches(range(1995, 2050, 3), 9_000)])
        )
    first = int(datetime(1883, 10, 1, tzinfo=UTC).timestamp())
    return _five_minute(np.arange(first, first + 90 * 86_400, 300, dtype=np.int64)[::3])


@pytest.mark.parametrize("timeframe", [Timeframe.H4, Timeframe.D1], ids=["4h", "1d"])
@pytest.mark.parametrize(
    ("kind", "order"),
    [("dense", "sorted"), ("dense", "shuffled"), ("sparse", "shuffled"), ("lmt", "sorted")],
    ids=["dense-sorted", "dense-shuffled", "sparse", "local-mean-time-1883"],
)
def test_new_york_grid_matches_zoneinfo_reference(
    timeframe: Timeframe, kind: str, order: str
) -> None:
    ts = sample(kind)
    ts = np.sort(ts) if order == "sorted" else np.random.default_rng(3).permutation(ts)
    expected = np.array([reference_new_york_start(int(t), timeframe) for t in ts])
    got = bucket_starts(ts, timeframe, "new_york")
    assert ts.size > 4096
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, [pd.Timestamp(int(ts[i]), tz="UTC") for i in mismatches[:5]]


@pytest.mark.parametrize("boundary", DAY_BOUNDARIES)
@pytest.mark.parametrize("timeframe", [Timeframe.H1, Timeframe.H4, Timeframe.D1])
def test_bucket_end_is_next_bucket_start(timeframe: Timeframe, boundary: str) -> None:
    hours = np.arange(ns("2023-01-01"), ns("2026-01-01"), HOUR, dtype=np.int64)
    starts = np.unique(bucket_starts(hours, timeframe, boundary))
    ends = bucket_end_ns(starts, timeframe, boundary)
    np.testing.assert_array_equal(ends[:-1], starts[1:])
    lengths = set(((ends - starts) // HOUR).tolist())
    nominal = timeframe.seconds // 3600
    if boundary == "new_york" and timeframe is not Timeframe.H1:
        assert lengths == {nominal - 1, nominal, nominal + 1}
    else:
        assert lengths == {nominal}


def test_sorted_input_whose_last_bar_opens_a_bucket_keeps_that_bucket() -> None:
    # Regression: np.arange sizes in float64, which cannot hold epoch nanoseconds exactly, so
    # the grid built for sorted input lost the bucket opened by the very last bar.
    first, last = ns("2024-11-27 03:00"), ns("2026-07-09 17:00")
    hours = first + HOUR * np.arange((last - first) // HOUR + 1, dtype=np.int64)
    assert hours[-1] == last
    got = bucket_starts(hours, Timeframe.H4, "new_york")
    assert got[-1] == ns("2026-07-09 17:00")
    np.testing.assert_array_equal(got, bucket_starts(hours[::-1], Timeframe.H4, "new_york")[::-1])


def test_bucket_end_rejects_a_start_off_the_grid() -> None:
    # 06:00 UTC on 2024-11-03 is the second 01:00 in New York; the bucket started at 05:00.
    with pytest.raises(ValueError, match=r"2024-11-03T06:00:00\+00:00 is not the start"):
        bucket_end_ns(np.array([ns("2024-11-03 06:00")]), Timeframe.H4, "new_york")
    with pytest.raises(ValueError, match="not the start of a 1h bucket"):
        bucket_end_ns(np.array([ns("2024-11-03 06:05")]), Timeframe.H1, "utc")


def test_inputs_must_be_int64_nanoseconds_and_known_boundary() -> None:
    with pytest.raises(TypeError, match="int64 array of epoch nanoseconds"):
        bucket_starts(np.array([1.5e18]), Timeframe.H1, "utc")
    with pytest.raises(ValueError, match="day_boundary 'tokyo' is not one of utc, new_york"):
        bucket_starts(np.array([0]), Timeframe.H1, "tokyo")


@pytest.mark.parametrize("boundary", DAY_BOUNDARIES)
def test_empty_input_gives_empty_output(boundary: str) -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert bucket_starts(empty, Timeframe.D1, boundary).size == 0
    assert bucket_end_ns(empty, Timeframe.D1, boundary).size == 0


@pytest.mark.parametrize("timeframe", [Timeframe.H4, Timeframe.D1], ids=["4h", "1d"])
def test_aggregation_grid_keeps_every_bucket_across_the_1883_switch(timeframe: Timeframe) -> None:
    # Until 1883-11-18 New York ran 4:56:02 behind UTC, so its buckets started off the hour;
    # afterwards on the hour. When the last bar opens a post-switch bucket, the grid built by
    # probing hourly from an off-hour start must still include that last bucket. (Bars every
    # 15 minutes, so that none straddles an off-hour bucket boundary.)
    first, last, step = ns("1883-11-10 00:00"), ns("1883-11-20 22:00"), 900 * 10**9
    ts = first + step * np.arange((last - first) // step + 1, dtype=np.int64)
    bars = pd.DataFrame(
        {c: np.ones(ts.size) for c in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex(ts, dtype="datetime64[ns, UTC]", name="timestamp"),
    )
    out = aggregate(bars, timeframe, "new_york")
    expected = np.array([reference_new_york_start(int(t), timeframe) for t in ts])
    starts, counts = np.unique(expected, return_counts=True)
    np.testing.assert_array_equal(out.index.asi8, starts)
    np.testing.assert_array_equal(out["bar_count"].to_numpy(), counts)
    assert starts[0] % HOUR != 0 and starts[-1] == ns("1883-11-20 22:00")
