"""The one entry point for "which patterns fired at which 5m closes in this range" (SPEC §16).

Every caller that needs detections over a range of 5m closes (the live cycle with a range of
one bar, ``replay``, ``patterns evaluate`` and ``patterns calibrate``) calls
:func:`detect_range` (or :func:`detect_bars`, which also hands back the windows the messages
quote, or :func:`detect_columns`, the columnar form for analytics). Its output is, bar for
bar, what the per-bar path (:func:`exchange_analytics.patterns.snapshots.evaluate_snapshots`)
produces; the per-bar path stays only as the test oracle (``tests/unit/
test_patterns_engine_equality.py`` pins the equality on real data).

How, in two passes:

1. **Arrays** (``asof`` + ``vector_rules``): every timeframe's as-of values at every 5m close
   (forming buckets as running first/max/min/last, indicators stepped once from the last
   complete bucket's state) and every rule's conditions as boolean arrays. A pattern is a
   *candidate* at a close when each of its four timeframes is evaluable and could hold. For
   nearly every close and pattern the arrays settle it: the pattern certainly does not fire.
2. **Per-bar windows at the candidates only** (``snapshots.snapshots_at``, the per-bar path's
   own code): the candidate patterns are run by ``evaluate.detect_met`` and their results built
   by ``evaluate.result_from_readings``, exactly as ``detect_all`` does. So every stored value
   (confidence, levels, ``detection_data``) is the per-bar one by construction, and a condition
   within the tolerance band of a threshold is decided on the per-bar window's own floating
   values (``asof`` explains why the as-of values are close to, not bit-identical with, them).

A close is skipped only when some timeframe of every pattern is not evaluable (exact) or
fails by more than the tolerance, which the per-bar path would also reject.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchange_analytics.aggregation import DayBoundary
from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.patterns.asof import AsOfColumns, asof_columns
from exchange_analytics.patterns.detectors import COMBINATIONS
from exchange_analytics.patterns.evaluate import (
    PatternResult,
    detect,
    detect_met,
    evaluate_all,
    result_from_readings,
    trade_levels,
)
from exchange_analytics.patterns.inputs import FloatArray, IntArray, TimeframeWindow
from exchange_analytics.patterns.snapshots import WINDOW_BARS, snapshots_at
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, Thresholds
from exchange_analytics.patterns.vector_rules import BoolArray, Verdict, all_verdicts

Combination = tuple[str, str]
ConditionKey = tuple[str, str, Timeframe]


@dataclass(frozen=True, slots=True)
class BarDetections:
    """One 5m close with detections, and the four windows they were read from (messages
    quote the windows' latest values, ``notifications.readings_at``)."""

    stamp: pd.Timestamp
    results: list[PatternResult]
    windows: dict[Timeframe, TimeframeWindow]


@dataclass(frozen=True, slots=True)
class DetectionColumns:
    """Detections of a range as columns, for analytics (``patterns evaluate/calibrate``).

    ``stamps``: open time (epoch ns, UTC) of every evaluated 5m bar, the rows of
    ``conditions``: per (pattern, direction, timeframe), whether that timeframe's reading was
    met at that close (evaluable and every check held; what ``Reading.met`` says), so a
    caller can ask what fires when fewer timeframes are required. A detection is a close
    where all four are met. The detection columns hold one entry per detection, in
    ``detect_range`` order: ``row`` (index into ``stamps``), ``stamp_ns``, ``pattern``,
    ``direction``, ``confidence`` (NaN from ``detect_columns(confidence=False)``), and
    ``entry``/``take_profit``/``stop_loss`` (NaN where the pattern has no levels).
    """

    stamps: IntArray
    conditions: dict[ConditionKey, BoolArray]
    row: IntArray
    stamp_ns: IntArray
    pattern: tuple[str, ...]
    direction: tuple[str, ...]
    confidence: FloatArray
    entry: FloatArray
    take_profit: FloatArray
    stop_loss: FloatArray

    def __len__(self) -> int:
        return len(self.row)


@dataclass(frozen=True, slots=True)
class _Scan:
    columns: AsOfColumns
    verdicts: dict[Combination, dict[Timeframe, Verdict]]
    candidates: dict[Combination, BoolArray]


def _scan(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    day_boundary: DayBoundary,
    eval_from: pd.Timestamp,
    eval_to: pd.Timestamp,
    thresholds: Thresholds,
) -> _Scan:
    keep = _keep(thresholds)
    columns = asof_columns(m5, higher, day_boundary, eval_from, eval_to, keep=keep)
    verdicts = all_verdicts(columns, thresholds)
    candidates: dict[Combination, BoolArray] = {}
    for combo, per_tf in verdicts.items():
        mask = np.ones(len(columns), dtype=bool)
        for v in per_tf.values():
            mask &= v.ok & v.maybe
        candidates[combo] = mask
    return _Scan(columns, verdicts, candidates)


def _keep(thresholds: Thresholds) -> int:
    """Bars each per-bar window keeps: the detectors' longest lookback (as the per-bar path)."""
    return max(WINDOW_BARS, thresholds.bars_needed)


def _rows_with_any(masks: Iterable[BoolArray], n: int) -> IntArray:
    """Positions where any of the masks holds: the closes that need their per-bar windows."""
    hit = np.zeros(n, dtype=bool)
    for mask in masks:
        hit |= mask
    return np.flatnonzero(hit)


def _pair(pair: str | CurrencyPair) -> CurrencyPair:
    return pair if isinstance(pair, CurrencyPair) else CurrencyPair.parse(pair)


def detect_bars(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    pair: str | CurrencyPair,
    day_boundary: DayBoundary,
    eval_from: pd.Timestamp,
    eval_to: pd.Timestamp,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[BarDetections]:
    """:func:`detect_range` with the windows of each bar that has detections."""
    parsed = _pair(pair)
    scan = _scan(m5, higher, day_boundary, eval_from, eval_to, thresholds)
    picked = _rows_with_any(scan.candidates.values(), len(scan.columns))
    keep = _keep(thresholds)
    rows = scan.columns.rows[picked]
    found: list[BarDetections] = []
    snapshots = snapshots_at(m5, higher, day_boundary, rows.tolist(), keep=keep)
    for k, (stamp, windows) in zip(picked.tolist(), snapshots, strict=True):
        results: list[PatternResult] = []
        for combo in COMBINATIONS:
            if not scan.candidates[combo][k]:
                continue
            readings = detect_met(combo[0], combo[1], windows, thresholds)
            if readings is not None:
                results.append(result_from_readings(*combo, windows, parsed, readings, thresholds))
        if results:
            found.append(BarDetections(stamp, results, windows))
    return found


def detect_range(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    pair: str | CurrencyPair,
    day_boundary: DayBoundary,
    eval_from: pd.Timestamp,
    eval_to: pd.Timestamp,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[tuple[pd.Timestamp, list[PatternResult]]]:
    """Per 5m bar opening in [eval_from, eval_to] that has any detection: its detections.

    Inputs as for :func:`~exchange_analytics.patterns.snapshots.iter_snapshots`. Bars without
    a detection are left out.
    """
    return [
        (bar.stamp, bar.results)
        for bar in detect_bars(m5, higher, pair, day_boundary, eval_from, eval_to, thresholds)
    ]


def evaluate_bar(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    pair: str | CurrencyPair,
    day_boundary: DayBoundary,
    bar: pd.Timestamp,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[PatternResult]:
    """All eleven results (``evaluate_all``: detected, not met, not evaluable) at the 5m bar
    opening at ``bar`` (``patterns explain``); [] when ``m5`` has no such bar.

    One bar needs every condition written out, which only the per-bar windows give, so this
    builds that bar's windows (``snapshots_at``) rather than scanning arrays.
    """
    stamps = pd.DatetimeIndex(m5.index)
    rows = np.flatnonzero(stamps == pd.Timestamp(bar)).tolist()
    keep = _keep(thresholds)
    for _stamp, windows in snapshots_at(m5, higher, day_boundary, rows, keep=keep):
        return evaluate_all(windows, pair, thresholds)
    return []


def detect_columns(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    pair: str | CurrencyPair,
    day_boundary: DayBoundary,
    eval_from: pd.Timestamp,
    eval_to: pd.Timestamp,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    confidence: bool = True,
) -> DetectionColumns:
    """:func:`detect_range` as columns, plus every timeframe's condition mask (see
    :class:`DetectionColumns`). Undecided conditions are settled on the per-bar windows.

    ``confidence=False`` is the lean form for analytics: the same detections, masks and
    levels (the entry is the 5m close, the levels ``trade_levels`` of it), but confidence is
    NaN, so no per-bar window is built except where a condition is undecided.
    """
    parsed = _pair(pair)
    scan = _scan(m5, higher, day_boundary, eval_from, eval_to, thresholds)
    n = len(scan.columns)
    conditions: dict[ConditionKey, BoolArray] = {}
    needed: dict[Combination, BoolArray] = {}
    for combo, per_tf in scan.verdicts.items():
        undecided = np.zeros(n, dtype=bool)
        for tf, v in per_tf.items():
            conditions[(*combo, tf)] = v.ok & v.sure
            undecided |= v.ok & v.maybe & ~v.sure
        needed[combo] = undecided | scan.candidates[combo] if confidence else undecided
    picked = _rows_with_any(needed.values(), n)
    keep = _keep(thresholds)
    rows = scan.columns.rows[picked].tolist()
    out: list[tuple[int, PatternResult]] = []
    snapshots = snapshots_at(m5, higher, day_boundary, rows, keep=keep)
    for k, (_stamp, windows) in zip(picked.tolist(), snapshots, strict=True):
        for combo in COMBINATIONS:
            if not needed[combo][k]:
                continue
            readings = detect(combo[0], combo[1], windows, thresholds)
            for tf, reading in readings.items():
                conditions[(*combo, tf)][k] = reading.met
            if confidence and all(r.met for r in readings.values()):
                out.append((k, result_from_readings(*combo, windows, parsed, readings, thresholds)))
    if confidence:
        return _columns(scan.columns.stamps, conditions, out)
    closes = scan.columns.frames[Timeframe.M5].latest["close"]
    return _lean_columns(scan.columns.stamps, closes, conditions, parsed, thresholds)


def _columns(
    stamps: IntArray,
    conditions: dict[ConditionKey, BoolArray],
    out: list[tuple[int, PatternResult]],
) -> DetectionColumns:
    def price(values: list[float | None]) -> FloatArray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    row = np.array([k for k, _ in out], dtype=np.int64)
    results = [r for _, r in out]
    return DetectionColumns(
        stamps=stamps,
        conditions=conditions,
        row=row,
        stamp_ns=stamps[row] if len(row) else np.zeros(0, dtype=np.int64),
        pattern=tuple(r.pattern_type for r in results),
        direction=tuple(r.direction for r in results),
        confidence=np.array([r.confidence for r in results], dtype=np.float64),
        entry=price([r.entry_price for r in results]),
        take_profit=price([r.take_profit for r in results]),
        stop_loss=price([r.stop_loss for r in results]),
    )


def _lean_columns(
    stamps: IntArray,
    closes: FloatArray,
    conditions: dict[ConditionKey, BoolArray],
    pair: CurrencyPair,
    thresholds: Thresholds,
) -> DetectionColumns:
    """Detections where all four readings are met, in ``detect_range`` order, no confidence."""
    hits: list[tuple[int, int]] = []
    for c, combo in enumerate(COMBINATIONS):
        mask = np.ones(len(stamps), dtype=bool)
        for tf in _TIMEFRAMES:
            mask &= conditions[(*combo, tf)]
        hits.extend((int(k), c) for k in np.flatnonzero(mask))
    hits.sort()
    row = np.array([k for k, _ in hits], dtype=np.int64)
    entry = closes[row] if len(row) else np.zeros(0, dtype=np.float64)
    tp, sl = np.full(len(row), np.nan), np.full(len(row), np.nan)
    for i, (k, c) in enumerate(hits):
        pattern, direction = COMBINATIONS[c]
        config = getattr(thresholds, pattern)
        tp_pips = getattr(config, "take_profit_pips", None)
        sl_pips = getattr(config, "stop_loss_pips", None)
        if tp_pips is not None and sl_pips is not None:
            tp[i], sl[i] = trade_levels(
                float(closes[k]), direction, float(tp_pips), float(sl_pips), pair.pip_size
            )
    return DetectionColumns(
        stamps=stamps,
        conditions=conditions,
        row=row,
        stamp_ns=stamps[row] if len(row) else np.zeros(0, dtype=np.int64),
        pattern=tuple(COMBINATIONS[c][0] for _, c in hits),
        direction=tuple(COMBINATIONS[c][1] for _, c in hits),
        confidence=np.full(len(row), np.nan),
        entry=entry,
        take_profit=tp,
        stop_loss=sl,
    )


_TIMEFRAMES = (Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5)
