"""Core value types shared by every stage: timeframes, candles and currency pairs.

Everything here is pure and cheap to import (no pandas, numpy or database), because the
health check and the CLI import it too.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from exchange_analytics.errors import ConfigurationError


class Timeframe(enum.StrEnum):
    """The four stored timeframes. The value is what the ``timeframe`` column holds."""

    M5 = "5m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def duration(self) -> timedelta:
        return _DURATIONS[self]

    @property
    def seconds(self) -> int:
        return int(_DURATIONS[self].total_seconds())


_DURATIONS = {
    Timeframe.M5: timedelta(minutes=5),
    Timeframe.H1: timedelta(hours=1),
    Timeframe.H4: timedelta(hours=4),
    Timeframe.D1: timedelta(days=1),
}


class DayBoundary(enum.StrEnum):
    """Where the trading day (and the 4h grid) starts: ``DAY_BOUNDARY`` in the settings.

    A ``StrEnum`` so the value is also the text the settings and ``--json`` output carry.
    """

    UTC = "utc"
    NEW_YORK = "new_york"


ALL_TIMEFRAMES: tuple[Timeframe, ...] = (Timeframe.M5, Timeframe.H1, Timeframe.H4, Timeframe.D1)
#: Timeframes fetched from a provider; 4h and 1d are always built by aggregation (SPEC §5).
FETCHED_TIMEFRAMES: tuple[Timeframe, ...] = (Timeframe.M5, Timeframe.H1)


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar keyed by its open time (UTC, timezone-aware).

    Providers return lists of these; they are validated (``providers.validation``) before
    anything is stored.
    """

    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


_PAIR_RE = re.compile(r"^([A-Z]{3})/([A-Z]{3})$")


@dataclass(frozen=True, slots=True)
class CurrencyPair:
    """A currency pair as the database stores it: ``USD/JPY``."""

    base: str
    quote: str

    @classmethod
    def parse(cls, text: str) -> CurrencyPair:
        """Accept ``USD/JPY``, ``USDJPY``, ``USD_JPY`` or ``usdjpy=x``; reject anything else."""
        cleaned = text.strip().upper().removesuffix("=X").replace("_", "/")
        if "/" not in cleaned and len(cleaned) == 6:
            cleaned = f"{cleaned[:3]}/{cleaned[3:]}"
        match = _PAIR_RE.match(cleaned)
        if not match:
            raise ConfigurationError(
                f"currency pair {text!r} is not of the form BASE/QUOTE, e.g. USD/JPY"
            )
        return cls(match.group(1), match.group(2))

    def __str__(self) -> str:
        return f"{self.base}/{self.quote}"

    @property
    def yahoo_symbol(self) -> str:
        return f"{self.base}{self.quote}=X"

    @property
    def oanda_instrument(self) -> str:
        return f"{self.base}_{self.quote}"

    @property
    def pip_size(self) -> float:
        """0.01 for JPY-quoted pairs, else 0.0001 (SPEC §7)."""
        return 0.01 if self.quote == "JPY" else 0.0001


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime; naive values are taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def floor_time(dt: datetime, timeframe: Timeframe) -> datetime:
    """Floor to the UTC grid of a fixed-length timeframe (5m, 1h; 4h/1d at UTC boundaries)."""
    seconds = int(utc(dt).timestamp())
    step = timeframe.seconds
    return datetime.fromtimestamp(seconds - seconds % step, tz=UTC)
