"""SQLite bulk writes go through the sqlite3 connection's own ``executemany``: the rows they
store must be exactly the rows SQLAlchemy's upsert stores (same timestamp text, same JSON
text), so either path sees the other's rows as unchanged and a re-run writes nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.storage import bulk_sqlite, dialect
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import TechnicalIndicator, utcnow

START = datetime(2026, 1, 5, 0, 0, 0, 123456, tzinfo=UTC)
IND_TABLE = cast(Table, TechnicalIndicator.__table__)
IND_KEY = ("currency_pair", "timeframe", "timestamp", "indicator_type")


def _price_rows(pair: str) -> list[dict[str, Any]]:
    candles = [
        Candle(START + timedelta(minutes=5 * i), 1.1, 1.2 + i * 1e-5, 1.0, 1.15, 10.0)
        for i in range(50)
    ]
    return candle_store.candle_rows(pair, Timeframe.M5, candles, "test")


def _indicator_rows(pair: str) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "currency_pair": pair,
            "timeframe": "1h",
            "timestamp": START + timedelta(hours=i),
            "indicator_type": "BB",
            "value": 1.0 + i / 3,
            "additional_data": {"upper": 1.5, "lower": 0.5, "period": 20, "std_dev": 2.0},
            "created_at": now,
            "updated_at": now,
        }
        for i in range(20)
    ]


def _stored(path: str, table: str, pair: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        columns = "timestamp, typeof(timestamp), created_at"
        if table == "technical_indicators":
            columns += ", value, additional_data"
        else:
            columns += ", open, high, is_complete, typeof(is_complete), bar_count"
        sql = f"SELECT {columns} FROM {table} WHERE currency_pair = ? ORDER BY timestamp"
        return db.execute(sql, (pair,)).fetchall()


def test_datetime_text_equals_sqlalchemys_processor(sqlite_url, make_settings):
    engine = build_engine(make_settings(sqlite_url))
    processor = dialect.bind_processor(candle_store.TABLE.c.timestamp.type, engine.dialect)
    assert processor is not None
    for moment in (START, datetime(2026, 3, 8, 7, 0, tzinfo=UTC), datetime(1999, 12, 31, 23, 59)):
        if moment.tzinfo is None:
            with pytest.raises(ValueError, match="naive"):
                dialect._sqlite_datetime(moment)
            continue
        assert dialect._sqlite_datetime(moment) == processor(moment)


async def test_both_paths_store_the_same_rows_and_see_them_unchanged(sqlite_url, make_settings):
    engine = build_engine(make_settings(sqlite_url))
    path = sqlite_url.split("///", 1)[1]
    try:
        async with engine.begin() as conn:
            fast = await candle_store.write_rows(conn, _price_rows("AAA/BBB"))
            slow = await dialect.upsert(
                conn,
                candle_store.TABLE,
                _price_rows("CCC/DDD"),
                key=candle_store.KEY,
                compare=candle_store.COMPARE,
                also_set=("updated_at",),
            )
            ind_fast = await dialect.bulk_upsert(
                conn, IND_TABLE, _indicator_rows("AAA/BBB"), key=IND_KEY, compare=("value",)
            )
            ind_slow = await dialect.upsert(
                conn, IND_TABLE, _indicator_rows("CCC/DDD"), key=IND_KEY, compare=("value",)
            )
        assert (fast, slow, ind_fast, ind_slow) == (50, 50, 20, 20)
        for table in ("price_data", "technical_indicators"):
            a, c = _stored(path, table, "AAA/BBB"), _stored(path, table, "CCC/DDD")
            assert [r[:2] for r in a] == [r[:2] for r in c]  # same timestamp text and type
            assert [r[3:] for r in a] == [r[3:] for r in c]
        async with engine.begin() as conn:  # each path over the other's rows: nothing to do
            assert await candle_store.write_rows(conn, _price_rows("CCC/DDD")) == 0
            again = await dialect.upsert(
                conn,
                candle_store.TABLE,
                _price_rows("AAA/BBB"),
                key=candle_store.KEY,
                compare=candle_store.COMPARE,
            )
            assert again == 0
            changed = _indicator_rows("CCC/DDD")
            changed[3]["value"] = -1.0
            assert (
                await dialect.bulk_upsert(
                    conn, IND_TABLE, changed, key=IND_KEY, compare=("value", "additional_data")
                )
                == 1
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "value",
    [
        {"period": 14},
        {"upper": 1.0000000000000002, "lower": -0.0, "period": 20, "std_dev": 2.0, "ma": "SMA"},
        {"nan": float("nan"), "inf": float("-inf"), "big": 1e300, "text": 'é"\n\\'},
        {"nested": [1, {"b": None, "c": True}], "empty": {}},
        None,
    ],
    ids=["rsi", "bollinger", "special-floats-and-escapes", "nested", "none"],
)
def test_json_text_equals_sqlalchemys_processor(sqlite_url, make_settings, value):
    """The bulk path's JSON text (one reused encoder) is the JSON bind processor's, byte for
    byte, so rows written either way compare equal."""
    engine = build_engine(make_settings(sqlite_url))
    column = IND_TABLE.c.additional_data
    processor = dialect.bind_processor(column.type, engine.dialect)
    assert processor is not None
    rows = [{"additional_data": value}]
    (stored,) = list(
        bulk_sqlite.sqlite_columns(IND_TABLE, ["additional_data"], rows, engine.dialect)
    )
    assert stored == (processor(value),)


async def test_count_is_new_plus_changed_rows_only(sqlite_url, make_settings):
    """The fast path's count (the cursor's rowcount, no extra statement) is exactly the rows
    inserted or updated: unchanged rows in the same batch do not count."""
    engine = build_engine(make_settings(sqlite_url))
    try:
        async with engine.begin() as conn:
            assert await candle_store.write_rows(conn, _price_rows("AAA/BBB")[:30]) == 30
        rows = _price_rows("AAA/BBB")  # 30 stored (2 of them changed below) + 20 new
        rows[3]["close"] = 9.0
        rows[17]["bar_count"] = 7
        async with engine.begin() as conn:
            assert await candle_store.write_rows(conn, rows) == 22
            assert await candle_store.write_rows(conn, rows) == 0
            assert await candle_store.write_rows(conn, rows[:1]) == 0
    finally:
        await engine.dispose()


async def test_uncommitted_write_is_rolled_back_when_the_connection_returns(
    sqlite_url, make_settings
):
    """The pool's reset skips the rollback round trip only when no transaction is open: a
    connection returned with uncommitted rows still has them rolled back."""
    engine = build_engine(make_settings(sqlite_url), pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            assert await candle_store.write_rows(conn, _price_rows("AAA/BBB")) == 50
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            assert driver.in_transaction  # closed here without commit
        assert not driver.in_transaction  # rolled back on return to the pool
        async with engine.connect() as conn:
            assert await candle_store.latest_timestamp(conn, "AAA/BBB", Timeframe.M5) is None
        async with engine.begin() as conn:
            assert await candle_store.write_rows(conn, _price_rows("AAA/BBB")) == 50
        async with engine.connect() as conn:
            assert await candle_store.latest_timestamp(conn, "AAA/BBB", Timeframe.M5) is not None
    finally:
        await engine.dispose()
