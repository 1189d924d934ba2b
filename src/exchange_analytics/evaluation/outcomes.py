"""How each pattern's signals turned out: did price reach take-profit before stop-loss?

For every notified detection (decision ``new``) with a take-profit and a stop-loss, the 5m bars
*after* the signal bar are walked for up to ``horizon`` bars:

* ``take_profit``: a bar's high (BUY) / low (SELL) reached the take-profit first;
* ``stop_loss``: a bar's low (BUY) / high (SELL) reached the stop-loss first;
* ``ambiguous``: one bar touched both; 5m data cannot tell which came first, so it counts as
  neither a win nor a loss (reported, so an operator sees how often it happens);
* ``open``: neither within the horizon (or not enough bars yet).

The win rate is take_profit / (take_profit + stop_loss). Pure evaluation below; the report
section that reads the database is ``reports.signal_outcomes``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

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


class PatternOutcomes(TypedDict):
    """One pattern and direction: signals, counts per outcome, win rate, speed."""

    pattern_type: str
    direction: str
    signals: int
    take_profit: int
    stop_loss: int
    ambiguous: int
    open: int
    win_rate: float | None
    median_bars_to_result: int | None


def summarize(outcomes: Iterable[SignalOutcome]) -> list[PatternOutcomes]:
    """One row per pattern and direction: counts per outcome, win rate, median bars to result."""
    groups: dict[tuple[str, str], list[SignalOutcome]] = defaultdict(list)
    for item in outcomes:
        groups[(item.pattern_type, item.direction)].append(item)
    rows: list[PatternOutcomes] = []
    for (pattern, direction), items in sorted(groups.items()):
        counts = {name: sum(1 for i in items if i.result == name) for name in OUTCOMES}
        decided = counts["take_profit"] + counts["stop_loss"]
        speeds = sorted(i.bars_to_result for i in items if i.bars_to_result is not None)
        rows.append(
            {
                "pattern_type": pattern,
                "direction": direction,
                "signals": len(items),
                "take_profit": counts["take_profit"],
                "stop_loss": counts["stop_loss"],
                "ambiguous": counts["ambiguous"],
                "open": counts["open"],
                "win_rate": round(counts["take_profit"] / decided, 3) if decided else None,
                "median_bars_to_result": speeds[len(speeds) // 2] if speeds else None,
            }
        )
    return rows
