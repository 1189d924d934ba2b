"""Stage 7: send what the outbox holds, to the right Discord destination.

Destinations: pattern messages go to the bot API channel (DISCORD_BOT_TOKEN +
DISCORD_CHANNEL_ID) or else DISCORD_WEBHOOK_URL; alerts go to DISCORD_ALERT_WEBHOOK_URL,
falling back to the pattern destination. With none configured nothing is sent: messages stay
pending (and health reports notifications as disabled).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from exchange_analytics.config.settings import Settings
from exchange_analytics.notifications.outbox import OutboxSender, SendReport


def build_transports(settings: Settings) -> dict[str, Any]:
    from exchange_analytics.notifications.discord import DiscordTransport

    transports: dict[str, Any] = {}
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


def chart_renderer(engine: AsyncEngine) -> Any:
    """Render the PNG for a pattern message from the bars known at its 5m bar."""

    async def render(meta: dict[str, Any]) -> bytes:
        import pandas as pd

        from exchange_analytics.domain import Timeframe
        from exchange_analytics.indicators import compute_indicators
        from exchange_analytics.notifications.chart import render_chart
        from exchange_analytics.storage import candles as candle_store

        until = datetime.fromisoformat(meta["bar_timestamp"])
        async with engine.connect() as conn:
            bars = await candle_store.load_bars(
                conn, meta["pair"], Timeframe.M5, until=until, last=160
            )
        if len(bars) < 30:
            raise ValueError("too few bars for a chart")
        values = compute_indicators(bars)
        shown = bars.iloc[-80:]
        title = f"{meta['pair']} 5m · {pd.Timestamp(until):%Y-%m-%d %H:%M} UTC"
        return await asyncio.to_thread(render_chart, shown, values.loc[shown.index], title)

    return render


async def send_outbox(
    engine: AsyncEngine, settings: Settings, now: datetime, deadline: float | None
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
