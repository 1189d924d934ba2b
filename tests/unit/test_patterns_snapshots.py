"""The as-of windows of replay and the live cycle, on real USD/JPY 5m and 1h candles.

``mt5_USDJPY_M5.csv`` / ``mt5_USDJPY_H1.csv`` are a MetaTrader export in naive broker server
time (Europe/Athens, see PROVENANCE.md). The stored 1h/4h/1d history is built from them the way
storage holds it (``aggregation.combine_history``: 5m-built buckets, 1h-built older ones).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchange_analytics.aggregation import aggregate, bucket_end_ns, bucket_starts, combine_history
from exchange_analytics.domain import Timeframe
from exchange_analytics.indicators import TRAILING_WINDOW, compute_indicators
from exchange_analytics.patterns.evaluate import detect_all, evaluate_all
from exchange_analytics.patterns.inputs import FIELDS, TimeframeWindow
from exchange_analytics.patterns.snapshots import (
    evaluate_snapshots,
    indicator_arrays,
    iter_snapshots,
    latest_bar_at,
)
from exchange_analytics.patterns.thresholds import build_thresholds
from tests.conftest import REAL_DATA

M5, H1, H4, D1 = Timeframe.M5, Timeframe.H1, Timeframe.H4, Timeframe.D1
HIGHER = (H1, H4, D1)
UTC = "UTC"


def load_mt5(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    stamps = pd.DatetimeIndex(pd.to_datetime(frame.pop("time")))
    frame.index = stamps.tz_localize("Europe/Athens").tz_convert(UTC).as_unit("ns")
    frame.index.name = "timestamp"
    return frame.astype("float64")


@pytest.fixture(scope="module")
def m5() -> pd.DataFrame:
    return load_mt5(REAL_DATA / "mt5_USDJPY_M5.csv")


@pytest.fixture(scope="module")
def h1() -> pd.DataFrame:
    return load_mt5(REAL_DATA / "mt5_USDJPY_H1.csv")


def stored(m5: pd.DataFrame, h1: pd.DataFrame, day_boundary: str) -> dict[Timeframe, pd.DataFrame]:
    return {tf: combine_history(m5, h1, tf, day_boundary, None) for tf in HIGHER}  # type: ignore[arg-type]


def snapshot_at(
    m5: pd.DataFrame,
    higher: dict[Timeframe, pd.DataFrame],
    t: pd.Timestamp,
    day_boundary: str = "utc",
) -> dict[Timeframe, TimeframeWindow]:
    found = list(iter_snapshots(m5, higher, day_boundary, t, t))  # type: ignore[arg-type]
    assert len(found) == 1 and found[0][0] == t
    return found[0][1]


def assert_same_windows(
    a: dict[Timeframe, TimeframeWindow], b: dict[Timeframe, TimeframeWindow]
) -> None:
    assert a.keys() == b.keys()
    for tf in a:
        assert np.array_equal(a[tf].timestamps, b[tf].timestamps), tf
        assert a[tf].last_complete == b[tf].last_complete, tf
        for name in FIELDS:
            assert np.array_equal(getattr(a[tf], name), getattr(b[tf], name), equal_nan=True), (
                tf,
                name,
            )


# Bars chosen to cover a mid-bucket bar, the last bar of an hour / 4h / UTC day, the first bar
# after a weekend gap, and the last bar of the file.
PROBES = [
    "2026-06-03 10:35",
    "2026-06-03 11:55",
    "2026-06-04 23:55",
    "2026-06-07 21:00",
    "2026-06-19 15:05",
    "2026-07-09 18:55",
]


@pytest.mark.parametrize("probe", PROBES)
def test_appending_later_bars_does_not_change_bar_t(
    m5: pd.DataFrame, h1: pd.DataFrame, probe: str
) -> None:
    """No look-ahead: windows and results at t are the same whether or not later bars exist."""
    t = pd.Timestamp(probe, tz=UTC)
    close = t + pd.Timedelta(minutes=5)
    m5_then = m5[m5.index <= t]
    h1_then = h1[h1.index + pd.Timedelta(hours=1) <= close]
    then = snapshot_at(m5_then, stored(m5_then, h1_then, "utc"), t)
    now = snapshot_at(m5, stored(m5, h1, "utc"), t)
    assert_same_windows(then, now)
    as_data = [r.to_detection_data() for r in evaluate_all(then, "USD/JPY")]
    assert as_data == [r.to_detection_data() for r in evaluate_all(now, "USD/JPY")]


def test_the_future_in_higher_is_ignored(m5: pd.DataFrame, h1: pd.DataFrame) -> None:
    """Stored bars of t's own bucket and later (which hold future prices) are never read."""
    t = pd.Timestamp("2026-06-10 13:35", tz=UTC)
    full = stored(m5, h1, "utc")
    cut = {tf: frame[frame.index < bucket_start(t, tf, "utc")] for tf, frame in full.items()}
    assert_same_windows(snapshot_at(m5, full, t), snapshot_at(m5, cut, t))


