"""The monthly report's "signal outcomes" section: notified detections read from the database,
judged by :mod:`exchange_analytics.evaluation.outcomes` (take-profit before stop-loss?)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import timedelta

from exchange_analytics.evaluation.outcomes import (
    DEFAULT_HORIZON,
    SignalOutcome,
    outcome,
    summarize,
)
from exchange_analytics.render import table
from exchange_analytics.reports.sections import ReportPeriod, Section, SectionBuilder
from exchange_analytics.storage.engine import Connection
from exchange_analytics.storage.stats_queries import SignalRow, high_low_bars, notified_signals

__all__ = ["DEFAULT_HORIZON", "evaluate_period", "outcomes_section_builder"]


async def evaluate_period(
    conn: Connection, period: ReportPeriod, horizon: int = DEFAULT_HORIZON
) -> list[SignalOutcome]:
    """How every notified signal of the period turned out within ``horizon`` 5m bars."""
    by_pair: dict[str, list[SignalRow]] = defaultdict(list)
    for row in await notified_signals(conn, period.start, period.end):
        by_pair[row.currency_pair].append(row)
    results: list[SignalOutcome] = []
    for pair, rows in by_pair.items():
        until = rows[-1].bar_timestamp + timedelta(minutes=5 * (horizon + 1))
        bars = await high_low_bars(conn, pair, rows[0].bar_timestamp, until)
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


def outcomes_section_builder(horizon: int = DEFAULT_HORIZON) -> SectionBuilder:
    """A ``system_report`` section builder with the given horizon (in 5m bars)."""

    async def outcomes_section(conn: Connection, period: ReportPeriod) -> Section:
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
