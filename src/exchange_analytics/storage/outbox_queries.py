"""The outbox's SQL (``notifications.outbox``): queue a message, list and claim the due ones,
record each answer, count by status.

Every function runs on the caller's connection and never opens, commits or rolls back a
transaction: the outbox's crash safety is the order of its commits (the claim in its own
commit before the POST, the answer in its own commit right after), and that order stays in
``notifications.outbox`` where it can be read in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage.dialect import dialect_insert
from exchange_analytics.storage.models import Notification
from exchange_analytics.storage.typed_rows import columns_of, typed_row

_TABLE = Notification.__table__
#: (id, status, next_attempt_at) of a message not sent yet.
UnsentRow = tuple[int, str, datetime | None]


class OutboxMessage(TypedDict):
    """One whole ``notifications`` row, as the sender claims it."""

    id: int
    kind: str
    channel: str
    dedupe_key: str
    #: The message as queued (Discord's JSON under ``discord``, chart meta beside it).
    payload: JSONObject
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    claimed_at: datetime | None
    claimed_by: str | None
    discord_message_id: str | None
    pattern_detection_id: int | None


async def inserted_message(
    conn: AsyncConnection,
    *,
    kind: str,
    channel: str,
    dedupe_key: str,
    payload: JSONObject,
    created_at: datetime,
    pattern_detection_id: int | None,
    status: str,
    last_error: str | None,
) -> bool:
    """Whether the message was inserted: False when its ``dedupe_key`` is already queued
    (``ON CONFLICT DO NOTHING``, so two processes queuing the same message keep one)."""
    stmt = (
        dialect_insert(conn, _TABLE)
        .values(
            kind=kind,
            channel=channel,
            dedupe_key=dedupe_key,
            payload=payload,
            status=status,
            attempts=0,
            next_attempt_at=None,  # due at once, whatever the caller's clock (--as-of) says
            last_error=last_error,
            created_at=created_at,
            pattern_detection_id=pattern_detection_id,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_TABLE.c.id)
    )
    return (await conn.execute(stmt)).scalar() is not None


async def unsent_messages(
    conn: AsyncConnection, channel: str, stale_before: datetime
) -> list[UnsentRow]:
    """Unsent rows of ``channel`` in id order: pending ones, and ``sending`` ones whose claim
    is older than ``stale_before`` (their process died)."""
    rows = await conn.execute(
        select(_TABLE.c.id, _TABLE.c.status, _TABLE.c.next_attempt_at)
        .where(
            _TABLE.c.channel == channel,
            or_(
                _TABLE.c.status == "pending",
                and_(_TABLE.c.status == "sending", _TABLE.c.claimed_at < stale_before),
            ),
        )
        .order_by(_TABLE.c.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def claimed_message(
    conn: AsyncConnection, row_id: int, now: datetime, stale_before: datetime, claimer: str
) -> OutboxMessage | None:
    """The whole row if this call claimed it (a conditional UPDATE only one process can win:
    a due pending row, or a stale ``sending`` one), None if it was not claimable."""
    result = await conn.execute(
        update(_TABLE)
        .where(
            _TABLE.c.id == row_id,
            or_(
                and_(
                    _TABLE.c.status == "pending",
                    or_(_TABLE.c.next_attempt_at.is_(None), _TABLE.c.next_attempt_at <= now),
                ),
                and_(_TABLE.c.status == "sending", _TABLE.c.claimed_at < stale_before),
            ),
        )
        .values(status="sending", claimed_at=now, claimed_by=claimer)
        .returning(*columns_of(_TABLE, OutboxMessage))
    )
    row = result.mappings().first()
    return typed_row(row, OutboxMessage) if row else None


async def update_message(conn: AsyncConnection, row_id: int, **values: object) -> None:
    """Set ``values`` on one message row (the answer to its send)."""
    await conn.execute(update(_TABLE).where(_TABLE.c.id == row_id).values(**values))


async def counts_by_status(engine: AsyncEngine) -> dict[str, int]:
    """How many messages the outbox holds in each status (metrics, the cycle's summary)."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(_TABLE.c.status, func.count()).group_by(_TABLE.c.status))
        return {r[0]: int(r[1]) for r in rows}
