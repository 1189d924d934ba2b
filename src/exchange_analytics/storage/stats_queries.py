"""Counts, extremes and candidate rows that the health check and the operations reports read.

Each function is one question to the database, named after its answer; deciding what the
answer means (is it stale, is it a gap, did the signal win) is left to the pure code above.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Row, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Timeframe
from exchange_analytics.storage import dialect
from exchange_analytics.storage.models import (
    Base,
    PairInitialization,
    PatternDetection,
    PriceData,
)

_PRICES = PriceData.__table__
_INIT = PairInitialization.__table__
_PATTERNS = PatternDetection.__table__
#: (currency_pair, pattern_type, direction, bar_timestamp, take_profit, stop_loss)
SignalRow = Row[tuple[str, str, str, datetime, float, float]]
#: (timestamp, high, low)
HighLowRow = Row[tuple[datetime, float, float]]


async def round_trip_ms(conn: AsyncConnection) -> float:
    """Milliseconds one ``SELECT 1`` takes on an open connection."""
    started = time.perf_counter()
    await conn.execute(text("SELECT 1"))
    return (time.perf_counter() - started) * 1000


async def initialization_states(conn: AsyncConnection) -> dict[str, str]:
    """Pair -> its initialization status (pairs never initialized are absent)."""
    rows = await conn.execute(select(_INIT.c.currency_pair, _INIT.c.status))
    return {pair: status for pair, status in rows.tuples()}


async def latest_bar_times(
    conn: AsyncConnection, pairs: Sequence[str], timeframe: Timeframe = Timeframe.M5
) -> dict[str, datetime | None]:
    """Newest stored bar per pair (one index lookup each on (pair, timeframe, timestamp))."""
    found: dict[str, datetime | None] = {}
    for pair in pairs:
        found[pair] = (
            await conn.execute(
                select(func.max(_PRICES.c.timestamp)).where(
                    _PRICES.c.currency_pair == pair, _PRICES.c.timeframe == timeframe.value
                )
            )
        ).scalar()
    return found


async def series_summaries(
    conn: AsyncConnection,
) -> list[tuple[str, str, int, datetime | None, datetime | None]]:
    """(pair, timeframe, rows, first bar, last bar) for every stored series."""
    c = _PRICES.c
    rows = await conn.execute(
        select(
            c.currency_pair, c.timeframe, func.count(), func.min(c.timestamp), func.max(c.timestamp)
        ).group_by(c.currency_pair, c.timeframe)
    )
    return [(pair, tf, int(count), first, last) for pair, tf, count, first, last in rows]


async def table_row_counts(conn: AsyncConnection) -> dict[str, int]:
    """Rows per table of ours, by table name."""
    counts = {}
    for name, tbl in sorted(Base.metadata.tables.items()):
        counts[name] = int((await conn.execute(select(func.count()).select_from(tbl))).scalar_one())
    return counts


async def gap_candidates(
    conn: AsyncConnection, timeframe_seconds: Mapping[str, int]
) -> list[tuple[str, str, datetime | str, datetime | str]]:
    """(pair, timeframe, previous bar, bar) wherever consecutive bars lie more than one
    timeframe apart, oldest first (``LAG`` over each series; the weekend is judged later).

    On SQLite the subquery's columns may come back as text: the caller parses them.
    """
    c = _PRICES.c
    lag = func.lag(c.timestamp).over(
        partition_by=(c.currency_pair, c.timeframe), order_by=c.timestamp
    )
    bars = select(c.currency_pair, c.timeframe, c.timestamp, lag.label("previous")).subquery()
    spacing = dialect.seconds_between(conn, bars.c.timestamp, bars.c.previous)
    step = case(dict(timeframe_seconds), value=bars.c.timeframe, else_=300)
    rows = await conn.execute(
        select(bars.c.currency_pair, bars.c.timeframe, bars.c.previous, bars.c.timestamp)
        .where(bars.c.previous.is_not(None), spacing > step + 1)
        .order_by(bars.c.currency_pair, bars.c.timeframe, bars.c.timestamp)
    )
    return [(pair, tf, previous, following) for pair, tf, previous, following in rows]


async def pattern_counts(
    conn: AsyncConnection, start: datetime, end: datetime
) -> list[tuple[str, str, int, float | None, int]]:
    """(pattern, direction, detections, average confidence, pairs) by bar time in [start, end)."""
    c = _PATTERNS.c
    result = await conn.execute(
        select(
            c.pattern_type,
            c.direction,
            func.count(),
            func.avg(c.confidence_score),
            func.count(func.distinct(c.currency_pair)),
        )
        .where(c.bar_timestamp >= start, c.bar_timestamp < end)
        .group_by(c.pattern_type, c.direction)
        .order_by(c.pattern_type, c.direction)
    )
    return [
        (pattern, direction, int(count), None if avg is None else float(avg), int(pairs))
        for pattern, direction, count, avg, pairs in result
    ]


async def notified_signals(
    conn: AsyncConnection, start: datetime, end: datetime
) -> Sequence[SignalRow]:
    """Detections sent as new signals with take-profit and stop-loss, bar time in [start, end),
    by pair then bar time (columns: currency_pair, pattern_type, direction, bar_timestamp,
    take_profit, stop_loss)."""
    d = _PATTERNS.c
    query = (
        select(
            d.currency_pair,
            d.pattern_type,
            d.direction,
            d.bar_timestamp,
            d.take_profit,
            d.stop_loss,
        )
        .where(
            d.bar_timestamp >= start,
            d.bar_timestamp < end,
            d.notify_decision == "new",
            d.take_profit.is_not(None),
            d.stop_loss.is_not(None),
        )
        .order_by(d.currency_pair, d.bar_timestamp)
    )
    return (await conn.execute(query)).all()


async def high_low_bars(
    conn: AsyncConnection,
    pair: str,
    after: datetime,
    until: datetime,
    timeframe: Timeframe = Timeframe.M5,
) -> Sequence[HighLowRow]:
    """(timestamp, high, low) of the bars in (after, until], oldest first."""
    p = _PRICES.c
    query = (
        select(p.timestamp, p.high, p.low)
        .where(
            p.currency_pair == pair,
            p.timeframe == timeframe.value,
            p.timestamp > after,
            p.timestamp <= until,
        )
        .order_by(p.timestamp)
    )
    return (await conn.execute(query)).all()
