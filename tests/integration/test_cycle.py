"""The cycle end to end on real databases: demo provider and a local Yahoo stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from exchange_analytics.aggregation import aggregate
from exchange_analytics.domain import Timeframe
from tests.support.cycle import SMALL_BACKFILL, bars, cycle, duplicate_bars, mt5_bars, scalar
from tests.support.fake_yahoo import FakeYahoo

AS_OF = datetime(2026, 7, 1, 12, 2, tzinfo=UTC)  # a Wednesday


async def test_demo_backfill_then_idempotent_rerun(db_url, make_settings):
    settings = make_settings(db_url, **SMALL_BACKFILL)
    first = await cycle(settings, AS_OF)
    assert first.status == "success", first.to_dict()
    assert first.pairs[0].action == "backfill"
    m5 = await bars(settings, "USD/JPY", Timeframe.M5)
    assert m5.index[-1] == pd.Timestamp("2026-07-01 11:55", tz="UTC")  # last closed bar
    again = await cycle(settings, AS_OF)
    assert again.status == "success"
    assert again.pairs[0].action == "continuous"
    assert again.total("rows_written") == 0
    assert again.total("bars_aggregated") == 0
    assert again.total("indicator_rows_written") == 0
    assert again.total("patterns_detected") == 0
    assert await duplicate_bars(settings) == 0


async def test_gap_healing_and_buckets_match_reaggregation(db_url, make_settings):
    settings = make_settings(db_url, **SMALL_BACKFILL)
    await cycle(settings, AS_OF)
    later = AS_OF + timedelta(hours=3)
    report = await cycle(settings, later)
    assert report.pairs[0].action == "continuous"
    m5 = await bars(settings, "USD/JPY", Timeframe.M5)
    healed = m5[(m5.index >= "2026-07-01 12:00") & (m5.index < "2026-07-01 15:00")]
    assert len(healed) == 36  # every 5m bar of the three hours
    assert m5.index[-1] == pd.Timestamp("2026-07-01 14:55", tz="UTC")
    assert report.total("rows_written") == 36
    # Every stored bucket that starts at/after the first 5m bar equals re-aggregating 5m.
    for timeframe in (Timeframe.H1, Timeframe.H4, Timeframe.D1):
        stored = await bars(settings, "USD/JPY", timeframe)
        rebuilt = aggregate(m5[["open", "high", "low", "close", "volume"]], timeframe, "utc")
        rebuilt = rebuilt[rebuilt.index >= m5.index[0]]
        common = stored.loc[stored.index.intersection(rebuilt.index)]
        assert len(common) == len(rebuilt)
        for column in ("open", "high", "low", "close", "bar_count", "is_complete"):
            assert (
                common[column].to_numpy() == rebuilt.loc[common.index, column].to_numpy()
            ).all(), (
                timeframe,
                column,
            )


async def test_yahoo_stores_exactly_the_closed_bars_served(db_url, make_settings, local_server):
    """Issue 3 'must show': --as-of 2026-07-01T12:02Z against a local Yahoo stand-in."""
    series = {"USDJPY=X": mt5_bars("USDJPY")}
    fake = FakeYahoo(now=AS_OF, series=series, live_row=True)
    server = local_server(fake)
    settings = make_settings(
        db_url, MARKET_DATA_PROVIDER="yahoo", YAHOO_BASE_URL=server.base_url, **SMALL_BACKFILL
    )
    report = await cycle(settings, AS_OF)
    assert report.status == "success", report.to_dict()
    stored = await bars(settings, "USD/JPY", Timeframe.M5)
    start = AS_OF.replace(minute=0) - timedelta(days=7)  # the backfill starts on the grid
    served = [
        b for b in series["USDJPY=X"] if start.timestamp() <= b.t and b.t + 300 <= AS_OF.timestamp()
    ]
    assert [int(t.timestamp()) for t in stored.index] == [b.t for b in served]
    assert stored.index[-1] < pd.Timestamp(AS_OF) - pd.Timedelta(minutes=5) + pd.Timedelta(
        seconds=1
    )
    assert list(stored["close"]) == [b.close for b in served]
    # Three hours later: every 5m bar in between is filled, in one run.
    fake.now = AS_OF + timedelta(hours=3)
    report = await cycle(settings, fake.now)
    assert report.status == "success"
    stored = await bars(settings, "USD/JPY", Timeframe.M5)
    window = [
        b.t
        for b in series["USDJPY=X"]
        if AS_OF.timestamp() - 120 <= b.t and b.t + 300 <= fake.now.timestamp()
    ]
    assert len(window) == 36
    assert set(window) <= {int(t.timestamp()) for t in stored.index}
    assert await duplicate_bars(settings) == 0


async def test_single_cycle_refuses_uninitialized_pair(sqlite_url, make_settings):
    settings = make_settings(sqlite_url, **SMALL_BACKFILL)
    report = await cycle(settings, AS_OF, mode="single_cycle")
    assert report.status == "error"
    assert "not initialized" in (report.pairs[0].error or "")


async def test_processing_run_recorded(sqlite_url, make_settings):
    settings = make_settings(sqlite_url, **SMALL_BACKFILL)
    report = await cycle(settings, AS_OF)
    status = await scalar(
        settings, "SELECT status FROM processing_runs WHERE id = :i", i=report.run_id
    )
    assert status == "success"
    took = await scalar(
        settings, "SELECT processing_time FROM processing_runs WHERE id = :i", i=report.run_id
    )
    assert took > 0


@pytest.mark.parametrize("boundary", ["utc", "new_york"])
async def test_day_boundary_alignment(sqlite_url, make_settings, boundary):
    settings = make_settings(sqlite_url, DAY_BOUNDARY=boundary, **SMALL_BACKFILL)
    await cycle(settings, AS_OF)
    daily = await bars(settings, "USD/JPY", Timeframe.D1)
    hours = {t.tz_convert("UTC").hour for t in daily.index}
    assert hours == ({0} if boundary == "utc" else {21})  # 17:00 New York in July = 21:00 UTC
