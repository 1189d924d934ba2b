"""Evaluate every pattern at one moment and price the trade (entry, take-profit, stop-loss).

:func:`evaluate_all` is what the live cycle, ``replay`` and ``patterns explain`` call: eleven
results (six patterns, five of them in both directions), each ``detected``, ``not_met`` or
``not_evaluable``. Only ``detected`` results become ``pattern_detections`` rows; the others exist
so that ``explain`` can show why nothing fired. :func:`detect_all` returns just the detected
ones, stopping each pattern at its first failing timeframe (replay and the live cycle).

A pattern is read per timeframe (:class:`Reading`: the rule's checks, or why it could not
run); it is detected only when every timeframe is evaluable and every check holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

import pandas as pd

import exchange_analytics.patterns.confidence as cf
from exchange_analytics.domain import ALL_TIMEFRAMES, CurrencyPair, Timeframe
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.patterns.confidence import Check
from exchange_analytics.patterns.detectors import COMBINATIONS, RULES, TABLE_DIRECTION, Rule
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, Thresholds

Status = Literal["detected", "not_met", "not_evaluable"]

#: Advice and risk for the patterns that carry no take-profit / stop-loss (SPEC §7).
_ADVICE: dict[str, tuple[str, str | None]] = {
    "divergence": ("take profit", "sharp move possible"),
    "rsi_battle": ("wait", None),
}


class Reading(NamedTuple):
    """One timeframe of one pattern: its checks, or why it could not be evaluated."""

    timeframe: Timeframe
    checks: tuple[Check, ...]
    reason: str | None = None
    #: Open time (epoch ns, UTC) of the bar read, and whether its bucket had ended.
    bar_ns: int | None = None
    bar_complete: bool | None = None

    @property
    def evaluable(self) -> bool:
        return self.reason is None

    @property
    def met(self) -> bool:
        if self.reason is not None:
            return False
        return all(c.met for c in self.checks)

    @property
    def bar_timestamp(self) -> str | None:
        """ISO-8601 UTC open time of the bar read (built on demand: detection is hot)."""
        if self.bar_ns is None:
            return None
        return str(pd.Timestamp(self.bar_ns, unit="ns", tz="UTC").isoformat())

    def to_dict(self) -> JSONObject:
        return {
            "bar_timestamp": self.bar_timestamp,
            "bar_complete": self.bar_complete,
            "evaluable": self.evaluable,
            "met": self.met,
            "reason": self.reason,
            "checks": [c.to_dict() for c in self.checks],
        }


def _read(tf: Timeframe, w: TimeframeWindow | None, rule: Rule, s: int, th: Thresholds) -> Reading:
    """One timeframe of one pattern: run its rule, or say why it cannot run."""
    if w is None or not len(w):
        return Reading(tf, (), reason=f"no {tf} bars")
    stamp = int(w.timestamps[-1])
    outcome = rule(w, s, th)
    if isinstance(outcome, str):
        return Reading(tf, (), f"{tf}: {outcome}", stamp, w.last_complete)
    return Reading(tf, tuple(outcome), None, stamp, w.last_complete)


def _rules(pattern: str, direction: str) -> tuple[dict[Timeframe, Rule], int]:
    """The pattern's rules and ``s``: +1 in its SPEC table direction, −1 in the mirror."""
    table = TABLE_DIRECTION.get(pattern)
    return RULES[pattern], 1 if table is None or direction == table else -1


def detect(
    pattern: str, direction: str, windows: Mapping[Timeframe, TimeframeWindow], th: Thresholds
) -> dict[Timeframe, Reading]:
    """Run one pattern in one direction on all four timeframes (1d, 4h, 1h, 5m order)."""
    rules, s = _rules(pattern, direction)
    return {tf: _read(tf, windows.get(tf), rules[tf], s, th) for tf in _ORDER}


