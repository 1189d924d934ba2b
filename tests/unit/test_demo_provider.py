"""The demo provider built as arrays: its 1h feed is the 5m bars aggregated on the hour, the
market is closed from Friday 17:00 to Sunday 17:00 New York time, and bars are deterministic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.providers.demo import (
    DemoProvider,
    aggregate_hourly,
    market_open_mask,
    round_like_python,
    simulate_h1,
    simulate_m5,
)
from exchange_analytics.providers.validation import validate_candles

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("pair", "start", "end"),
    [
        ("USD/JPY", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)),  # DST
        ("EUR/USD", datetime(2026, 10, 30, 20, 3, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)),
        ("SEK/NOK", datetime(2026, 7, 1, 12, tzinfo=UTC), datetime(2026, 7, 1, 12, 5, tzinfo=UTC)),
    ],
    ids=["us-dst-start", "weekend-and-dst-end", "one-bar-unknown-pair"],
)
def test_hourly_feed_is_the_5m_bars_aggregated(pair, start, end):
    m5 = simulate_m5(pair, start, end)
    assert m5, "the window holds open-market bars"
    assert simulate_h1(pair, start, end) == aggregate_hourly(m5)
    assert simulate_m5(pair, start, end) == m5  # the same bar asked twice is the same bar


def test_market_hours_follow_new_york_time():
    starts = [datetime(2026, 3, 6, 12, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(900)]
    mask = market_open_mask(starts)
    for start, is_open in zip(starts, mask, strict=True):
        local = start.astimezone(NEW_YORK)
        closed = (
            local.weekday() == 5
            or (local.weekday() == 4 and local.hour >= 17)
            or (local.weekday() == 6 and local.hour < 17)
        )
        assert bool(is_open) is not closed, start
    bars = simulate_m5("USD/JPY", starts[0], starts[-1])
    assert [b.timestamp for b in bars] == [s for s, o in zip(starts, mask, strict=True) if o][:-1]


def test_bars_are_valid_ohlc_on_the_5m_grid():
    bars = simulate_m5(
        "GBP/JPY", datetime(2026, 5, 4, tzinfo=UTC), datetime(2026, 5, 5, tzinfo=UTC)
    )
    assert len(bars) == 288
    for bar in bars:
        assert bar.timestamp.tzinfo is not None and bar.timestamp.minute % 5 == 0
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.open == round(bar.open, 3) and bar.volume >= 50


@pytest.mark.parametrize("decimals", [3, 5])
def test_array_rounding_is_pythons_round(decimals):
    rng = np.random.default_rng(17)
    values = np.concatenate(
        [
            rng.uniform(0.5, 200.0, 200_000),
            # exact and near ties at the last kept decimal, where a bare np.round may differ
            np.round(rng.uniform(0.5, 200.0, 20_000), decimals) + 0.5 * 10.0**-decimals,
            [1.0000050000000001, 1.000005, 0.125, 2.675, 1.0005, 150.0005, float("nan")],
        ]
    )
    expected = [round(x, decimals) for x in values.tolist()]
    got = round_like_python(values, decimals).tolist()
    assert [repr(x) for x in got] == [repr(x) for x in expected]


@pytest.mark.parametrize(
    ("timeframe", "start", "end"),
    [
        (
            Timeframe.M5,
            datetime(2026, 3, 5, 9, 1, tzinfo=UTC),
            datetime(2026, 3, 9, 7, 3, 5, tzinfo=UTC),
        ),
        (
            Timeframe.H1,
            datetime(2026, 1, 5, 9, 1, tzinfo=UTC),
            datetime(2026, 3, 9, 7, 3, tzinfo=UTC),
        ),
    ],
)
def test_fetch_is_the_simulation_validated(timeframe, start, end):
    """The columnar validation keeps what validate_candles of the built candles keeps."""
    result = asyncio.run(
        DemoProvider().fetch_candles(CurrencyPair.parse("EUR/JPY"), timeframe, start, end)
    )
    if timeframe is Timeframe.M5:
        candles = simulate_m5("EUR/JPY", start, end)
    else:
        candles = simulate_h1("EUR/JPY", start.replace(hour=10, minute=0), end.replace(minute=0))
    assert (result.candles, result.rejected) == validate_candles(candles, timeframe, end)
    assert result.candles and not result.rejected
