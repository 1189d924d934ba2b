"""Where each signal's message went (SPEC §17): the questions policy, digests, follow-ups ask.

A signal's delivery lives on its outbox row (``notifications``, kind ``pattern``): ``pending``/
``sending``/``sent`` were (or are being) sent at once, ``held`` waits for a digest,
``suppressed`` was never sent. A follow-up is an outbox row of kind ``outcome`` pointing at the
same detection, so "has this signal had its follow-up?" is one indexed lookup
(``ix_notifications_detection_kind``) and needs no state of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.models import Notification, PatternDetection
from exchange_analytics.storage.typed_rows import typed_rows

NOTES = Notification.__table__
DET = PatternDetection.__table__
#: Outbox statuses of a pattern message that was, or is being, sent at once.
NOTIFIED = ("pending", "sending", "sent")


class DeliveredSignal(TypedDict):
    """A signal with its levels and the outbox row of its pattern message (``_SIGNAL_COLUMNS``)."""

    detection_id: int
    currency_pair: str
    pattern_type: str
    direction: str
    bar_timestamp: datetime
    confidence_score: float
    entry_price: float | None
    take_profit: float | None
    stop_loss: float | None
    notification_id: int
    dedupe_key: str
    status: str


#: The columns of ``DeliveredSignal``, labelled with its keys.
_SIGNAL_COLUMNS = (
    DET.c.id.label("detection_id"),
    DET.c.currency_pair,
    DET.c.pattern_type,
    DET.c.direction,
    DET.c.bar_timestamp,
    DET.c.confidence_score,
    DET.c.entry_price,
    DET.c.take_profit,
    DET.c.stop_loss,
    NOTES.c.id.label("notification_id"),
    NOTES.c.dedupe_key,
    NOTES.c.status,
)
_JOIN = NOTES.join(DET, and_(NOTES.c.pattern_detection_id == DET.c.id, NOTES.c.kind == "pattern"))


async def immediate_count_between(
    conn: AsyncConnection, pair: str, start: datetime, end: datetime
) -> int:
    """Pattern messages of ``pair`` sent (or queued to send) at once for bars in [start, end)."""
    stmt = (
        select(func.count())
        .select_from(_JOIN)
        .where(
            DET.c.currency_pair == pair,
            DET.c.bar_timestamp >= start,
            DET.c.bar_timestamp < end,
            NOTES.c.status.in_(NOTIFIED),
        )
    )
    return int((await conn.execute(stmt)).scalar() or 0)


async def notified_without_followup(
    conn: AsyncConnection, since: datetime, until: datetime | None = None
) -> list[DeliveredSignal]:
    """Signals sent at once, with levels, bar at/after ``since``, not yet followed up."""
    later = NOTES.alias("followup")
    followed = exists().where(later.c.pattern_detection_id == DET.c.id, later.c.kind == "outcome")
    stmt = (
        select(*_SIGNAL_COLUMNS)
        .select_from(_JOIN)
        .where(
            NOTES.c.status.in_(NOTIFIED),
            DET.c.bar_timestamp >= since,
            DET.c.take_profit.is_not(None),
            DET.c.stop_loss.is_not(None),
            ~followed,
        )
        .order_by(DET.c.currency_pair, DET.c.bar_timestamp, DET.c.id)
    )
    if until is not None:
        stmt = stmt.where(DET.c.bar_timestamp <= until)
    return typed_rows((await conn.execute(stmt)).mappings(), DeliveredSignal)


async def held_signals(conn: AsyncConnection) -> list[DeliveredSignal]:
    """Every signal waiting for a digest, oldest bar first."""
    stmt = (
        select(*_SIGNAL_COLUMNS)
        .select_from(_JOIN)
        .where(NOTES.c.status == "held")
        .order_by(DET.c.bar_timestamp, DET.c.id)
    )
    return typed_rows((await conn.execute(stmt)).mappings(), DeliveredSignal)


async def release_held(conn: AsyncConnection, notification_ids: list[int], digest_key: str) -> int:
    """Mark held rows as delivered in ``digest_key``; returns how many were still held.

    Fewer than asked means another process digested some of them first: the caller rolls back.
    """
    result = await conn.execute(
        update(NOTES)
        .where(NOTES.c.id.in_(notification_ids), NOTES.c.status == "held")
        .values(status="suppressed", last_error=f"sent in digest {digest_key}"[:1000])
    )
    return int(result.rowcount or 0)


async def last_digest_at(conn: AsyncConnection) -> datetime | None:
    """When the newest digest was queued (health: "last digest")."""
    stmt = select(func.max(NOTES.c.created_at)).where(NOTES.c.kind == "digest")
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


async def oldest_held_bar(conn: AsyncConnection) -> datetime | None:
    """The bar time of the oldest signal still waiting for a digest (health: overdue)."""
    stmt = select(func.min(DET.c.bar_timestamp)).select_from(_JOIN).where(NOTES.c.status == "held")
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value
