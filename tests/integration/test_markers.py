"""Per-pair markers on real databases (issue 17): a set is one UPDATE that keeps the other
keys, commits or rolls back with its transaction, and the patterns stage's window starts
answered from a derive-stage window equal the database probe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.pipeline.derive import window_start
from exchange_analytics.pipeline.signals import cached_window_start
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage import feed_state
from exchange_analytics.storage import initialization as init_store
from exchange_analytics.storage.engine import build_engine

PAIR = "EUR/USD"
START = datetime(2026, 1, 5, tzinfo=UTC)
MOMENT = datetime(2026, 1, 6, 12, 35, tzinfo=UTC)


async def test_set_marker_is_one_update_keeping_other_keys(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    try:
        async with engine.begin() as conn:
            await init_store.begin_backfill(conn, PAIR, "demo", restart=True)
            await init_store.save_progress(conn, PAIR, Timeframe.M5, START)
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        async with engine.begin() as conn:
            await init_store.set_marker(conn, PAIR, "derived_until", MOMENT)
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert [s.split()[0].upper() for s in statements] == ["UPDATE"]
        async with engine.begin() as conn:
            await feed_state.save_feed_state(conn, PAIR, None, 3)
            await init_store.set_marker(conn, "GBP/USD", "derived_until", MOMENT)  # no row
        async with engine.connect() as conn:
            progress = await init_store.get_progress(conn, PAIR)
            assert await init_store.get_state(conn, "GBP/USD") is None
            assert await feed_state.feed_state(conn, PAIR) == (None, 3)
        assert progress == {
            "5m": START.isoformat(),
            "derived_until": MOMENT.isoformat(),
            feed_state.LATEST: None,
            feed_state.STALE_RUNS: 3,
        }
        assert init_store.marker_of(progress, "derived_until") == MOMENT
    finally:
        await engine.dispose()


async def test_marker_rolls_back_with_its_transaction(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    try:
        async with engine.begin() as conn:
            await init_store.begin_backfill(conn, PAIR, "demo", restart=True)
            await init_store.set_marker(conn, PAIR, "evaluated_until", START)
        conn = await engine.connect()
        try:
            transaction = await conn.begin()
            await init_store.set_marker(conn, PAIR, "evaluated_until", MOMENT)
            assert await init_store.get_marker(conn, PAIR, "evaluated_until") == MOMENT
            await transaction.rollback()  # the work it marks failed: the mark goes too
        finally:
            await conn.close()
        async with engine.connect() as conn:
            assert await init_store.get_marker(conn, PAIR, "evaluated_until") == START
    finally:
        await engine.dispose()


async def test_cached_window_start_equals_the_probe(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    window = 40
    bars = [Candle(START + timedelta(minutes=5 * i), 1.1, 1.2, 1.0, 1.15, 10.0) for i in range(150)]
    try:
        async with engine.begin() as conn:
            rows = candle_store.candle_rows(PAIR, Timeframe.M5, bars, "test")
            await candle_store.write_rows(conn, rows)
        answered = 0
        async with engine.connect() as conn:
            for derive_before in (bars[20].timestamp, bars[100].timestamp):
                start = await window_start(conn, PAIR, Timeframe.M5, derive_before, window)
                frame = await candle_store.load_bars(conn, PAIR, Timeframe.M5, since=start)
                for bar in bars[::7]:
                    known = cached_window_start((start, frame), bar.timestamp, window)
                    probe = await window_start(conn, PAIR, Timeframe.M5, bar.timestamp, window)
                    if known is not None:
                        answered += 1
                        assert known == (probe,)
                    else:  # only when the window starts before what the cache holds
                        assert start is not None and (probe is None or probe < start)
        assert answered >= 15
    finally:
        await engine.dispose()
