"""The six multi-timeframe patterns of SPEC §7, as pure functions of :class:`TimeframeWindow`.

Each pattern is written once, in the direction the SPEC table describes (its *table
direction*), with ``s = +1``; the mirror runs the same code with ``s = −1``. Mirroring flips every
inequality (``s × (a − b) > 0``), reflects RSI levels around the centre (70 ↔ 30) and swaps
high ↔ low, BB upper ↔ lower and upper ↔ lower wick (``confidence.mirrored_field``). Writing each
rule once is what keeps BUY and SELL exact mirrors of each other.

A timeframe rule returns either a list of :class:`Check` (every condition, met or not, with the
values behind it) or a string saying why the timeframe cannot be evaluated (too little history:
NaN indicators, fewer bars than a lookback). The readings of the four timeframes are what
``detection_data`` stores and what ``patterns explain`` prints.

The rules live by kind: the reversals (trend_reversal, divergence) in ``detector_reversal``,
the trend followers (pullback, breakout, composite_signal) in ``detector_trend``, the range
pattern (rsi_battle) in ``detector_range``; their contract (:data:`Rule`) in ``detector_rule``.
This module is the table that puts them together: which direction each pattern is written in,
the eleven combinations evaluated, and :data:`RULES`.
"""

from __future__ import annotations

from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.detector_range import RSI_BATTLE
from exchange_analytics.patterns.detector_reversal import DIVERGENCE, TREND_REVERSAL
from exchange_analytics.patterns.detector_rule import Rule
from exchange_analytics.patterns.detector_trend import BREAKOUT, COMPOSITE_SIGNAL, PULLBACK

__all__ = ["COMBINATIONS", "RULES", "TABLE_DIRECTION", "Rule"]

#: Direction the SPEC §7 table describes each directional pattern in (s = +1).
TABLE_DIRECTION = {
    "trend_reversal": "SELL",
    "pullback": "BUY",
    "divergence": "SELL",
    "breakout": "BUY",
    "composite_signal": "BUY",
}
#: Every pattern/direction combination evaluated at each 5m bar (11 in all).
COMBINATIONS: tuple[tuple[str, str], ...] = (
    ("trend_reversal", "SELL"),
    ("trend_reversal", "BUY"),
    ("pullback", "BUY"),
    ("pullback", "SELL"),
    ("divergence", "SELL"),
    ("divergence", "BUY"),
    ("breakout", "BUY"),
    ("breakout", "SELL"),
    ("rsi_battle", "NEUTRAL"),
    ("composite_signal", "BUY"),
    ("composite_signal", "SELL"),
)
#: Each pattern's rule per timeframe.
RULES: dict[str, dict[Timeframe, Rule]] = {
    "trend_reversal": TREND_REVERSAL,
    "pullback": PULLBACK,
    "divergence": DIVERGENCE,
    "breakout": BREAKOUT,
    "rsi_battle": RSI_BATTLE,
    "composite_signal": COMPOSITE_SIGNAL,
}
