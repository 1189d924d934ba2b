"""Walk-forward windows and the independent tasks ``patterns calibrate`` runs (SPEC §16, §19).

Windows: training ``train_weeks`` then testing ``test_weeks``, rolled forward by ``test_weeks``
from ``--from`` while the test window ends by ``--to``; so every test window is scored once and
never overlaps another.

A :class:`Task` is one (pair, window, engine pass): the bars of that window (picklable frames,
never a database engine), the threshold overrides of the pass and the settings to score with its
detections. Pass −1 is the seed (SPEC §7 defaults, the configured cooldown) that the report puts
beside the chosen settings. :func:`run_task` is a pure function of the task, so any executor
(in-process, process pool, Dask) returns the same rows, digit for digit.

Training outcomes walk only the bars up to the end of the training window (a training signal
whose outcome is not reached by then is ``open``): the choice of a setting never reads the test
window. Test outcomes walk up to ``horizon`` bars, past the window's end when bars are stored.
Both parts start replay's newness state fresh at their first bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import pandas as pd

from exchange_analytics.domain import Timeframe
from exchange_analytics.evaluation.evaluate import Arrays, RangeInputs
from exchange_analytics.evaluation.grid import Overrides, Trade
from exchange_analytics.evaluation.scoring import (
    OutcomeCounts,
    Setup,
    baseline_summary,
    run_walk,
    summarise,
)
from exchange_analytics.evaluation.signals import signal_positions
from exchange_analytics.indicators import TRAILING_WINDOW
from exchange_analytics.patterns.detectors import COMBINATIONS
from exchange_analytics.patterns.engine import detect_columns
from exchange_analytics.patterns.thresholds import Thresholds, ThresholdValue, build_thresholds

_TICK = pd.Timedelta(1, "ns")
#: One setting as the report shows it: the detection overrides and the trade axes.
Setting = dict[str, ThresholdValue | list[str]]


class WindowDocument(TypedDict):
    """A window in the ``--json`` report: its index, training and test [start, end]."""

    window: int
    train: list[str]
    test: list[str]


class PartFigures(TypedDict):
    """One setting (or the baseline) scored on a training or test part."""

    signals: int
    take_profit: int
    stop_loss: int
    ambiguous: int
    open: int
    hit_rate: float | None
    expectancy_r: float | None
    r_total: float
    reward_r: float


class TaskRow(TypedDict):
    """What :func:`run_task` returns per variant, pattern and direction."""

    pair: str
    window: int
    slot: int
    pattern: str
    direction: str
    variant: int
    setting: Setting
    train: PartFigures
    train_baseline: PartFigures
    test: PartFigures
    test_baseline: PartFigures


@dataclass(frozen=True, slots=True)
class Window:
    """Training [train_start, train_end] then test [test_start, test_end] (inclusive)."""

    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def to_dict(self) -> WindowDocument:
        return {
            "window": self.index,
            "train": [self.train_start.isoformat(), self.train_end.isoformat()],
            "test": [self.test_start.isoformat(), self.test_end.isoformat()],
        }


def windows(
    start: pd.Timestamp, end: pd.Timestamp, train_weeks: int, test_weeks: int
) -> list[Window]:
    """Every walk-forward window whose test part ends by ``end``."""
    train, test = pd.Timedelta(weeks=train_weeks), pd.Timedelta(weeks=test_weeks)
    out: list[Window] = []
    begin = start
    while begin + train + test - _TICK <= end:
        out.append(
            Window(
                len(out),
                begin,
                begin + train - _TICK,
                begin + train,
                begin + train + test - _TICK,
            )
        )
        begin = begin + test
    return out


@dataclass(frozen=True)
class Variant:
    """One setting to score: a pattern's detection setting ``index`` with a trade setting."""

    pattern: str
    index: int
    overrides: Mapping[str, ThresholdValue]
    trade: Trade

    def setting(self) -> Setting:
        return {
            **dict(self.overrides),
            "take_profit_pips": self.trade.take_profit_pips,
            "stop_loss_pips": self.trade.stop_loss_pips,
            "cooldown_minutes": self.trade.cooldown_minutes,
            "timeframes": [tf.value for tf in self.trade.timeframes],
        }


#: One engine pass: its slot (−1 the seed), the threshold overrides, the variants it scores.
Pass = tuple[int, dict[str, Overrides], tuple[Variant, ...]]


@dataclass(frozen=True)
class Task:
    """One (pair, window, pass): everything :func:`run_task` needs, nothing it must open."""

    pair: str
    window: Window
    slot: int
    inputs: RangeInputs
    overrides: Mapping[str, Mapping[str, ThresholdValue]]
    variants: tuple[Variant, ...]
    horizon: int
    spread_pips: float

    @property
    def key(self) -> str:
        return f"{self.pair} window {self.window.index} pass {self.slot}"


def window_inputs(full: RangeInputs, window: Window, horizon: int) -> RangeInputs:
    """The part of a pair's bars one window needs: trailing history, the window, the horizon."""
    index = full.m5.index
    first = max(0, int(index.searchsorted(window.train_start)) - TRAILING_WINDOW)
    last = int(index.searchsorted(window.test_end, side="right")) + horizon
    higher = {}
    for timeframe, frame in full.higher.items():
        begin = window.train_start - timeframe.duration
        at = max(0, int(frame.index.searchsorted(begin)) - TRAILING_WINDOW)
        # Buckets after the test window are the future of every bar scored: never read.
        stop = int(frame.index.searchsorted(window.test_end, side="right"))
        higher[timeframe] = frame.iloc[at:stop]
    return RangeInputs(
        full.pair,
        full.m5.iloc[first:last],
        higher,
        window.train_start,
        window.test_end,
        full.day_boundary,
    )


