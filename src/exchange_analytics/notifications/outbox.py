"""The notification outbox (SPEC §8): never lost, never doubled.

Life of a message::

    pending --claim (own commit)--> sending --Discord 2xx--> sent
       ^                               |--5xx/network/rate limit--> pending (next_attempt_at)
       |                               |--400/401/403/404---------> failed (reason)
       +---- stale claim (crashed) ----+--NOTIFY_MAX_ATTEMPTS-----> failed

* Written in the same transaction as the detection (``enqueue`` on the caller's connection).
* ``claim``: a conditional UPDATE ``... WHERE id = :id AND status = 'pending'`` in its own
  commit; only one process can win it, on PostgreSQL and SQLite alike, so two cycles sending
  at once never post the same row.
* The answer is recorded right after the POST returns. The only window for a double post is a
  crash between Discord accepting and that record.
* Interrupted claims (a ``sending`` row older than ``CLAIM_TIMEOUT``; its process died):
  with the bot API, the channel is searched for the message's dedupe marker first and the row
  is marked sent if found; with a webhook (which cannot list messages) it is sent again,
  marked "possible repeat" in the embed. This is the documented policy.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from exchange_analytics import stopping as stop_requests
from exchange_analytics.config.redact import redact
from exchange_analytics.errors import NotifierRejected, NotifierUnavailable
from exchange_analytics.jsontypes import JSONMapping, JSONObject, as_list, as_object
from exchange_analytics.notifications.pattern_entry import (
    OutboxEntry as OutboxEntry,
)
from exchange_analytics.notifications.pattern_entry import (
    detection_view as detection_view,
)
from exchange_analytics.notifications.pattern_entry import (
    pattern_outbox_entry as pattern_outbox_entry,
)
from exchange_analytics.notifications.pattern_entry import (
    readings_at as readings_at,
)
from exchange_analytics.retry import Backoff
from exchange_analytics.storage import outbox_queries
from exchange_analytics.storage.engine import Connection, Database
from exchange_analytics.storage.models import utcnow

if TYPE_CHECKING:
    from exchange_analytics.notifications.discord_wire import SentMessage

log = structlog.get_logger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=10)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
#: The shared retry schedule (``exchange_analytics.retry``), no jitter: the wait is recorded
#: as ``next_attempt_at`` and a later run picks the message up. Only its waits are used; the
#: number of tries is the sender's ``max_attempts`` (NOTIFY_MAX_ATTEMPTS).
_DEFER = Backoff(1, BACKOFF_BASE.total_seconds(), BACKOFF_MAX.total_seconds(), "none")


class Transport(Protocol):
    """A destination the sender posts to (``notifications.discord.DiscordTransport``)."""

    is_bot: bool

    async def send(
        self,
        payload: JSONObject,
        *,
        dedupe_key: str,
        png: bytes | None = None,
        deadline: float | None = None,
    ) -> SentMessage: ...

    async def find_recent_message(
        self, marker: str, *, deadline: float | None = None
    ) -> str | None: ...


#: Draws the PNG of a pattern message from its outbox row's ``chart`` object.
ChartRenderer = Callable[[JSONObject], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """The columns of a claimed outbox row the sender reads (``payload`` is the stored JSON:
    the Discord message under ``discord``, the chart's facts under ``chart``)."""

    id: int
    kind: str
    channel: str
    dedupe_key: str
    attempts: int
    payload: JSONObject

    @property
    def discord(self) -> JSONObject:
        """The Discord message (rows written before ``discord`` was nested hold it whole)."""
        message = self.payload.get("discord", self.payload)
        if not isinstance(message, dict):
            raise TypeError(f"outbox row {self.id}: 'discord' is not a JSON object")
        return dict(message)

    @property
    def delivery_uncertain(self) -> bool:
        """A POST of this row got no answer: it may already be in the channel."""
        return bool(self.payload.get("delivery_uncertain"))


def summary_line(payload: JSONMapping) -> str:
    """The first embed's title, else the content: one line naming a queued message."""
    nested = payload.get("discord")
    discord: JSONMapping = payload if nested is None else as_object(nested) or {}
    embeds = as_list(discord.get("embeds")) or [{}]
    first = as_object(embeds[0]) or {}
    return str(first.get("title") or discord.get("content") or "message")


async def enqueue(
    conn: Connection,
    *,
    kind: str,
    channel: str,
    dedupe_key: str,
    payload: JSONObject,
    pattern_detection_id: int | None = None,
    status: str = "pending",
    last_error: str | None = None,
) -> bool:
    """Insert on the caller's transaction; False when the dedupe_key already exists."""
    return await outbox_queries.inserted_message(
        conn,
        kind=kind,
        channel=channel,
        dedupe_key=dedupe_key,
        payload=payload,
        created_at=utcnow(),
        pattern_detection_id=pattern_detection_id,
        status=status,
        last_error=last_error,
    )


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    recovered: int = 0
    pending_left: int = 0


class OutboxSender:
    """Claims due messages one at a time, in id order, and records each answer at once."""

    def __init__(
        self,
        engine: Database,
        transports: Mapping[str, Transport],
        *,
        claimer: str,
        max_attempts: int,
        deadline: float | None,
        chart_renderer: ChartRenderer | None = None,
    ) -> None:
        self.engine = engine
        self.transports = transports
        self.claimer = claimer
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.chart_renderer = chart_renderer

    async def _queue(self, now: datetime, channel: str) -> list[tuple[int, str, datetime | None]]:
        """Unsent rows of ``channel`` in id order: (id, status, next_attempt_at)."""
        stale = now - CLAIM_TIMEOUT
        async with self.engine.connect() as conn:
            return await outbox_queries.unsent_messages(conn, channel, stale)

    async def _claim(self, row_id: int, now: datetime) -> ClaimedMessage | None:
        stale = now - CLAIM_TIMEOUT
        async with self.engine.begin() as conn:
            row = await outbox_queries.claimed_message(conn, row_id, now, stale, self.claimer)
        if row is None:
            return None
        return ClaimedMessage(
            id=int(row["id"]),
            kind=str(row["kind"]),
            channel=str(row["channel"]),
            dedupe_key=str(row["dedupe_key"]),
            attempts=int(row["attempts"]),
            payload=dict(row["payload"]),
        )

    async def _record(self, row_id: int, **values: object) -> None:
        async with self.engine.begin() as conn:
            await outbox_queries.update_message(conn, row_id, **values)

    async def run(self, now: datetime) -> SendReport:
        """Send each channel's queue in order; stop a channel at its first message that is not
        due yet or could not be sent now, so messages never overtake each other and a channel
        that is down costs one attempt per run, not one per message."""
        report = SendReport()
        for channel in self.transports:
            queue = await self._queue(now, channel)
            for position, (row_id, status, next_attempt) in enumerate(queue):
                stop_requests.check()
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    report.pending_left += len(queue) - position
                    break
                if status == "pending" and next_attempt is not None and next_attempt > now:
                    report.pending_left += len(queue) - position
                    break
                row = await self._claim(row_id, now)
                if row is None:
                    continue  # another process claimed it first
                # A row already 'sending' before our claim was left by a process that died.
                interrupted = status == "sending"
                if await self._send_one(row, now, report, interrupted) == "deferred":
                    report.pending_left += len(queue) - position
                    break
        return report

    async def _after_interruption(
        self, transport: Transport, row: ClaimedMessage, discord: JSONObject
    ) -> tuple[str | None, JSONObject]:
        """The documented policy for a message that may already be in the channel: with the bot
        API look for its marker (returns the message id if found); with a webhook, which cannot
        list messages, send it again marked as a possible repeat."""
        from exchange_analytics.notifications.formatting import dedupe_marker, mark_possible_repeat

        if transport.is_bot:
            marker = dedupe_marker(row.dedupe_key)
            found = await transport.find_recent_message(marker, deadline=self.deadline)
            return (str(found) if found else None), discord
        return None, mark_possible_repeat(discord)

    async def _chart(self, payload: JSONObject) -> bytes | None:
        chart = payload.get("chart")
        if self.chart_renderer is None or not chart:
            return None
        if not isinstance(chart, dict):  # a chart must never block the message
            log.warning("outbox.chart_failed", error="the chart's facts are not a JSON object")
            return None
        try:
            return await self.chart_renderer(chart)
        except Exception as exc:  # a chart must never block the message
            log.warning("outbox.chart_failed", error=redact(str(exc))[:200])
            return None

    async def _send_one(
        self, row: ClaimedMessage, now: datetime, report: SendReport, interrupted: bool
    ) -> str:
        """Post one claimed row and record the answer: 'sent', 'failed' or 'deferred'."""
        transport = self.transports[row.channel]
        discord = row.discord
        # Claimed before by a process that died, or a POST that got no answer: the message may
        # already be in the channel.
        interrupted = interrupted or row.delivery_uncertain
        try:
            if interrupted:
                found, discord = await self._after_interruption(transport, row, discord)
                if found:
                    return await self._record_recovered(row, found, report)
            png = await self._chart(row.payload)
            sent = await transport.send(
                discord, dedupe_key=row.dedupe_key, png=png, deadline=self.deadline
            )
        except NotifierRejected as exc:
            return await self._record_failed(row, exc, report)
        except NotifierUnavailable as exc:
            return await self._record_unavailable(row, exc, now, report)
        return await self._record_sent(row, sent, report)

    # --- recording the answer (each in its own commit, right after the POST) -------------

    async def _record_sent(self, row: ClaimedMessage, sent: SentMessage, report: SendReport) -> str:
        await self._record(
            row.id,
            status="sent",
            attempts=row.attempts + 1,
            sent_at=utcnow(),
            discord_message_id=sent.message_id,
            last_error=None,
        )
        report.sent += 1
        log.info(
            "outbox.sent", dedupe_key=row.dedupe_key, message_id=sent.message_id, kind=row.kind
        )
        return "sent"

    async def _record_recovered(self, row: ClaimedMessage, found: str, report: SendReport) -> str:
        """The interrupted message was found in the channel: sent, without posting again."""
        await self._record(
            row.id,
            status="sent",
            sent_at=utcnow(),
            discord_message_id=found,
            last_error="recovered after an interrupted send (found in channel)",
        )
        report.recovered += 1
        log.info("outbox.recovered", dedupe_key=row.dedupe_key, message_id=found)
        return "sent"

    async def _record_failed(
        self, row: ClaimedMessage, exc: NotifierRejected, report: SendReport
    ) -> str:
        """Discord refused for good (4xx): failed at once, a person must look."""
        await self._record(
            row.id, status="failed", attempts=row.attempts + 1, last_error=redact(str(exc))[:1000]
        )
        report.failed += 1
        log.error("outbox.failed", dedupe_key=row.dedupe_key, reason=redact(str(exc))[:300])
        return "failed"

    async def _record_unavailable(
        self, row: ClaimedMessage, exc: NotifierUnavailable, now: datetime, report: SendReport
    ) -> str:
        """Discord could not take it now: remember an answer-less POST, then wait out a rate
        limit (no attempt counted), give up after ``max_attempts``, or defer on the schedule."""
        from exchange_analytics.notifications.discord import DeliveryUnknown, RateLimited

        if isinstance(exc, DeliveryUnknown) and not row.delivery_uncertain:
            await self._record(row.id, payload={**row.payload, "delivery_uncertain": True})
        attempts = row.attempts + 1
        error = redact(str(exc))[:1000]
        if isinstance(exc, RateLimited):
            # Not the message's fault: no attempt counted, retry when the limit resets.
            retry_at = now + timedelta(seconds=max(exc.retry_after_s, 1.0))
            await self._record(
                row.id,
                status="pending",
                attempts=attempts - 1,
                next_attempt_at=retry_at,
                last_error=error,
            )
            report.deferred += 1
            return "deferred"
        if attempts >= self.max_attempts:
            await self._record(row.id, status="failed", attempts=attempts, last_error=error)
            report.failed += 1
            log.error("outbox.gave_up", dedupe_key=row.dedupe_key, attempts=attempts)
            return "failed"
        delay = timedelta(seconds=_DEFER.delay(attempts - 1))
        await self._record(
            row.id,
            status="pending",
            attempts=attempts,
            next_attempt_at=now + delay,
            last_error=error,
        )
        report.deferred += 1
        log.warning(
            "outbox.deferred",
            dedupe_key=row.dedupe_key,
            attempts=attempts,
            retry_in_s=delay.total_seconds(),
        )
        return "deferred"


async def count_by_status(engine: Database) -> dict[str, int]:
    """How many messages the outbox holds in each status."""
    return await outbox_queries.counts_by_status(engine)
