"""The offline ``demo`` provider (SPEC §3.1): a simulated FX market, deterministic per bar.

Why this construction: "the same bar asked twice has the same values" rules out a stateful
random walk. Instead the log price is a sum of hashed *value noise* at many time scales (5 min
to ~3 months) with amplitudes growing like sqrt(scale), which behaves like a random walk at
every horizon yet is a pure function of (pair, time). The short scales are multiplied by a
slowly varying volatility factor, so calm and busy stretches alternate (volatility
clustering), and an intraday profile makes the Asian session quieter than London/New York.
The market is closed from Friday 17:00 to Sunday 17:00 New York time, as real FX is.

1h bars are aggregated from the same 5m bars, so every timeframe agrees with every other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe, floor_time
from exchange_analytics.providers.base import FetchResult, RejectedBar, log_fetch_outcome
from exchange_analytics.providers.validation import validate_candles
from exchange_analytics.providers.validation_columns import clean_closed_prefix

NEW_YORK = ZoneInfo("America/New_York")
_M5_NS = 300 * 1_000_000_000
_BASE_PRICES = {
    "USD/JPY": 150.0,
    "EUR/USD": 1.08,
    "GBP/USD": 1.27,
    "AUD/USD": 0.66,
    "USD/CHF": 0.88,
    "USD/CAD": 1.36,
    "EUR/JPY": 162.0,
    "GBP/JPY": 190.0,
    "NZD/USD": 0.60,
    "EUR/GBP": 0.85,
}
# (period in 5m bars, amplitude in log-price) — amplitude ~ 0.00035 * sqrt(period)
_SCALES = [(p, 0.00035 * float(np.sqrt(p))) for p in (1, 3, 12, 48, 288, 1440, 8640, 25920)]
_SUBSTEPS = 5  # price samples inside a 5m bar, for high/low


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fast, well-mixed hash of uint64 values."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(seed: int, index: np.ndarray) -> np.ndarray:
    """Deterministic values in [-1, 1) for integer knot indexes."""
    with np.errstate(over="ignore"):
        mixed = _splitmix(index.astype(np.uint64) * np.uint64(0x2545F4914F6CDD1D) + np.uint64(seed))
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53) * 2.0 - 1.0


def _value_noise(seed: int, t: np.ndarray) -> np.ndarray:
    """Smoothly interpolated hashed noise; ``t`` in knot units.

    ``t`` spans a contiguous stretch and many samples share a knot (a 3-month scale has a
    handful of knots in a year of 5m samples), so each knot of the stretch is hashed once and
    gathered: the values are those of hashing every sample's two knots, at a fraction of the
    cost."""
    i = np.floor(t)
    f = t - i
    ease: np.ndarray = np.multiply(f, f)  # f * f * (3 - 2f), operation by operation, in place
    ease *= np.subtract(3.0, np.multiply(2.0, f, out=f), out=f)
    if not i.size:
        return ease
    at = i.astype(np.int64)
    low = int(at.min())
    knots = _uniform(seed, np.arange(low, int(at.max()) + 2, dtype=np.int64))
    at -= low
    out: np.ndarray = np.take(knots, at)
    out *= np.subtract(1.0, ease, out=f)
    at += 1
    out += np.take(knots, at) * ease
    return out


def _pair_seed(pair: str, salt: int = 0) -> int:
    value = 1469598103934665603
    for ch in f"{pair}:{salt}":
        value = ((value ^ ord(ch)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return value


def log_price(pair: str, t_bars: np.ndarray) -> np.ndarray:
    """Log price at time ``t_bars`` (float, in 5-minute units since the epoch)."""
    vol = np.exp(0.6 * _value_noise(_pair_seed(pair, 999), t_bars / 576.0))
    minute_of_day = (t_bars * 5.0) % 1440.0
    session = 0.7 + 0.5 * np.exp(-(((minute_of_day - 13 * 60) / 240.0) ** 2))
    short_factor = vol * session
    total = np.zeros_like(t_bars)
    for k, (period, amplitude) in enumerate(_SCALES):
        noise = _value_noise(_pair_seed(pair, k), t_bars / period)
        total += amplitude * noise * short_factor if period <= 288 else amplitude * noise
    return total


def round_like_python(values: np.ndarray, decimals: int) -> np.ndarray:
    """``[round(x, decimals) for x in values]`` as an array, without a Python call per value.

    ``np.round`` scales by 10**decimals, rounds half to even and divides back; the division of
    an exact integer by an exact power of ten is correctly rounded, so it equals Python's
    (correctly rounded) ``round`` unless the scaled value lies within the scaling's error of a
    half (a near tie) or is not finite. Those few values are rounded by Python itself.
    """
    scaled = values * (10.0**decimals)
    out: np.ndarray = np.round(values, decimals)
    with np.errstate(invalid="ignore"):
        distance = np.abs(scaled - np.floor(scaled) - 0.5)
        doubtful = ~(distance > np.maximum(1e-6, 8 * np.spacing(np.abs(scaled))))
    for i in np.flatnonzero(doubtful).tolist():
        out[i] = round(float(values[i]), decimals)
    return out


def market_open_mask(starts: list[datetime]) -> np.ndarray:
    """True where a bar starting at that UTC time lies inside FX trading hours."""
    seconds = np.fromiter((int(s.timestamp()) for s in starts), np.int64, count=len(starts))
    return _open_mask(seconds)


def _open_mask(seconds: np.ndarray) -> np.ndarray:
    """``market_open_mask`` for epoch seconds. New York's weekday and hour are constant
    within a UTC hour (offsets are whole hours), so the rule is asked of each distinct hour,
    with New York's offset looked up per UTC day (``_new_york_offsets``)."""
    hours, inverse = np.unique(seconds // 3600, return_inverse=True)
    local = hours * 3600 + _new_york_offsets(hours)
    weekday = (local // 86400 + 3) % 7  # 1970-01-01 was a Thursday (Monday is 0)
    hour = (local // 3600) % 24
    closed = (weekday == 5) | ((weekday == 4) & (hour >= 17)) | ((weekday == 6) & (hour < 17))
    mask: np.ndarray = ~closed[inverse.reshape(-1)]
    return mask


def _new_york_offsets(hours: np.ndarray) -> np.ndarray:
    """New York's UTC offset in seconds at each of the UTC ``hours`` (epoch hours).

    The offset changes at most once a day (twice a year), so it is asked at the start of each
    UTC day and of the next; where the two agree the whole day has that offset, and only the
    hours of a day with a change are asked one by one."""
    if not hours.size:
        return np.zeros(0, dtype=np.int64)
    first, last = int(hours.min()) // 24, int(hours.max()) // 24
    edges = np.array([_new_york_offset(d * 86400) for d in range(first, last + 2)], np.int64)
    day_index = hours // 24 - first
    offsets = edges[day_index]
    for i in np.flatnonzero(offsets != edges[day_index + 1]).tolist():
        offsets[i] = _new_york_offset(int(hours[i]) * 3600)
    result: np.ndarray = offsets
    return result


def _new_york_offset(epoch_seconds: int) -> int:
    offset = datetime.fromtimestamp(epoch_seconds, UTC).astimezone(NEW_YORK).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _simulate(pair: str, start: datetime, end: datetime) -> tuple[np.ndarray, ...]:
    """Closed 5m bars in [start, end) as arrays: epoch seconds, open, high, low, close, volume.

    Prices are rounded as Python's ``round`` rounds them (correctly rounded, unlike a bare
    ``np.round``: ``round_like_python``), so every value is exactly what the per-bar
    construction produced before it was vectorised.
    """
    first = floor_time(start, Timeframe.M5)
    if first < start:
        first += timedelta(minutes=5)
    count = int((end - first).total_seconds() // 300)
    empty = np.empty(0, dtype=np.int64), *(np.empty(0) for _ in range(5))
    if count <= 0:
        return empty
    seconds = int(first.timestamp()) + 300 * np.arange(count, dtype=np.int64)
    kept = np.flatnonzero(_open_mask(seconds))
    if not kept.size:
        return empty
    base = _BASE_PRICES.get(pair, 1.0 + (_pair_seed(pair) % 1000) / 1000.0)
    prices = _bar_samples(pair, first.timestamp() / 300.0, kept) * base
    decimals = 3 if pair.endswith("JPY") else 5
    samples, closes = prices[:, :_SUBSTEPS], prices[:, _SUBSTEPS]
    raw = (
        samples[:, 0],
        np.maximum(samples.max(axis=1), closes),
        np.minimum(samples.min(axis=1), closes),
        closes,
    )
    o, h, lo, c = (round_like_python(v, decimals) for v in raw)
    volume = np.round(50 + 400 * np.abs(np.diff(np.log(prices), axis=1)).sum(1) * 1e3)
    high = np.maximum(np.maximum(h, o), c)
    low = np.minimum(np.minimum(lo, o), c)
    return seconds[kept], o, high, low, c, volume


def _bar_samples(pair: str, t0: float, bars: np.ndarray) -> np.ndarray:
    """exp(log price) at the ``_SUBSTEPS + 1`` samples of each of ``bars`` (indexes on the 5m
    grid from ``t0``): its substeps, then its close (the next bar's first sample).

    Only the bars asked for (the open market) are simulated; a sample is a pure function of
    its time ``t0 + k / _SUBSTEPS``, so each value is the one a grid over the whole range,
    weekends included, gives it. Samples shared by neighbouring bars are computed once."""
    points = (bars[:, None] * _SUBSTEPS + np.arange(_SUBSTEPS + 1)).reshape(-1)
    distinct, where = np.unique(points, return_inverse=True)
    grid = t0 + distinct.astype(np.float64) / _SUBSTEPS
    values: np.ndarray = np.exp(log_price(pair, grid))[where.reshape(-1)]
    return values.reshape(len(bars), _SUBSTEPS + 1)


def _candles(seconds: np.ndarray, *values: np.ndarray) -> list[Candle]:
    columns = [v.tolist() for v in values]
    return [
        Candle(datetime.fromtimestamp(s, UTC), *row)
        for s, *row in zip(seconds.tolist(), *columns, strict=True)
    ]


def simulate_m5(pair: str, start: datetime, end: datetime) -> list[Candle]:
    """Closed 5m bars with open time in [start, end) (aligned to the 5m grid)."""
    return _candles(*_simulate(pair, start, end))


def simulate_h1(pair: str, start: datetime, end: datetime) -> list[Candle]:
    """1h bars from the 5m bars in [start, end) (first/max/min/last/sum), reduced as arrays
    instead of one Candle per 5m bar; equal to ``aggregate_hourly(simulate_m5(...))``."""
    return _candles(*_simulate_h1(pair, start, end))


def _simulate_h1(pair: str, start: datetime, end: datetime) -> tuple[np.ndarray, ...]:
    """``simulate_h1`` as arrays: epoch seconds, open, high, low, close, volume."""
    seconds, o, h, lo, c, v = _simulate(pair, start, end)
    if not seconds.size:
        return seconds, o, h, lo, c, v
    hour = seconds // 3600
    first = np.flatnonzero(np.r_[True, hour[1:] != hour[:-1]])
    last = np.r_[first[1:] - 1, len(hour) - 1]
    return (
        hour[first] * 3600,
        o[first],
        np.maximum.reduceat(h, first),
        np.minimum.reduceat(lo, first),
        c[last],
        np.add.reduceat(v, first),  # whole numbers: exact in any order
    )


def _validated(
    columns: tuple[np.ndarray, ...], timeframe: Timeframe, end: datetime
) -> tuple[list[Candle], list[RejectedBar]]:
    """``validate_candles`` of the batch, asked of the arrays first: a clean batch (every
    demo batch so far) becomes Candles only for the bars kept, with no per-bar checks."""
    seconds, o, h, lo, c, v = columns
    kept = clean_closed_prefix(seconds, (o, h, lo, c), v, timeframe, end)
    if kept is not None:
        return _candles(*(column[:kept] for column in columns)), []
    return validate_candles(_candles(*columns), timeframe, end)


def aggregate_hourly(candles: list[Candle]) -> list[Candle]:
    """1h bars from 5m bars (first/max/min/last/sum) — the demo's own consistent 1h feed."""
    out: list[Candle] = []
    bucket: list[Candle] = []
    for candle in candles:
        hour = candle.timestamp.replace(minute=0)
        if bucket and bucket[0].timestamp.replace(minute=0) != hour:
            out.append(_merge(bucket))
            bucket = []
        bucket.append(candle)
    if bucket:
        out.append(_merge(bucket))
    return out


def _merge(bucket: list[Candle]) -> Candle:
    return Candle(
        bucket[0].timestamp.replace(minute=0),
        bucket[0].open,
        max(c.high for c in bucket),
        min(c.low for c in bucket),
        bucket[-1].close,
        sum(c.volume for c in bucket),
    )


class DemoProvider:
    """Simulated market; no network. Every message built from it is marked [DEMO DATA]."""

    name = "demo"
    is_demo = True

    async def fetch_candles(
        self, pair: CurrencyPair, timeframe: Timeframe, start: datetime, end: datetime
    ) -> FetchResult:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if timeframe is Timeframe.M5:
            columns = _simulate(str(pair), start, end)
        elif timeframe is Timeframe.H1:
            hour_start = floor_time(start, Timeframe.H1)
            if hour_start < start:
                hour_start += timedelta(hours=1)
            hour_end = floor_time(end, Timeframe.H1)
            columns = _simulate_h1(str(pair), hour_start, hour_end)
        else:
            raise ValueError(f"demo provider serves 5m and 1h, not {timeframe.value}")
        kept, rejected = _validated(columns, timeframe, end)
        result = FetchResult(pair, timeframe, kept, rejected, requests=1)
        log_fetch_outcome(self.name, result)
        return result

    def earliest_available(self, timeframe: Timeframe, now: datetime) -> datetime | None:
        return None

    async def ping(self, pair: CurrencyPair, now: datetime) -> Candle | None:
        result = await self.fetch_candles(pair, Timeframe.M5, now - timedelta(days=4), now)
        return result.candles[-1] if result.candles else None

    async def aclose(self) -> None:
        return None