def detect_met(
    pattern: str, direction: str, windows: Mapping[Timeframe, TimeframeWindow], th: Thresholds
) -> dict[Timeframe, Reading] | None:
    """Like :func:`detect`, but None as soon as one timeframe is not evaluable or not met.

    Replay and the live cycle store only detections, and most patterns fail on their first
    timeframe, so stopping there skips most of the work. A returned dict is complete and
    equal to what :func:`detect` returns.
    """
    rules, s = _rules(pattern, direction)
    readings: dict[Timeframe, Reading] = {}
    for tf in _ORDER:
        reading = _read(tf, windows.get(tf), rules[tf], s, th)
        if not reading.met:
            return None
        readings[tf] = reading
    return readings


_ORDER = tuple(reversed(ALL_TIMEFRAMES))


@dataclass(frozen=True, slots=True)
class PatternResult:
    """One pattern in one direction at one 5m bar.

    ``readings`` holds every condition per timeframe; :attr:`conditions` is their
    JSON-serialisable form (``{"1d": {...}, "4h": …}``), built on demand because a replay
    evaluates eleven results per bar and stores only the few detected ones.
    :meth:`to_detection_data` wraps it with everything else a stored row should explain.
    Prices are None where the pattern has no take-profit/stop-loss, or no 5m close exists.
    """

    pattern_type: str
    direction: str
    status: Status
    priority: str
    confidence: float
    bar_timestamp: datetime | None
    entry_price: float | None
    take_profit: float | None
    stop_loss: float | None
    take_profit_pips: float | None
    stop_loss_pips: float | None
    advice: str | None
    risk: str | None
    readings: tuple[Reading, ...]
    reason: str | None

    @property
    def detected(self) -> bool:
        return self.status == "detected"

    @property
    def conditions(self) -> dict[str, JSONObject]:
        """Per timeframe (1d, 4h, 1h, 5m): each condition, met or not, with its values."""
        return {r.timeframe.value: r.to_dict() for r in self.readings}

    def to_detection_data(self) -> JSONObject:
        """The ``pattern_detections.detection_data`` document (plain JSON types only)."""
        timeframes: JSONObject = dict(self.conditions)
        return {
            "pattern_type": self.pattern_type,
            "direction": self.direction,
            "status": self.status,
            "confidence": self.confidence,
            "priority": self.priority,
            "entry_price": self.entry_price,
            "take_profit": self.take_profit,
            "stop_loss": self.stop_loss,
            "take_profit_pips": self.take_profit_pips,
            "stop_loss_pips": self.stop_loss_pips,
            "advice": self.advice,
            "risk": self.risk,
            "reason": self.reason,
            "timeframes": timeframes,
        }


def trade_levels(
    entry: float, direction: str, tp_pips: float, sl_pips: float, pip: float
) -> tuple[float, float]:
    """Take-profit and stop-loss prices ``tp_pips`` / ``sl_pips`` away from ``entry``.

    BUY: take-profit above, stop-loss below; SELL the other way round. Rounded to a tenth of
    a pip (the quote precision brokers use: 3 decimals for JPY pairs, 5 otherwise), so stored
    prices do not carry float noise such as 157.21000000000001.
    """
    sign = 1.0 if direction == "BUY" else -1.0
    decimals = 3 if pip >= 0.01 else 5
    return (
        round(entry + sign * tp_pips * pip, decimals),
        round(entry - sign * sl_pips * pip, decimals),
    )


def _status(readings: Mapping[Timeframe, Reading]) -> tuple[Status, str | None]:
    """not_evaluable wins: a pattern that could not be read everywhere is never "not met"."""
    missing = [r.reason for r in readings.values() if r.reason is not None]
    if missing:
        return "not_evaluable", "; ".join(missing)
    failed = [tf.value for tf, r in readings.items() if not r.met]
    if failed:
        return "not_met", "conditions not met on " + ", ".join(failed)
    return "detected", None


@dataclass(frozen=True, slots=True)
class _Moment:
    """What every result at one bar shares: the 5m close (entry) and its open time."""

    entry: float | None
    stamp: datetime | None

    @classmethod
    def of(cls, windows: Mapping[Timeframe, TimeframeWindow]) -> _Moment:
        m5 = windows.get(Timeframe.M5)
        if m5 is None or not len(m5):
            return cls(None, None)
        last = m5.last_timestamp
        return cls(float(m5.close[-1]), last.to_pydatetime() if last is not None else None)


