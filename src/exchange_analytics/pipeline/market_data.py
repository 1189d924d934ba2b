"""Stage 2-3: the initialization backfill and the continuous fetch with gap healing.

Backfill (SPEC §3.3): per pair, 1h as deep as the longest of 1h/4h/1d needs and 5m as deep as
configured, fetched in chunks; each chunk's rows and the "fetched until" mark are committed in
one transaction, so a backfill killed at any instant resumes from the last committed chunk and
upserts make the overlap harmless (no duplicates, no holes).

Continuous fetch (SPEC §13.4): ask for every closed 5m bar after the last stored one, so hours
of downtime are refilled in one run. Market-closed periods simply return no bars.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from exchange_analytics import stopping as stop_requests
from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import CurrencyPair, Timeframe, floor_time
from exchange_analytics.pipeline import data_quality
from exchange_analytics.providers.base import FetchResult, MarketDataProvider
from exchange_analytics.providers.plausibility import HeldBack
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage import initialization as init_store
from exchange_analytics.storage.engine import Connection, Database

log = structlog.get_logger(__name__)


class Unread:
    """The type of ``UNREAD``: a value the caller did not read (None is a value: no bar)."""


UNREAD = Unread()
CHUNK = {Timeframe.M5: timedelta(days=5), Timeframe.H1: timedelta(days=60)}


@dataclass
class FetchOutcome:
    rows_fetched: int = 0
    rows_written: int = 0
    rejected: int = 0
    null_rows: int = 0
    #: Bars held back by the jump guard (MAX_BAR_JUMP_PERCENT, SPEC §3.5): not stored.
    held_back: int = 0
    #: Open times of 5m bars that were new or changed in this run (drives the later stages).
    new_m5: list[datetime] = field(default_factory=list)
    backfilled: bool = False
    #: The newest stored 5m bar, when the continuous fetch knows it (what the jump guard
    #: compares with); followed as chunks are stored. None: unknown, the guard reads it.
    newest_m5: data_quality.StoredBar | None = None


def backfill_depths(settings: Settings) -> dict[Timeframe, timedelta]:
    """How far back to fetch each provider timeframe; 4h and 1d are built from 1h (SPEC §5)."""
    hours_days = max(
        settings.backfill_days_1h, settings.backfill_days_4h, settings.backfill_days_1d
    )
    return {
        Timeframe.H1: timedelta(days=hours_days),
        Timeframe.M5: timedelta(days=settings.backfill_days_5m),
    }


#: Work that joins a fetch's transaction once its rows are written (the feed watch's save).
AlsoInTransaction = Callable[[Connection], Awaitable[None]]


@asynccontextmanager
async def transaction(db: Database | Connection) -> AsyncIterator[Connection]:
    """A transaction on the engine (a connection of the pool) or on a connection the caller
    holds already (no checkout, no return: the cycle keeps one for a pair's fetch)."""
    if isinstance(db, Connection):
        async with db.begin():
            yield db
    else:
        async with db.begin() as conn:
            yield conn


async def _store(
    db: Database | Connection,
    pair: CurrencyPair,
    result: FetchResult,
    source: str,
    outcome: FetchOutcome,
    progress_mark: datetime | None = None,
    max_jump_percent: float | None = None,
    also: AlsoInTransaction | None = None,
) -> None:
    async with transaction(db) as conn:
        candles, held = list(result.candles), list[HeldBack]()
        m5 = result.timeframe is Timeframe.M5
        if max_jump_percent is not None:
            newest = outcome.newest_m5 if m5 else None
            candles, held = await data_quality.guard_jumps(
                conn, str(pair), result.timeframe, candles, max_jump_percent, source, newest
            )
        rows = candle_store.candle_rows(str(pair), result.timeframe, candles, source)
        written = await candle_store.write_rows(conn, rows)
        if progress_mark is not None:
            await init_store.save_progress(conn, str(pair), result.timeframe, progress_mark)
        if m5:
            outcome.new_m5.extend(c.timestamp for c in candles)
            if outcome.newest_m5 is not None:
                outcome.newest_m5 = data_quality.StoredBar.newest_of(candles, outcome.newest_m5)
        if also is not None:
            await also(conn)
    outcome.rows_fetched += len(result.candles)
    outcome.held_back += len(held)
    outcome.rows_written += written
    outcome.rejected += len(result.rejected)
    outcome.null_rows += result.null_rows


async def backfill(
    engine: Database,
    provider: MarketDataProvider,
    settings: Settings,
    pair: CurrencyPair,
    now: datetime,
    *,
    restart: bool,
    progress: Callable[[str, int, int], None] | None = None,
) -> FetchOutcome:
    """Fetch 1h then 5m history in chunks, resuming from recorded progress."""
    outcome = FetchOutcome(backfilled=True)
    async with engine.begin() as conn:
        recorded = await init_store.begin_backfill(conn, str(pair), provider.name, restart=restart)
    for timeframe, depth in backfill_depths(settings).items():
        target = floor_time(now - depth, timeframe)
        earliest = provider.earliest_available(timeframe, now)
        if earliest is not None and earliest > target:
            log.warning(
                "backfill.depth_clamped",
                pair=str(pair),
                timeframe=timeframe.value,
                wanted=target.isoformat(),
                available_from=earliest.isoformat(),
            )
            target = floor_time(earliest, timeframe) + timeframe.duration
        start = target
        fetched_until = recorded.get(timeframe.value)
        if isinstance(fetched_until, str):  # the backfill's mark: an ISO-8601 moment
            start = max(target, datetime.fromisoformat(fetched_until))
        chunks = max(1, int((now - start) / CHUNK[timeframe]) + 1)
        done = 0
        while start < now:
            stop_requests.check()
            stop = min(start + CHUNK[timeframe], now)
            result = await provider.fetch_candles(pair, timeframe, start, stop)
            stop_requests.check()
            await _store(
                engine,
                pair,
                result,
                provider.name,
                outcome,
                progress_mark=stop,
                max_jump_percent=settings.max_bar_jump_percent,
            )
            log.info(
                "backfill.chunk",
                pair=str(pair),
                timeframe=timeframe.value,
                start=start.isoformat(),
                end=stop.isoformat(),
                bars=len(result.candles),
            )
            start = stop
            done += 1
            if progress is not None:
                progress(f"{pair} {timeframe.value}", done, chunks)
    return outcome


async def fetch_latest(
    db: Database | Connection,
    provider: MarketDataProvider,
    settings: Settings,
    pair: CurrencyPair,
    now: datetime,
    *,
    last: datetime | Unread | None = UNREAD,
    last_close: float | None = None,
    watch: data_quality.FeedWatch | None = None,
) -> FetchOutcome:
    """Every closed 5m bar after the last stored one (gap healing), up to ``now``.

    ``last`` is the newest stored 5m bar when the caller has read it already (the cycle
    reads it with the pair's other facts); by default it is read here. ``last_close`` is
    that bar's close when the caller knows it (the jump guard then reads no previous close
    while the fetch stays after the stored bars). ``db`` may be a
    connection the caller holds (each chunk is then a transaction on it). The feed
    ``watch``, when given, is saved in the last chunk's transaction (not at all when there
    is nothing to fetch: the caller settles it)."""
    outcome = FetchOutcome()
    if isinstance(last, Unread):
        async with transaction(db) as conn:
            last = await candle_store.latest_timestamp(conn, str(pair), Timeframe.M5)
    elif last is not None and last_close is not None:
        outcome.newest_m5 = data_quality.StoredBar(last, last_close)
    start = (
        last + Timeframe.M5.duration
        if last is not None
        else floor_time(now - timedelta(days=settings.backfill_days_5m), Timeframe.M5)
    )
    earliest = provider.earliest_available(Timeframe.M5, now)
    if earliest is not None and start < earliest:
        log.warning(
            "fetch.gap_beyond_provider_reach",
            pair=str(pair),
            missing_from=start.isoformat(),
            available_from=earliest.isoformat(),
        )
        start = floor_time(earliest, Timeframe.M5) + Timeframe.M5.duration
    if start + Timeframe.M5.duration > now:
        return outcome
    if last is not None and start - last > timedelta(minutes=10):
        log.info("fetch.gap_healing", pair=str(pair), since=last.isoformat(), until=now.isoformat())
    while start < now:
        stop_requests.check()
        stop = min(start + CHUNK[Timeframe.M5], now)
        result = await provider.fetch_candles(pair, Timeframe.M5, start, stop)
        stop_requests.check()
        jump = settings.max_bar_jump_percent
        also = _saving(watch, outcome) if stop >= now else None
        await _store(db, pair, result, provider.name, outcome, max_jump_percent=jump, also=also)
        start = stop
    return outcome


def _saving(
    watch: data_quality.FeedWatch | None, outcome: FetchOutcome
) -> AlsoInTransaction | None:
    """The feed watch's save, told the 5m bars this fetch stored (None without a watch)."""
    if watch is None:
        return None

    async def save(conn: Connection) -> None:
        await watch.save(conn, outcome.new_m5)

    return save
