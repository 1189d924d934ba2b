"""What the outbox holds right now, for the health check (the notifications component)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.models import Notification

_NOTES = Notification.__table__


@dataclass(frozen=True)
class OutboxState:
    pending: int
    sending: int
    failed_total: int
    failed_since: int
    oldest_pending_at: datetime | None
    oldest_claim_at: datetime | None
    last_failure_error: str | None
    last_failure_at: datetime | None
    last_retry_error: str | None


async def outbox_state(conn: AsyncConnection, since: datetime) -> OutboxState:
    """Counts per unsent status, the oldest pending message and claim, messages failed since
    ``since``, and the latest failure and retry errors."""
    c = _NOTES.c
    grouped = await conn.execute(
        select(c.status, func.count(), func.min(c.created_at), func.min(c.claimed_at))
        .where(c.status.in_(("pending", "sending", "failed")))
        .group_by(c.status)
    )
    by_status: dict[str, tuple[int, datetime | None, datetime | None]] = {
        row[0]: (int(row[1]), row[2], row[3]) for row in grouped
    }
    failed_since = (
        await conn.execute(select(func.count()).where(c.status == "failed", c.created_at >= since))
    ).scalar_one()
    last_failed = (
        await conn.execute(
            select(c.last_error, func.coalesce(c.claimed_at, c.created_at))
            .where(c.status == "failed")
            .order_by(c.id.desc())
            .limit(1)
        )
    ).first()
    retry_error = (
        await conn.execute(
            select(c.last_error)
            .where(c.status == "pending", c.last_error.is_not(None))
            .order_by(c.id.desc())
            .limit(1)
        )
    ).scalar()
    pending = by_status.get("pending", (0, None, None))
    sending = by_status.get("sending", (0, None, None))
    return OutboxState(
        pending=pending[0],
        sending=sending[0],
        failed_total=by_status.get("failed", (0, None, None))[0],
        failed_since=int(failed_since),
        oldest_pending_at=pending[1],
        oldest_claim_at=sending[2],
        last_failure_error=None if last_failed is None else last_failed[0],
        last_failure_at=None if last_failed is None else last_failed[1],
        last_retry_error=retry_error,
    )
