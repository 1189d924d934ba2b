"""What the patterns stage reads and writes in ``pattern_detections`` and ``price_data``:
the bars still to evaluate, the newness history of a pair, one detection inserted once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage.dialect import dialect_insert
from exchange_analytics.storage.models import PatternDetection, PriceData, utcnow

DETECTIONS = PatternDetection.__table__
PRICES = PriceData.__table__
#: (pattern_type, direction)
PatternKey = tuple[str, str]


async def bar_times_to_evaluate(
    conn: AsyncConnection, pair: str, since: datetime | None, limit: int
) -> list[datetime]:
    """Open times of the 5m bars after ``since`` (at most ``limit``, oldest first), or of the
    latest 5m bar alone when there is no mark yet."""
    col = PRICES.c
    stmt = select(col.timestamp).where(col.currency_pair == pair, col.timeframe == "5m")
    if since is not None:
        stmt = stmt.where(col.timestamp > since).order_by(col.timestamp).limit(limit)
    else:
        stmt = stmt.order_by(col.timestamp.desc()).limit(1)
    return sorted(r[0] for r in await conn.execute(stmt))


async def previous_bar_time(conn: AsyncConnection, pair: str, before: datetime) -> datetime | None:
    """Open time of the newest 5m bar before ``before``."""
    col = PRICES.c
    stmt = select(func.max(col.timestamp)).where(
        col.currency_pair == pair, col.timeframe == "5m", col.timestamp < before
    )
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


@dataclass(frozen=True)
class NewnessHistory:
    """What the newness rule (``patterns.newness``) remembers of earlier bars."""

    #: The patterns detected at the previous bar.
    previous: list[PatternKey]
    #: Per pattern, the newest bar at which it was notified ('new') before the range.
    last_notified: dict[PatternKey, datetime]


async def newness_history(
    conn: AsyncConnection, pair: str, previous_bar: datetime | None, before: datetime
) -> NewnessHistory:
    """The detections at ``previous_bar`` and the last notified bar per pattern before
    ``before``, in one statement."""
    det = DETECTIONS.c
    notified = (
        select(literal(1), det.pattern_type, det.direction, func.max(det.bar_timestamp))
        .where(det.currency_pair == pair, det.notify_decision == "new", det.bar_timestamp < before)
        .group_by(det.pattern_type, det.direction)
    )
    parts = [notified]  # first: the union's columns take their types from it
    if previous_bar is not None:
        at_previous = select(literal(0), det.pattern_type, det.direction, null()).where(
            det.currency_pair == pair, det.bar_timestamp == previous_bar
        )
        parts.append(at_previous)
    previous: list[PatternKey] = []
    last: dict[PatternKey, datetime] = {}
    for kind, pattern, direction, stamp in await conn.execute(union_all(*parts)):
        if kind == 0:
            previous.append((pattern, direction))
        elif stamp is not None:
            last[(pattern, direction)] = stamp
    return NewnessHistory(previous, last)


@dataclass(frozen=True)
class DetectionRow:
    """One ``pattern_detections`` row as the patterns stage stores it."""

    pattern_type: str
    direction: str
    bar_timestamp: datetime
    confidence_score: float
    priority: str
    entry_price: float | None
    take_profit: float | None
    stop_loss: float | None
    detection_data: JSONObject
    notify_decision: str
    source: str


async def insert_detection(conn: AsyncConnection, pair: str, row: DetectionRow) -> int | None:
    """Insert once; the new id, or None when the detection was stored already (a re-run)."""
    stmt = (
        dialect_insert(conn, DETECTIONS)
        .values(currency_pair=pair, detected_at=utcnow(), **row.__dict__)
        .on_conflict_do_nothing(
            index_elements=["currency_pair", "pattern_type", "direction", "bar_timestamp"]
        )
        .returning(DETECTIONS.c.id)
    )
    value: int | None = (await conn.execute(stmt)).scalar()
    return value
