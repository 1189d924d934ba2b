"""The trend-following patterns of SPEC §7: #2 pullback, #4 breakout, #6 composite_signal.

Each reads a move in the direction of the higher timeframes: a dip and rebound inside an
uptrend, a close beyond the band with momentum, or every timeframe agreeing. Written in the
table direction (BUY, ``s = +1``); the mirror runs the same code with ``s = −1``.
"""

from __future__ import annotations

import itertools

import exchange_analytics.patterns.confidence as cf
from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.confidence import (
    Check,
    Value,
    candle_direction,
    macd_vs_signal,
    price_vs,
    rsi_band,
    rsi_level,
    wick_vs,
)
from exchange_analytics.patterns.detector_rule import BB, PRICE, Rule, needs
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.thresholds import Thresholds

D1, H4, H1, M5 = Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5


# --- 2 pullback (table: BUY) ---------------------------------------------------------------


def _pb_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = needs(w, (("rsi", "macd_signal"), 1), (("macd",), 2))
    if reason:
        return reason
    p = th.pullback
    now, prev = float(w.macd[-1]), float(w.macd[-2])
    word = "rising" if s > 0 else "falling"
    return [
        rsi_band(w, p.d1_rsi_min, p.d1_rsi_max, s, th),
        macd_vs_signal(w, s),
        Check(
            f"MACD {word} vs previous bar",
            s * (now - prev) > 0.0,
            {"macd": now, "macd_previous": prev},
            s * (now - prev) / cf.price_unit(w),
            cf.SLOPE_SCALE,
        ),
    ]


def _pb_band(low: str, high: str) -> Rule:
    def rule(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
        reason = needs(w, (("rsi",), 1), (BB, 1))
        if reason:
            return reason
        p = th.pullback
        return [
            rsi_band(w, getattr(p, low), getattr(p, high), s, th),
            price_vs(w, "low", "≤", "bb_lower", s),
        ]

    return rule


def _pb_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    p = th.pullback
    k = p.m5_rsi_bars
    reason = needs(w, (("rsi",), k))
    if reason:
        return reason
    level = p.m5_rsi_level if s > 0 else th.mirror_rsi(p.m5_rsi_level)
    op = "≤" if s > 0 else "≥"
    recent = [float(v) for v in w.rsi[-k:]]
    best = max(s * (level - v) for v in recent)
    when = "this bar or the one before" if k == 2 else f"one of the last {k} bars"
    return [
        Check(
            f"RSI {op} {level:g} on {when}",
            best >= 0.0,
            {"rsi": recent, "threshold": level},
            best,
            cf.RSI_SCALE,
        ),
        candle_direction(w, s),
        wick_vs(w, "lower", s, p.rebound_wick_body_ratio, None),
    ]


# --- 4 breakout (table: BUY) ---------------------------------------------------------------


def _bo_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = needs(w, (("rsi", "macd", "macd_signal"), 1))
    if reason:
        return reason
    b = th.breakout
    return [rsi_band(w, b.d1_rsi_min, b.d1_rsi_max, s, th), macd_vs_signal(w, s)]


def _bo_band(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = needs(w, (BB, 1))
    return reason or [price_vs(w, "close", ">", "bb_upper", s)]


def _bo_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    n = th.breakout.m5_bars
    reason = needs(w, (PRICE, n))
    if reason:
        return reason
    bodies = [candle_direction(w, s, i) for i in range(-n, 0)]
    closes = [float(v) for v in w.close[-n:]]
    steps = [s * (b - a) for a, b in itertools.pairwise(closes)]
    op, word = (">", "rising") if s > 0 else ("<", "falling")
    return [
        Check(
            f"last {n} bars all close {op} open",
            all(c.met for c in bodies),
            {"open": [float(v) for v in w.open[-n:]], "close": closes},
            min(c.margin for c in bodies),
            cf.SHAPE_SCALE,
        ),
        Check(
            f"{word} closes over the last {n} bars",
            all(step > 0.0 for step in steps),
            {"close": closes},
            min(steps, default=0.0) / cf.price_unit(w),
            cf.PRICE_SCALE,
        ),
    ]


# --- 6 composite_signal (table: BUY) -------------------------------------------------------


def _cs_higher(with_macd: bool) -> Rule:
    def rule(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
        fields = ("rsi", "macd", "macd_signal") if with_macd else ("rsi",)
        reason = needs(w, (fields, 1), (BB, 1))
        if reason:
            return reason
        checks = [rsi_level(w, ">", th.composite_signal.rsi_level, s, th)]
        if with_macd:
            checks.append(macd_vs_signal(w, s))
        checks.append(price_vs(w, "close", ">", "bb_middle", s))
        return checks

    return rule


def _cs_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = needs(w, (("rsi",), 1))
    if reason:
        return reason
    share = th.composite_signal.body_range_share
    body, rng, _, _ = cf.bar_shape(w)
    values: dict[str, Value] = {"body": body, "range": rng}
    label = f"body ≥ {share:.0%} of range"
    if rng > 0.0:  # a share of the range needs range > 0 (SPEC §7)
        body_check = Check(label, body >= share * rng, values, body / rng - share, cf.SHAPE_SCALE)
    else:
        body_check = Check(label, False, values, -1.0, cf.SHAPE_SCALE)
    return [
        rsi_level(w, ">", th.composite_signal.rsi_level, s, th),
        candle_direction(w, s),
        body_check,
    ]


PULLBACK: dict[Timeframe, Rule] = {
    D1: _pb_d1,
    H4: _pb_band("h4_rsi_min", "h4_rsi_max"),
    H1: _pb_band("h1_rsi_min", "h1_rsi_max"),
    M5: _pb_m5,
}
BREAKOUT: dict[Timeframe, Rule] = {D1: _bo_d1, H4: _bo_band, H1: _bo_band, M5: _bo_m5}
COMPOSITE_SIGNAL: dict[Timeframe, Rule] = {
    D1: _cs_higher(True),
    H4: _cs_higher(False),
    H1: _cs_higher(False),
    M5: _cs_m5,
}
