"""Gaps in stored candles: consecutive bars further apart than one timeframe, not counting the
FX weekend closure.

The database finds the candidates (``storage.stats_queries.gap_candidates``: ``LAG`` over
each pair x timeframe, both engines); this module decides which are real: a candidate is a
gap when the missing span ``[previous bar + timeframe, next bar)`` holds at least one
timeframe of open-market time. So Friday's last bar followed by Sunday's first is no gap on
any timeframe and with either day boundary, while a missing 5m bar on a Tuesday is one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from exchange_analytics.domain import ALL_TIMEFRAMES, Timeframe
from exchange_analytics.health.market_hours import open_seconds_between
from exchange_analytics.storage.engine import Connection
from exchange_analytics.storage.stats_queries import gap_candidates

#: What the gap query needs to know: each stored timeframe's length, by column value.
TIMEFRAME_SECONDS = {tf.value: tf.seconds for tf in ALL_TIMEFRAMES}


@dataclass(frozen=True, slots=True)
class Gap:
    pair: str
    timeframe: Timeframe
    after: datetime  #: open time of the last bar before the gap
    before: datetime  #: open time of the first bar after it
    missing_open_seconds: float

    @property
    def missing_bars(self) -> int:
        return int(self.missing_open_seconds // self.timeframe.seconds)


def is_gap(timeframe: Timeframe, previous: datetime, following: datetime) -> Gap | None:
    """The gap between two consecutive bars, or None if only market-closed time is missing."""
    step = timeframe.seconds
    missing = open_seconds_between(previous + timedelta(seconds=step), following)
    if missing < step:
        return None
    return Gap("", timeframe, previous, following, missing)


async def find_gaps(conn: Connection) -> list[Gap]:
    """Every real gap in price_data, per pair x timeframe, oldest first."""
    gaps = []
    for pair, timeframe, previous, following in await gap_candidates(conn, TIMEFRAME_SECONDS):
        found = is_gap(Timeframe(timeframe), _aware(previous), _aware(following))
        if found is not None:
            gaps.append(replace(found, pair=pair))
    return gaps


def _aware(value: datetime | str) -> datetime:
    """The subquery's LAG column may come back untyped on SQLite: parse and mark it UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
