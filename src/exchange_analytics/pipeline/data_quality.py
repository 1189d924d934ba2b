"""The cycle's data-quality steps (SPEC §3.5): the jump guard on provider bars and the
stuck-feed watch. The rules are pure (``providers.plausibility``, ``health.feed_watch``);
here they meet the database and the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.health.feed_watch import FeedState, observe, stuck_message
from exchange_analytics.providers.plausibility import HeldBack, hold_back_jumps
from exchange_analytics.storage import bar_checks, feed_state
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import Connection, Database

log = structlog.get_logger(__name__)


async def guard_jumps(
    conn: Connection,
    pair: str,
    timeframe: Timeframe,
    candles: Sequence[Candle],
    max_percent: float,
    source: str,
) -> tuple[list[Candle], list[HeldBack]]:
    """``candles`` minus the bars that jump more than ``max_percent`` from the previous
    stored close; each held-back bar is logged as a data-quality warning."""
    if not candles:
        return [], []
    previous = await bar_checks.previous_close(conn, pair, timeframe, candles[0].timestamp)
    kept, held = hold_back_jumps(candles, previous, max_percent)
    for bar in held:
        log.warning(
            "provider.held_back_bar",
            data_quality=True,
            provider=source,
            pair=pair,
            timeframe=timeframe.value,
            timestamp=bar.timestamp.isoformat(),
            reason=bar.reason,
        )
    return kept, held


async def watch_feed(engine: Database, pair: str, now: datetime) -> str | None:
    """Note whether this run brought a new closed 5m bar; the stuck message when the pair has
    had none for STUCK_RUNS open-market runs in a row (None otherwise)."""
    async with engine.begin() as conn:
        latest = await candle_store.latest_timestamp(conn, pair, Timeframe.M5)
        state = observe(FeedState(*await feed_state.feed_state(conn, pair)), latest, now)
        await feed_state.save_feed_state(conn, pair, state.latest, state.stale_runs)
    if not state.stuck:
        return None
    message = stuck_message(state)
    log.warning("feed.stuck", data_quality=True, pair=pair, message=message)
    return message
