"""Storing an imported history (``exchange-analytics import``) behind the plausibility rules.

The file has been read (``providers.csv_import``: bad rows and future bars already refused);
here the bars meet what is stored, in one transaction:

1. price level (SPEC §3.5): the file's median close against the pair's stored bars over the
   same or the nearest period; more than 20 % apart is refused as "wrong pair or wrong
   scale?" (a EUR/USD file imported as USD/JPY). ``--force`` skips it.
2. jump guard: a bar whose close is further than MAX_BAR_JUMP_PERCENT from the previous
   close (the stored bar before the file, then the file's previous kept bar) is held back,
   not stored, and logged as data quality. ``--force`` stores it (a known event).
3. the rows are written in batches inside that one transaction (all or nothing); bars built
   from 1-minute data carry their minute count in ``bar_count`` when they hold fewer than 5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.errors import BadDataError
from exchange_analytics.providers.csv_import import ParsedCsv
from exchange_analytics.providers.plausibility import (
    HeldBack,
    hold_back_jumps,
    level_reason,
    median_close,
)
from exchange_analytics.storage import bar_checks
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import Database

log = structlog.get_logger(__name__)
BATCH = 20_000
#: Held-back bars named one by one in the log; the rest are counted.
LOGGED_HELD_BACK = 50


class ImplausibleImport(BadDataError):
    """An import refused as a whole by a plausibility rule (wrong pair or scale)."""


@dataclass
class ImportOutcome:
    written: int = 0
    stored: int = 0
    held_back: list[HeldBack] = field(default_factory=list)


def _short_bars(timeframe: Timeframe, parsed: ParsedCsv, kept: list[Candle]) -> dict[int, int]:
    """Bars built from 1-minute data that hold fewer minutes than a full bar: their position
    in ``kept`` and their minute count (stored as ``bar_count``; a full bar stores none)."""
    if not parsed.from_minutes:
        return {}
    full = timeframe.seconds // 60
    minutes = dict(zip((c.timestamp for c in parsed.candles), parsed.minutes, strict=True))
    return {i: minutes[c.timestamp] for i, c in enumerate(kept) if minutes[c.timestamp] < full}


async def store_import(
    engine: Database,
    pair: str,
    timeframe: Timeframe,
    parsed: ParsedCsv,
    *,
    max_jump_percent: float,
    force: bool = False,
) -> ImportOutcome:
    """Check ``parsed`` against the stored bars and write it (one transaction)."""
    outcome = ImportOutcome()
    candles = parsed.candles
    if not candles:
        return outcome
    async with engine.begin() as conn:
        kept = candles
        if not force:
            first, last = candles[0].timestamp, candles[-1].timestamp
            closes, period = await bar_checks.reference_closes(conn, pair, timeframe, first, last)
            reason = level_reason(
                pair, median_close([c.close for c in candles]), median_close(closes), period
            )
            if reason is not None:
                raise ImplausibleImport(f"{parsed.path}: {reason}")
            previous = await bar_checks.previous_close(conn, pair, timeframe, first)
            kept, outcome.held_back = hold_back_jumps(candles, previous, max_jump_percent)
        _log_held_back(pair, timeframe, parsed.path, outcome.held_back)
        rows = candle_store.candle_rows(pair, timeframe, kept, "csv")
        for index, count in _short_bars(timeframe, parsed, kept).items():
            rows[index]["bar_count"] = count
        for start in range(0, len(rows), BATCH):
            outcome.written += await candle_store.write_rows(conn, rows[start : start + BATCH])
        outcome.stored = len(rows)
    return outcome


def _log_held_back(pair: str, timeframe: Timeframe, path: str, held: list[HeldBack]) -> None:
    for bar in held[:LOGGED_HELD_BACK]:
        log.warning(
            "import.held_back_bar",
            data_quality=True,
            pair=pair,
            timeframe=timeframe.value,
            file=path,
            timestamp=bar.timestamp.isoformat(),
            reason=bar.reason,
        )
    if held:
        log.warning(
            "import.held_back",
            data_quality=True,
            pair=pair,
            timeframe=timeframe.value,
            file=path,
            bars=len(held),
        )
