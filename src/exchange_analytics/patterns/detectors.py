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
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

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
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.thresholds import Thresholds

D1, H4, H1, M5 = Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5

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
Rule = Callable[[TimeframeWindow, int, Thresholds], "list[Check] | str"]
_PRICE = ("open", "high", "low", "close")
_BB = ("bb_upper", "bb_middle", "bb_lower")


def _needs(w: TimeframeWindow, *needs: tuple[tuple[str, ...], int]) -> str | None:
    """Why ``w`` cannot be evaluated for these (fields, bars) needs, or None."""
    for names, bars in needs:
        reason = w.missing(names, bars)
        if reason is not None:
            return reason
    return None


# --- 1 trend_reversal (table: SELL) --------------------------------------------------------


def _tr_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    t = th.trend_reversal
    n = t.macd_cross_bars
    reason = _needs(w, (("rsi", "macd", "macd_signal"), 1), (("macd_hist",), n + 1))
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
    reason = _needs(w, (("rsi",), 1), (_BB, 1))
    if reason:
        return reason
    return [
        rsi_level(w, ">", th.trend_reversal.rsi_level, s, th),
        price_vs(w, "high", "≥", "bb_upper", s),
    ]


def _tr_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = _needs(w, (("rsi",), 1))
    if reason:
        return reason
    t = th.trend_reversal
    return [
        rsi_level(w, ">", t.rsi_level, s, th),
        wick_vs(w, "upper", s, t.wick_body_ratio, None),
        wick_vs(w, "upper", s, None, t.wick_range_share),
    ]


# --- 2 pullback (table: BUY) ---------------------------------------------------------------


def _pb_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = _needs(w, (("rsi", "macd_signal"), 1), (("macd",), 2))
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
        reason = _needs(w, (("rsi",), 1), (_BB, 1))
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
    reason = _needs(w, (("rsi",), k))
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


# --- 3 divergence (table: SELL, bearish) ---------------------------------------------------


def _dv_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    n = th.divergence.d1_lookback_bars
    reason = _needs(w, (("close", "rsi"), n))
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
    reason = _needs(w, (("close", "rsi"), k + 1))
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


# --- 4 breakout (table: BUY) ---------------------------------------------------------------


def _bo_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = _needs(w, (("rsi", "macd", "macd_signal"), 1))
    if reason:
        return reason
    b = th.breakout
    return [rsi_band(w, b.d1_rsi_min, b.d1_rsi_max, s, th), macd_vs_signal(w, s)]


def _bo_band(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = _needs(w, (_BB, 1))
    return reason or [price_vs(w, "close", ">", "bb_upper", s)]


def _bo_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    n = th.breakout.m5_bars
    reason = _needs(w, (_PRICE, n))
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


# --- 5 rsi_battle (NEUTRAL, no mirror) -----------------------------------------------------


def _rb_band(w: TimeframeWindow, th: Thresholds) -> Check:
    r = th.rsi_battle
    return rsi_band(w, r.rsi_min, r.rsi_max, 1, th)


def _rb_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = _needs(w, (("rsi", "macd"), 1))
    if reason:
        return reason
    ratio = th.rsi_battle.macd_close_ratio
    macd, close = float(w.macd[-1]), float(w.close[-1])
    values: dict[str, Value] = {"macd": macd, "close": close, "limit": ratio * close}
    return [
        _rb_band(w, th),
        cf.within(f"abs(MACD) ≤ {ratio:g} × close", abs(macd), ratio * close, values),
    ]


def _rb_h4(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = _needs(w, (("rsi",), 1), (_BB, 1))
    if reason:
        return reason
    share = th.rsi_battle.bb_middle_share
    close, mid, upper = float(w.close[-1]), float(w.bb_middle[-1]), float(w.bb_upper[-1])
    limit = share * (upper - mid)
    values: dict[str, Value] = {"close": close, "bb_middle": mid, "bb_upper": upper, "limit": limit}
    name = f"abs(close − BB middle) ≤ {share:g} × (BB upper − BB middle)"
    return [_rb_band(w, th), cf.within(name, abs(close - mid), limit, values)]


def _rb_h1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    k = th.rsi_battle.bb_width_bars_ago
    reason = _needs(w, (("rsi",), 1), (("bb_upper", "bb_lower"), k + 1))
    if reason:
        return reason
    now = float(w.bb_upper[-1] - w.bb_lower[-1])
    old = float(w.bb_upper[-1 - k] - w.bb_lower[-1 - k])
    growth = (now - old) / old if old > 0.0 else (1.0 if now > 0.0 else 0.0)
    return [
        _rb_band(w, th),
        Check(
            f"BB width now > BB width {k} bars ago",
            now > old,
            {"bb_width": now, "bb_width_before": old},
            growth,
            cf.WIDTH_GROWTH_SCALE,
        ),
    ]


def _rb_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    r = th.rsi_battle
    reason = _needs(w, (("rsi",), r.cross_bars + 1))
    if reason:
        return reason
    rsis = [float(v) for v in w.rsi[-(r.cross_bars + 1) :]]
    sides = [v >= r.cross_level for v in rsis]
    crosses = sum(1 for a, b in itertools.pairwise(sides) if a != b)
    return [
        Check(
            f"RSI crossed {r.cross_level:g} at least {r.min_crosses} times in the last "
            f"{r.cross_bars} bars",
            crosses >= r.min_crosses,
            {"crosses": crosses, "rsi": rsis},
            float(crosses - r.min_crosses + 1),
            cf.COUNT_SCALE,
        )
    ]


# --- 6 composite_signal (table: BUY) -------------------------------------------------------


def _cs_higher(with_macd: bool) -> Rule:
    def rule(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
        fields = ("rsi", "macd", "macd_signal") if with_macd else ("rsi",)
        reason = _needs(w, (fields, 1), (_BB, 1))
        if reason:
            return reason
        checks = [rsi_level(w, ">", th.composite_signal.rsi_level, s, th)]
        if with_macd:
            checks.append(macd_vs_signal(w, s))
        checks.append(price_vs(w, "close", ">", "bb_middle", s))
        return checks

    return rule


def _cs_m5(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = _needs(w, (("rsi",), 1))
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


RULES: dict[str, dict[Timeframe, Rule]] = {
    "trend_reversal": {D1: _tr_d1, H4: _tr_band, H1: _tr_band, M5: _tr_m5},
    "pullback": {
        D1: _pb_d1,
        H4: _pb_band("h4_rsi_min", "h4_rsi_max"),
        H1: _pb_band("h1_rsi_min", "h1_rsi_max"),
        M5: _pb_m5,
    },
    "divergence": {D1: _dv_d1, H4: _dv_short, H1: _dv_short, M5: _dv_short},
    "breakout": {D1: _bo_d1, H4: _bo_band, H1: _bo_band, M5: _bo_m5},
    "rsi_battle": {D1: _rb_d1, H4: _rb_h4, H1: _rb_h1, M5: _rb_m5},
    "composite_signal": {
        D1: _cs_higher(True),
        H4: _cs_higher(False),
        H1: _cs_higher(False),
        M5: _cs_m5,
    },
}
