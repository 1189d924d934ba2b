"""The six multi-timeframe patterns of SPEC §7, as pure functions, and their as-of inputs.

Data flow: ``snapshots.iter_snapshots`` turns stored 5m and 1h/4h/1d bars into the four
:class:`~exchange_analytics.patterns.inputs.TimeframeWindow` values as they stood at a 5m
bar's close (no look-ahead); ``evaluate.evaluate_all`` runs the eleven pattern/direction rules
of ``detectors`` on them (``detect_all`` when only detections matter); ``newness`` decides
which detections are notified; ``explain`` renders every condition for a person. Thresholds
live in one frozen object (``thresholds``), confidence is documented in ``confidence``.

Example::

    th = build_thresholds(settings.pattern_thresholds)
    for bar, windows in iter_snapshots(m5, higher, "utc", start, end):
        for result in detect_all(windows, "USD/JPY", th):
            store(bar, result.to_detection_data())

No database, HTTP, clock or environment here: the cycle and the CLI pass everything in.
"""

from exchange_analytics.patterns.detectors import COMBINATIONS, TABLE_DIRECTION
from exchange_analytics.patterns.evaluate import (
    PatternResult,
    detect_all,
    evaluate_all,
    evaluate_pattern,
    trade_levels,
)
from exchange_analytics.patterns.explain import render_explain
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.newness import NewnessTracker, decide
from exchange_analytics.patterns.snapshots import (
    WINDOW_BARS,
    evaluate_snapshots,
    iter_snapshots,
    latest_bar_at,
)
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, Thresholds, build_thresholds

__all__ = [
    "COMBINATIONS",
    "DEFAULT_THRESHOLDS",
    "TABLE_DIRECTION",
    "WINDOW_BARS",
    "NewnessTracker",
    "PatternResult",
    "Thresholds",
    "TimeframeWindow",
    "build_thresholds",
    "decide",
    "detect_all",
    "evaluate_all",
    "evaluate_pattern",
    "evaluate_snapshots",
    "iter_snapshots",
    "latest_bar_at",
    "render_explain",
    "trade_levels",
]
