"""``patterns evaluate`` as a pure function: one pair, one range, every pattern and direction.

Steps (SPEC §16): detections of every 5m close of the range (the engine's lean
``patterns.engine.detect_columns``, so the figures follow whatever the live cycle detects);
signals after replay's newness and cooldown rules (:mod:`.signals`); each signal's outcome
walked over the stored bars after it (:mod:`.levels`); the same statistics for a baseline
that enters at every 5m close of the range with the same direction, levels, horizon and
spread (:mod:`.scoring`); edge = hit rate − baseline hit rate with a bootstrap interval.

Patterns without take-profit/stop-loss (divergence, rsi_battle) report ``move_after``
instead: the move 1h, 4h and 1d (12, 48, 288 bars) after each signal, beside the same figures
for every 5m close of the range.

``bars`` must hold, after the range, the bars the outcomes walk over (``horizon`` of them when
stored); the range's own bars are those opening in [start, end].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, NotRequired, TypedDict, final

import numpy as np
import pandas as pd

from exchange_analytics.aggregation import DayBoundary
from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.evaluation.levels import RangeTable
from exchange_analytics.evaluation.scoring import (
    MOVE_HORIZONS,
    BaselineFigures,
    MoveAfter,
    OutcomeSummary,
    Setup,
    baseline_summary,
    edge,
    move_after,
    run_walk,
    summarise,
)
from exchange_analytics.evaluation.signals import (
    Decided,
    Detections,
    Signal,
    signals_from_detections,
)
from exchange_analytics.patterns.detectors import COMBINATIONS
from exchange_analytics.patterns.engine import detect_columns
from exchange_analytics.patterns.thresholds import Thresholds

DEFAULT_HORIZON = 1440  # five trading days of 5m bars
DEFAULT_SPREAD_PIPS = 1.0
PATTERNS = tuple(dict.fromkeys(p for p, _ in COMBINATIONS))


class RowHead(TypedDict):
    """What every evaluation row starts with: which pattern, how often it fired and signalled."""

    pattern: str
    direction: str
    detections: int
    signals: int


class MoveBaseline(TypedDict):
    entries: int
    move_after: MoveAfter


@final
class MoveRow(RowHead):
    """A pattern without levels (divergence, rsi_battle): the move after its signals."""

    move_after: MoveAfter
    baseline: MoveBaseline


@final
class OutcomeRow(RowHead, OutcomeSummary):
    """A pattern with levels: outcomes, its baseline and the edge over it (SPEC §16)."""

    take_profit_pips: float
    stop_loss_pips: float
    baseline: BaselineFigures
    edge: float | None
    edge_ci: list[float] | None


#: One row of ``evaluate_range`` (and of the ``--json`` document's ``results``).
EvaluationRow = OutcomeRow | MoveRow

#: ``patterns evaluate --json``: the range, the settings it was measured with, one row per
#: pattern and direction; ``stored`` (rows written) with ``--store``. Functional form because
#: ``from`` is a keyword.
EvaluationReport = TypedDict(
    "EvaluationReport",
    {
        "pair": str,
        "from": str,
        "to": str,
        "horizon": int,
        "spread_pips": float,
        "day_boundary": DayBoundary,
        "cooldown_minutes": int,
        "bars": int,
        "results": list[EvaluationRow],
        "stored": NotRequired[int],
    },
)


@dataclass(frozen=True)
class RangeInputs:
    """Everything one evaluation reads: picklable, so it can travel to a worker process.

    ``m5``: 5m bars from the indicators' trailing history before ``start`` to ``horizon`` bars
    after ``end``; ``higher``: the 1h/4h/1d bars as ``replay`` loads them.
    """

    pair: str
    m5: pd.DataFrame
    higher: Mapping[Timeframe, pd.DataFrame]
    start: pd.Timestamp
    end: pd.Timestamp
    day_boundary: DayBoundary

    @property
    def first(self) -> int:
        """Position of the range's first 5m bar."""
        return int(self.m5.index.searchsorted(self.start, side="left"))

    @property
    def last(self) -> int:
        """Position of the range's last 5m bar (first − 1 when the range holds none)."""
        return int(self.m5.index.searchsorted(self.end, side="right")) - 1

    def slice(self, start: pd.Timestamp, end: pd.Timestamp) -> RangeInputs:
        """The same inputs narrowed to another range inside this one (same history rule)."""
        return RangeInputs(self.pair, self.m5, self.higher, start, end, self.day_boundary)


class Fired(NamedTuple):
    """What deciding signals needs of a detection: which pattern fired, in which direction."""

    pattern_type: str
    direction: str


