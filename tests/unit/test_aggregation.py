"""Aggregation rule, gaps, completeness and the one-alignment history (SPEC §5), hand-made."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from exchange_analytics.aggregation import (
    AGGREGATED_COLUMNS,
    OHLCV_AGG,
    aggregate,
    combine_history,
    touched_bucket_starts,
)
from exchange_analytics.domain import Timeframe

UTC_TS = "datetime64[ns, UTC]"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def bar_frame(
    times: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    opens: Sequence[float],
    highs: Sequence[float],
    lows: Sequence[float],
    closes: Sequence[float],
    volumes: Sequence[float],
) -> pd.DataFrame:
    index = pd.DatetimeIndex(times, name="timestamp").as_unit("ns")
    return pd.DataFrame(
        {"open": opens, "high": highs, "low": lows, "close": closes, "volume": volumes},
        index=index,
        dtype="float64",
    )


def run(
    start: str, count: int, freq: str = "5min", seed: int = 0, volume: float = 1.0
) -> pd.DataFrame:
    """``count`` consecutive bars from ``start`` with a seeded random walk."""
    index = pd.date_range(ts(start), periods=count, freq=freq, name="timestamp")
    rng = np.random.default_rng(seed)
    close = 150 + np.cumsum(rng.normal(0, 0.02, count))
    open_ = np.concatenate([[150.0], close[:-1]])
    high = np.maximum(open_, close) + rng.uniform(0, 0.03, count)
    low = np.minimum(open_, close) - rng.uniform(0, 0.03, count)
    return bar_frame(index, open_, high, low, close, np.full(count, volume))


def test_one_hour_from_twelve_bars_follows_the_rule() -> None:
    bars = run("2024-05-06 10:00", 12)
    out = aggregate(bars, Timeframe.H1, "utc")
    assert out.index.tolist() == [ts("2024-05-06 10:00")]
    row = out.iloc[0]
    assert row["open"] == bars["open"].iloc[0]
    assert row["high"] == bars["high"].max()
    assert row["low"] == bars["low"].min()
    assert row["close"] == bars["close"].iloc[-1]
    assert row["volume"] == 12.0
    assert row["bar_count"] == 12
    assert bool(row["is_complete"]) is True


def test_bucket_with_missing_bars_keeps_true_ohlc() -> None:
    # 10:00 (the would-be open), 10:25 and 10:55 (the would-be close) are missing.
    times = [ts("2024-05-06 10:00") + pd.Timedelta(minutes=5 * i) for i in range(12)]
    kept = [t for t in times if t.minute not in (0, 25, 55)]
    n = len(kept)
    opens = [100.0 + i for i in range(n)]
    closes = [100.5 + i for i in range(n)]
    highs = [c + 1 for c in closes]
    lows = [o - 1 for o in opens]
    highs[3], lows[6] = 500.0, 1.0
    out = aggregate(bar_frame(kept, opens, highs, lows, closes, [2.0] * n), Timeframe.H1, "utc")
    row = out.iloc[0]
    assert (row["open"], row["high"], row["low"], row["close"]) == (100.0, 500.0, 1.0, 108.5)
    assert (row["volume"], row["bar_count"]) == (18.0, 9)
    assert bool(row["is_complete"]) is False  # default data_end = 10:50 + 5m = 10:55


def test_output_follows_the_aggregated_frame_contract() -> None:
    out = aggregate(run("2024-05-06 10:00", 30), Timeframe.H1, "utc")
    assert out.index.name == "timestamp"
    assert str(out.index.dtype) == UTC_TS
    assert out.index.is_monotonic_increasing and out.index.is_unique
    assert list(out.columns) == list(AGGREGATED_COLUMNS)
    assert out.dtypes.astype(str).tolist() == ["float64"] * 5 + ["int64", "bool"]


@pytest.mark.parametrize("boundary", ["utc", "new_york"])
def test_empty_input_gives_an_empty_frame_with_the_contract(boundary: str) -> None:
    out = aggregate(run("2024-05-06 10:00", 0), Timeframe.D1, boundary)
    assert out.empty and list(out.columns) == list(AGGREGATED_COLUMNS)
    assert str(out.index.dtype) == UTC_TS
    assert out.dtypes.astype(str).tolist() == ["float64"] * 5 + ["int64", "bool"]


@pytest.mark.parametrize(
    ("timeframe", "boundary", "expected_starts"),
    [
        (Timeframe.H1, "utc", ["2024-01-05 21:00", "2024-01-07 22:00"]),
        (Timeframe.D1, "utc", ["2024-01-05 00:00", "2024-01-07 00:00"]),
        (Timeframe.D1, "new_york", ["2024-01-04 22:00", "2024-01-07 22:00"]),
        (Timeframe.H4, "new_york", ["2024-01-05 18:00", "2024-01-07 22:00"]),
    ],
    ids=["1h-utc", "1d-utc", "1d-new-york", "4h-new-york"],
)
def test_weekend_stays_a_gap(
    timeframe: Timeframe, boundary: str, expected_starts: list[str]
) -> None:
    # Friday's last hour (21:00-21:55 UTC, winter) and Sunday's first (22:00-22:55 UTC).
    bars = pd.concat([run("2024-01-05 21:00", 12, seed=1), run("2024-01-07 22:00", 12, seed=2)])
    out = aggregate(bars, timeframe, boundary)
    assert out.index.tolist() == [ts(s) for s in expected_starts]
    assert out["bar_count"].tolist() == [12, 12]


@pytest.mark.parametrize(
    ("friday_last", "sunday_open"),
    [("2024-07-12 20:55", "2024-07-14 21:00"), ("2024-01-12 21:55", "2024-01-14 22:00")],
    ids=["summer-21utc", "winter-22utc"],
)
def test_sunday_open_starts_a_new_new_york_day(friday_last: str, sunday_open: str) -> None:
    bars = pd.concat([run(friday_last, 1, seed=3), run(sunday_open, 6, seed=4)])
    out = aggregate(bars, Timeframe.D1, "new_york")
    assert out.index[-1] == ts(sunday_open)
    assert out["bar_count"].tolist() == [1, 6]
    assert out["is_complete"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("data_end", "complete"),
    [
        (None, False),
        ("2024-05-06 10:55", False),
        ("2024-05-06 11:00", True),
        ("2024-05-06 12:30", True),
    ],
    ids=["derived-from-last-bar", "one-bar-short", "exactly-at-end", "past-end"],
)
def test_forming_bucket_is_incomplete_until_data_end_reaches_its_end(
    data_end: str | None, complete: bool
) -> None:
    bars = run("2024-05-06 10:00", 8)  # 10:00 .. 10:35
    end = None if data_end is None else ts(data_end)
    out = aggregate(bars, Timeframe.H1, "utc", data_end=end)
    assert out["is_complete"].tolist() == [complete]
    assert out["bar_count"].tolist() == [8]


def test_last_bar_closing_the_bucket_completes_it_by_default() -> None:
    out = aggregate(run("2024-05-06 09:00", 24), Timeframe.H1, "utc")  # 09:00 .. 10:55
    assert out["is_complete"].tolist() == [True, True]
    out = aggregate(run("2024-05-06 09:00", 23), Timeframe.H1, "utc")
    assert out["is_complete"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("order", "bad_row"),
    [([0, 2, 1, 3], "2024-05-06 10:05"), ([0, 1, 1, 2], "2024-05-06 10:05")],
    ids=["swapped", "duplicate"],
)
def test_unsorted_or_duplicate_bars_are_rejected_naming_the_first_bad_one(
    order: list[int], bad_row: str
) -> None:
    bars = run("2024-05-06 10:00", 4).iloc[order]
    with pytest.raises(
        ValueError, match=re.escape(f"row 2 ({ts(bad_row).isoformat()}) is not after")
    ):
        aggregate(bars, Timeframe.H1, "utc")


def test_invalid_frames_are_rejected_with_the_reason() -> None:
    bars = run("2024-05-06 10:00", 4)
    with pytest.raises(ValueError, match="timezone-aware DatetimeIndex"):
        aggregate(bars.tz_localize(None), Timeframe.H1, "utc")
    with pytest.raises(ValueError, match="NaT timestamps"):
        aggregate(bars.set_axis(bars.index.insert(4, pd.NaT)[1:]), Timeframe.H1, "utc")
    with pytest.raises(ValueError, match="lacks column"):
        aggregate(bars.drop(columns="volume"), Timeframe.H1, "utc")
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        aggregate(bars.to_numpy(), Timeframe.H1, "utc")
    with pytest.raises(ValueError, match="data_end must be timezone-aware"):
        aggregate(bars, Timeframe.H1, "utc", data_end=pd.Timestamp("2024-05-06 11:00"))
    with pytest.raises(ValueError, match="cannot aggregate 1h bars into shorter 5m"):
        aggregate(bars, Timeframe.M5, "utc", source_timeframe=Timeframe.H1)


@pytest.mark.parametrize(
    ("start", "source"),
    [("2024-05-06 10:30", Timeframe.H1), ("2024-05-06 10:57", Timeframe.M5)],
    ids=["1h-bar-at-half-past", "5m-bar-crossing-the-hour"],
)
def test_source_bar_that_does_not_fit_its_bucket_is_rejected(start: str, source: Timeframe) -> None:
    bars = run(start, 1, freq=source.duration)
    with pytest.raises(
        ValueError, match=re.escape(f"bar at {ts(start).isoformat()} runs past the end")
    ):
        aggregate(bars, Timeframe.H1, "utc", source_timeframe=source)


def test_timezone_of_input_index_does_not_matter() -> None:
    bars = run("2024-05-06 10:00", 30)
    local = bars.tz_convert("Asia/Tokyo")
    pd.testing.assert_frame_equal(
        aggregate(local, Timeframe.H4, "new_york"), aggregate(bars, Timeframe.H4, "new_york")
    )


def synthetic_m5(seed: int, weeks: int) -> pd.DataFrame:
    """Seeded 5m bars with FX weekends (Fri 22:00 - Sun 22:00 UTC) and random dropouts."""
    index = pd.date_range(ts("2023-01-01 22:00"), periods=weeks * 7 * 288, freq="5min")
    weekday, hour = index.dayofweek, index.hour
    closed = ((weekday == 4) & (hour >= 22)) | (weekday == 5) | ((weekday == 6) & (hour < 22))
    rng = np.random.default_rng(seed)
    keep = ~closed & (rng.random(index.size) > 0.05)
    frame = run("2023-01-01 22:00", index.size, seed=seed)
    frame.index = index.rename("timestamp")
    frame["volume"] = rng.integers(1, 500, index.size).astype(float)
    return frame[keep]


@pytest.mark.parametrize("timeframe", [Timeframe.H1, Timeframe.H4, Timeframe.D1])
def test_matches_pandas_resample_with_the_same_rule_on_utc_grid(timeframe: Timeframe) -> None:
    bars = synthetic_m5(seed=11, weeks=6)
    expected = bars.resample(timeframe.duration).agg(**OHLCV_AGG)
    expected = expected[expected["bar_count"] > 0]
    out = aggregate(bars, timeframe, "utc")
    assert len(out) == len(expected) > 0
    pd.testing.assert_frame_equal(out.drop(columns="is_complete"), expected, check_freq=False)


@pytest.mark.parametrize(
    ("first", "timeframe", "bucket", "hours"),
    [
        ("2024-03-09 12:00", Timeframe.H4, "2024-03-10 06:00", 3),
        ("2024-11-02 12:00", Timeframe.H4, "2024-11-03 05:00", 5),
        ("2024-03-09 12:00", Timeframe.D1, "2024-03-09 22:00", 23),
        ("2024-11-02 12:00", Timeframe.D1, "2024-11-02 21:00", 25),
    ],
    ids=["march-4h-36-bars", "november-4h-60-bars", "march-day-276-bars", "november-day-300-bars"],
)
def test_new_york_dst_switch_buckets_hold_the_right_number_of_bars(
    first: str, timeframe: Timeframe, bucket: str, hours: int
) -> None:
    bars = run(first, 2 * 288)  # two full days of 5m bars across the switch
    out = aggregate(bars, timeframe, "new_york")
    row = out.loc[ts(bucket)]
    assert row["bar_count"] == hours * 12
    assert bool(row["is_complete"]) is True
    inside = bars[
        (bars.index >= ts(bucket)) & (bars.index < ts(bucket) + pd.Timedelta(hours=hours))
    ]
    assert row["open"] == inside["open"].iloc[0] and row["close"] == inside["close"].iloc[-1]
    assert row["high"] == inside["high"].max() and row["low"] == inside["low"].min()


def test_provider_hour_bars_count_as_twelve_five_minute_bars() -> None:
    hours = run("2024-05-06 00:00", 6, freq="1h")
    four = aggregate(hours, Timeframe.H4, "utc", source_timeframe=Timeframe.H1)
    assert four["bar_count"].tolist() == [48, 24]
    one = aggregate(hours, Timeframe.H1, "utc", source_timeframe=Timeframe.H1)
    assert one["bar_count"].tolist() == [12] * 6
    pd.testing.assert_frame_equal(one[list(hours.columns)], hours, check_freq=False)


def test_bars_years_apart_each_get_their_own_bucket() -> None:
    # Sparse input takes the per-element path instead of building a grid for decades.
    times = [ts("2001-06-01 21:30"), ts("2015-12-24 03:00"), ts("2030-03-10 08:00")]
    bars = bar_frame(times, [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 1, 1])
    out = aggregate(bars, Timeframe.D1, "new_york")
    assert out.index.tolist() == [
        ts("2001-06-01 21:00"),
        ts("2015-12-23 22:00"),
        ts("2030-03-09 22:00"),
    ]


def test_touched_bucket_starts_are_distinct_and_ascending() -> None:
    new = pd.DatetimeIndex([ts("2024-07-10 21:05"), ts("2024-07-10 20:55"), ts("2024-07-10 21:00")])
    assert touched_bucket_starts(new, Timeframe.H1, "utc").tolist() == [
        ts("2024-07-10 20:00"),
        ts("2024-07-10 21:00"),
    ]
    touched = touched_bucket_starts(new, Timeframe.D1, "new_york")
    assert touched.tolist() == [ts("2024-07-09 21:00"), ts("2024-07-10 21:00")]
    assert touched.name == "timestamp" and str(touched.dtype) == UTC_TS
    with pytest.raises(ValueError, match="timezone-aware"):
        touched_bucket_starts(new.tz_localize(None), Timeframe.H1, "utc")


def provider_hours(start: str, count: int) -> pd.DataFrame:
    """1h bars with volume 1000 each, so buckets built from them are recognisable."""
    return run(start, count, freq="1h", seed=99, volume=1000.0)


@pytest.mark.parametrize(
    ("first_m5", "timeframe", "switch"),
    [
        ("2024-05-06 12:00", Timeframe.H4, "2024-05-06 12:00"),
        ("2024-05-06 10:35", Timeframe.H4, "2024-05-06 12:00"),
        ("2024-05-06 10:35", Timeframe.H1, "2024-05-06 11:00"),
        ("2024-05-06 11:00", Timeframe.H1, "2024-05-06 11:00"),
        ("2024-05-06 10:35", Timeframe.D1, "2024-05-07 00:00"),
    ],
    ids=["4h-on-grid", "4h-off-grid", "1h-off-grid", "1h-on-grid", "1d-off-grid"],
)
def test_combine_history_switches_to_5m_at_the_first_whole_5m_bucket(
    first_m5: str, timeframe: Timeframe, switch: str
) -> None:
    h1 = provider_hours("2024-05-05 00:00", 72)  # up to 2024-05-07 23:00
    m5 = run(first_m5, 24 * 12 * 2, seed=5)  # two days of 5m bars, volume 1 each
    out = combine_history(m5, h1, timeframe, "utc", data_end=None)
    assert out.index.is_monotonic_increasing and out.index.is_unique
    old, new = out[out.index < ts(switch)], out[out.index >= ts(switch)]
    assert len(old) > 0 and len(new) > 0
    expected_old = aggregate(
        h1[h1.index < ts(switch)], timeframe, "utc", source_timeframe=Timeframe.H1
    )
    expected_new = aggregate(m5[m5.index >= ts(switch)], timeframe, "utc")
    cols = ["open", "high", "low", "close", "volume", "bar_count"]
    pd.testing.assert_frame_equal(old[cols], expected_old[cols])
    pd.testing.assert_frame_equal(new[cols], expected_new[cols])
    assert (old["volume"] % 1000 == 0).all() and (new["volume"] < 1000).all()


def test_combine_history_with_one_side_empty() -> None:
    h1 = provider_hours("2024-05-05 00:00", 30)
    m5 = run("2024-05-06 10:35", 50)
    no_m5, no_h1 = m5.iloc[:0], h1.iloc[:0]
    pd.testing.assert_frame_equal(
        combine_history(no_m5, h1, Timeframe.H4, "new_york", None),
        aggregate(h1, Timeframe.H4, "new_york", source_timeframe=Timeframe.H1),
    )
    pd.testing.assert_frame_equal(
        combine_history(m5, no_h1, Timeframe.H4, "new_york", None),
        aggregate(m5[m5.index >= ts("2024-05-06 13:00")], Timeframe.H4, "new_york"),
    )
    assert combine_history(no_m5, no_h1, Timeframe.D1, "utc", None).empty


def test_combine_history_completeness_follows_the_5m_data() -> None:
    # The provider's 11:00 hour bar is there, but 5m data ends at 11:50: the 5m-built 11:00
    # bucket is still forming and must not be marked complete because of the 1h bar.
    h1 = provider_hours("2024-05-06 00:00", 12)  # 00:00 .. 11:00
    m5 = run("2024-05-06 09:00", 35)  # 09:00 .. 11:50
    out = combine_history(m5, h1, Timeframe.H1, "utc", data_end=None)
    assert out.loc[ts("2024-05-06 11:00"), "bar_count"] == 11
    assert not out.loc[ts("2024-05-06 11:00"), "is_complete"]
    assert out.loc[: ts("2024-05-06 10:00"), "is_complete"].all()
    explicit = combine_history(m5, h1, Timeframe.H1, "utc", data_end=ts("2024-05-06 12:00"))
    assert explicit["is_complete"].all()
