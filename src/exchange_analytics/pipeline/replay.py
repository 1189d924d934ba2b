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
from typing import Any

import pandas as pd

from exchange_analytics.domain import DayBoundary, Timeframe
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.patterns.engine import detect_bars, evaluate_bar
from exchange_analytics.patterns.evaluate import PatternResult
from exchange_analytics.patterns.newness import NewnessTracker
from exchange_analytics.patterns.snapshots import latest_bar_at
from exchange_analytics.patterns.thresholds import Thresholds
from exchange_analytics.pipeline.signals import SignalOutcome, load_inputs, store_bar_results
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import Database


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


async def replay(
    engine: Database,
    *,
    pair: str,
    start: datetime,
    end: datetime,
    day_boundary: DayBoundary,
    thresholds: Thresholds,
    cooldown_minutes: int,
    notify: bool,
    is_demo: bool,
    progress: Callable[[int, int], None] | None = None,
    gate: Any = None,
) -> ReplayOutcome:
    if end < start:
        raise ConfigurationError("--to must not be before --from")
    m5, higher = await _inputs_for(engine, pair, start, end)
    outcome = ReplayOutcome()
    tracker = NewnessTracker(cooldown_minutes)
    total = int(((m5.index >= pd.Timestamp(start)) & (m5.index <= pd.Timestamp(end))).sum())
    batch: list[
        tuple[list[PatternResult], Mapping[tuple[str, str], str], Mapping[Timeframe, Any]]
    ] = []

    async def flush() -> None:
        async with engine.begin() as conn:
            for results, decisions, windows in batch:
                await store_bar_results(
                    conn,
                    outcome,
                    pair=pair,
                    results=results,
                    decisions=decisions,
                    stale=False,
                    source="replay",
                    is_demo=is_demo,
                    queue_status="pending" if notify else "suppressed",
                    windows=windows,
                    gate=gate,
                )
        batch.clear()

    first, last = pd.Timestamp(start), pd.Timestamp(end)
    found = {
        bar.stamp.value: bar
        for bar in detect_bars(m5, higher, pair, day_boundary, first, last, thresholds)
    }
    for stamp in m5.index[(m5.index >= first) & (m5.index <= last)]:
        detected = found.get(pd.Timestamp(stamp).value)
        results = detected.results if detected is not None else []
        windows = detected.windows if detected is not None else {}
        close = stamp.to_pydatetime() + Timeframe.M5.duration
        decisions = tracker.step([(r.pattern_type, r.direction) for r in results], close)
        for result in results:
            key = f"{result.pattern_type} {result.direction}"
            outcome.counts[key] = outcome.counts.get(key, 0) + 1
        if results:
            batch.append((results, decisions, windows))
        outcome.bars_evaluated += 1
        outcome.first_bar = outcome.first_bar or stamp.to_pydatetime()
        outcome.last_bar = stamp.to_pydatetime()
        if len(batch) >= 200:
            await flush()
        if progress is not None and outcome.bars_evaluated % 100 == 0:
            progress(outcome.bars_evaluated, total)
    await flush()
    if progress is not None:
        progress(outcome.bars_evaluated, total)
    return outcome


async def explain(
    engine: Database,
    *,
    pair: str,
    at: datetime,
    day_boundary: DayBoundary,
    thresholds: Thresholds,
) -> tuple[list[PatternResult], pd.Timestamp | None]:
    """Every pattern's conditions at the last 5m bar that had closed by ``at``."""
    async with engine.connect() as conn:
        recent = await candle_store.load_bars(
            conn, pair, Timeframe.M5, until=at - Timeframe.M5.duration, last=1
        )
    if recent.empty:
        raise ConfigurationError(f"no 5m bar of {pair} had closed by {at.isoformat()}")
    bar = latest_bar_at(recent, pd.Timestamp(at))
    if bar is None:
        raise ConfigurationError(f"no 5m bar of {pair} had closed by {at.isoformat()}")
    m5, higher = await _inputs_for(engine, pair, bar.to_pydatetime(), bar.to_pydatetime())
    return evaluate_bar(m5, higher, pair, day_boundary, bar, thresholds), bar
