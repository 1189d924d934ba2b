"""The one entry point for "which patterns fired at which 5m closes in this range" (SPEC §16).

Every caller that needs detections over a range of 5m closes (the live cycle with a range of
one bar, ``replay``, ``patterns evaluate`` and ``patterns calibrate``) calls
:func:`detect_range`. Its output is, bar for bar, what the per-bar path
(:func:`exchange_analytics.patterns.snapshots.evaluate_snapshots`) produces; the per-bar path
stays only as the test oracle.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from exchange_analytics.aggregation import DayBoundary
from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.patterns.evaluate import PatternResult
from exchange_analytics.patterns.snapshots import evaluate_snapshots
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, Thresholds


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
        (stamp, results)
        for stamp, results in evaluate_snapshots(
            m5, higher, pair, day_boundary, eval_from, eval_to, thresholds
        )
        if results
    ]
