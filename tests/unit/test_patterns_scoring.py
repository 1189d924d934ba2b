"""confidence_score and the trade levels (entry, take-profit, stop-loss) of SPEC §7."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.patterns.confidence import combine, condition_score
from exchange_analytics.patterns.evaluate import evaluate_all, evaluate_pattern, trade_levels
from exchange_analytics.patterns.inputs import TimeframeWindow
from tests.unit.test_patterns_detectors import SCENARIOS, windows_for, with_change

H4, M5 = Timeframe.H4, Timeframe.M5
JPY = CurrencyPair.parse("USD/JPY")
EUR = CurrencyPair.parse("EUR/USD")


@pytest.mark.parametrize(
    ("margin", "scale", "expected"),
    [(0.0, 10.0, 0.0), (5.0, 10.0, 0.5), (10.0, 10.0, 1.0), (25.0, 10.0, 1.0), (-3.0, 10.0, 0.0)],
    ids=["at-threshold", "half-way", "full-scale", "beyond-scale", "failed"],
)
def test_condition_score_is_a_clipped_ratio(margin: float, scale: float, expected: float) -> None:
    assert condition_score(margin, scale) == pytest.approx(expected)


def test_condition_score_of_nan_or_bad_scale_is_zero() -> None:
    assert condition_score(float("nan"), 1.0) == 0.0
    assert condition_score(1.0, 0.0) == 0.0


def test_combine_is_the_mean_and_empty_is_zero() -> None:
    assert combine([0.0, 1.0, 0.5]) == 0.5
    assert combine([]) == 0.0


def test_confidence_grows_with_a_margin_and_stays_in_bounds() -> None:
    """Raising the 4h RSI of a composite BUY further above 50 never lowers the confidence."""
    values = []
    for rsi in (50.5, 52.0, 55.0, 58.0, 60.0, 65.0, 80.0):
        specs = with_change(SCENARIOS["composite_signal"], H4, {"rsi": rsi})
        result = evaluate_pattern("composite_signal", "BUY", windows_for(specs), JPY)
        assert result.detected
        values.append(result.confidence)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values)
    assert values[0] < values[4]  # strictly growing while the margin is below its scale (10)
    assert values[4] == values[5] == values[6]  # clipped beyond it


def test_confidence_is_deterministic_and_bounded_on_random_markets() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        windows = {}
        for tf in (Timeframe.D1, Timeframe.H4, Timeframe.H1, M5):
            close = 150.0 + np.cumsum(rng.normal(0.0, 0.2, 300))
            spread = np.abs(rng.normal(0.0, 0.1, 300))
            opens = np.append(close[0], close[:-1])
            high = np.maximum(opens, close) + spread
            low = np.minimum(opens, close) - spread
            macd, signal, hist = talib.MACD(close, 12, 26, 9)
            upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
            windows[tf] = TimeframeWindow(
                timeframe=tf,
                timestamps=np.arange(300, dtype=np.int64) * tf.seconds * 10**9,
                open=opens,
                high=high,
                low=low,
                close=close,
                rsi=talib.RSI(close, 14),
                macd=macd,
                macd_signal=signal,
                macd_hist=hist,
                bb_upper=upper,
                bb_middle=middle,
                bb_lower=lower,
            )
        first = evaluate_all(windows, JPY)
        again = evaluate_all(windows, JPY)
        assert [r.confidence for r in first] == [r.confidence for r in again]
        assert all(0.0 <= r.confidence <= 1.0 for r in first)
        assert all(r.status in ("detected", "not_met") for r in first)


@pytest.mark.parametrize(
    ("pair", "direction", "entry", "tp_pips", "sl_pips", "tp", "sl"),
    [
        (JPY, "BUY", 150.123, 50, 30, 150.623, 149.823),
        (JPY, "SELL", 150.123, 50, 30, 149.623, 150.423),
        (EUR, "BUY", 1.08512, 80, 40, 1.09312, 1.08112),
        (EUR, "SELL", 1.08512, 80, 40, 1.07712, 1.08912),
    ],
    ids=["jpy-buy", "jpy-sell", "eur-buy", "eur-sell"],
)
def test_trade_levels_from_pip_size(
    pair: CurrencyPair,
    direction: str,
    entry: float,
    tp_pips: float,
    sl_pips: float,
    tp: float,
    sl: float,
) -> None:
    assert trade_levels(entry, direction, tp_pips, sl_pips, pair.pip_size) == (tp, sl)


@pytest.mark.parametrize(
    ("pair", "mirrored", "direction", "tp", "sl"),
    [
        ("USD/JPY", False, "BUY", 151.26, 149.46),
        ("USD/JPY", True, "SELL", 148.74, 150.54),
        ("EUR/USD", False, "BUY", 150.072, 150.054),
        ("EUR/USD", True, "SELL", 149.928, 149.946),
    ],
    ids=["jpy-buy", "jpy-sell", "nonjpy-buy", "nonjpy-sell"],
)
def test_composite_signal_is_priced_from_the_5m_close(
    pair: str, mirrored: bool, direction: str, tp: float, sl: float
) -> None:
    """120 / 60 pips from the 5m close (150.06, or 149.94 on the mirrored market)."""
    windows = windows_for(SCENARIOS["composite_signal"], mirrored)
    (result,) = [r for r in evaluate_all(windows, pair) if r.detected]
    assert (result.pattern_type, result.direction) == ("composite_signal", direction)
    assert result.entry_price == pytest.approx(149.94 if mirrored else 150.06)
    assert (result.take_profit, result.stop_loss) == (tp, sl)
    assert (result.take_profit_pips, result.stop_loss_pips) == (120.0, 60.0)
    assert result.priority == "very_high"


@pytest.mark.parametrize(
    ("pattern", "direction", "tp_pips", "sl_pips", "priority"),
    [
        ("trend_reversal", "SELL", 50.0, 30.0, "high"),
        ("pullback", "BUY", 80.0, 40.0, "medium"),
        ("breakout", "BUY", 100.0, 50.0, "medium"),
    ],
    ids=["trend_reversal", "pullback", "breakout"],
)
def test_pips_and_priority_per_pattern(
    pattern: str, direction: str, tp_pips: float, sl_pips: float, priority: str
) -> None:
    result = evaluate_pattern(pattern, direction, windows_for(SCENARIOS[pattern]), JPY)
    assert result.detected
    assert (result.take_profit_pips, result.stop_loss_pips, result.priority) == (
        tp_pips,
        sl_pips,
        priority,
    )
    assert result.entry_price is not None and result.take_profit is not None
    sign = 1 if direction == "BUY" else -1
    assert result.take_profit == pytest.approx(result.entry_price + sign * tp_pips * 0.01)


@pytest.mark.parametrize(
    ("pattern", "direction", "advice", "risk"),
    [
        ("divergence", "SELL", "take profit", "sharp move possible"),
        ("rsi_battle", "NEUTRAL", "wait", None),
    ],
    ids=["divergence", "rsi_battle"],
)
def test_patterns_without_levels_carry_advice(
    pattern: str, direction: str, advice: str, risk: str | None
) -> None:
    result = evaluate_pattern(pattern, direction, windows_for(SCENARIOS[pattern]), JPY)
    assert result.detected
    assert (result.take_profit, result.stop_loss, result.take_profit_pips) == (None, None, None)
    assert (result.advice, result.risk) == (advice, risk)
    assert result.entry_price == result.to_detection_data()["entry_price"]


def test_not_evaluable_scores_zero() -> None:
    windows = windows_for(SCENARIOS["composite_signal"])
    del windows[Timeframe.D1]
    result = evaluate_pattern("composite_signal", "BUY", windows, JPY)
    assert (result.status, result.confidence) == ("not_evaluable", 0.0)
    assert result.reason == "no 1d bars"
