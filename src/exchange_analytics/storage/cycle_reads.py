"""What a steady-state cycle needs to know about a pair before it starts, read at once.

A cycle used to ask these one statement at a time, from several stages: the initialization
state, whether every timeframe holds MIN_BARS bars, the first and the last stored 5m bar, the
``derived_until`` and ``evaluated_until`` marks. Every statement is a round trip (on SQLite
through aiosqlite's thread, ~1 ms on a busy machine), and the round trips, not the database
work, were most of the per-pair cost (issue 17). ``pair_facts`` answers all of them in one
statement of index probes, taken while the pair's lock is held, so nothing else changes them
until the pair is done; the cycle then tells each stage what it would have read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import ScalarSelect, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import ALL_TIMEFRAMES, Timeframe
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage.initialization import marker_of
from exchange_analytics.storage.models import PairInitialization, PriceData

_PRICES = PriceData.__table__
_INIT = PairInitialization.__table__


@dataclass(frozen=True)
class PairFacts:
    """One pair's state at the start of its turn in a cycle."""

    #: ``pair_initialization.status`` (None: the pair has no row yet).
    status: str | None = None
    #: The pair's ``progress`` object: backfill marks, ``derived_until``, ``evaluated_until``,
    #: the feed state.
    progress: JSONObject = field(default_factory=dict)
    #: Every timeframe holds at least MIN_BARS bars.
    holds_min_bars: bool = False
    first_m5: datetime | None = None
    latest_m5: datetime | None = None
    #: Close of the ``latest_m5`` bar (what the jump guard compares the next bar with).
    latest_m5_close: float | None = None

    def initialized(self) -> bool:
        """SPEC §4.3: the backfill is recorded complete and every timeframe holds MIN_BARS."""
        return self.status == "complete" and self.holds_min_bars

    def marker(self, name: str) -> datetime | None:
        return marker_of(self.progress, name)


def _nth_newest(timeframe: Timeframe, count: int) -> ScalarSelect[datetime]:
    """The ``count``-th newest bar of the outer row's pair (a correlated index probe)."""
    col = _PRICES.c
    return (
        select(col.timestamp)
        .where(col.currency_pair == _INIT.c.currency_pair, col.timeframe == timeframe.value)
        .order_by(col.timestamp.desc())
        .offset(count - 1)
        .limit(1)
        .scalar_subquery()
    )


def _m5_edge(edge: str) -> ScalarSelect[datetime]:
    col = _PRICES.c
    reduce = func.min if edge == "first" else func.max
    return (
        select(reduce(col.timestamp))
        .where(col.currency_pair == _INIT.c.currency_pair, col.timeframe == Timeframe.M5.value)
        .scalar_subquery()
    )


def _latest_m5_close() -> ScalarSelect[float]:
    col = _PRICES.c
    return (
        select(col.close)
        .where(col.currency_pair == _INIT.c.currency_pair, col.timeframe == Timeframe.M5.value)
        .order_by(col.timestamp.desc())
        .limit(1)
        .scalar_subquery()
    )


@lru_cache(maxsize=8)
def _facts_query(min_bars: int) -> Select[tuple[str, str, object, datetime, datetime, float]]:
    """The statement behind ``pair_facts``, built once per MIN_BARS (the pairs are bound)."""
    probes = [_nth_newest(tf, max(min_bars, 1)) for tf in ALL_TIMEFRAMES]
    return select(
        _INIT.c.currency_pair,
        _INIT.c.status,
        _INIT.c.progress,
        _m5_edge("first"),
        _m5_edge("last"),
        _latest_m5_close(),
        *probes,
    ).where(_INIT.c.currency_pair.in_(bindparam("pairs", expanding=True)))


async def pair_facts(
    conn: AsyncConnection, pairs: Iterable[str], min_bars: int
) -> dict[str, PairFacts]:
    """``PairFacts`` of each of ``pairs`` (a pair without an initialization row gets the
    empty facts: not initialized), in one statement of index probes."""
    names = list(pairs)
    found = {name: PairFacts() for name in names}
    for row in await conn.execute(_facts_query(min_bars), {"pairs": names}):
        progress = row[2]
        found[row[0]] = PairFacts(
            status=row[1],
            progress=dict(progress) if isinstance(progress, dict) else {},
            holds_min_bars=all(value is not None for value in row[6:]),
            first_m5=row[3],
            latest_m5=row[4],
            latest_m5_close=row[5],
        )
    return found
