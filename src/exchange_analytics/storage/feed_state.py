"""Per-pair stuck-feed state (the rule is ``health.feed_watch``), kept in the pair's
initialization row (``pair_initialization.progress``) beside the backfill marks: no schema
change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.initialization import get_progress, set_markers

LATEST = "feed_latest"
STALE_RUNS = "feed_stale_runs"


FeedRow = tuple[datetime | None, int]


def feed_state_of(progress: Mapping[str, object] | None) -> FeedRow:
    """``(newest bar seen, stale runs)`` stored in a ``progress`` JSON object."""
    progress = progress or {}
    latest = progress.get(LATEST)
    runs = progress.get(STALE_RUNS)
    return (
        datetime.fromisoformat(latest) if isinstance(latest, str) else None,
        int(runs) if isinstance(runs, int | float) else 0,
    )


async def feed_state(conn: AsyncConnection, pair: str) -> FeedRow:
    """``(newest 5m bar the last run saw, consecutive runs without a new one)``."""
    return feed_state_of(await get_progress(conn, pair))


async def save_feed_state(
    conn: AsyncConnection, pair: str, latest: datetime | None, stale_runs: int
) -> None:
    """Store the feed state in the pair's row in one UPDATE (nothing when the pair has no
    row yet)."""
    values: dict[str, str | int | None] = {
        LATEST: latest.isoformat() if latest else None,
        STALE_RUNS: stale_runs,
    }
    await set_markers(conn, pair, values)
