"""Reads for ``patterns evaluate`` / ``patterns calibrate``: the bars of a range, as replay reads
them, plus the bars after it that the outcomes walk over. Read-only: evaluation stores nothing.

The trailing history before the range is what ``pipeline.signals.load_inputs`` (replay and the
live cycle) loads: from the ``trailing``-th (``TRAILING_WINDOW``) stored bar before the first
bar of the range (for 1h/4h/1d: before that bar's bucket), so the indicators at every bar
equal replay's.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange_analytics.domain import Timeframe
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.models import PriceData

if TYPE_CHECKING:
    import pandas as pd

HIGHER = (Timeframe.H1, Timeframe.H4, Timeframe.D1)


async def bar_count_in_range(
    conn: AsyncConnection, pair: str, start: datetime, end: datetime
) -> int:
    """Number of stored 5m bars of ``pair`` opening in [start, end]."""
    col = PriceData.__table__.c
    stmt = select(func.count()).where(
        col.currency_pair == pair,
        col.timeframe == Timeframe.M5.value,
        col.timestamp >= start,
        col.timestamp <= end,
    )
    return int((await conn.execute(stmt)).scalar() or 0)


async def trailing_start(
    conn: AsyncConnection, pair: str, timeframe: Timeframe, before: datetime, trailing: int
) -> datetime | None:
    """Open time of the ``trailing``-th stored bar before ``before`` (None: all)."""
    return await candle_store.nth_bar_before(conn, pair, timeframe, before, trailing)


async def bar_after(
    conn: AsyncConnection, pair: str, after: datetime, bars: int
) -> datetime | None:
    """Open time of the ``bars``-th stored 5m bar after ``after`` (None: fewer are stored)."""
    col = PriceData.__table__.c
    stmt = (
        select(col.timestamp)
        .where(
            col.currency_pair == pair,
            col.timeframe == Timeframe.M5.value,
            col.timestamp > after,
        )
        .order_by(col.timestamp)
        .limit(1)
        .offset(bars - 1)
    )
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


async def evaluation_bars(
    conn: AsyncConnection,
    pair: str,
    start: datetime,
    end: datetime,
    after_bars: int,
    *,
    trailing: int,
) -> tuple[pd.DataFrame, dict[Timeframe, pd.DataFrame]]:
    """5m bars from the trailing history before ``start`` to ``after_bars`` bars after ``end``,
    and the 1h/4h/1d bars from their trailing history on (as ``replay`` loads them)."""
    m5_from = await trailing_start(conn, pair, Timeframe.M5, start, trailing)
    until = await bar_after(conn, pair, end, after_bars) if after_bars > 0 else end
    m5 = await candle_store.load_bars(conn, pair, Timeframe.M5, since=m5_from, until=until)
    higher = {}
    for timeframe in HIGHER:
        since = await trailing_start(conn, pair, timeframe, start - timeframe.duration, trailing)
        higher[timeframe] = await candle_store.load_bars(conn, pair, timeframe, since=since)
    return m5, higher


async def read_evaluation_bars(
    engine: AsyncEngine,
    pair: str,
    start: datetime,
    end: datetime,
    after_bars: int,
    *,
    trailing: int,
) -> tuple[int, pd.DataFrame, dict[Timeframe, pd.DataFrame]]:
    """How many 5m bars the range holds, and :func:`evaluation_bars` (one read transaction).

    ``trailing``: bars of history before the range the indicators need
    (``indicators.TRAILING_WINDOW``, passed in: storage sits below indicators)."""
    async with engine.connect() as conn:
        count = await bar_count_in_range(conn, pair, start, end)
        m5, higher = await evaluation_bars(conn, pair, start, end, after_bars, trailing=trailing)
    return count, m5, higher
