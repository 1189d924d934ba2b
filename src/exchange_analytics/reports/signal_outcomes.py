"""The monthly report's "signal outcomes" section: notified detections read from the database,
judged by :mod:`exchange_analytics.evaluation.outcomes` (take-profit before stop-loss?)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.evaluation.outcomes import (
    DEFAULT_HORIZON,
    SignalOutcome,
    outcome,
    summarize,
)
from exchange_analytics.reports.script_runtime import table
from exchange_analytics.reports.sections import ReportPeriod, Section
from exchange_analytics.storage.models import PatternDetection, PriceData

__all__ = ["DEFAULT_HORIZON", "evaluate_period", "outcomes_section_builder"]


async def evaluate_period(
    conn: AsyncConnection, period: ReportPeriod, horizon: int = DEFAULT_HORIZON
) -> list[SignalOutcome]:
    d = PatternDetection.__table__.c
    detections = (
        await conn.execute(
            select(
                d.currency_pair,
                d.pattern_type,
                d.direction,
                d.bar_timestamp,
                d.take_profit,
                d.stop_loss,
            )
            .where(
                d.bar_timestamp >= period.start,
                d.bar_timestamp < period.end,
                d.notify_decision == "new",
                d.take_profit.is_not(None),
                d.stop_loss.is_not(None),
            )
            .order_by(d.currency_pair, d.bar_timestamp)
        )
    ).all()
    by_pair: dict[str, list[Any]] = defaultdict(list)
    for row in detections:
        by_pair[row.currency_pair].append(row)
    p = PriceData.__table__.c
    results: list[SignalOutcome] = []
    for pair, rows in by_pair.items():
        until = rows[-1].bar_timestamp + timedelta(minutes=5 * (horizon + 1))
        bars = (
            await conn.execute(
                select(p.timestamp, p.high, p.low)
                .where(
                    p.currency_pair == pair,
                    p.timeframe == "5m",
                    p.timestamp > rows[0].bar_timestamp,
                    p.timestamp <= until,
                )
                .order_by(p.timestamp)
            )
        ).all()
        stamps = [b.timestamp for b in bars]
        for row in rows:
            first = bisect.bisect_right(stamps, row.bar_timestamp)
            window = bars[first : first + horizon]
            result, after = outcome(
                row.direction,
                row.take_profit,
                row.stop_loss,
                [b.high for b in window],
                [b.low for b in window],
            )
            results.append(
                SignalOutcome(
                    pair, row.pattern_type, row.direction, row.bar_timestamp, result, after
                )
            )
    return results


def outcomes_section_builder(horizon: int = DEFAULT_HORIZON):  # type: ignore[no-untyped-def]
    """A ``system_report`` section builder with the given horizon (in 5m bars)."""

    async def outcomes_section(conn: AsyncConnection, period: ReportPeriod) -> Section:
        rows = summarize(await evaluate_period(conn, period, horizon))
        title = f"Signal outcomes (take-profit before stop-loss within {horizon} 5m bars)"
        if not rows:
            return Section("signal_outcomes", title, rows, ["(no notified signals with TP/SL)"])
        lines = [
            table(
                [
                    [
                        r["pattern_type"],
                        r["direction"],
                        r["signals"],
                        r["take_profit"],
                        r["stop_loss"],
                        r["ambiguous"],
                        r["open"],
                        "-" if r["win_rate"] is None else f"{r['win_rate']:.0%}",
                        r["median_bars_to_result"],
                    ]
                    for r in rows
                ],
                [
                    "pattern",
                    "dir",
                    "signals",
                    "TP first",
                    "SL first",
                    "both in 1 bar",
                    "open",
                    "win rate",
                    "median bars",
                ],
            )
        ]
        return Section("signal_outcomes", title, rows, lines)

    return outcomes_section
