"""Bar validation before anything is stored (SPEC §3.2, §13.6).

Pure functions: no I/O, no logging, no clock (``end`` is passed in). Providers call
``validate_candles`` on every batch and log what it refused; the CSV importer reuses
``check_bar`` per row so that a file and an API answer are judged by the same rules.

Rules, in the order they are applied:

1. Not closed by ``end`` (open + timeframe > end): the still-forming bar. It is *dropped*,
   not rejected, because it is not wrong, only early. A bar that *opens* after ``end`` is
   not forming but impossible (``future bar``, SPEC §3.5): rejected with its reason, so a
   provider stamping bars in the wrong zone shows up in the data-quality log instead of
   silently looking like a feed that sends nothing. Callers count it as
   ``len(batch) - len(kept) - len(rejected)``. This check comes first so that Yahoo's
   "live" row, stamped with the current second instead of a 5-minute boundary, counts as
   forming rather than as misaligned.
2. Per bar: timezone-aware timestamp, finite and positive prices, ``low <= min(open, close)``,
   ``high >= max(open, close)``, finite non-negative volume, and an open time on the
   timeframe's UTC grid (5m on :00/:05/..., 1h on the hour).
3. Sequence, among the bars that passed 2: strictly increasing and unique. A repeated
   timestamp keeps the first good bar and rejects the rest; a bar whose time goes backwards
   is rejected (never re-sorted: a provider that answers out of order has a problem an
   operator should see, and re-sorting would hide which copy is right).

Every reason starts with a fixed phrase (``duplicate timestamp``, ``out of order``,
``misaligned timestamp``, ``non-finite price``, ``non-positive price``, ``ohlc violation``,
``bad volume``, ``naive timestamp``, ``future bar``) so that ``grep`` over the logs finds
them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from exchange_analytics.domain import Candle, Timeframe, utc
from exchange_analytics.providers.base import RejectedBar
from exchange_analytics.providers.plausibility import future_reason

#: The greppable reason prefixes, in one place for callers and tests.
NAIVE_TIMESTAMP = "naive timestamp"
NON_FINITE_PRICE = "non-finite price"
NON_POSITIVE_PRICE = "non-positive price"
OHLC_VIOLATION = "ohlc violation"
BAD_VOLUME = "bad volume"
MISALIGNED = "misaligned timestamp"
DUPLICATE = "duplicate timestamp"
OUT_OF_ORDER = "out of order"


def describe(candle: Candle) -> str:
    """A compact ``raw`` rendering for RejectedBar and log lines."""
    return (
        f"t={candle.timestamp.isoformat()} o={candle.open!r} h={candle.high!r} "
        f"l={candle.low!r} c={candle.close!r} v={candle.volume!r}"
    )


def is_aligned(timestamp: datetime, timeframe: Timeframe) -> bool:
    """True when ``timestamp`` is an open time on the timeframe's UTC grid."""
    if timestamp.microsecond:
        return False
    return int(utc(timestamp).timestamp()) % timeframe.seconds == 0


def check_bar(candle: Candle, timeframe: Timeframe) -> str | None:
    """Why a single bar is unusable, or None when it is fine (sequence rules aside)."""
    reason = check_values(candle)
    if reason is None and not is_aligned(candle.timestamp, timeframe):
        return (
            f"{MISALIGNED}: {utc(candle.timestamp).isoformat()} is not on the "
            f"{timeframe.value} grid"
        )
    return reason


def check_values(candle: Candle) -> str | None:
    """``check_bar`` without the grid: for 1-minute rows, which have no stored timeframe."""
    if candle.timestamp.tzinfo is None:
        return f"{NAIVE_TIMESTAMP}: {candle.timestamp.isoformat()} has no UTC offset"
    prices = {"open": candle.open, "high": candle.high, "low": candle.low, "close": candle.close}
    for name, value in prices.items():
        if not math.isfinite(value):
            return f"{NON_FINITE_PRICE}: {name}={value!r}"
    for name, value in prices.items():
        if value <= 0:
            return f"{NON_POSITIVE_PRICE}: {name}={value!r}"
    if candle.low > min(candle.open, candle.close):
        return (
            f"{OHLC_VIOLATION}: low {candle.low!r} above min(open, close) "
            f"{min(candle.open, candle.close)!r}"
        )
    if candle.high < max(candle.open, candle.close):
        return (
            f"{OHLC_VIOLATION}: high {candle.high!r} below max(open, close) "
            f"{max(candle.open, candle.close)!r}"
        )
    if not math.isfinite(candle.volume) or candle.volume < 0:
        return f"{BAD_VOLUME}: volume={candle.volume!r}"
    return None


def in_window(moment: datetime | None, start: datetime, stop: datetime | None) -> bool:
    """``start <= moment < stop`` (no upper bound when ``stop`` is None); None is outside.

    Providers use it to keep only the bars of the request window they asked for, which is
    what prevents duplicates where two chunked requests meet.
    """
    return moment is not None and start <= moment and (stop is None or moment < stop)


def ceil_to_grid(moment: datetime, timeframe: Timeframe) -> datetime:
    """The first open time on the timeframe's UTC grid at or after ``moment``."""
    seconds = utc(moment).timestamp()
    step = timeframe.seconds
    return datetime.fromtimestamp(math.ceil(seconds / step) * step, tz=UTC)


def is_closed(candle: Candle, timeframe: Timeframe, end: datetime) -> bool:
    """A bar [t, t + timeframe) is closed by ``end`` when t + timeframe <= end."""
    return candle.timestamp + timeframe.duration <= end


def validate_candles(
    candles: Sequence[Candle], timeframe: Timeframe, end: datetime
) -> tuple[list[Candle], list[RejectedBar]]:
    """Split a provider batch into bars fit for storage and rejected bars with reasons.

    Bars not closed by ``end`` are dropped silently (they are the forming bar, see the module
    docstring); the number dropped is ``len(candles) - len(kept) - len(rejected)``.
    """
    end = utc(end)
    kept: list[Candle] = []
    rejected: list[RejectedBar] = []
    seen: set[datetime] = set()
    last: datetime | None = None
    for candle in candles:
        aware = candle.timestamp.tzinfo is not None
        future = future_reason(utc(candle.timestamp), end) if aware else None
        if future is None and aware and not is_closed(candle, timeframe, end):
            continue
        reason = future or check_bar(candle, timeframe)
        if reason is None:
            if candle.timestamp in seen:
                reason = f"{DUPLICATE}: {utc(candle.timestamp).isoformat()} already seen"
            elif last is not None and candle.timestamp < last:
                reason = (
                    f"{OUT_OF_ORDER}: {utc(candle.timestamp).isoformat()} comes after "
                    f"{last.isoformat()}"
                )
        if reason is not None:
            rejected.append(
                RejectedBar(
                    timestamp=candle.timestamp if aware else None,
                    reason=reason,
                    raw=describe(candle),
                )
            )
            continue
        ts = utc(candle.timestamp)
        if candle.timestamp.tzinfo is not UTC:
            candle = Candle(ts, candle.open, candle.high, candle.low, candle.close, candle.volume)
        seen.add(ts)
        last = ts
        kept.append(candle)
    return kept, rejected
