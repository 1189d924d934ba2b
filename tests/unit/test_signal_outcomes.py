"""Signal outcomes: which of take-profit and stop-loss the later bars reached first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exchange_analytics.evaluation.outcomes import SignalOutcome, outcome, summarize


@pytest.mark.parametrize(
    ("direction", "highs", "lows", "expected"),
    [
        pytest.param(
            "BUY", [100.2, 100.6], [99.9, 100.1], ("take_profit", 2), id="buy-tp-second-bar"
        ),
        pytest.param("BUY", [100.2, 100.3], [99.8, 99.0], ("stop_loss", 2), id="buy-sl"),
        pytest.param("BUY", [100.6], [99.6], ("ambiguous", 1), id="buy-both-in-one-bar"),
        pytest.param("BUY", [100.4, 100.4], [99.8, 99.8], ("open", None), id="buy-neither"),
        pytest.param("SELL", [100.1, 100.2], [99.9, 99.5], ("take_profit", 2), id="sell-tp"),
        pytest.param("SELL", [100.3, 100.4], [99.9, 99.5], ("stop_loss", 1), id="sell-sl-first"),
        pytest.param("BUY", [100.5], [99.8], ("take_profit", 1), id="buy-tp-touch-exact"),
    ],
)
def test_outcome(direction, highs, lows, expected):
    tp, sl = (100.5, 99.7) if direction == "BUY" else (99.5, 100.3)
    assert outcome(direction, tp, sl, highs, lows) == expected


def test_summary_counts_and_win_rate():
    at = datetime(2026, 7, 1, tzinfo=UTC)
    items = [
        SignalOutcome("USD/JPY", "breakout", "BUY", at, "take_profit", 3),
        SignalOutcome("USD/JPY", "breakout", "BUY", at, "take_profit", 5),
        SignalOutcome("USD/JPY", "breakout", "BUY", at, "stop_loss", 1),
        SignalOutcome("USD/JPY", "breakout", "BUY", at, "open", None),
        SignalOutcome("USD/JPY", "composite_signal", "SELL", at, "ambiguous", 2),
    ]
    rows = {(r["pattern_type"], r["direction"]): r for r in summarize(items)}
    breakout = rows[("breakout", "BUY")]
    assert breakout["signals"] == 4
    assert (breakout["take_profit"], breakout["stop_loss"], breakout["open"]) == (2, 1, 1)
    assert breakout["win_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert breakout["median_bars_to_result"] == 3
    assert rows[("composite_signal", "SELL")]["win_rate"] is None
