"""1-minute bars into 5-minute (or hourly) bars on the way in (SPEC §3.4 with the §5 rules).

HistData's usual product, and MetaTrader's M1 export, are 1-minute files. A 5m bar is built
only from the 1-minute bars it covers (``[t, t + 5 min)``): open = first minute's open, high
= max, low = min, close = last minute's close, volume = sum, and ``minutes`` = how many
1-minute bars it holds. Nothing is invented: a bucket without any minute stays a gap, a
bucket with fewer than 5 minutes is kept with its count (stored as ``bar_count``, so a
partial bucket can be told from a full one).

Memory is bounded by the *output* (one small list per 5m bucket, a fifth of the input rows);
the minute rows themselves are never kept. Rows may arrive in any order (a HistData file whose
day blocks are shuffled still aggregates right): a bucket's open and close come from its
earliest and latest minute, and a minute seen twice is refused as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from exchange_analytics.domain import Candle

MINUTE = 60

# bucket list slots
_FIRST, _OPEN, _HIGH, _LOW, _LAST, _CLOSE, _VOLUME, _COUNT, _MASK = range(9)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One aggregated bar and how many source minutes it holds."""

    candle: Candle
    minutes: int


class MinuteAggregator:
    """Accumulates 1-minute rows into buckets of ``step`` seconds (300 for 5m)."""

    def __init__(self, step: int = 300) -> None:
        if step % MINUTE or step <= 0:
            raise ValueError(f"bucket step {step}s is not a whole number of minutes")
        self.step = step
        self._buckets: dict[int, list[float]] = {}
        self.rows = 0

    def add(self, epoch: int, o: float, h: float, low: float, c: float, v: float) -> None:
        """Add the minute opening at ``epoch`` (UTC seconds); ValueError if it is not on the
        minute grid or was already added."""
        if epoch % MINUTE:
            raise ValueError(f"timestamp {_iso(epoch)} is not on the 1-minute grid")
        start = epoch - epoch % self.step
        bit = 1 << ((epoch - start) // MINUTE)
        bucket = self._buckets.get(start)
        if bucket is None:
            self._buckets[start] = [epoch, o, h, low, epoch, c, v, 1, bit]
            self.rows += 1
            return
        if int(bucket[_MASK]) & bit:
            raise ValueError(f"duplicate timestamp {_iso(epoch)}")
        bucket[_MASK] = int(bucket[_MASK]) | bit
        if epoch < bucket[_FIRST]:
            bucket[_FIRST], bucket[_OPEN] = epoch, o
        if epoch > bucket[_LAST]:
            bucket[_LAST], bucket[_CLOSE] = epoch, c
        bucket[_HIGH] = max(bucket[_HIGH], h)
        bucket[_LOW] = min(bucket[_LOW], low)
        bucket[_VOLUME] += v
        bucket[_COUNT] += 1
        self.rows += 1

    def __len__(self) -> int:
        return len(self._buckets)

    def buckets(self) -> list[Bucket]:
        """Every bucket in time order (and the aggregator emptied)."""
        out = []
        for start in sorted(self._buckets):
            b = self._buckets[start]
            when = datetime.fromtimestamp(start, tz=UTC)
            candle = Candle(when, b[_OPEN], b[_HIGH], b[_LOW], b[_CLOSE], b[_VOLUME])
            out.append(Bucket(candle, int(b[_COUNT])))
        self._buckets.clear()
        return out


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()
