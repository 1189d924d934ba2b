"""The range pattern of SPEC §7: #5 rsi_battle (NEUTRAL, no mirror).

RSI pinned around its centre on every timeframe, MACD near zero, price near the middle band,
the bands widening on 1h and RSI crossing back and forth on 5m: a market that has not chosen
a side. It has no direction, so ``s`` is ignored.
"""

from __future__ import annotations

import itertools

import exchange_analytics.patterns.confidence as cf
from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.confidence import (
    Check,
    Value,
    rsi_band,
)
from exchange_analytics.patterns.detector_rule import BB, Rule, needs
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.thresholds import Thresholds

D1, H4, H1, M5 = Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5


# --- 5 rsi_battle (NEUTRAL, no mirror) -----------------------------------------------------


def _rb_band(w: TimeframeWindow, th: Thresholds) -> Check:
    r = th.rsi_battle
    return rsi_band(w, r.rsi_min, r.rsi_max, 1, th)


def _rb_d1(w: TimeframeWindow, s: int, th: Thresholds) -> list[Check] | str:
    reason = needs(w, (("rsi", "macd"), 1))
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
    reason = needs(w, (("rsi",), 1), (BB, 1))
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
    reason = needs(w, (("rsi",), 1), (("bb_upper", "bb_lower"), k + 1))
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
    reason = needs(w, (("rsi",), r.cross_bars + 1))
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


RSI_BATTLE: dict[Timeframe, Rule] = {D1: _rb_d1, H4: _rb_h4, H1: _rb_h1, M5: _rb_m5}
