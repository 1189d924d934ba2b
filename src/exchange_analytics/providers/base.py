"""The provider interface (SPEC §3.1) and what a fetch returns.

A provider answers ``fetch_candles(pair, timeframe, start, end)`` with the *closed* bars whose
open time lies in ``[start, end)`` and whose close (open + timeframe) is at or before ``end``.
The caller passes the clock (``now`` or ``--as-of``) as ``end``, so a provider never returns a
bar that had not closed yet. Bars are validated (``providers.validation``) before they are
returned; what failed is in ``rejected`` with a reason, so the caller can log it and go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import structlog

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe

log = structlog.get_logger("exchange_analytics.providers")


@dataclass(frozen=True, slots=True)
class RejectedBar:
    """A bar refused by validation, with the reason an operator can act on."""

    timestamp: datetime | None
    reason: str
    raw: str = ""


@dataclass(slots=True)
class FetchResult:
    """Closed, validated candles in ascending timestamp order, plus what was left out."""

    pair: CurrencyPair
    timeframe: Timeframe
    candles: list[Candle] = field(default_factory=list)
    rejected: list[RejectedBar] = field(default_factory=list)
    #: Rows the provider sent with null prices (Yahoo does this); skipped, not errors.
    null_rows: int = 0
    #: Bars dropped because they had not closed by ``end`` (the still-forming bar).
    forming_dropped: int = 0
    #: Number of HTTP requests (or pages) it took.
    requests: int = 0


@runtime_checkable
class MarketDataProvider(Protocol):
    """What the pipeline needs from a market-data source."""

    name: str
    #: True for simulated data: every message built from it is marked ``[DEMO DATA]``.
    is_demo: bool

    async def fetch_candles(
        self, pair: CurrencyPair, timeframe: Timeframe, start: datetime, end: datetime
    ) -> FetchResult:
        """Closed bars with open time in [start, end); raises ProviderUnavailable (temporary)
        or ProviderRequestError (needs a person) with pair, timeframe and redacted URL."""
        ...

    def earliest_available(self, timeframe: Timeframe, now: datetime) -> datetime | None:
        """The oldest open time this provider can serve for ``timeframe`` at ``now``
        (Yahoo: ~60 days for 5m, ~730 days for 1h); None when unlimited."""
        ...

    async def ping(self, pair: CurrencyPair, now: datetime) -> Candle | None:
        """Fetch the latest closed 5m candle (reachability check); raises like fetch_candles."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def log_fetch_outcome(provider: str, result: FetchResult) -> None:
    """One warning per refused bar (a data-quality event with the reason) and a summary line."""
    fields = {"provider": provider, "pair": str(result.pair), "timeframe": result.timeframe.value}
    for bar in result.rejected:
        log.warning(
            "provider.rejected_bar",
            **fields,
            timestamp=bar.timestamp.isoformat() if bar.timestamp else None,
            reason=bar.reason,
            raw=bar.raw,
        )
    log.info(
        "provider.fetched",
        **fields,
        bars=len(result.candles),
        rejected=len(result.rejected),
        null_rows=result.null_rows,
        forming_dropped=result.forming_dropped,
        requests=result.requests,
    )
