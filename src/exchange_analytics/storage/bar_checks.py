"""The stored bars that the plausibility rules (SPEC §3.5) compare against, and the
quarantine of bars that lie in the future. Functions are named after what they return."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Timeframe
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage.models import PatternDetection, PriceData, TechnicalIndicator

TABLE = PriceData.__table__
INDICATORS = TechnicalIndicator.__table__
DETECTIONS = PatternDetection.__table__
#: How many stored bars next to an import's period make its reference price level.
LEVEL_SAMPLE = 2000


async def previous_close(
    conn: AsyncConnection, pair: str, timeframe: Timeframe, before: datetime
) -> float | None:
    """Close of the newest stored bar of pair x timeframe opening before ``before``."""
    col = TABLE.c
    stmt = (
        select(col.close)
        .where(col.currency_pair == pair, col.timeframe == timeframe.value, col.timestamp < before)
        .order_by(col.timestamp.desc())
        .limit(1)
    )
    value: float | None = (await conn.execute(stmt)).scalar()
    return value


async def reference_closes(
    conn: AsyncConnection, pair: str, timeframe: Timeframe, start: datetime, end: datetime
) -> tuple[list[float], str]:
    """Stored closes over ``[start, end]``, or else the ``LEVEL_SAMPLE`` bars nearest to it
    (before and after), with words saying which period they cover ('' when none stored)."""
    col = TABLE.c
    where = (col.currency_pair == pair, col.timeframe == timeframe.value)
    same = select(col.close).where(*where, col.timestamp >= start, col.timestamp <= end)
    closes = [r[0] for r in await conn.execute(same.limit(LEVEL_SAMPLE * 10))]
    if closes:
        return closes, f"over the same period ({start:%Y-%m-%d} .. {end:%Y-%m-%d})"
    before = (
        select(col.close, col.timestamp)
        .where(*where, col.timestamp < start)
        .order_by(col.timestamp.desc())
        .limit(LEVEL_SAMPLE)
    )
    after = (
        select(col.close, col.timestamp)
        .where(*where, col.timestamp > end)
        .order_by(col.timestamp)
        .limit(LEVEL_SAMPLE)
    )
    rows = [*(await conn.execute(before)).all(), *(await conn.execute(after)).all()]
    if not rows:
        return [], ""
    first, last = min(r[1] for r in rows), max(r[1] for r in rows)
    return [r[0] for r in rows], f"of the nearest period ({first:%Y-%m-%d} .. {last:%Y-%m-%d})"


@dataclass(frozen=True, slots=True)
class FutureBar:
    pair: str
    timeframe: Timeframe
    timestamp: datetime
    close: float
    source: str
    created_at: datetime

    def as_dict(self) -> JSONObject:
        """What ``data quarantine --json`` prints for the bar."""
        return {
            "pair": self.pair,
            "timeframe": self.timeframe.value,
            "timestamp": self.timestamp.isoformat(),
            "close": self.close,
            "source": self.source,
            "stored_at": self.created_at.isoformat(),
        }


def _after_now(
    table: Table, time_column: str, now: datetime, pair: str | None
) -> list[ColumnElement[bool]]:
    """Rows of ``table`` whose ``time_column`` lies after ``now`` (of ``pair`` when given)."""
    clauses = [table.c[time_column] > now]
    if pair is not None:
        clauses.append(table.c.currency_pair == pair)
    return clauses


async def future_bars(
    conn: AsyncConnection, now: datetime, pair: str | None = None
) -> list[FutureBar]:
    """Stored bars (every timeframe) that open after ``now``, oldest first."""
    col = TABLE.c
    stmt = (
        select(
            col.currency_pair, col.timeframe, col.timestamp, col.close, col.source, col.created_at
        )
        .where(*_after_now(TABLE, "timestamp", now, pair))
        .order_by(col.currency_pair, col.timestamp, col.timeframe)
    )
    return [
        FutureBar(name, Timeframe(timeframe), timestamp, close, source, created_at)
        for name, timeframe, timestamp, close, source, created_at in await conn.execute(stmt)
    ]


async def delete_future_bars(conn: AsyncConnection, now: datetime, pair: str | None = None) -> int:
    """Delete the bars ``future_bars`` lists, their indicator rows and the pattern detections
    completed by them; returns bars deleted."""
    await conn.execute(delete(INDICATORS).where(*_after_now(INDICATORS, "timestamp", now, pair)))
    await conn.execute(
        delete(DETECTIONS).where(*_after_now(DETECTIONS, "bar_timestamp", now, pair))
    )
    result = await conn.execute(delete(TABLE).where(*_after_now(TABLE, "timestamp", now, pair)))
    return int(result.rowcount or 0)


async def newest_bar_stored_at(
    conn: AsyncConnection, pair: str, timeframe: Timeframe = Timeframe.M5
) -> tuple[datetime, datetime] | None:
    """``(open time, created_at)`` of the newest stored bar: a bar that was stored before it
    could have opened (created_at < open time) is bad data, whatever the clock says now."""
    col = TABLE.c
    stmt = (
        select(col.timestamp, col.created_at)
        .where(col.currency_pair == pair, col.timeframe == timeframe.value)
        .order_by(col.timestamp.desc())
        .limit(1)
    )
    row = (await conn.execute(stmt)).first()
    return (row[0], row[1]) if row else None


class PairQuality(TypedDict):
    """What the health check reads per pair beside the newest bar (``health.facts.PairFacts``)."""

    #: When the newest 5m bar was stored (before its own open time: bad data).
    latest_stored_at: datetime | None
    #: Consecutive open-market runs without a new bar.
    stale_runs: int


async def pair_quality(conn: AsyncConnection, pairs: Sequence[str]) -> dict[str, PairQuality]:
    """Per pair, for the health check: when the newest 5m bar was stored
    (``latest_stored_at``) and the stuck-feed streak (``stale_runs``)."""
    from exchange_analytics.storage.feed_state import feed_state

    found: dict[str, PairQuality] = {}
    for pair in pairs:
        newest = await newest_bar_stored_at(conn, pair)
        found[pair] = PairQuality(
            latest_stored_at=newest[1] if newest else None,
            stale_runs=(await feed_state(conn, pair))[1],
        )
    return found


async def drop_future_marks(conn: AsyncConnection, now: datetime, pair: str | None = None) -> int:
    """Remove per-pair marks (``derived_until``, backfill progress, the feed state) that point
    after ``now``: left behind by a future bar, they would make every later run skip or
    misjudge the real bars. Returns how many marks were dropped."""
    from sqlalchemy import update

    from exchange_analytics.storage.models import PairInitialization

    table = PairInitialization.__table__
    query = select(table.c.currency_pair, table.c.progress)
    if pair is not None:
        query = query.where(table.c.currency_pair == pair)
    dropped = 0
    for name, progress in (await conn.execute(query)).all():
        kept = {k: v for k, v in (progress or {}).items() if not _after(v, now)}
        if len(kept) != len(progress or {}):
            dropped += len(progress) - len(kept)
            await conn.execute(
                update(table).where(table.c.currency_pair == name).values(progress=kept)
            )
    return dropped


def _after(value: object, now: datetime) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment > now
