"""Stored track records (SPEC §17): upsert by key, read back aware and typed, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.track_records import (
    all_track_records,
    track_record_for,
    upsert_track_records,
)

T0 = datetime(2026, 3, 31, tzinfo=UTC)


def _row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "currency_pair": "USD/CHF",
        "pattern_type": "composite_signal",
        "direction": "BUY",
        "window_days": 90,
        "period_from": T0 - timedelta(days=90),
        "period_to": T0,
        "computed_at": T0,
        "signals": 40,
        "take_profit": 12,
        "stop_loss": 20,
        "ambiguous": 1,
        "open": 7,
        "hit_rate": 12 / 32,
        "expectancy_r": -0.21,
        "baseline_entries": 5000,
        "baseline_hit_rate": 0.53,
        "edge": 12 / 32 - 0.53,
        "details": {"horizon": 1440},
        "not_a_column": "ignored",
    }
    row.update(over)
    return row


async def test_upsert_replaces_by_key_and_reads_back(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    try:
        async with engine.begin() as conn:
            assert await upsert_track_records(conn, [_row(), _row(direction="SELL")]) == 2
        async with engine.begin() as conn:  # the daily refresh replaces, never duplicates
            await upsert_track_records(conn, [_row(signals=41, computed_at=T0 + timedelta(1))])
        async with engine.connect() as conn:
            got = await track_record_for(conn, "USD/CHF", "composite_signal", "BUY", 90)
            missing = await track_record_for(conn, "USD/CHF", "composite_signal", "BUY", 30)
            rows = await all_track_records(conn, limit=10)
        assert got is not None
        assert got["signals"] == 41
        assert got["computed_at"] == T0 + timedelta(1)
        assert got["computed_at"].tzinfo is not None
        assert got["hit_rate_low"] is None
        assert got["details"] == {"horizon": 1440}
        assert missing is None
        assert [r["direction"] for r in rows] == ["BUY", "SELL"]
    finally:
        await engine.dispose()


async def test_a_row_without_its_period_is_refused(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    try:
        async with engine.begin() as conn:
            with pytest.raises(ValueError, match="period_to"):
                await upsert_track_records(conn, [_row(period_to=None)])
    finally:
        await engine.dispose()
