"""confidence_score (SPEC §7): how far, on average, each condition is past its threshold.

Every condition a detector checks records a *margin*: the signed distance of its value past the
threshold, positive when the condition holds, in a unit that makes timeframes and pairs
comparable. Each margin becomes a score ``clip(margin / scale, 0, 1)``: 0 exactly at the
threshold (or when the condition fails), 1 once it is a full ``scale`` past. The confidence is the
**mean score over every condition of every timeframe** of the pattern, so it lies in [0, 1], is
deterministic, and grows monotonically with each margin. A pattern that only just scrapes past
all its thresholds scores near 0; one that clears them by a wide berth everywhere scores near 1.

Units and scales (a score of 1 at):

=============================  =====================================  ==================
condition kind                 margin unit                            scale
=============================  =====================================  ==================
RSI above/below a level        RSI points                             10 points
RSI inside a band              RSI points to the nearer edge          half the band
                                                                      (at most 10)
price vs band / open / close   Bollinger width (upper − lower) of     0.25 width
                               that timeframe's latest bar
MACD vs signal, histogram      Bollinger width                        0.05 width
MACD rising / falling          Bollinger width                        0.02 width
wick / body vs range or body   share of the bar's range               0.25 of the range
RSI vs its earlier value       RSI points                             5 points
"within a limit" (rsi_battle)  share of the limit left unused         1 (the full limit)
BB width expanding             relative growth of the width           0.20 (20 %)
counted events (RSI crosses,   events beyond the minimum, counting    3 events
"one of the bars before")      the minimum itself as 1
=============================  =====================================  ==================

The Bollinger width is used as the price unit because it is the timeframe's own volatility
measure: a 10-pip margin is large on 5m and nothing on 1d. Where the band is not defined yet
(only the RSI-based divergence checks can run that early) 0.1 % of the close stands in.

The condition kinds several patterns share (RSI past a level or inside a band, one price against
another, wick/body against range, MACD against its signal) are built here as :class:`Check`
records, because each builder *defines* the margin and the unit of its condition: the two halves
of the confidence function belong in one place. Every builder takes ``s``: +1 evaluates the
condition as the SPEC §7 table writes it, −1 its mirror.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from exchange_analytics.jsontypes import JSONObject, JSONValue

if TYPE_CHECKING:
    from exchange_analytics.patterns.inputs import TimeframeWindow
    from exchange_analytics.patterns.thresholds import Thresholds

RSI_SCALE = 10.0
RSI_CHANGE_SCALE = 5.0
PRICE_SCALE = 0.25
MACD_SCALE = 0.05
SLOPE_SCALE = 0.02
SHAPE_SCALE = 0.25
LIMIT_SCALE = 1.0
WIDTH_GROWTH_SCALE = 0.20
COUNT_SCALE = 3.0
#: Price unit where the Bollinger width is not available: this share of the close.
FALLBACK_UNIT_SHARE = 0.001


def condition_score(margin: float, scale: float) -> float:
    """``clip(margin / scale, 0, 1)``; NaN margins score 0 (nothing to be confident about)."""
    if scale <= 0.0 or math.isnan(margin):
        return 0.0
    return min(1.0, max(0.0, margin / scale))


def combine(scores: Iterable[float]) -> float:
    """Mean of the condition scores; 0.0 for no conditions. Rounded to 1e-6 for stable storage."""
    values = list(scores)
    if not values:
        return 0.0
    return round(sum(values) / len(values), 6)


_MIRROR = {"high": "low", "low": "high", "bb_upper": "bb_lower", "bb_lower": "bb_upper"}
_FLIP = {">": "<", "<": ">", "≥": "≤", "≤": "≥"}
Value = float | int | bool | None | Sequence[float | None]


class Check(NamedTuple):
    """One condition: its readable form, whether it held, the values, and its margin past it.

    A NamedTuple rather than a frozen dataclass: a replay creates over a hundred per 5m bar,
    and tuple construction is several times cheaper.
    """

    name: str
    met: bool
    values: dict[str, Value]
    margin: float
    scale: float

    @property
    def score(self) -> float:
        return condition_score(self.margin, self.scale) if self.met else 0.0

    def to_dict(self) -> JSONObject:
        return {
            "condition": self.name,
            "met": self.met,
            "values": self.json_values(),
            "score": round(self.score, 6),
        }

    def json_values(self) -> JSONObject:
        """The values as the stored document holds them (:func:`json_value` of each)."""
        return {k: json_value(v) for k, v in self.values.items()}


def json_value(value: Value) -> JSONValue:
    """NaN/inf are not JSON; they become null (they only appear in values of failed checks).

    Floats are rounded to 10 decimals; a sequence becomes a list, element by element.
    """
    if isinstance(value, float):
        return round(value, 10) if math.isfinite(value) else None
    if value is None or isinstance(value, int):  # bool is an int: kept as it is
        return value
    return [None if v is None or not math.isfinite(v) else round(v, 10) for v in value]


def compare(a: float, op: str, b: float) -> bool:
    """``a op b`` for the four operators the readable condition names use."""
    if op == ">":
        return a > b
    if op == "≥":
        return a >= b
    if op == "<":
        return a < b
    return a <= b


def mirrored_field(name: str, s: int) -> str:
    """high ↔ low and BB upper ↔ lower when ``s`` is −1 (the mirror direction)."""
    return name if s > 0 else _MIRROR.get(name, name)


def price_unit(w: TimeframeWindow) -> float:
    """Price unit for margins: the latest Bollinger width, else 0.1 % of the close."""
    width = float(w.bb_upper[-1] - w.bb_lower[-1])
    if math.isfinite(width) and width > 0.0:
        return width
    return max(abs(float(w.close[-1])) * FALLBACK_UNIT_SHARE, 1e-12)


def rsi_level(w: TimeframeWindow, op: str, level: float, s: int, th: Thresholds) -> Check:
    """RSI ``op`` ``level`` in the table direction; the mirror reflects level and operator."""
    rsi = float(w.rsi[-1])
    eff = level if s > 0 else th.mirror_rsi(level)
    eff_op = op if s > 0 else _FLIP[op]
    margin = rsi - eff if eff_op in (">", "≥") else eff - rsi
    return Check(
        f"RSI {eff_op} {eff:g}",
        compare(rsi, eff_op, eff),
        {"rsi": rsi, "threshold": eff},
        margin,
        RSI_SCALE,
    )


def rsi_band(w: TimeframeWindow, low: float, high: float, s: int, th: Thresholds) -> Check:
    """``low ≤ RSI ≤ high`` in the table direction; the mirror reflects the band (30–40 → 60–70)."""
    rsi = float(w.rsi[-1])
    a, b = (low, high) if s > 0 else (th.mirror_rsi(high), th.mirror_rsi(low))
    scale = min(RSI_SCALE, (b - a) / 2.0) if b > a else RSI_SCALE
    return Check(
        f"{a:g} ≤ RSI ≤ {b:g}",
        a <= rsi <= b,
        {"rsi": rsi, "min": a, "max": b},
        min(rsi - a, b - rsi),
        scale,
    )


def price_vs(
    w: TimeframeWindow, left: str, op: str, right: str, s: int, scale: float = PRICE_SCALE
) -> Check:
    """Compare two fields of the latest bar (``high ≥ bb_upper``), mirrored by ``s``."""
    a_name, b_name = mirrored_field(left, s), mirrored_field(right, s)
    eff_op = op if s > 0 else _FLIP[op]
    a, b = float(getattr(w, a_name)[-1]), float(getattr(w, b_name)[-1])
    diff = a - b if eff_op in (">", "≥") else b - a
    return Check(
        f"{a_name} {eff_op} {b_name}",
        compare(a, eff_op, b),
        {a_name: a, b_name: b},
        diff / price_unit(w),
        scale,
    )


def bar_shape(w: TimeframeWindow, i: int = -1) -> tuple[float, float, float, float]:
    """body, range, upper wick, lower wick of bar ``i`` (SPEC §7 definitions)."""
    o, h, lo, c = float(w.open[i]), float(w.high[i]), float(w.low[i]), float(w.close[i])
    return abs(c - o), h - lo, h - max(o, c), min(o, c) - lo


def wick_vs(
    w: TimeframeWindow, wick_side: str, s: int, body_ratio: float | None, share: float | None
) -> Check:
    """Wick ≥ ``body_ratio`` × body, or wick ≥ ``share`` × range.

    SPEC §7: a condition on a share of the range needs range > 0, so a flat bar fails the
    ``share`` form. The ``body_ratio`` form is read literally (on a flat bar 0 ≥ 0 holds; the
    patterns using it also require a share of the range or a body, so a flat bar never fires).
    """
    body, rng, upper, lower = bar_shape(w)
    upper_side = (wick_side == "upper") == (s > 0)
    name = "upper wick" if upper_side else "lower wick"
    wick = upper if upper_side else lower
    values: dict[str, Value] = {name.replace(" ", "_"): wick, "body": body, "range": rng}
    if body_ratio is not None:
        label, need, met = f"{name} ≥ {body_ratio:g} × body", body_ratio * body, True
    else:
        label, need, met = f"{name} ≥ {share or 0.0:.0%} of range", (share or 0.0) * rng, rng > 0
    margin = (wick - need) / rng if rng > 0.0 else (0.0 if met else -1.0)
    return Check(label, met and wick >= need, values, margin, SHAPE_SCALE)


def candle_direction(w: TimeframeWindow, s: int, i: int = -1) -> Check:
    """``close > open`` (a bullish body) in the table direction, ``close < open`` mirrored."""
    o, c = float(w.open[i]), float(w.close[i])
    _, rng, _, _ = bar_shape(w, i)
    op = ">" if s > 0 else "<"
    margin = s * (c - o) / rng if rng > 0.0 else -1.0
    return Check(
        f"close {op} open", compare(c, op, o), {"open": o, "close": c}, margin, SHAPE_SCALE
    )


def macd_vs_signal(w: TimeframeWindow, s: int) -> Check:
    """``MACD > signal`` in the table direction."""
    macd, signal = float(w.macd[-1]), float(w.macd_signal[-1])
    op = ">" if s > 0 else "<"
    return Check(
        f"MACD {op} signal",
        compare(macd, op, signal),
        {"macd": macd, "macd_signal": signal},
        s * (macd - signal) / price_unit(w),
        MACD_SCALE,
    )


def within(name: str, value: float, limit: float, values: dict[str, Value]) -> Check:
    """``value ≤ limit`` for a non-negative distance; margin = unused share of the limit."""
    margin = (limit - value) / limit if limit > 0.0 else (0.0 if value <= 0.0 else -1.0)
    return Check(name, value <= limit, values, margin, LIMIT_SCALE)
