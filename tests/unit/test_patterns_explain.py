"""``patterns explain`` text, and building windows from indicator frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchange_analytics.domain import Timeframe
from exchange_analytics.indicators import compute_indicators
from exchange_analytics.patterns.evaluate import evaluate_all
from exchange_analytics.patterns.explain import format_values, render_explain
from exchange_analytics.patterns.inputs import TimeframeWindow
from tests.unit.test_patterns_detectors import SCENARIOS, windows_for


def test_explain_lists_every_condition_with_values_and_verdict() -> None:
    windows = windows_for(SCENARIOS["trend_reversal"])
    text = render_explain(evaluate_all(windows, "USD/JPY"), "USD/JPY")
    assert "1 of 11 detected: trend_reversal SELL" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("trend_reversal SELL"))
    assert "[high]" in header and "detected" in header and "TP" in header and "(50 pips)" in header
    assert any("RSI > 70" in line and " yes " in line and "rsi=75" in line for line in lines)
    assert any("RSI < 30" in line and " no " in line and "rsi=75" in line for line in lines)
    assert any("upper wick ≥ 2 × body" in line for line in lines)
    for pattern in (
        "pullback BUY",
        "divergence BUY",
        "rsi_battle NEUTRAL",
        "composite_signal SELL",
    ):
        assert any(line.startswith(pattern) for line in lines)
    assert "advice: take profit, risk: sharp move possible" in text
    assert "UTC" in text and "JST" in text


def test_explain_shows_why_a_timeframe_is_not_evaluable() -> None:
    windows = windows_for(SCENARIOS["composite_signal"])
    windows[Timeframe.D1] = windows[Timeframe.D1].tail(10)
    nan = np.full(10, np.nan)
    w = windows[Timeframe.D1]
    windows[Timeframe.D1] = TimeframeWindow(
        timeframe=w.timeframe,
        timestamps=w.timestamps,
        open=w.open,
        high=w.high,
        low=w.low,
        close=w.close,
        rsi=nan,
        macd=nan,
        macd_signal=nan,
        macd_hist=nan,
        bb_upper=nan,
        bb_middle=nan,
        bb_lower=nan,
    )
    text = render_explain(
        evaluate_all(windows, "USD/JPY"), "USD/JPY", pd.Timestamp("2026-06-03 10:07", tz="UTC")
    )
    assert "0 of 11 detected" in text
    assert "not evaluable" in text and "rsi not defined yet" in text
    assert "asked for 2026-06-03 10:07 UTC (2026-06-03 19:07 JST)" in text


def test_format_values_is_compact() -> None:
    assert format_values({"rsi": 72.3456789, "met": True, "x": None}) == "rsi=72.3457 met=yes x=n/a"
    assert format_values({"rsi": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]}).startswith("rsi=[…, 2")


def _bars(n: int = 120) -> pd.DataFrame:
    index = pd.date_range("2026-06-01", periods=n, freq="5min", tz="UTC", name="timestamp")
    close = 150.0 + np.sin(np.arange(n) / 7.0)
    return pd.DataFrame(
        {
            "open": close - 0.01,
            "high": close + 0.05,
            "low": close - 0.05,
            "close": close,
            "volume": 1.0,
        },
        index=index,
    )


def test_window_from_an_indicator_frame() -> None:
    bars = _bars()
    frame = bars.join(compute_indicators(bars))
    frame["is_complete"] = True
    frame.loc[frame.index[-1], "is_complete"] = False
    w = TimeframeWindow.from_frame(frame, Timeframe.H1)
    assert len(w) == 120 and not w.last_complete
    assert w.close[-1] == bars["close"].iloc[-1]
    assert w.last_timestamp == bars.index[-1]
    assert w.missing(("rsi",), 1) is None
    assert (
        w.missing(("macd_hist",), 100)
        == "macd_hist not defined on all of the last 100 bars (too little history)"
    )
    assert w.missing(("rsi",), 121) == "needs 121 bars, has 120"
    assert len(w.tail(5)) == 5 and w.tail(5).close[-1] == w.close[-1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["rsi"]), "lack the columns rsi"),
        (lambda f: f.tz_localize(None), "UTC-aware"),
        (lambda f: f.iloc[::-1], "ascending"),
    ],
    ids=["missing-column", "naive-index", "descending"],
)
def test_from_frame_refuses_bad_frames(change: object, message: str) -> None:
    bars = _bars()
    frame = bars.join(compute_indicators(bars))
    with pytest.raises(ValueError, match=message):
        TimeframeWindow.from_frame(change(frame), Timeframe.M5)  # type: ignore[operator]


def test_window_arrays_must_have_one_value_per_bar() -> None:
    w = windows_for({})[Timeframe.M5]
    with pytest.raises(ValueError, match="rsi has 3 values"):
        TimeframeWindow(
            timeframe=Timeframe.M5,
            timestamps=w.timestamps,
            open=w.open,
            high=w.high,
            low=w.low,
            close=w.close,
            rsi=w.rsi[:3],
            macd=w.macd,
            macd_signal=w.macd_signal,
            macd_hist=w.macd_hist,
            bb_upper=w.bb_upper,
            bb_middle=w.bb_middle,
            bb_lower=w.bb_lower,
        )
