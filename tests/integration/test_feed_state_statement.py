"""The feed state's prepared UPDATE (issue 17) writes what ``set_markers`` writes, on SQLite
and PostgreSQL: the other keys kept, a NULL ``progress`` becoming an object, None as null."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from exchange_analytics.domain import Timeframe
from exchange_analytics.storage import feed_state
from exchange_analytics.storage import initialization as init_store
from exchange_analytics.storage.engine import build_engine

MOMENT = datetime(2026, 1, 6, 12, 35, tzinfo=UTC)


async def test_save_feed_state_writes_what_set_markers_writes(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    try:
        async with engine.begin() as conn:
            for pair in ("EUR/USD", "GBP/USD", "USD/JPY", "AUD/USD"):
                await init_store.begin_backfill(conn, pair, "demo", restart=True)
                await init_store.save_progress(conn, pair, Timeframe.M5, MOMENT)
            await conn.execute(
                update(init_store.TABLE)
                .where(init_store.TABLE.c.currency_pair.in_(["USD/JPY", "AUD/USD"]))
                .values(progress=None)
            )
        async with engine.begin() as conn:
            for pair, latest in (("EUR/USD", MOMENT), ("USD/JPY", None)):
                values: dict[str, str | int | None] = {
                    feed_state.LATEST: latest.isoformat() if latest else None,
                    feed_state.STALE_RUNS: 2,
                }
                await init_store.set_markers(conn, pair, values)
            await feed_state.save_feed_state(conn, "GBP/USD", MOMENT, 2)
            await feed_state.save_feed_state(conn, "AUD/USD", None, 2)
            await feed_state.save_feed_state(conn, "NZD/USD", MOMENT, 1)  # no row: nothing
        async with engine.connect() as conn:
            progress = {
                pair: await init_store.get_progress(conn, pair)
                for pair in ("EUR/USD", "GBP/USD", "USD/JPY", "AUD/USD")
            }
            assert await init_store.get_state(conn, "NZD/USD") is None
            assert await feed_state.feed_state(conn, "GBP/USD") == (MOMENT, 2)
        assert progress["GBP/USD"] == progress["EUR/USD"]
        assert progress["AUD/USD"] == progress["USD/JPY"]
        assert progress["EUR/USD"][Timeframe.M5.value] == MOMENT.isoformat()
        assert progress["AUD/USD"] == {feed_state.LATEST: None, feed_state.STALE_RUNS: 2}
    finally:
        await engine.dispose()
