"""The pipeline's hot queries, timed (``ops db-performance``): is the database still fast?

Each statement is the one a cycle or the health check issues; it runs once to warm up
(compile, cache pages), then ``repeat`` times, and the median and max are reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy import Executable, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Timeframe
from exchange_analytics.storage.models import (
    Notification,
    PriceData,
    ProcessingRun,
    TechnicalIndicator,
)

_P = PriceData.__table__
_I = TechnicalIndicator.__table__
_N = Notification.__table__
_R = ProcessingRun.__table__


class QueryTiming(TypedDict):
    """One timed query as the report shows it (and ``--json`` prints it)."""

    query: str
    rows: int
    median_ms: float
    max_ms: float


def key_queries(pair: str, now: datetime, bars: int) -> list[tuple[str, Executable]]:
    """The pipeline's hot queries, as it issues them, with the label the report shows."""
    return [
        (
            f"last {bars} bars {pair} 1h",
            select(_P)
            .where(_P.c.currency_pair == pair, _P.c.timeframe == Timeframe.H1.value)
            .order_by(_P.c.timestamp.desc())
            .limit(bars),
        ),
        (
            f"last {bars} bars {pair} 5m",
            select(_P)
            .where(_P.c.currency_pair == pair, _P.c.timeframe == Timeframe.M5.value)
            .order_by(_P.c.timestamp.desc())
            .limit(bars),
        ),
        (
            f"latest 5m bar {pair}",
            select(func.max(_P.c.timestamp)).where(
                _P.c.currency_pair == pair, _P.c.timeframe == Timeframe.M5.value
            ),
        ),
        (
            f"indicators {pair} 1h since 10 d",
            select(_I).where(
                _I.c.currency_pair == pair,
                _I.c.timeframe == Timeframe.H1.value,
                _I.c.timestamp >= now - timedelta(days=10),
            ),
        ),
        (
            "pending notifications",
            select(_N)
            .where(
                _N.c.status == "pending",
                or_(_N.c.next_attempt_at.is_(None), _N.c.next_attempt_at <= now),
            )
            .order_by(_N.c.id)
            .limit(50),
        ),
        (
            "runs last 24 h",
            select(_R).where(_R.c.started_at >= now - timedelta(hours=24)),
        ),
        (
            "5m rows past retention",
            select(func.count()).where(
                _P.c.timeframe == Timeframe.M5.value, _P.c.timestamp < now - timedelta(days=90)
            ),
        ),
    ]


async def time_queries(
    conn: AsyncConnection, queries: Sequence[tuple[str, Executable]], repeat: int
) -> list[QueryTiming]:
    """Per query: its label, the rows it returns, median and max milliseconds."""
    results = []
    for label, statement in queries:
        rows = len((await conn.execute(statement)).all())  # warm-up: compile, cache pages
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            (await conn.execute(statement)).all()
            samples.append((time.perf_counter() - started) * 1000)
        results.append(
            QueryTiming(
                query=label,
                rows=rows,
                median_ms=round(statistics.median(samples), 3),
                max_ms=round(max(samples), 3),
            )
        )
    return results


async def key_query_timings(
    conn: AsyncConnection, pair: str, now: datetime, *, bars: int, repeat: int
) -> list[QueryTiming]:
    """:func:`time_queries` over :func:`key_queries`."""
    return await time_queries(conn, key_queries(pair, now, bars), repeat)
