"""Reading and writing candles in ``price_data``.

Writes go through ``dialect.bulk_upsert`` (binary COPY on PostgreSQL for big batches), and a
row is only rewritten when one of its values changed, so re-running a cycle writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BigInteger, Table, func, select
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.storage.dialect import bulk_upsert
from exchange_analytics.storage.models import PriceData, utcnow

if TYPE_CHECKING:
    import pandas as pd

TABLE = cast(Table, PriceData.__table__)
KEY = ("currency_pair", "timeframe", "timestamp")
COMPARE = ("open", "high", "low", "close", "volume", "source", "bar_count", "is_complete")


def candle_rows(
    pair: str, timeframe: Timeframe, candles: Iterable[Candle], source: str
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "currency_pair": pair,
            "timeframe": timeframe.value,
            "timestamp": c.timestamp,
            "open": float(c.open),
            "high": float(c.high),
            "low": float(c.low),
            "close": float(c.close),
            "volume": float(c.volume),
            "source": source,
            "bar_count": None,
            "is_complete": True,
            "created_at": now,
            "updated_at": now,
        }
        for c in candles
    ]


def frame_rows(
    pair: str, timeframe: Timeframe, frame: pd.DataFrame, source: str
) -> list[dict[str, Any]]:
    """Rows from an aggregated bar frame (index = bucket start; bar_count, is_complete)."""
    now = utcnow()
    has_count = "bar_count" in frame.columns
    has_complete = "is_complete" in frame.columns
    rows = []
    for ts, o, h, lo, c, v, n, done in zip(
        frame.index.to_pydatetime(),
        frame["open"].to_numpy(),
        frame["high"].to_numpy(),
        frame["low"].to_numpy(),
        frame["close"].to_numpy(),
        frame["volume"].to_numpy(),
        frame["bar_count"].to_numpy() if has_count else [None] * len(frame),
        frame["is_complete"].to_numpy() if has_complete else [True] * len(frame),
        strict=True,
    ):
        rows.append(
            {
                "currency_pair": pair,
                "timeframe": timeframe.value,
                "timestamp": ts,
                "open": float(o),
                "high": float(h),
                "low": float(lo),
                "close": float(c),
                "volume": float(v),
                "source": source,
                "bar_count": int(n) if n is not None else None,
                "is_complete": bool(done),
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


async def write_rows(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert price rows; returns how many were new or changed."""
    return await bulk_upsert(conn, TABLE, rows, key=KEY, compare=COMPARE, also_set=("updated_at",))


async def latest_timestamp(
    conn: AsyncConnection, pair: str, timeframe: Timeframe
) -> datetime | None:
    stmt = select(func.max(PriceData.timestamp)).where(
        PriceData.currency_pair == pair, PriceData.timeframe == timeframe.value
    )
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


async def earliest_timestamp(
    conn: AsyncConnection, pair: str, timeframe: Timeframe
) -> datetime | None:
    stmt = select(func.min(PriceData.timestamp)).where(
        PriceData.currency_pair == pair, PriceData.timeframe == timeframe.value
    )
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


async def has_bars(
    conn: AsyncConnection, pair: str, timeframes: Iterable[Timeframe], count: int
) -> bool:
    """Whether every timeframe holds at least ``count`` bars (one statement, index probes)."""
    col = TABLE.c
    probes = [
        select(col.timestamp)
        .where(col.currency_pair == pair, col.timeframe == tf.value)
        .order_by(col.timestamp.desc())
        .offset(count - 1)
        .limit(1)
        .scalar_subquery()
        .label(f"tf_{tf.name}")
        for tf in timeframes
    ]
    row = (await conn.execute(select(*probes))).one()
    return all(value is not None for value in row)


def _epoch_seconds(conn: AsyncConnection) -> Any:
    """The bar timestamp as integer epoch seconds, computed by the database."""
    if conn.dialect.name == "sqlite":
        return cast_(func.strftime("%s", PriceData.timestamp), BigInteger)
    return cast_(func.extract("epoch", PriceData.timestamp), BigInteger)


async def load_bars(
    conn: AsyncConnection,
    pair: str,
    timeframe: Timeframe,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    last: int | None = None,
) -> pd.DataFrame:
    """A bar frame (index ``timestamp`` UTC) for [since, until]; or the ``last`` N bars.

    This is the hot read path of every cycle, so rows go straight into numpy arrays and the
    timestamps arrive as epoch seconds computed by the database: no per-row Python objects.
    """
    import numpy as np
    import pandas as pd

    stmt = select(
        _epoch_seconds(conn),
        PriceData.open,
        PriceData.high,
        PriceData.low,
        PriceData.close,
        PriceData.volume,
        func.coalesce(PriceData.bar_count, 0),
        PriceData.is_complete,
    ).where(PriceData.currency_pair == pair, PriceData.timeframe == timeframe.value)
    if since is not None:
        stmt = stmt.where(PriceData.timestamp >= since)
    if until is not None:
        stmt = stmt.where(PriceData.timestamp <= until)
    if last is not None:
        stmt = stmt.order_by(PriceData.timestamp.desc()).limit(last)
    else:
        stmt = stmt.order_by(PriceData.timestamp)
    rows = (await conn.execute(stmt)).all()
    if last is not None:
        rows = rows[::-1]
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    seconds = np.asarray(columns[0], dtype=np.int64)
    index = pd.DatetimeIndex(
        (seconds * 1_000_000_000).astype("datetime64[ns]"), name="timestamp"
    ).tz_localize("UTC")
    data = {
        name: np.asarray(columns[i + 1], dtype=np.float64)
        for i, name in enumerate(("open", "high", "low", "close", "volume"))
    }
    data["bar_count"] = np.asarray(columns[6], dtype=np.int64)
    data["is_complete"] = np.asarray(columns[7], dtype=bool)
    return pd.DataFrame(data, index=index)
