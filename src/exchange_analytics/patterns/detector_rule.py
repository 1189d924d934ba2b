"""What a timeframe rule of :mod:`.detectors` is, and the history check every rule starts with.

A rule reads one :class:`TimeframeWindow` with ``s`` (+1 the SPEC §7 table direction, −1 its
mirror) and the thresholds, and returns either every :class:`Check` (met or not, with the values
behind it) or a string saying why the timeframe cannot be evaluated. The rule modules
(``detector_reversal``, ``detector_trend``, ``detector_range``) share this contract.
"""

from __future__ import annotations

from collections.abc import Callable

from exchange_analytics.patterns.confidence import Check
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.thresholds import Thresholds

Rule = Callable[[TimeframeWindow, int, Thresholds], "list[Check] | str"]
#: The price fields and the Bollinger fields, as rules name them in their needs.
PRICE = ("open", "high", "low", "close")
BB = ("bb_upper", "bb_middle", "bb_lower")


def needs(w: TimeframeWindow, *wanted: tuple[tuple[str, ...], int]) -> str | None:
    """Why ``w`` cannot be evaluated for these (fields, bars) needs, or None."""
    for names, bars in wanted:
        reason = w.missing(names, bars)
        if reason is not None:
            return reason
    return None
