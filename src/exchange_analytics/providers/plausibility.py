"""Plausibility: bars that are well-formed but wrong (SPEC §3.5). Pure: no I/O, no clock.

Validation (``providers.validation``) answers "can this be a bar at all?"; this module answers
"can this bar be *right*?", because one wrong but valid bar freezes or poisons everything after
it: a bar dated 2099 makes every later fetch start after it (the pipeline fetches nothing and
calls that success), and a EUR/USD-scale price stored as USD/JPY feeds indicators and patterns.

Three rules, each with a greppable reason prefix:

* ``future bar``: the bar opens after the clock (``now``, or ``--as-of``). Refused on every
  path that stores bars; an import naming one is refused whole (or the row skipped with
  ``--skip-bad-rows``).
* ``price jump``: the close moves more than ``MAX_BAR_JUMP_PERCENT`` from the previous stored
  close of the same pair and timeframe. Held back (not stored), counted, alerted. Each bar is
  compared with the last bar that *was* kept, so one bad tick is held back alone and the bars
  after it pass; a real level shift holds back every later bar until an operator imports it
  with ``--force`` (the stuck-feed and held-back alerts make sure someone looks).
* ``wrong pair or wrong scale?``: the median close of an import is more than 20 % away from
  the median close of the pair's stored bars over the same (or the nearest) period.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from exchange_analytics.domain import Candle

FUTURE_BAR = "future bar"
PRICE_JUMP = "price jump"
WRONG_SCALE = "wrong pair or wrong scale?"
#: Import price level: refused beyond this relative distance from the stored level.
LEVEL_TOLERANCE = 0.20


def future_reason(timestamp: datetime, now: datetime) -> str | None:
    """Why a bar opening at ``timestamp`` cannot exist yet at ``now`` (None when it can)."""
    if timestamp > now:
        return (
            f"{FUTURE_BAR}: opens at {timestamp.isoformat()}, after the clock "
            f"{now.isoformat()} (bad data, or --as-of/system clock too early)"
        )
    return None


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A bar held back by the jump guard, with what it was compared against."""

    timestamp: datetime
    close: float
    previous_close: float
    percent: float

    @property
    def reason(self) -> str:
        return (
            f"{PRICE_JUMP}: close {self.close!r} at {self.timestamp.isoformat()} is "
            f"{self.percent:.2f}% from the previous close {self.previous_close!r}"
        )


def jump_percent(close: float, previous_close: float) -> float:
    """Distance of ``close`` from ``previous_close`` in percent of the latter."""
    return abs(close - previous_close) / previous_close * 100.0


def hold_back_jumps(
    candles: Iterable[Candle], previous_close: float | None, max_percent: float
) -> tuple[list[Candle], list[HeldBack]]:
    """Split ascending ``candles`` into bars to store and bars held back by the jump guard.

    ``previous_close`` is the close of the stored bar just before the first candle (None:
    nothing stored before, so the first candle sets the reference).
    """
    kept: list[Candle] = []
    held: list[HeldBack] = []
    reference = previous_close
    for candle in candles:
        if reference is not None and reference > 0:
            percent = jump_percent(candle.close, reference)
            if percent > max_percent:
                held.append(HeldBack(candle.timestamp, candle.close, reference, percent))
                continue
        kept.append(candle)
        reference = candle.close
    return kept, held


def median_close(closes: Sequence[float]) -> float | None:
    return float(statistics.median(closes)) if closes else None


def level_reason(
    pair: str,
    file_median: float | None,
    stored_median: float | None,
    period: str,
    tolerance: float = LEVEL_TOLERANCE,
) -> str | None:
    """Why an import's price level does not fit the stored one (None: fits, or nothing to
    compare with). ``period`` says which stored bars the median came from."""
    if file_median is None or stored_median is None or stored_median <= 0:
        return None
    off = abs(file_median - stored_median) / stored_median
    if off <= tolerance:
        return None
    return (
        f"{WRONG_SCALE} the median close {file_median:.6g} is {off:.0%} away from the "
        f"{stored_median:.6g} of the stored {pair} bars {period} (limit {tolerance:.0%}); "
        "check --pair and the file, or import it anyway with --force"
    )
