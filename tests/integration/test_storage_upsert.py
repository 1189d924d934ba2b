"""Bulk writes on real databases: all rows land, re-writes touch only changed rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage import dialect
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import PriceData, TechnicalIndicator

START = datetime(2026, 1, 5, tzinfo=UTC)


def _candles(count: int, shift: float = 0.0) -> list[Candle]:
    return [
        Candle(
            START + timedelta(minutes=5 * i),
            1.1 + shift,
            1.2 + shift,
            1.0 + shift,
            1.15 + shift,
            10.0,
        )
        for i in range(count)
    ]


async def test_bulk_write_is_complete_then_idempotent_then_only_changes(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    try:
        rows = candle_store.candle_rows("USD/JPY", Timeframe.M5, _candles(5000), "test")
        async with engine.begin() as conn:  # the write is the first statement: COPY fast path
            assert await candle_store.write_rows(conn, rows) == 5000
        async with engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(PriceData))).scalar()
        assert stored == 5000
        async with engine.begin() as conn:  # the same rows again: nothing changes
            assert await candle_store.write_rows(conn, rows) == 0
        changed = candle_store.candle_rows("USD/JPY", Timeframe.M5, _candles(5000), "test")
        for row in changed[:100]:
            row["close"] = 1.16
        async with engine.begin() as conn:  # conflicts: staging path, only 100 rewritten
            assert await candle_store.write_rows(conn, changed) == 100
        async with engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(PriceData))).scalar()
            closes = (
                await conn.execute(select(func.count()).where(PriceData.close == 1.16))
            ).scalar()
        assert (total, closes) == (5000, 100)
    finally:
        await engine.dispose()


async def test_a_failed_transaction_leaves_nothing_behind(db_url, make_settings):
    engine = build_engine(make_settings(db_url))
    try:
        rows = candle_store.candle_rows("USD/JPY", Timeframe.M5, _candles(3000), "test")
        try:
            async with engine.begin() as conn:
                await candle_store.write_rows(conn, rows)
                raise RuntimeError("crash after the write, before commit")
        except RuntimeError:
            pass
        async with engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(PriceData))).scalar()
        assert stored == 0
    finally:
        await engine.dispose()


async def test_json_columns_round_trip_through_the_bulk_path(db_url, make_settings):
    """Indicator rows with JSON objects, above the COPY threshold on PostgreSQL: stored as the
    same objects, and neither path sees the other's rows as changed."""
    table = TechnicalIndicator.__table__
    key = ("currency_pair", "timeframe", "timestamp", "indicator_type")
    now = datetime(2026, 2, 1, tzinfo=UTC)

    def rows(pair: str) -> list[dict[str, object]]:
        return [
            {
                "currency_pair": pair,
                "timeframe": "1h",
                "timestamp": START + timedelta(hours=i),
                "indicator_type": "BB",
                "value": 1.0 + i / 7,
                "additional_data": {"upper": 1.5 + i / 3, "lower": 0.5, "period": 20, "ma": "SMA"},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(dialect.COPY_THRESHOLD + 10)
        ]

    engine = build_engine(make_settings(db_url))
    try:
        compare = ("value", "additional_data")
        async with engine.begin() as conn:
            written = await dialect.bulk_upsert(
                conn, table, rows("AAA/BBB"), key=key, compare=compare
            )
        assert written == dialect.COPY_THRESHOLD + 10
        async with engine.connect() as conn:
            stored = (await conn.execute(select(table.c.additional_data))).scalars().all()
        assert stored == [row["additional_data"] for row in rows("AAA/BBB")]
        async with engine.begin() as conn:  # bulk again, then the SQLAlchemy upsert: no change
            assert (
                await dialect.bulk_upsert(conn, table, rows("AAA/BBB"), key=key, compare=compare)
                == 0
            )
            assert await dialect.upsert(conn, table, rows("AAA/BBB"), key=key, compare=compare) == 0
    finally:
        await engine.dispose()


async def test_stamps_are_written_as_if_merged_into_each_row(db_url, make_settings):
    """``bulk_upsert(..., stamps=...)`` stores what merging the stamps into every row stores,
    on each path (SQLite executemany, PostgreSQL COPY and the small-batch upsert), and a
    stamp wins over a row's own value of the same column."""
    table = TechnicalIndicator.__table__
    key = ("currency_pair", "timeframe", "timestamp", "indicator_type")
    old = datetime(2020, 1, 1, tzinfo=UTC)
    now = datetime(2026, 2, 1, 12, 30, 15, 250000, tzinfo=UTC)
    stamps = {"created_at": now, "updated_at": now}

    def rows(pair: str, count: int) -> list[dict[str, object]]:
        return [
            {
                "currency_pair": pair,
                "timeframe": "1h",
                "timestamp": START + timedelta(hours=i),
                "indicator_type": "RSI",
                "value": 50.0 + i / 9,
                "additional_data": {"period": 14},
                "updated_at": old,  # the stamp wins
            }
            for i in range(count)
        ]

    engine = build_engine(make_settings(db_url))
    big = dialect.COPY_THRESHOLD + 5
    compare = ("value", "additional_data")
    try:
        async with engine.begin() as conn:
            for pair, count in (("AAA/BBB", big), ("CCC/DDD", 7)):
                written = await dialect.bulk_upsert(
                    conn, table, rows(pair, count), key=key, compare=compare, stamps=stamps
                )
                assert written == count
        async with engine.connect() as conn:
            stored = (
                await conn.execute(
                    select(table.c.currency_pair, table.c.created_at, table.c.updated_at)
                )
            ).all()
        assert len(stored) == big + 7
        assert {(r.created_at, r.updated_at) for r in stored} == {(now, now)}
        async with engine.begin() as conn:  # merged by hand: nothing changed
            for pair, count in (("AAA/BBB", big), ("CCC/DDD", 7)):
                merged = [{**row, **stamps} for row in rows(pair, count)]
                assert await dialect.upsert(conn, table, merged, key=key, compare=compare) == 0
                again = await dialect.bulk_upsert(
                    conn, table, rows(pair, count), key=key, compare=compare, stamps=stamps
                )
                assert again == 0
    finally:
        await engine.dispose()