def test_replay_equals_a_live_cycle_that_loaded_only_recent_history(
    m5: pd.DataFrame, h1: pd.DataFrame
) -> None:
    """The live cycle loads about TRAILING_WINDOW 5m bars; replay loads months. Same windows."""
    higher = stored(m5, h1, "utc")
    t = pd.Timestamp("2026-06-24 09:40", tz=UTC)
    i = int(m5.index.get_loc(t))
    recent = m5.iloc[i + 1 - TRAILING_WINDOW - 300 : i + 1]
    assert_same_windows(snapshot_at(recent, higher, t), snapshot_at(m5, higher, t))


def bucket_start(t: pd.Timestamp, tf: Timeframe, day_boundary: str) -> pd.Timestamp:
    ns = bucket_starts(np.array([t.value], dtype=np.int64), tf, day_boundary)  # type: ignore[arg-type]
    return pd.Timestamp(int(ns[0]), unit="ns", tz=UTC)


@pytest.mark.parametrize("day_boundary", ["utc", "new_york"])
def test_forming_bucket_equals_aggregating_its_5m_bars_so_far(
    m5: pd.DataFrame, h1: pd.DataFrame, day_boundary: str
) -> None:
    """At every 5m bar of two days (a weekday and a Sunday open), for 1h/4h/1d."""
    higher = stored(m5, h1, day_boundary)
    spans = [("2026-06-03 20:00", "2026-06-04 23:55"), ("2026-06-07 21:00", "2026-06-08 03:00")]
    checked = 0
    for start, end in spans:
        first, last = pd.Timestamp(start, tz=UTC), pd.Timestamp(end, tz=UTC)
        for t, windows in iter_snapshots(m5, higher, day_boundary, first, last):  # type: ignore[arg-type]
            for tf in HIGHER:
                w = windows[tf]
                b = bucket_start(t, tf, day_boundary)
                part = m5[(m5.index >= b) & (m5.index <= t)]
                expected = aggregate(part, tf, day_boundary).iloc[-1]  # type: ignore[arg-type]
                assert w.timestamps[-1] == b.value
                got = (w.open[-1], w.high[-1], w.low[-1], w.close[-1])
                assert got == tuple(expected[["open", "high", "low", "close"]]), (t, tf)
                end_ns = bucket_end_ns(np.array([b.value]), tf, day_boundary)[0]  # type: ignore[arg-type]
                assert w.last_complete == (t.value + 300 * 10**9 >= end_ns)
                before = higher[tf][higher[tf].index < b].iloc[-(len(w) - 1) :]
                assert np.array_equal(w.close[:-1], before["close"].to_numpy())
                assert np.array_equal(w.timestamps[:-1], before.index.asi8)
                checked += 1
    assert checked > 3 * 300


def test_window_indicators_equal_compute_indicators_on_the_same_bars(
    m5: pd.DataFrame, h1: pd.DataFrame
) -> None:
    higher = stored(m5, h1, "utc")
    t = pd.Timestamp("2026-06-10 13:35", tz=UTC)
    windows = snapshot_at(m5, higher, t)
    past = higher[H4][higher[H4].index < bucket_start(t, H4, "utc")].iloc[-(TRAILING_WINDOW - 1) :]
    forming = aggregate(m5[(m5.index >= "2026-06-10 12:00") & (m5.index <= t)], H4, "utc")
    bars = pd.concat([past, forming])
    expected = compute_indicators(bars).iloc[-len(windows[H4]) :]
    for name in expected.columns:
        assert np.array_equal(getattr(windows[H4], name), expected[name].to_numpy(), equal_nan=True)


def test_indicator_arrays_are_bit_identical_to_compute_indicators(m5: pd.DataFrame) -> None:
    bars = m5.iloc[:1500]
    expected = compute_indicators(bars)
    got = indicator_arrays(bars["close"].to_numpy())
    assert list(got) == list(expected.columns)
    for name, values in got.items():
        assert np.array_equal(values, expected[name].to_numpy(), equal_nan=True), name


def test_short_history_is_not_evaluable_never_detected(m5: pd.DataFrame) -> None:
    """Only two days of 5m and no stored higher bars: everything is not_evaluable."""
    recent = m5[m5.index >= "2026-06-02"].iloc[:600]
    t = recent.index[-1]
    windows = snapshot_at(recent, {}, t)
    results = evaluate_all(windows, "USD/JPY")
    assert {r.status for r in results} == {"not_evaluable"}
    assert all("1d" in (r.reason or "") for r in results)
    assert detect_all(windows, "USD/JPY") == []


