"""The cycle's data-quality steps (SPEC §3.5): the jump guard on provider bars and the
stuck-feed watch. The rules are pure (``providers.plausibility``, ``health.feed_watch``);
here they meet the database and the log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.health.feed_watch import FeedState, observe, stuck_message
from exchange_analytics.providers.plausibility import HeldBack, hold_back_jumps
from exchange_analytics.storage import bar_checks, feed_state
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.cycle_reads import PairFacts
from exchange_analytics.storage.engine import Connection, Database
from exchange_analytics.storage.feed_state import feed_state_of

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StoredBar:
    """The open time and close of a stored bar."""

    timestamp: datetime
    close: float

    @classmethod
    def newest_of(cls, candles: Sequence[Candle], before: StoredBar | None) -> StoredBar | None:
        """The newest of ``before`` and the just-stored ``candles``."""
        bar = max(candles, key=lambda c: c.timestamp, default=None)
        if bar is None or (before is not None and before.timestamp >= bar.timestamp):
            return before
        return cls(bar.timestamp, float(bar.close))


async def guard_jumps(
    conn: Connection,
    pair: str,
    timeframe: Timeframe,
    candles: Sequence[Candle],
    max_percent: float,
    source: str,
    newest: StoredBar | None = None,
) -> tuple[list[Candle], list[HeldBack]]:
    """``candles`` minus the bars that jump more than ``max_percent`` from the previous
    stored close; each held-back bar is logged as a data-quality warning. ``newest`` is the
    newest stored bar of pair x timeframe when the caller knows it: its close is the
    previous close when it opens before the first candle (no read then)."""
    if not candles:
        return [], []
    first = candles[0].timestamp
    if newest is not None and newest.timestamp < first:
        previous: float | None = newest.close
    else:
        previous = await bar_checks.previous_close(conn, pair, timeframe, first)
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
    had none for STUCK_RUNS open-market runs in a row (None otherwise). Reads what it needs
    (after a backfill; the steady cycle uses ``FeedWatch`` instead)."""
    async with engine.begin() as conn:
        latest = await candle_store.latest_timestamp(conn, pair, Timeframe.M5)
        watch = FeedWatch(pair, FeedState(*await feed_state.feed_state(conn, pair)), latest, now)
        await watch.save(conn)
    return watch.message()


@dataclass
class FeedWatch:
    """The feed watch of one steady run, told what it would otherwise read: the feed state
    and the newest stored 5m bar at the start of the pair's turn (``storage.cycle_reads``,
    read under the pair's lock), then the bars the fetch stored. Its one write goes into the
    fetch's last transaction (``save``), or its own when nothing was fetched (``settle``)."""

    pair: str
    previous: FeedState
    #: The newest stored 5m bar: the one read at the start, then any newer bar stored since.
    latest: datetime | None
    now: datetime
    #: The state saved by this run (None until ``save``).
    state: FeedState | None = None

    @classmethod
    def of(cls, pair: str, facts: PairFacts, now: datetime) -> FeedWatch:
        """The watch of a run at ``now``, from the pair's facts at the start of its turn."""
        return cls(pair, FeedState(*feed_state_of(facts.progress)), facts.latest_m5, now)

    def stored(self, timestamps: Iterable[datetime]) -> None:
        """5m bars this run stored: the newest stored bar is the latest of them and before."""
        newest = max(timestamps, default=None)
        if newest is not None and (self.latest is None or newest > self.latest):
            self.latest = newest

    async def save(self, conn: Connection, stored: Iterable[datetime] = ()) -> None:
        """Store the state after this run, which stored the 5m bars ``stored``, in
        ``conn``'s transaction (one UPDATE)."""
        self.stored(stored)
        self.state = observe(self.previous, self.latest, self.now)
        await feed_state.save_feed_state(conn, self.pair, self.state.latest, self.state.stale_runs)

    async def settle(self, conn: Connection, stored: Iterable[datetime]) -> None:
        """Save in a transaction of its own unless a fetch transaction saved already."""
        if self.state is None:
            async with conn.begin():
                await self.save(conn, stored)

    def message(self) -> str | None:
        """The stuck message (logged as a data-quality warning), None when not stuck."""
        if self.state is None or not self.state.stuck:
            return None
        message = stuck_message(self.state)
        log.warning("feed.stuck", data_quality=True, pair=self.pair, message=message)
        return message
