"""The windowed incremental derive (one read of every trailing window, buckets spliced in
memory) leaves the database exactly as re-deriving from the full history would, on both
engines: buckets equal re-aggregation of the 5m bars, indicator values equal TA-Lib over the
whole history within 1e-9, and the windows it hands to the patterns stage equal the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select

from exchange_analytics.aggregation import aggregate
from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.indicators import TRAILING_WINDOW, compute_indicators
from exchange_analytics.pipeline import derive, market_data
from exchange_analytics.providers.demo import DemoProvider
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import TechnicalIndicator
from tests.support.cycle import SMALL_BACKFILL, bars, cycle

AS_OF = datetime(2026, 7, 1, 12, 2, tzinfo=UTC)  # a Wednesday
#: 5m values are computed over TRAILING_WINDOW bars: keep enough history for that to matter
DEEPER = {**SMALL_BACKFILL, "BACKFILL_DAYS_5M": 5}


async def _indicator_values(settings: Settings, since: datetime) -> dict[tuple[str, str], float]:
    table = TechnicalIndicator.__table__
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    table.c.timeframe, table.c.timestamp, table.c.indicator_type, table.c.value
                ).where(table.c.timestamp >= since)
            )
            return {(tf, f"{ts.isoformat()}|{kind}"): value for tf, ts, kind, value in rows}
    finally:
        await engine.dispose()


async def test_steady_cycles_equal_full_history(db_url, make_settings):
    settings = make_settings(db_url, **DEEPER)
    await cycle(settings, AS_OF)
    moment = AS_OF
    for step in [5] * 14 + [130, 5, 5]:  # across hour and 4h boundaries, then a healed gap
        moment += timedelta(minutes=step)
        report = await cycle(settings, moment)
        assert report.status == "success", report.error_message
        assert report.pairs[0].action == "continuous"
    m5 = await bars(settings, "USD/JPY", Timeframe.M5)
    stored = await _indicator_values(settings, AS_OF - timedelta(days=1))
    checked = 0
    for timeframe in (Timeframe.M5, Timeframe.H1, Timeframe.H4, Timeframe.D1):
        frame = await bars(settings, "USD/JPY", timeframe)
        if timeframe is not Timeframe.M5:
            rebuilt = aggregate(m5[["open", "high", "low", "close", "volume"]], timeframe, "utc")
            rebuilt = rebuilt[rebuilt.index >= m5.index[0]]
            common = rebuilt.index.intersection(frame.index)
            assert len(common) == len(rebuilt)
            for column in ("open", "high", "low", "close", "volume", "bar_count", "is_complete"):
                assert (
                    frame.loc[common, column].to_numpy() == rebuilt.loc[common, column].to_numpy()
                ).all(), (timeframe, column)
        full = compute_indicators(frame)
        recent = full[full.index >= AS_OF - timedelta(minutes=5)]
        for ts, row in recent.iterrows():
            for kind, column in (("RSI", "rsi"), ("MACD", "macd"), ("BB", "bb_middle")):
                if np.isnan(row[column]):
                    continue
                value = stored[(timeframe.value, f"{ts.to_pydatetime().isoformat()}|{kind}")]
                assert abs(value - row[column]) <= 1e-9, (timeframe, ts, kind)
                checked += 1
    assert checked > 3 * (17 + 4)  # every new 5m bar and every touched bucket was compared


async def test_windows_handed_to_patterns_equal_the_table(db_url, make_settings):
    settings = make_settings(db_url, **DEEPER)
    await cycle(settings, AS_OF)
    engine = build_engine(settings)
    pair = CurrencyPair.parse("USD/JPY")
    try:
        now = AS_OF + timedelta(minutes=65)  # one hour of new bars: a new 1h bucket as well
        fetched = await market_data.fetch_latest(engine, DemoProvider(), settings, pair, now)
        assert len(fetched.new_m5) == 13
        outcome = await derive.derive_incremental(engine, "USD/JPY", fetched.new_m5, "utc")
        assert outcome.bars_aggregated >= 4  # touched 1h buckets, the 4h and the 1d bucket
        assert set(outcome.frames) == {Timeframe.M5, Timeframe.H1, Timeframe.H4, Timeframe.D1}
        async with engine.connect() as conn:
            for timeframe, (start, frame) in outcome.frames.items():
                table = await candle_store.load_bars(conn, "USD/JPY", timeframe, since=start)
                pd.testing.assert_frame_equal(frame, table, check_freq=False)
                before = await derive.window_start(
                    conn, "USD/JPY", timeframe, fetched.new_m5[0], TRAILING_WINDOW
                )
                # the window reaches at least as far back as the patterns stage will ask
                assert start is None or (before is not None and start <= before)
    finally:
        await engine.dispose()