def detections(
    m5: pd.DataFrame, h1: pd.DataFrame, start: str, end: str
) -> list[tuple[str, str, str, str]]:
    out = []
    first, last = pd.Timestamp(start, tz=UTC), pd.Timestamp(end, tz=UTC)
    for t, results in evaluate_snapshots(m5, stored(m5, h1, "utc"), "USD/JPY", "utc", first, last):
        for r in results:
            out.append(
                (t.isoformat(), r.pattern_type, r.direction, json.dumps(r.to_detection_data()))
            )
    return out


def test_replay_of_a_real_month_is_reproducible(m5: pd.DataFrame, h1: pd.DataFrame) -> None:
    first = detections(m5, h1, "2026-06-01", "2026-06-30 23:55")
    second = detections(m5.copy(), h1.copy(), "2026-06-01", "2026-06-30 23:55")
    assert first == second
    assert len(first) > 10  # the month is not silent, so the comparison means something
    for _, _, _, data in first:
        assert json.loads(data)["status"] == "detected"


def test_detect_all_is_exactly_the_detected_part_of_evaluate_all(
    m5: pd.DataFrame, h1: pd.DataFrame
) -> None:
    higher = stored(m5, h1, "utc")
    first, last = pd.Timestamp("2026-06-17", tz=UTC), pd.Timestamp("2026-06-18 12:00", tz=UTC)
    seen = 0
    for _, windows in iter_snapshots(m5, higher, "utc", first, last):
        fast = [r.to_detection_data() for r in detect_all(windows, "USD/JPY")]
        full = [r.to_detection_data() for r in evaluate_all(windows, "USD/JPY") if r.detected]
        assert fast == full
        seen += len(fast)
    assert seen > 0


def test_yielded_windows_do_not_change_later(m5: pd.DataFrame, h1: pd.DataFrame) -> None:
    """Keeping a window while iterating on must not let later bars leak into it."""
    higher = stored(m5, h1, "utc")
    first, last = pd.Timestamp("2026-06-03 10:00", tz=UTC), pd.Timestamp("2026-06-03 10:55", tz=UTC)
    kept = list(iter_snapshots(m5, higher, "utc", first, last))
    for t, windows in kept:
        assert_same_windows(windows, snapshot_at(m5, higher, t))


def test_windows_keep_enough_bars_for_configured_lookbacks(
    m5: pd.DataFrame, h1: pd.DataFrame
) -> None:
    """A 70-bar 1d divergence lookback is evaluable through evaluate_snapshots, which keeps
    ``Thresholds.bars_needed`` bars; the default 64-bar windows say why they cannot serve it."""
    th = build_thresholds({"divergence.d1_lookback_bars": 70})
    higher = stored(m5, h1, "utc")
    t = pd.Timestamp("2026-06-10 13:35", tz=UTC)
    ((_, results),) = evaluate_snapshots(m5, higher, "USD/JPY", "utc", t, t, th, every_result=True)
    divergence = [r for r in results if r.pattern_type == "divergence"]
    assert all(r.status != "not_evaluable" for r in divergence)
    short = evaluate_all(snapshot_at(m5, higher, t), "USD/JPY", th)
    assert all(
        r.reason == "1d: needs 70 bars, has 64" for r in short if r.pattern_type == "divergence"
    )


def test_latest_bar_at_reads_the_last_closed_bar(m5: pd.DataFrame) -> None:
    assert latest_bar_at(m5, pd.Timestamp("2026-06-03 10:04", tz=UTC)) == pd.Timestamp(
        "2026-06-03 09:55", tz=UTC
    )
    assert latest_bar_at(m5, pd.Timestamp("2026-06-03 10:05", tz=UTC)) == pd.Timestamp(
        "2026-06-03 10:00", tz=UTC
    )
    assert latest_bar_at(m5, pd.Timestamp("2020-01-01", tz=UTC)) is None


def test_bad_inputs_are_refused_with_a_reason(m5: pd.DataFrame, h1: pd.DataFrame) -> None:
    t = pd.Timestamp("2026-06-03 10:00", tz=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        list(iter_snapshots(m5, {}, "utc", pd.Timestamp("2026-06-03"), t))
    with pytest.raises(ValueError, match="not on the 4h grid"):
        shifted = {H4: combine_history(m5, h1, H4, "utc", None).shift(1, freq="1h")}
        list(iter_snapshots(m5, shifted, "utc", t, t))
    with pytest.raises(ValueError, match="increasing"):
        list(iter_snapshots(m5.iloc[::-1], {}, "utc", t, t))
