"""The reversal patterns of SPEC §7: #1 trend_reversal and #3 divergence (table: SELL).

Both read an extreme the market may turn from: an overbought close at the upper band with a
long upper wick, or a new price extreme that RSI does not confirm. Written in the table
direction (``s = +1``); the mirror runs the same code with ``s = −1`` (see :mod:`.detectors`).
"""

from __future__ import annotations

import exchange_analytics.patterns.confidence as cf
from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.confidence import (
    Check,
    price_vs,
    rsi_level,
    wick_vs,
)
from exchange_analytics.patterns.detector_rule import BB, Rule, needs
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.thresholds import Thresholds

D1, H4, H1, M5 = Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5


# --- 1 trend_reversal (table: SELL) --------------------------------------------------------


def _tr_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    t = th.trend_reversal
    n = t.macd_cross_bars
    reason = needs(w, (("rsi", "macd", "macd_signal"), 1), (("macd_hist",), n + 1))
    if reason:
        return reason
    hist_now = float(w.macd_hist[-1])
    before = [float(v) for v in w.macd_hist[-(n + 1) : -1]]
    crossed = sum(1 for v in before if s * v > 0.0)
    now_op, before_op = ("<", ">") if s > 0 else (">", "<")
    return [
        rsi_level(w, ">", t.rsi_level, s, th),
        Check(
            f"MACD hist {now_op} 0 now",
            s * hist_now < 0.0,
            {
                "macd_hist": hist_now,
                "macd": float(w.macd[-1]),
                "macd_signal": float(w.macd_signal[-1]),
            },
            -s * hist_now / cf.price_unit(w),
            cf.MACD_SCALE,
        ),
        Check(
            f"MACD hist {before_op} 0 in one of the {n} bars before",
            crossed > 0,
            {"macd_hist_before": before, "bars": crossed},
            float(crossed),
            cf.COUNT_SCALE,
        ),
    ]


def _tr_band(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = needs(w, (("rsi",), 1), (BB, 1))
    if reason:
        return reason
    return [
        rsi_level(w, ">", th.trend_reversal.rsi_level, s, th),
        price_vs(w, "high", "≥", "bb_upper", s),
    ]


def _tr_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = needs(w, (("rsi",), 1))
    if reason:
        return reason
    t = th.trend_reversal
    return [
        rsi_level(w, ">", t.rsi_level, s, th),
        wick_vs(w, "upper", s, t.wick_body_ratio, None),
        wick_vs(w, "upper", s, None, t.wick_range_share),
    ]


# --- 3 divergence (table: SELL, bearish) ---------------------------------------------------


def _dv_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    n = th.divergence.d1_lookback_bars
    reason = needs(w, (("close", "rsi"), n))
    if reason:
        return reason
    closes = [float(v) for v in w.close[-n:-1]]
    rsis = [float(v) for v in w.rsi[-n:-1]]
    close, rsi = float(w.close[-1]), float(w.rsi[-1])
    extreme_close = max(closes) if s > 0 else min(closes)
    extreme_rsi = max(rsis) if s > 0 else min(rsis)
    word, rsi_op = ("highest", "below highest") if s > 0 else ("lowest", "above lowest")
    return [
        Check(
            f"close is the {word} close of the last {n} bars",
            s * (close - extreme_close) >= 0.0,
            {"close": close, f"{word}_close_before": extreme_close},
            s * (close - extreme_close) / cf.price_unit(w),
            cf.PRICE_SCALE,
        ),
        Check(
            f"RSI {rsi_op} RSI of the {n - 1} bars before",
            s * (rsi - extreme_rsi) < 0.0,
            {"rsi": rsi, f"{word}_rsi_before": extreme_rsi},
            -s * (rsi - extreme_rsi),
            cf.RSI_SCALE,
        ),
    ]


def _dv_short(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    k = th.divergence.bars_ago
    reason = needs(w, (("close", "rsi"), k + 1))
    if reason:
        return reason
    close, old_close = float(w.close[-1]), float(w.close[-1 - k])
    rsi, old_rsi = float(w.rsi[-1]), float(w.rsi[-1 - k])
    op, rop = (">", "<") if s > 0 else ("<", ">")
    return [
        Check(
            f"close {op} close {k} bars ago",
            s * (close - old_close) > 0.0,
            {"close": close, "close_before": old_close},
            s * (close - old_close) / cf.price_unit(w),
            cf.PRICE_SCALE,
        ),
        Check(
            f"RSI {rop} RSI {k} bars ago",
            s * (rsi - old_rsi) < 0.0,
            {"rsi": rsi, "rsi_before": old_rsi},
            -s * (rsi - old_rsi),
            cf.RSI_CHANGE_SCALE,
        ),
    ]


TREND_REVERSAL: dict[Timeframe, Rule] = {D1: _tr_d1, H4: _tr_band, H1: _tr_band, M5: _tr_m5}
DIVERGENCE: dict[Timeframe, Rule] = {D1: _dv_d1, H4: _dv_short, H1: _dv_short, M5: _dv_short}
