"""Score a set of entries (signals, or every 5m close for the baseline) with one trade setup.

One function for both sides of every comparison, so that a signal and its baseline can only
differ in *where* they enter: same levels rule, same horizon, same spread, same statistics.

Levels are placed like :func:`exchange_analytics.patterns.evaluate.trade_levels` (the live
message's prices): ``tp``/``sl`` pips from the entry close, rounded to a tenth of a pip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from exchange_analytics.evaluation import stats
from exchange_analytics.evaluation.levels import (
    AMBIGUOUS,
    OPEN,
    STOP_LOSS,
    TAKE_PROFIT,
    FloatArray,
    IntArray,
    RangeTable,
    Walk,
    moves_after,
    walk,
)

#: Bars after the signal for "the move after" of the patterns without levels: 1h, 4h, 1d.
MOVE_HORIZONS = {"1h": 12, "4h": 48, "1d": 288}
#: Per horizon of :data:`MOVE_HORIZONS`: median and quartiles of the move (``stats.quartiles``).
MoveAfter = dict[str, dict[str, float | None]]


class OutcomeCounts(TypedDict):
    """What every scored set of entries reports: counts per outcome, hit rate, expectancy."""

    take_profit: int
    stop_loss: int
    ambiguous: int
    open: int
    hit_rate: float | None
    expectancy_r: float | None


class OutcomeSummary(OutcomeCounts):
    """:func:`summarise`: the counts with the hit rate's interval, speed and excursions."""

    hit_rate_ci: list[float] | None
    median_bars_to_outcome: float | None
    mae_pips: float | None
    mfe_pips: float | None


class BaselineFigures(OutcomeCounts):
    """:func:`baseline_summary`: the counts of entering at every 5m close."""

    entries: int


@dataclass(frozen=True, slots=True)
class Setup:
    """A trade: direction and distances (pips), the horizon (bars) and the spread (pips)."""

    buy: bool
    take_profit_pips: float
    stop_loss_pips: float
    horizon: int
    spread_pips: float


def levels_for(
    entries: FloatArray, buy: bool, tp_pips: float, sl_pips: float, pip: float
) -> tuple[FloatArray, FloatArray]:
    """Take-profit and stop-loss prices of each entry, as ``trade_levels`` places them."""
    sign = 1.0 if buy else -1.0
    decimals = 3 if pip >= 0.01 else 5
    take_profit = np.round(entries + sign * tp_pips * pip, decimals)
    stop_loss = np.round(entries - sign * sl_pips * pip, decimals)
    return take_profit, stop_loss


def run_walk(
    table: RangeTable,
    closes: FloatArray,
    positions: IntArray,
    setup: Setup,
    pip: float,
    last: IntArray | None = None,
) -> Walk:
    """Walk the bars after each entry at ``positions`` (entry = that bar's close)."""
    entries = closes[positions]
    take_profit, stop_loss = levels_for(
        entries, setup.buy, setup.take_profit_pips, setup.stop_loss_pips, pip
    )
    return walk(
        table, positions, entries, take_profit, stop_loss, setup.buy, setup.horizon, pip, last
    )


def summarise(result: Walk, setup: Setup) -> OutcomeSummary:
    """Counts per outcome, hit rate with its Wilson interval, expectancy, speed, MAE/MFE."""
    wins, losses = result.count(TAKE_PROFIT), result.count(STOP_LOSS)
    interval = stats.wilson_interval(wins, wins + losses)
    decided_bars = result.bars[result.code != OPEN].astype(np.float64)
    return {
        "take_profit": wins,
        "stop_loss": losses,
        "ambiguous": result.count(AMBIGUOUS),
        "open": result.count(OPEN),
        "hit_rate": stats.hit_rate(wins, losses),
        "hit_rate_ci": list(interval) if interval else None,
        "expectancy_r": stats.expectancy_r(
            wins, losses, setup.take_profit_pips, setup.stop_loss_pips, setup.spread_pips
        ),
        "median_bars_to_outcome": stats.median_or_none(decided_bars),
        "mae_pips": stats.median_or_none(result.mae_pips),
        "mfe_pips": stats.median_or_none(result.mfe_pips),
    }


def baseline_summary(
    table: RangeTable,
    closes: FloatArray,
    first: int,
    last_entry: int,
    setup: Setup,
    pip: float,
    walk_last: int | None = None,
) -> BaselineFigures:
    """Entries at every 5m close from bar ``first`` to ``last_entry`` with the same setup."""
    positions = np.arange(first, last_entry + 1, dtype=np.int64)
    last = None if walk_last is None else np.full_like(positions, walk_last)
    summary = summarise(run_walk(table, closes, positions, setup, pip, last), setup)
    return {
        "entries": len(positions),
        "take_profit": summary["take_profit"],
        "stop_loss": summary["stop_loss"],
        "ambiguous": summary["ambiguous"],
        "open": summary["open"],
        "hit_rate": summary["hit_rate"],
        "expectancy_r": summary["expectancy_r"],
    }


def edge(signal: OutcomeCounts, base: OutcomeCounts) -> tuple[float | None, list[float] | None]:
    """Signal hit rate − baseline hit rate, and its bootstrap 95 % interval."""
    signal_rate, base_rate = signal["hit_rate"], base["hit_rate"]
    if signal_rate is None or base_rate is None:
        return None, None
    interval = stats.bootstrap_edge(
        signal["take_profit"],
        signal["take_profit"] + signal["stop_loss"],
        base["take_profit"],
        base["take_profit"] + base["stop_loss"],
    )
    return signal_rate - base_rate, list(interval) if interval else None


def move_after(
    closes: FloatArray, positions: IntArray, sign: float, pip: float, last: int | None = None
) -> MoveAfter:
    """Median and quartiles (pips) of the close 1h/4h/1d (in bars) after each entry.

    ``sign``: +1 BUY, −1 SELL (positive = the way the signal points); 0 for NEUTRAL, where the
    size of the move is what matters, so the absolute move is reported.
    """
    out: MoveAfter = {}
    for name, bars in MOVE_HORIZONS.items():
        moved = moves_after(closes, positions, bars, sign or 1.0, last) / pip
        out[name] = stats.quartiles(np.abs(moved) if sign == 0 else moved)
    return out
