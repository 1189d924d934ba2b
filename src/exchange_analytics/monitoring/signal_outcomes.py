"""How each pattern's signals turned out: did price reach take-profit before stop-loss?

For every notified detection (decision ``new``) with a take-profit and a stop-loss, the 5m bars
*after* the signal bar are walked for up to ``horizon`` bars:

* ``take_profit``: a bar's high (BUY) / low (SELL) reached the take-profit first;
* ``stop_loss``: a bar's low (BUY) / high (SELL) reached the stop-loss first;
* ``ambiguous``: one bar touched both; 5m data cannot tell which came first, so it counts as
  neither a win nor a loss (reported, so an operator sees how often it happens);
* ``open``: neither within the horizon (or not enough bars yet).

The win rate is take_profit / (take_profit + stop_loss). Pure evaluation below; the report
section at the end reads the database.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.monitoring.script_runtime import table
from exchange_analytics.monitoring.system_report import ReportPeriod, Section
from exchange_analytics.storage.models import PatternDetection, PriceData

OUTCOMES = ("take_profit", "stop_loss", "ambiguous", "open")
DEFAULT_HORIZON = 288  # one day of 5m bars


def outcome(
    direction: str,
    take_profit: float,
    stop_loss: float,
    highs: Sequence[float],
    lows: Sequence[float],
) -> tuple[str, int | None]:
    """The first level reached by the bars after the signal, and after how many bars."""
    buy = direction == "BUY"
    for i, (high, low) in enumerate(zip(highs, lows, strict=True), start=1):
        hit_tp = high >= take_profit if buy else low <= take_profit
        hit_sl = low <= stop_loss if buy else high >= stop_loss
        if hit_tp and hit_sl:
            return "ambiguous", i
        if hit_tp:
            return "take_profit", i
        if hit_sl:
            return "stop_loss", i
    return "open", None


@dataclass(frozen=True)
class SignalOutcome:
    pair: str
    pattern_type: str
    direction: str
    bar_timestamp: datetime
    result: str
    bars_to_result: int | None


def summarize(outcomes: Iterable[SignalOutcome]) -> list[dict[str, Any]]:
    """One row per pattern and direction: counts per outcome, win rate, median bars to result."""
    groups: dict[tuple[str, str], list[SignalOutcome]] = defaultdict(list)
    for item in outcomes:
        groups[(item.pattern_type, item.direction)].append(item)
    rows = []
    for (pattern, direction), items in sorted(groups.items()):
        counts = {name: sum(1 for i in items if i.result == name) for name in OUTCOMES}
        decided = counts["take_profit"] + counts["stop_loss"]
        speeds = sorted(i.bars_to_result for i in items if i.bars_to_result is not None)
        rows.append(
            {
                "pattern_type": pattern,
                "direction": direction,
                "signals": len(items),
                **counts,
                "win_rate": round(counts["take_profit"] / decided, 3) if decided else None,
                "median_bars_to_result": speeds[len(speeds) // 2] if speeds else None,
            }
        )
    return rows


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