def _evaluate(
    pattern: str,
    direction: str,
    windows: Mapping[Timeframe, TimeframeWindow],
    pair: CurrencyPair,
    thresholds: Thresholds,
    moment: _Moment,
    readings: Mapping[Timeframe, Reading] | None = None,
) -> PatternResult:
    if readings is None:
        readings = detect(pattern, direction, windows, thresholds)
    status, reason = _status(readings)
    config = getattr(thresholds, pattern)
    confidence = 0.0
    if status != "not_evaluable":
        confidence = cf.combine(c.score for r in readings.values() for c in r.checks)
    tp = sl = tp_pips = sl_pips = None
    advice, risk = _ADVICE.get(pattern, (direction.lower(), None))
    tp_cfg = getattr(config, "take_profit_pips", None)
    sl_cfg = getattr(config, "stop_loss_pips", None)
    if moment.entry is not None and tp_cfg is not None and sl_cfg is not None:
        tp_pips, sl_pips = float(tp_cfg), float(sl_cfg)
        tp, sl = trade_levels(moment.entry, direction, tp_pips, sl_pips, pair.pip_size)
    return PatternResult(
        pattern_type=pattern,
        direction=direction,
        status=status,
        priority=config.priority,
        confidence=confidence,
        bar_timestamp=moment.stamp,
        entry_price=moment.entry,
        take_profit=tp,
        stop_loss=sl,
        take_profit_pips=tp_pips,
        stop_loss_pips=sl_pips,
        advice=advice,
        risk=risk,
        readings=tuple(readings.values()),
        reason=reason,
    )


def evaluate_pattern(
    pattern: str,
    direction: str,
    windows: Mapping[Timeframe, TimeframeWindow],
    pair: CurrencyPair,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> PatternResult:
    """One pattern/direction: readings per timeframe, status, confidence and trade levels."""
    return _evaluate(pattern, direction, windows, pair, thresholds, _Moment.of(windows))


def evaluate_all(
    windows: Mapping[Timeframe, TimeframeWindow],
    pair: str | CurrencyPair,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[PatternResult]:
    """All eleven pattern/direction results at the moment the windows describe.

    ``windows`` maps each timeframe to its window whose last bar is "now": the 5m bar that just
    closed and the 1h/4h/1d bucket containing it. A missing timeframe makes every pattern
    not evaluable (with the reason), never a detection.
    """
    parsed = pair if isinstance(pair, CurrencyPair) else CurrencyPair.parse(pair)
    moment = _Moment.of(windows)
    return [
        _evaluate(pattern, direction, windows, parsed, thresholds, moment)
        for pattern, direction in COMBINATIONS
    ]


def detect_all(
    windows: Mapping[Timeframe, TimeframeWindow],
    pair: str | CurrencyPair,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[PatternResult]:
    """Only the detected results of :func:`evaluate_all`, identical to them, found faster.

    Each pattern stops at its first timeframe that is not met or not evaluable, so the
    conditions of patterns that do not fire are never written out. This is what replay and
    the live cycle need (only detections are stored); ``patterns explain`` wants
    :func:`evaluate_all`.
    """
    parsed = pair if isinstance(pair, CurrencyPair) else CurrencyPair.parse(pair)
    moment: _Moment | None = None
    found: list[PatternResult] = []
    for pattern, direction in COMBINATIONS:
        readings = detect_met(pattern, direction, windows, thresholds)
        if readings is None:
            continue
        moment = moment or _Moment.of(windows)
        found.append(_evaluate(pattern, direction, windows, parsed, thresholds, moment, readings))
    return found


def result_from_readings(
    pattern: str,
    direction: str,
    windows: Mapping[Timeframe, TimeframeWindow],
    pair: CurrencyPair,
    readings: Mapping[Timeframe, Reading],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> PatternResult:
    """The result :func:`evaluate_all` builds from ``readings`` (those of :func:`detect`).

    ``patterns.engine`` runs :func:`detect` only for the patterns its array pass says may
    fire, then builds their results here, with the code :func:`detect_all` uses.
    """
    return _evaluate(pattern, direction, windows, pair, thresholds, _Moment.of(windows), readings)
