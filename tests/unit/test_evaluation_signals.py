"""Detections → signals decides exactly like replay stepping every bar with NewnessTracker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchange_analytics.domain import Timeframe
from exchange_analytics.evaluation.signals import signals_from_detections
from exchange_analytics.patterns.evaluate import PatternResult
from exchange_analytics.patterns.newness import NewnessTracker

KEYS = [("composite_signal", "BUY"), ("breakout", "BUY"), ("composite_signal", "SELL")]


def _result(pattern: str, direction: str) -> PatternResult:
    return PatternResult(
        pattern_type=pattern,
        direction=direction,
        status="detected",
        priority="low",
        confidence=0.5,
        bar_timestamp=None,
        entry_price=None,
        take_profit=None,
        stop_loss=None,
        take_profit_pips=None,
        stop_loss_pips=None,
        advice=None,
        risk=None,
        readings=(),
        reason=None,
    )


def _index(n: int) -> pd.DatetimeIndex:
    # 5m bars with a weekend-like hole in the middle: stored bars, not clock time, are "previous".
    first = pd.date_range("2026-03-06 20:00", periods=n // 2, freq="5min", tz="UTC")
    second = pd.date_range("2026-03-08 22:00", periods=n - n // 2, freq="5min", tz="UTC")
    return first.append(second)


def _replay_like(index, detected, first, cooldown):
    """What replay does: a fresh tracker stepped at every bar of the range."""
    tracker = NewnessTracker(cooldown)
    notified = []
    for position in range(first, len(index)):
        keys = detected.get(position, [])
        close = (index[position] + Timeframe.M5.duration).to_pydatetime()
        for key, decision in tracker.step(keys, close).items():
            if decision == "new":
                notified.append((index[position], *key))
    return notified


@pytest.mark.parametrize("cooldown", [0, 5, 60, 240])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_signals_equal_replay_decisions_on_random_detections(cooldown, seed):
    rng = np.random.default_rng(seed)
    index = _index(600)
    first = 40
    detected = {}
    for position in range(first, len(index)):
        keys = [k for k in KEYS if rng.random() < 0.15]
        if keys:
            detected[position] = keys
    detections = [(index[p], [_result(*k) for k in keys]) for p, keys in sorted(detected.items())]
    closes = np.linspace(1.0, 1.1, len(index))
    decided = signals_from_detections(detections, index, closes, first, cooldown)
    got = [(s.bar, s.pattern, s.direction) for s in decided.signals]
    assert sorted(got) == sorted(_replay_like(index, detected, first, cooldown))
    assert sum(decided.detections.values()) == sum(len(k) for k in detected.values())
    for signal in decided.signals:
        assert signal.entry == closes[signal.position]


def test_the_range_starts_fresh_and_refuses_detections_before_it():
    index = _index(10)
    before = (index[3], [_result("breakout", "BUY")])
    at_start = (index[4], [_result("breakout", "BUY")])
    # Replay starts with no previous bar: a detection at the first bar is new even though the
    # (unevaluated) bar before it would also have had it.
    decided = signals_from_detections([at_start], index, np.ones(10), 4, 60)
    assert [(s.bar, s.pattern) for s in decided.signals] == [(index[4], "breakout")]
    with pytest.raises(ValueError, match="before the range"):
        signals_from_detections([before, at_start], index, np.ones(10), 4, 60)


@pytest.mark.parametrize("cooldown", [0, 60, 240])
def test_one_key_positions_decide_like_the_full_tracker(cooldown):
    from exchange_analytics.evaluation.signals import signal_positions

    rng = np.random.default_rng(cooldown + 11)
    index = _index(800)
    first, last = 30, 700
    detected = {p: [k for k in KEYS if rng.random() < 0.2] for p in range(first, last + 1)}
    detected = {p: keys for p, keys in detected.items() if keys}
    detections = [(index[p], [_result(*k) for k in keys]) for p, keys in sorted(detected.items())]
    full = signals_from_detections(detections, index, np.ones(len(index)), first, cooldown)
    for key in KEYS:
        positions = np.array([p for p, keys in sorted(detected.items()) if key in keys])
        # Positions outside [first, last] are ignored, as replay never sees them.
        padded = np.concatenate([[first - 1], positions, [last + 1]])
        got = signal_positions(padded, index, first, last, key, cooldown)
        expected = [s.position for s in full.signals if (s.pattern, s.direction) == key]
        assert got.tolist() == expected