def _part(inputs: RangeInputs, start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
    index = inputs.m5.index
    return int(index.searchsorted(start)), int(index.searchsorted(end, side="right")) - 1


class Detections:
    """One engine pass over a task's range as condition masks (``detect_columns``).

    ``positions(pattern, direction, timeframes)``: the 5m bar positions where every condition
    of the required timeframes held; with all four timeframes these are exactly the
    ``detect_range`` detections.
    """

    def __init__(self, inputs: RangeInputs, thresholds: Thresholds) -> None:
        m5 = inputs.m5[inputs.m5.index <= inputs.end]
        self.columns = detect_columns(
            m5,
            inputs.higher,
            inputs.pair,
            inputs.day_boundary,
            inputs.start,
            inputs.end,
            thresholds,
            confidence=False,  # calibration scores outcomes, never confidence
        )
        stamps = pd.to_datetime(self.columns.stamps, unit="ns", utc=True)
        self.rows = np.asarray(inputs.m5.index.get_indexer(stamps), dtype=np.int64)
        self.index = inputs.m5.index

    def positions(
        self, pattern: str, direction: str, timeframes: Sequence[Timeframe]
    ) -> np.ndarray:
        mask = np.ones(len(self.rows), dtype=bool)
        for tf in timeframes:
            mask &= self.columns.conditions[(pattern, direction, tf)]
        return self.rows[mask]

    def signals(
        self, pattern: str, direction: str, trade: Trade, span: tuple[int, int]
    ) -> np.ndarray:
        found = self.positions(pattern, direction, trade.timeframes)
        return signal_positions(
            found, self.index, span[0], span[1], (pattern, direction), trade.cooldown_minutes
        )


def _compact(summary: OutcomeCounts, signals: int, setup: Setup) -> PartFigures:
    decided = summary["take_profit"] + summary["stop_loss"]
    expectancy = summary["expectancy_r"]
    return {
        "signals": signals,
        "take_profit": summary["take_profit"],
        "stop_loss": summary["stop_loss"],
        "ambiguous": summary["ambiguous"],
        "open": summary["open"],
        "hit_rate": summary["hit_rate"],
        "expectancy_r": expectancy,
        "r_total": 0.0 if expectancy is None else expectancy * decided,
        "reward_r": setup.take_profit_pips / setup.stop_loss_pips,
    }


def _setup(direction: str, trade: Trade, task: Task) -> Setup:
    return Setup(
        direction == "BUY",
        trade.take_profit_pips,
        trade.stop_loss_pips,
        task.horizon,
        task.spread_pips,
    )


class _Scorer:
    """One task's engine pass and bar arrays, scoring variants part by part.

    The baseline of a part depends only on the part and the setup, so it is computed once
    per task and shared by every variant with that setup.
    """

    def __init__(self, task: Task) -> None:
        thresholds = build_thresholds({p: dict(o) for p, o in task.overrides.items()})
        self.task = task
        self.found = Detections(task.inputs, thresholds)
        self.arrays = Arrays(task.inputs, task.horizon)
        self.spans = {
            "train": _part(task.inputs, task.window.train_start, task.window.train_end),
            "test": _part(task.inputs, task.window.test_start, task.window.test_end),
        }
        self._baselines: dict[tuple[str, Setup], PartFigures] = {}

    def part(
        self, part: str, pattern: str, direction: str, trade: Trade, setup: Setup
    ) -> tuple[PartFigures, PartFigures]:
        """The signals' figures on ``part`` and the baseline's (training cut at its end)."""
        span = self.spans[part]
        arrays = self.arrays
        limit = span[1] if part == "train" else None
        positions = self.found.signals(pattern, direction, trade, span)
        last = None if limit is None else np.full_like(positions, limit)
        walked = run_walk(arrays.table, arrays.closes, positions, setup, arrays.pip, last)
        figures = _compact(summarise(walked, setup), len(positions), setup)
        if (part, setup) not in self._baselines:
            base = baseline_summary(
                arrays.table, arrays.closes, span[0], span[1], setup, arrays.pip, limit
            )
            self._baselines[(part, setup)] = _compact(base, base["entries"], setup)
        return figures, self._baselines[(part, setup)]


def run_task(task: Task) -> list[TaskRow]:
    """One engine pass over the window, then every variant scored on its training and test
    parts (training outcomes cut at the training window's last bar)."""
    scorer = _Scorer(task)
    rows: list[TaskRow] = []
    for variant in task.variants:
        for pattern, direction in COMBINATIONS:
            if pattern != variant.pattern:
                continue
            setup = _setup(direction, variant.trade, task)
            train, train_baseline = scorer.part("train", pattern, direction, variant.trade, setup)
            test, test_baseline = scorer.part("test", pattern, direction, variant.trade, setup)
            rows.append(
                {
                    "pair": task.pair,
                    "window": task.window.index,
                    "slot": task.slot,
                    "pattern": pattern,
                    "direction": direction,
                    "variant": variant.index,
                    "setting": variant.setting(),
                    "train": train,
                    "train_baseline": train_baseline,
                    "test": test,
                    "test_baseline": test_baseline,
                }
            )
    return rows


def build_tasks(
    full: Mapping[str, RangeInputs],
    wins: Sequence[Window],
    passes: Sequence[Pass],
    horizon: int,
    spread_pips: float,
) -> list[Task]:
    """One task per pair, window and pass, in a fixed order (results are reported in it)."""
    tasks = []
    for pair, inputs in full.items():
        for window in wins:
            part = window_inputs(inputs, window, horizon)
            for slot, overrides, variants in passes:
                tasks.append(
                    Task(pair, window, slot, part, overrides, variants, horizon, spread_pips)
                )
    return tasks
