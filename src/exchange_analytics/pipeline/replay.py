"""``replay`` and ``patterns explain``: history walked bar by bar, as cron would have seen it.

Both go through ``patterns.engine`` like the live cycle, so a replayed bar yields what the
cycle would have produced at that bar's close (no look-ahead: the higher timeframes are the
forming buckets as they stood then). ``replay`` uses ``detect_bars`` over the whole range;
``explain`` needs all eleven results of one bar, including the not-met and not-evaluable ones,
so ``engine.evaluate_bar`` builds that bar's per-bar windows and runs ``evaluate_all``.
Replay stores its detections (idempotently, on the same
unique key as live ones) and records the messages it would have sent as 'suppressed' outbox
rows; ``--notify`` queues them as 'pending' instead, for the next send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from exchange_analytics.domain import CurrencyPair, DayBoundary, Timeframe
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.patterns.engine import BarDetections, detect_bars, evaluate_bar
from exchange_analytics.patterns.evaluate import PatternResult
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.newness import NewnessTracker
from exchange_analytics.patterns.snapshots import latest_bar_at
from exchange_analytics.patterns.thresholds import Thresholds
from exchange_analytics.pipeline.signals import SignalOutcome, load_inputs, store_bar_results
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import Database

if TYPE_CHECKING:
    from exchange_analytics.pipeline.notify import PolicyGate


@dataclass
class ReplayOutcome(SignalOutcome):
    counts: dict[str, int] = field(default_factory=dict)
    first_bar: datetime | None = None
    last_bar: datetime | None = None


async def _inputs_for(
    engine: Database, pair: str, start: datetime, end: datetime
) -> tuple[pd.DataFrame, dict[Timeframe, pd.DataFrame]]:
    async with engine.connect() as conn:
        m5, higher = await load_inputs(conn, pair, start)
    if m5.empty:
        raise ConfigurationError(
            f"no 5m bars stored for {pair}: import history first "
            "(exchange-analytics import FILE --pair ...) or run a cycle"
        )
    m5 = m5[m5.index <= pd.Timestamp(end)]
    return m5, higher


#: Bars whose detections are written per transaction, and the progress callback's cadence.
FLUSH_EVERY = 200
PROGRESS_EVERY = 100

#: One bar's detections, newness decisions and the windows its messages quote.
BarResults = tuple[
    list[PatternResult], Mapping[tuple[str, str], str], Mapping[Timeframe, TimeframeWindow]
]


@dataclass
class _BatchWriter:
    """Stores the detections of up to ``FLUSH_EVERY`` bars per transaction: a replay may walk
    months of bars, and a transaction per bar with detections would dominate its time."""

    engine: Database
    outcome: ReplayOutcome
    pair: str
    is_demo: bool
    queue_status: str
    gate: PolicyGate | None
    pending: list[BarResults] = field(default_factory=list)

    async def add(self, bar: BarResults) -> None:
        self.pending.append(bar)
        if len(self.pending) >= FLUSH_EVERY:
            await self.flush()

    async def flush(self) -> None:
        async with self.engine.begin() as conn:
            for results, decisions, windows in self.pending:
                await store_bar_results(
                    conn,
                    self.outcome,
                    pair=self.pair,
                    results=results,
                    decisions=decisions,
                    stale=False,
                    source="replay",
                    is_demo=self.is_demo,
                    queue_status=self.queue_status,
                    windows=windows,
                    gate=self.gate,
                )
        self.pending.clear()


def _walk_bar(
    outcome: ReplayOutcome,
    tracker: NewnessTracker,
    stamp: pd.Timestamp,
    detected: BarDetections | None,
) -> BarResults | None:
    """Count one 5m bar as cron would have seen it at its close; its results, if any."""
    results = detected.results if detected is not None else []
    windows = detected.windows if detected is not None else {}
    close = stamp.to_pydatetime() + Timeframe.M5.duration
    decisions = tracker.step([(r.pattern_type, r.direction) for r in results], close)
    for result in results:
        key = f"{result.pattern_type} {result.direction}"
        outcome.counts[key] = outcome.counts.get(key, 0) + 1
    outcome.bars_evaluated += 1
    outcome.first_bar = outcome.first_bar or stamp.to_pydatetime()
    outcome.last_bar = stamp.to_pydatetime()
    return (results, decisions, windows) if results else None


def _parsed(pair: CurrencyPair | str) -> tuple[CurrencyPair, str]:
    """The pair for the engine and its name for storage; a str (Python callers such as the
    test fixtures) is parsed here once, so the engine does not parse it again."""
    parsed = pair if isinstance(pair, CurrencyPair) else CurrencyPair.parse(pair)
    return parsed, str(parsed)


async def replay(
    engine: Database,
    *,
    pair: CurrencyPair | str,
    start: datetime,
    end: datetime,
    day_boundary: DayBoundary,
    thresholds: Thresholds,
    cooldown_minutes: int,
    notify: bool,
    is_demo: bool,
    progress: Callable[[int, int], None] | None = None,
    gate: PolicyGate | None = None,
) -> ReplayOutcome:
    """Walk the stored 5m bars from ``start`` to ``end``, storing what each would have found."""
    if end < start:
        raise ConfigurationError("--to must not be before --from")
    parsed, name = _parsed(pair)
    m5, higher = await _inputs_for(engine, name, start, end)
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    stamps = m5.index[(m5.index >= first) & (m5.index <= last)]
    found = {
        bar.stamp.value: bar
        for bar in detect_bars(m5, higher, parsed, day_boundary, first, last, thresholds)
    }
    outcome = ReplayOutcome()
    tracker = NewnessTracker(cooldown_minutes)
    status = "pending" if notify else "suppressed"
    writer = _BatchWriter(engine, outcome, name, is_demo, status, gate)
    for stamp in stamps:
        bar = _walk_bar(outcome, tracker, stamp, found.get(pd.Timestamp(stamp).value))
        if bar is not None:
            await writer.add(bar)
        if progress is not None and outcome.bars_evaluated % PROGRESS_EVERY == 0:
            progress(outcome.bars_evaluated, len(stamps))
    await writer.flush()
    if progress is not None:
        progress(outcome.bars_evaluated, len(stamps))
    return outcome


async def explain(
    engine: Database,
    *,
    pair: CurrencyPair | str,
    at: datetime,
    day_boundary: DayBoundary,
    thresholds: Thresholds,
) -> tuple[list[PatternResult], pd.Timestamp | None]:
    """Every pattern's conditions at the last 5m bar that had closed by ``at``."""
    parsed, name = _parsed(pair)
    async with engine.connect() as conn:
        recent = await candle_store.load_bars(
            conn, name, Timeframe.M5, until=at - Timeframe.M5.duration, last=1
        )
    if recent.empty:
        raise ConfigurationError(f"no 5m bar of {name} had closed by {at.isoformat()}")
    bar = latest_bar_at(recent, pd.Timestamp(at))
    if bar is None:
        raise ConfigurationError(f"no 5m bar of {name} had closed by {at.isoformat()}")
    m5, higher = await _inputs_for(engine, name, bar.to_pydatetime(), bar.to_pydatetime())
    return evaluate_bar(m5, higher, parsed, day_boundary, bar, thresholds), bar
