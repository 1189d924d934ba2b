"""Evaluate every pattern at one moment and price the trade (entry, take-profit, stop-loss).

:func:`evaluate_all` is what the live cycle, ``replay`` and ``patterns explain`` call: eleven
results (six patterns, five of them in both directions), each ``detected``, ``not_met`` or
``not_evaluable``. Only ``detected`` results become ``pattern_detections`` rows; the others exist
so that ``explain`` can show why nothing fired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.patterns import confidence as cf
from exchange_analytics.patterns.detectors import COMBINATIONS, Reading, detect
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, Thresholds

Status = Literal["detected", "not_met", "not_evaluable"]

#: Advice and risk for the patterns that carry no take-profit / stop-loss (SPEC §7).
_ADVICE: dict[str, tuple[str, str | None]] = {
    "divergence": ("take profit", "sharp move possible"),
    "rsi_battle": ("wait", None),
}


@dataclass(frozen=True, slots=True)
class PatternResult:
    """One pattern in one direction at one 5m bar.

    ``conditions`` is the JSON-serialisable per-timeframe record (``{"1d": {...}, "4h": …}``);
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
    conditions: dict[str, Any]
    reason: str | None

    @property
    def detected(self) -> bool:
        return self.status == "detected"

    def to_detection_data(self) -> dict[str, Any]:
        """The ``pattern_detections.detection_data`` document (plain JSON types only)."""
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
            "timeframes": self.conditions,
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


def evaluate_pattern(
    pattern: str,
    direction: str,
    windows: Mapping[Timeframe, TimeframeWindow],
    pair: CurrencyPair,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> PatternResult:
    """One pattern/direction: readings per timeframe, status, confidence and trade levels."""
    readings = detect(pattern, direction, windows, thresholds)
    status, reason = _status(readings)
    config = getattr(thresholds, pattern)
    scores = [c.score for r in readings.values() for c in r.checks]
    confidence = cf.combine(scores) if status != "not_evaluable" else 0.0

    m5 = windows.get(Timeframe.M5)
    entry: float | None = None
    stamp: datetime | None = None
    if m5 is not None and len(m5):
        entry = float(m5.close[-1])
        last = m5.last_timestamp
        stamp = last.to_pydatetime() if last is not None else None
    tp = sl = tp_pips = sl_pips = None
    advice, risk = _ADVICE.get(pattern, (direction.lower(), None))
    tp_cfg = getattr(config, "take_profit_pips", None)
    sl_cfg = getattr(config, "stop_loss_pips", None)
    if entry is not None and tp_cfg is not None and sl_cfg is not None:
        tp_pips, sl_pips = float(tp_cfg), float(sl_cfg)
        tp, sl = trade_levels(entry, direction, tp_pips, sl_pips, pair.pip_size)
    return PatternResult(
        pattern_type=pattern,
        direction=direction,
        status=status,
        priority=config.priority,
        confidence=confidence,
        bar_timestamp=stamp,
        entry_price=entry,
        take_profit=tp,
        stop_loss=sl,
        take_profit_pips=tp_pips,
        stop_loss_pips=sl_pips,
        advice=advice,
        risk=risk,
        conditions={tf.value: r.to_dict() for tf, r in readings.items()},
        reason=reason,
    )


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
    return [
        evaluate_pattern(pattern, direction, windows, parsed, thresholds)
        for pattern, direction in COMBINATIONS
    ]
