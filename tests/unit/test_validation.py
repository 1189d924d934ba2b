"""Bar validation (SPEC §3.2): what is kept, what is rejected and why, what counts as forming."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.providers.validation import (
    ceil_to_grid,
    check_bar,
    in_window,
    validate_candles,
)
from tests.support.fake_yahoo import YAHOO_5M_CSV

T0 = datetime(2025, 11, 3, 12, 0, tzinfo=UTC)
M5 = timedelta(minutes=5)


def bar(
    ts: datetime,
    o: float = 150.0,
    h: float = 150.2,
    low: float = 149.9,
    c: float = 150.1,
    v: float = 10.0,
) -> Candle:
    return Candle(ts, o, h, low, c, v)


def real_bars() -> list[Candle]:
    """The real yfinance USDJPY=X 5m export (UTC), first trading day."""
    with YAHOO_5M_CSV.open(newline="") as handle:
        rows = list(csv.reader(handle))[3:291]
    return [
        Candle(datetime.fromisoformat(t), float(o), float(h), float(low), float(c), float(v))
        for t, c, h, low, o, v in rows
    ]


def test_real_yahoo_bars_pass_untouched() -> None:
    bars = real_bars()
    end = bars[-1].timestamp + M5
    kept, rejected = validate_candles(bars, Timeframe.M5, end)
    assert rejected == []
    assert kept == bars


def test_real_bars_with_end_inside_last_bar_drop_it_as_forming() -> None:
    bars = real_bars()
    end = bars[-1].timestamp + timedelta(minutes=2)
    kept, rejected = validate_candles(bars, Timeframe.M5, end)
    assert rejected == []
    assert kept == bars[:-1]
    assert len(bars) - len(kept) - len(rejected) == 1  # how callers count forming bars


@pytest.mark.parametrize(
    ("candle", "reason"),
    [
        pytest.param(bar(T0, o=float("nan")), "non-finite price: open=nan", id="nan-open"),
        pytest.param(bar(T0, h=float("inf")), "non-finite price: high=inf", id="inf-high"),
        pytest.param(bar(T0, o=0.0, low=0.0), "non-positive price: open=0.0", id="zero-open"),
        pytest.param(bar(T0, low=-1.0), "non-positive price: low=-1.0", id="negative-low"),
        pytest.param(
            bar(T0, low=150.05),
            "ohlc violation: low 150.05 above min(open, close)",
            id="low-above-open",
        ),
        pytest.param(
            bar(T0, h=150.05),
            "ohlc violation: high 150.05 below max(open, close)",
            id="high-below-close",
        ),
        pytest.param(bar(T0, h=149.0, low=151.0), "ohlc violation: low 151.0", id="high-below-low"),
        pytest.param(bar(T0, v=-3.0), "bad volume: volume=-3.0", id="negative-volume"),
        pytest.param(bar(T0 + timedelta(minutes=3)), "misaligned timestamp", id="off-5m-grid"),
        pytest.param(bar(T0 + timedelta(seconds=1)), "misaligned timestamp", id="off-by-1s"),
        pytest.param(bar(T0.replace(tzinfo=None)), "naive timestamp", id="naive"),
    ],
)
def test_bad_bar_is_rejected_with_a_greppable_reason(candle: Candle, reason: str) -> None:
    good_before, good_after = bar(T0 - M5), bar(T0 + M5)
    kept, rejected = validate_candles([good_before, candle, good_after], Timeframe.M5, T0 + M5 * 2)
    assert kept == [good_before, good_after]
    assert len(rejected) == 1
    assert rejected[0].reason.startswith(reason)
    assert rejected[0].raw  # the values behind the decision, for the log line


def test_hourly_grid_rejects_a_bar_at_five_past() -> None:
    assert check_bar(bar(T0), Timeframe.H1) is None
    assert (check_bar(bar(T0 + M5), Timeframe.H1) or "").startswith("misaligned timestamp")


def test_duplicates_keep_the_first_and_reject_the_rest() -> None:
    first, copy, later = bar(T0, c=150.1), bar(T0, c=150.15), bar(T0 + M5)
    kept, rejected = validate_candles([first, copy, copy, later], Timeframe.M5, T0 + M5 * 2)
    assert kept == [first, later]
    assert [r.reason.split(":")[0] for r in rejected] == ["duplicate timestamp"] * 2


def test_a_broken_first_copy_does_not_shadow_a_good_second_copy() -> None:
    broken, good = bar(T0, low=151.0), bar(T0)
    kept, rejected = validate_candles([broken, good], Timeframe.M5, T0 + M5)
    assert kept == [good]
    assert rejected[0].reason.startswith("ohlc violation")


def test_bars_going_backwards_are_rejected_not_sorted() -> None:
    a, b, c, d = (bar(T0 + M5 * i) for i in range(4))
    kept, rejected = validate_candles([a, c, b, d], Timeframe.M5, T0 + M5 * 4)
    assert kept == [a, c, d]
    assert len(rejected) == 1
    assert rejected[0].timestamp == b.timestamp
    assert rejected[0].reason.startswith("out of order")


def test_bar_closing_exactly_at_end_is_kept_and_one_closing_later_is_forming() -> None:
    closed, forming = bar(T0), bar(T0 + M5)
    kept, rejected = validate_candles([closed, forming], Timeframe.M5, T0 + M5)
    assert kept == [closed]
    assert rejected == []


def test_unaligned_live_row_counts_as_forming_not_misaligned() -> None:
    # Yahoo appends the live quote stamped with the current second while a market is open.
    now = T0 + timedelta(minutes=7, seconds=13)
    live = bar(now)
    kept, rejected = validate_candles([bar(T0), live], Timeframe.M5, now)
    assert kept == [bar(T0)]
    assert rejected == []


def test_aware_non_utc_timestamps_come_back_in_utc() -> None:
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    kept, _ = validate_candles([bar(tokyo)], Timeframe.M5, T0 + M5)
    assert kept[0].timestamp == T0
    assert kept[0].timestamp.tzinfo is UTC


def test_window_and_grid_helpers() -> None:
    assert in_window(T0, T0, T0 + M5)
    assert not in_window(T0 + M5, T0, T0 + M5)
    assert in_window(T0 + M5 * 100, T0, None)
    assert not in_window(None, T0, None)
    assert ceil_to_grid(T0 + timedelta(seconds=1), Timeframe.M5) == T0 + M5
    assert ceil_to_grid(T0, Timeframe.M5) == T0
    assert ceil_to_grid(T0 + M5, Timeframe.H1) == T0 + timedelta(hours=1)


def test_validation_does_not_mutate_its_input() -> None:
    bars = [bar(T0), replace(bar(T0), close=150.12)]
    snapshot = list(bars)
    validate_candles(bars, Timeframe.M5, T0 + M5)
    assert bars == snapshot