def detect(inputs: RangeInputs, thresholds: Thresholds) -> list[tuple[pd.Timestamp, list[Fired]]]:
    """The range's detections per bar, with the 5m bars cut at its end as ``replay`` does.

    The engine's lean columnar pass (``detect_columns(confidence=False)``): the same bars,
    patterns and directions as ``detect_range`` (the engine's equality tests pin that), without
    building a per-bar window for every detection; evaluation needs no confidence.
    """
    m5 = inputs.m5[inputs.m5.index <= inputs.end]
    columns = detect_columns(
        m5,
        inputs.higher,
        inputs.pair,
        inputs.day_boundary,
        inputs.start,
        inputs.end,
        thresholds,
        confidence=False,
    )
    by_bar: dict[int, list[Fired]] = {}
    for stamp_ns, pattern, direction in zip(
        columns.stamp_ns.tolist(), columns.pattern, columns.direction, strict=True
    ):
        by_bar.setdefault(int(stamp_ns), []).append(Fired(pattern, direction))
    return [(pd.Timestamp(ns, unit="ns", tz="UTC"), fired) for ns, fired in by_bar.items()]


def decide(inputs: RangeInputs, detections: Detections, cooldown_minutes: int) -> Decided:
    closes = inputs.m5["close"].to_numpy(dtype=np.float64)
    return signals_from_detections(
        detections, inputs.m5.index, closes, inputs.first, cooldown_minutes
    )


def positions_of(signals: Sequence[Signal], pattern: str, direction: str) -> np.ndarray:
    return np.asarray(
        [s.position for s in signals if s.pattern == pattern and s.direction == direction],
        dtype=np.int64,
    )


def setup_for(
    thresholds: Thresholds, pattern: str, direction: str, horizon: int, spread: float
) -> Setup | None:
    """The pattern's trade setup, or None for the patterns without levels."""
    config = getattr(thresholds, pattern)
    tp = getattr(config, "take_profit_pips", None)
    sl = getattr(config, "stop_loss_pips", None)
    if tp is None or sl is None:
        return None
    return Setup(direction == "BUY", float(tp), float(sl), horizon, spread)


class Arrays:
    """The bar arrays and range table shared by every pattern of one evaluation."""

    def __init__(self, inputs: RangeInputs, horizon: int) -> None:
        self.closes = inputs.m5["close"].to_numpy(dtype=np.float64)
        highs = inputs.m5["high"].to_numpy(dtype=np.float64)
        lows = inputs.m5["low"].to_numpy(dtype=np.float64)
        self.table = RangeTable(highs, lows, max(horizon, *MOVE_HORIZONS.values()))
        self.pip = CurrencyPair.parse(inputs.pair).pip_size
        self.first, self.last = inputs.first, inputs.last
        self._baselines: dict[Setup, BaselineFigures] = {}

    def baseline(self, setup: Setup) -> BaselineFigures:
        if setup not in self._baselines:
            self._baselines[setup] = baseline_summary(
                self.table, self.closes, self.first, self.last, setup, self.pip
            )
        return self._baselines[setup]


def score_pattern(
    arrays: Arrays, positions: np.ndarray, head: RowHead, setup: Setup | None
) -> EvaluationRow:
    """``head`` with the outcome figures (or the move after) of its signals at ``positions``."""
    if setup is None:
        sign = {"BUY": 1.0, "SELL": -1.0}.get(head["direction"], 0.0)
        everything = np.arange(arrays.first, arrays.last + 1, dtype=np.int64)
        return {
            **head,
            "move_after": move_after(arrays.closes, positions, sign, arrays.pip),
            "baseline": {
                "entries": len(everything),
                "move_after": move_after(arrays.closes, everything, sign, arrays.pip),
            },
        }
    summary = summarise(run_walk(arrays.table, arrays.closes, positions, setup, arrays.pip), setup)
    base = arrays.baseline(setup)
    difference, interval = edge(summary, base)
    return {
        **head,
        "take_profit_pips": setup.take_profit_pips,
        "stop_loss_pips": setup.stop_loss_pips,
        **summary,
        "baseline": base,
        "edge": difference,
        "edge_ci": interval,
    }


def evaluate_range(
    inputs: RangeInputs,
    thresholds: Thresholds,
    *,
    cooldown_minutes: int,
    horizon: int = DEFAULT_HORIZON,
    spread_pips: float = DEFAULT_SPREAD_PIPS,
    patterns: Sequence[str] = PATTERNS,
) -> list[EvaluationRow]:
    """One row per pattern and direction (SPEC §16 figures), in ``COMBINATIONS`` order."""
    decided = decide(inputs, detect(inputs, thresholds), cooldown_minutes)
    arrays = Arrays(inputs, horizon)
    rows = []
    for pattern, direction in COMBINATIONS:
        if pattern not in patterns:
            continue
        positions = positions_of(decided.signals, pattern, direction)
        setup = setup_for(thresholds, pattern, direction, horizon, spread_pips)
        head: RowHead = {
            "pattern": pattern,
            "direction": direction,
            "detections": decided.detections.get((pattern, direction), 0),
            "signals": len(positions),
        }
        rows.append(score_pattern(arrays, positions, head, setup))
    return rows
