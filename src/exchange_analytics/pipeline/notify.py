"""Stage 7: send what the outbox holds, to the right Discord destination.

Destinations: pattern messages go to the bot API channel (DISCORD_BOT_TOKEN +
DISCORD_CHANNEL_ID) or else DISCORD_WEBHOOK_URL; alerts go to DISCORD_ALERT_WEBHOOK_URL,
falling back to the pattern destination. With none configured nothing is sent: messages stay
pending (and health reports notifications as disabled).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings
from exchange_analytics.jsontypes import JSONMapping, JSONObject, as_number
from exchange_analytics.notifications.formatting_fields import track_record_text
from exchange_analytics.notifications.outbox import ChartRenderer, OutboxSender, SendReport
from exchange_analytics.notifications.policy import (
    DEFAULT_POLICY,
    MIN_RECORD_SIGNALS,
    Delivery,
    decide_delivery,
)
from exchange_analytics.storage.dialect import failure_contained
from exchange_analytics.storage.engine import Connection, Database
from exchange_analytics.storage.signal_delivery import immediate_count_between
from exchange_analytics.storage.track_records import track_record_for

if TYPE_CHECKING:
    from exchange_analytics.notifications.chart import ChartMarks
    from exchange_analytics.notifications.discord import DiscordTransport
    from exchange_analytics.patterns.evaluate import PatternResult
    from exchange_analytics.storage.track_records import TrackRecord

log = structlog.get_logger(__name__)
DAY = timedelta(days=1)
UNAVAILABLE = "track record unavailable right now"


class PolicyGate:
    """Decides each signal's delivery (SPEC §17) on the detection's own transaction.

    Reads the stored track record (one indexed lookup, cached for the gate's life: a cycle or
    a replay) and, with a daily budget, the pair's immediate messages that UTC day. Nothing
    here may fail or slow the cycle: any error gives today's behaviour (send at once) with
    "track record unavailable", and on PostgreSQL the reads run in a savepoint so a failed
    read cannot abort the detection's transaction.
    """

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self._records: dict[tuple[str, str, str], TrackRecord | None] = {}

    async def _record(
        self, conn: Connection, pair: str, pattern: str, direction: str
    ) -> TrackRecord | None:
        key = (pair, pattern, direction)
        if key not in self._records:
            days = self.settings.track_record_days
            self._records[key] = await track_record_for(conn, pair, pattern, direction, days)
        return self._records[key]

    async def _reads(
        self, conn: Connection, pair: str, result: PatternResult
    ) -> tuple[TrackRecord | None, int]:
        record = await self._record(conn, pair, result.pattern_type, result.direction)
        sent_today = 0
        if self.settings.notify_max_per_pair_per_day:
            bar = result.bar_timestamp
            if bar is None:  # a detected signal always has its bar; ``route`` falls back
                raise ValueError(f"{pair} {result.pattern_type}: signal without a bar time")
            day = bar.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            sent_today = await immediate_count_between(conn, pair, day, bar)
        return record, sent_today

    async def route(
        self, conn: Connection, pair: str, result: PatternResult
    ) -> tuple[Delivery, str]:
        """(delivery, track-record text) for one signal; never raises."""
        try:
            async with failure_contained(conn):
                record, sent_today = await self._reads(conn, pair, result)
            text = track_record_text(
                record, self.settings.track_record_days, self.now, min_signals=MIN_RECORD_SIGNALS
            )
            delivery = decide_delivery(
                policy=self.settings.notify_policy.get(result.pattern_type, DEFAULT_POLICY),
                confidence=float(result.confidence),
                min_confidence=self.settings.notify_min_confidence,
                record=record,
                sent_today=sent_today,
                max_per_day=self.settings.notify_max_per_pair_per_day,
            )
        except Exception as exc:  # a message must never be lost to a track-record read
            log.warning("notify.track_record_unavailable", pair=pair, error=redact(str(exc))[:200])
            return Delivery("pending"), UNAVAILABLE
        return delivery, text


def build_transports(settings: Settings) -> dict[str, DiscordTransport]:
    from exchange_analytics.notifications.discord import DiscordTransport

    transports: dict[str, DiscordTransport] = {}
    if settings.discord_bot_token and settings.discord_channel_id:
        transports["patterns"] = DiscordTransport(
            bot_token=settings.discord_bot_token,
            channel_id=settings.discord_channel_id,
            api_base=settings.discord_api_base,
        )
    elif settings.discord_webhook_url:
        transports["patterns"] = DiscordTransport(webhook_url=settings.discord_webhook_url)
    if settings.discord_alert_webhook_url:
        transports["alerts"] = DiscordTransport(webhook_url=settings.discord_alert_webhook_url)
    elif "patterns" in transports:
        transports["alerts"] = transports["patterns"]
    return transports


def _meta_text(meta: JSONMapping, key: str) -> str:
    """A text the chart needs from the outbox row: KeyError if missing, TypeError if not text
    (what ``datetime.fromisoformat`` raises); the sender logs it and sends without a chart."""
    value = meta[key]
    if not isinstance(value, str):
        raise TypeError(f"chart {key} must be str, not {type(value).__name__}")
    return value


def chart_title(meta: JSONMapping) -> str:
    """``USD/CHF 5m · Composite signal BUY · 03-04 10:40 UTC · 1d ↑ 4h ↑ 1h ↑``."""
    from exchange_analytics.notifications.formatting import PATTERN_STYLES

    close = datetime.fromisoformat(_meta_text(meta, "bar_timestamp")) + timedelta(minutes=5)
    pattern = str(meta.get("pattern_type") or "")
    name = PATTERN_STYLES.get(pattern, (pattern.replace("_", " "), 0))[0]
    parts = [f"{meta['pair']} 5m", f"{name} {meta.get('direction') or ''}".strip()]
    parts.append(f"{close:%m-%d %H:%M} UTC")
    if meta.get("trend"):
        parts.append(str(meta["trend"]))
    return " · ".join(p for p in parts if p)


def chart_marks(meta: JSONMapping) -> ChartMarks:
    """The signal bar (the last one drawn) and its entry/TP/SL, from the outbox row."""
    from exchange_analytics.notifications.chart import ChartMarks
    from exchange_analytics.notifications.formatting_fields import price_decimals

    return ChartMarks(
        signal_index=79,
        direction=str(meta.get("direction") or ""),
        entry=as_number(meta.get("entry_price")),
        take_profit=as_number(meta.get("take_profit")),
        stop_loss=as_number(meta.get("stop_loss")),
        decimals=price_decimals(str(meta["pair"])),
    )


def chart_renderer(engine: Database) -> ChartRenderer:
    """Render the PNG for a pattern message from the bars known at its 5m bar."""

    async def render(meta: JSONObject) -> bytes:
        from exchange_analytics.domain import Timeframe
        from exchange_analytics.indicators import compute_indicators
        from exchange_analytics.notifications.chart import render_chart
        from exchange_analytics.storage import candles as candle_store

        until = datetime.fromisoformat(_meta_text(meta, "bar_timestamp"))
        async with engine.connect() as conn:
            bars = await candle_store.load_bars(
                conn, _meta_text(meta, "pair"), Timeframe.M5, until=until, last=160
            )
        if len(bars) < 30:
            raise ValueError("too few bars for a chart")
        values = compute_indicators(bars)
        shown = bars.iloc[-80:]
        return await asyncio.to_thread(
            render_chart, shown, values.loc[shown.index], chart_title(meta), chart_marks(meta)
        )

    return render


async def send_outbox(
    engine: Database, settings: Settings, now: datetime, deadline: float | None
) -> SendReport:
    transports = build_transports(settings)
    if not transports:
        return SendReport()
    sender = OutboxSender(
        engine,
        transports,
        claimer=f"{settings.host_id}",
        max_attempts=settings.notify_max_attempts,
        deadline=deadline,
        chart_renderer=chart_renderer(engine) if settings.discord_attach_chart else None,
    )
    try:
        return await sender.run(now)
    finally:
        for transport in {id(t): t for t in transports.values()}.values():
            await transport.aclose()


async def notification_stages(
    engine: Database, settings: Settings, as_of: datetime, since: datetime | None = None
) -> dict[str, int]:
    """Digests, then outcome follow-ups (SPEC §17), queued for the sender; never raises.

    Each stage is idempotent (unique dedupe keys), so a stage that fails is simply done by the
    next run; it must not cost the cycle its other work.
    """
    from exchange_analytics.pipeline.digest import queue_digests
    from exchange_analytics.pipeline.followups import queue_followups

    done = {"digests": 0, "followups": 0}
    try:
        done["digests"] = await queue_digests(
            engine, as_of=as_of, hours=settings.notify_digest_hours
        )
    except Exception as exc:
        log.error("digest.failed", error=redact(str(exc))[:300])
    if settings.notify_outcomes:
        try:
            done["followups"] = await queue_followups(engine, as_of=as_of, since=since)
        except Exception as exc:
            log.error("followups.failed", error=redact(str(exc))[:300])
    return done


async def after_replay(
    engine: Database, settings: Settings, start: datetime, end: datetime
) -> dict[str, int]:
    """``replay --notify``: the digests and follow-ups due by the end of the replayed range."""
    return await notification_stages(engine, settings, end + timedelta(minutes=5), since=start)
