"""The six patterns' conditions of ``detectors`` as boolean arrays over as-of columns.

One function per (pattern, timeframe) rule of :data:`detectors.RULES`, written in the table
direction with ``s`` exactly as there (mirror: ``s = −1``), returning a :class:`Verdict` per
5m close:

* ``ok``: the timeframe is evaluable (enough bars, no undefined indicator in what the rule
  reads). Exact: it depends only on bar counts.
* ``maybe`` / ``sure``: every check of the rule holds, allowing for the as-of values being
  off by up to the tolerance (``maybe``: could hold; ``sure``: holds even then). A check that
  compares only prices (candle bodies, wicks, closes against closes) uses no tolerance, since
  prices are bit-identical to the per-bar windows; one that reads an indicator uses
  :data:`RSI_TOL` RSI points or :data:`PRICE_REL_TOL` of the close (see ``asof`` for why).

``ok & maybe & ~sure`` is the rare "undecided" case that ``patterns.engine`` settles with the
per-bar windows. Keeping the rules mirrored from ``detectors`` line by line is what the
equality tests pin.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.asof import AsOfColumns, TimeframeColumns
from exchange_analytics.patterns.detectors import COMBINATIONS, TABLE_DIRECTION
from exchange_analytics.patterns.inputs import FloatArray
from exchange_analytics.patterns.thresholds import Thresholds

BoolArray = npt.NDArray[np.bool_]
#: Width of the undecided band for RSI values (points) and price-valued indicators (share
#: of the close). The as-of values differ from the per-bar ones by ~1e-12 at most.
RSI_TOL = 1e-6
PRICE_REL_TOL = 1e-7

D1, H4, H1, M5 = Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5
_BB = ("bb_upper", "bb_middle", "bb_lower")
_PRICE = ("open", "high", "low", "close")
_MIRROR = {"high": "low", "low": "high", "bb_upper": "bb_lower", "bb_lower": "bb_upper"}
_FLIP = {">": "<", "<": ">", "≥": "≤", "≤": "≥"}


class Verdict(NamedTuple):
    ok: BoolArray
    maybe: BoolArray
    sure: BoolArray


class Cond(NamedTuple):
    maybe: BoolArray
    sure: BoolArray

    def __and__(self, other: Cond) -> Cond:
        return Cond(self.maybe & other.maybe, self.sure & other.sure)

    def __or__(self, other: Cond) -> Cond:
        return Cond(self.maybe | other.maybe, self.sure | other.sure)


def cmp(a: FloatArray, op: str, b: FloatArray | float, tol: FloatArray | float) -> Cond:
    """``a op b`` when either side may be off by ``tol`` (0: an exact comparison)."""
    if op == ">":
        return Cond(a > b - tol, a > b + tol)
    if op == "≥":
        return Cond(a >= b - tol, a >= b + tol)
    if op == "<":
        return Cond(a < b + tol, a < b - tol)
    return Cond(a <= b + tol, a <= b - tol)


def exact(mask: BoolArray) -> Cond:
    return Cond(mask, mask)


def all_of(conds: list[Cond]) -> Cond:
    out = conds[0]
    for c in conds[1:]:
        out = out & c
    return out


def any_of(conds: list[Cond]) -> Cond:
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


class Frame:
    """One timeframe's columns plus the helpers every rule needs."""

    def __init__(self, cols: TimeframeColumns) -> None:
        self.cols = cols
        self._memo: dict[tuple[str, int], FloatArray] = {}
        self._defined: dict[tuple[str, int], BoolArray] = {}
        self.ptol = np.abs(self.v("close")) * PRICE_REL_TOL

    def v(self, name: str, j: int = 1) -> FloatArray:
        """``window.<name>[-j]`` at every row (memoised: rules share most reads)."""
        key = (name, j)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.cols.at(name, j)
        return found

    def needs(self, names: tuple[str, ...], bars: int) -> BoolArray:
        """``TimeframeWindow.missing(names, bars) is None`` at every row."""
        ok = self.cols.length >= bars
        for name in names:
            for j in range(1, bars + 1):
                ok = ok & self.defined(name, j)
        return ok

    def defined(self, name: str, j: int) -> BoolArray:
        key = (name, j)
        found = self._defined.get(key)
        if found is None:
            found = self._defined[key] = ~np.isnan(self.v(name, j))
        return found

    def shape(self, j: int = 1) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``confidence.bar_shape``: body, range, upper wick, lower wick (same float ops)."""
        o, h, lo, c = self.v("open", j), self.v("high", j), self.v("low", j), self.v("close", j)
        return np.abs(c - o), h - lo, h - np.maximum(o, c), np.minimum(o, c) - lo


def _mirror_rsi(th: Thresholds, level: float) -> float:
    return th.mirror_rsi(level)


def rsi_level(f: Frame, op: str, level: float, s: int, th: Thresholds) -> Cond:
    eff = level if s > 0 else _mirror_rsi(th, level)
    return cmp(f.v("rsi"), op if s > 0 else _FLIP[op], eff, RSI_TOL)


def rsi_band(f: Frame, low: float, high: float, s: int, th: Thresholds) -> Cond:
    a, b = (low, high) if s > 0 else (_mirror_rsi(th, high), _mirror_rsi(th, low))
    rsi = f.v("rsi")
    return cmp(rsi, "≥", a, RSI_TOL) & cmp(rsi, "≤", b, RSI_TOL)


def price_vs(f: Frame, left: str, op: str, right: str, s: int) -> Cond:
    a = f.v(left if s > 0 else _MIRROR.get(left, left))
    b = f.v(right if s > 0 else _MIRROR.get(right, right))
    return cmp(a, op if s > 0 else _FLIP[op], b, f.ptol)


def candle(f: Frame, s: int, j: int = 1) -> Cond:
    return cmp(f.v("close", j), ">" if s > 0 else "<", f.v("open", j), 0.0)


def macd_vs_signal(f: Frame, s: int) -> Cond:
    return cmp(f.v("macd"), ">" if s > 0 else "<", f.v("macd_signal"), f.ptol)


def wick_vs(f: Frame, side: str, s: int, ratio: float | None, share: float | None) -> Cond:
    body, rng, upper, lower = f.shape()
    wick = upper if (side == "upper") == (s > 0) else lower
    if ratio is not None:
        return exact(wick >= ratio * body)
    return exact((rng > 0) & (wick >= (share or 0.0) * rng))


Rule = Callable[[Frame, int, Thresholds], Verdict]


def _v(ok: BoolArray, cond: Cond) -> Verdict:
    return Verdict(ok, cond.maybe, cond.sure)


def _tr_d1(f: Frame, s: int, th: Thresholds) -> Verdict:
    t = th.trend_reversal
    n = t.macd_cross_bars
    ok = f.needs(("rsi", "macd", "macd_signal"), 1) & f.needs(("macd_hist",), n + 1)
    crossed = any_of([cmp(s * f.v("macd_hist", j), ">", 0.0, f.ptol) for j in range(2, n + 2)])
    now = cmp(s * f.v("macd_hist"), "<", 0.0, f.ptol)
    return _v(ok, rsi_level(f, ">", t.rsi_level, s, th) & now & crossed)


def _tr_band(f: Frame, s: int, th: Thresholds) -> Verdict:
    ok = f.needs(("rsi",), 1) & f.needs(_BB, 1)
    cond = rsi_level(f, ">", th.trend_reversal.rsi_level, s, th)
    return _v(ok, cond & price_vs(f, "high", "≥", "bb_upper", s))


def _tr_m5(f: Frame, s: int, th: Thresholds) -> Verdict:
    t = th.trend_reversal
    cond = rsi_level(f, ">", t.rsi_level, s, th)
    cond = cond & wick_vs(f, "upper", s, t.wick_body_ratio, None)
    return _v(f.needs(("rsi",), 1), cond & wick_vs(f, "upper", s, None, t.wick_range_share))


def _pb_d1(f: Frame, s: int, th: Thresholds) -> Verdict:
    p = th.pullback
    ok = f.needs(("rsi", "macd_signal"), 1) & f.needs(("macd",), 2)
    slope = cmp(s * (f.v("macd") - f.v("macd", 2)), ">", 0.0, 2 * f.ptol)
    cond = rsi_band(f, p.d1_rsi_min, p.d1_rsi_max, s, th) & macd_vs_signal(f, s) & slope
    return _v(ok, cond)


def _pb_band(low: str, high: str) -> Rule:
    def rule(f: Frame, s: int, th: Thresholds) -> Verdict:
        p = th.pullback
        ok = f.needs(("rsi",), 1) & f.needs(_BB, 1)
        band = rsi_band(f, getattr(p, low), getattr(p, high), s, th)
        return _v(ok, band & price_vs(f, "low", "≤", "bb_lower", s))

    return rule


def _pb_m5(f: Frame, s: int, th: Thresholds) -> Verdict:
    p = th.pullback
    k = p.m5_rsi_bars
    level = p.m5_rsi_level if s > 0 else th.mirror_rsi(p.m5_rsi_level)
    dipped = any_of([cmp(s * (level - f.v("rsi", j)), "≥", 0.0, RSI_TOL) for j in range(1, k + 1)])
    cond = dipped & candle(f, s) & wick_vs(f, "lower", s, p.rebound_wick_body_ratio, None)
    return _v(f.needs(("rsi",), k), cond)


def _dv_d1(f: Frame, s: int, th: Thresholds) -> Verdict:
    n = th.divergence.d1_lookback_bars
    ok = f.needs(("close", "rsi"), n)
    reduce = np.maximum if s > 0 else np.minimum
    closes = [f.v("close", j) for j in range(2, n + 1)]
    rsis = [f.v("rsi", j) for j in range(2, n + 1)]
    ext_close = reduce.reduce(closes) if closes else np.full(len(ok), np.nan)
    ext_rsi = reduce.reduce(rsis) if rsis else np.full(len(ok), np.nan)
    highest = cmp(s * (f.v("close") - ext_close), "≥", 0.0, 0.0)
    return _v(ok, highest & cmp(s * (f.v("rsi") - ext_rsi), "<", 0.0, 2 * RSI_TOL))


def _dv_short(f: Frame, s: int, th: Thresholds) -> Verdict:
    k = th.divergence.bars_ago
    ok = f.needs(("close", "rsi"), k + 1)
    moved = cmp(s * (f.v("close") - f.v("close", k + 1)), ">", 0.0, 0.0)
    weaker = cmp(s * (f.v("rsi") - f.v("rsi", k + 1)), "<", 0.0, 2 * RSI_TOL)
    return _v(ok, moved & weaker)


def _bo_d1(f: Frame, s: int, th: Thresholds) -> Verdict:
    b = th.breakout
    ok = f.needs(("rsi", "macd", "macd_signal"), 1)
    return _v(ok, rsi_band(f, b.d1_rsi_min, b.d1_rsi_max, s, th) & macd_vs_signal(f, s))


def _bo_band(f: Frame, s: int, th: Thresholds) -> Verdict:
    return _v(f.needs(_BB, 1), price_vs(f, "close", ">", "bb_upper", s))


def _bo_m5(f: Frame, s: int, th: Thresholds) -> Verdict:
    n = th.breakout.m5_bars
    ok = f.needs(_PRICE, n)
    bodies = all_of([candle(f, s, j) for j in range(1, n + 1)])
    closes = [f.v("close", j) for j in range(n, 0, -1)]
    steps = [cmp(s * (b - a), ">", 0.0, 0.0) for a, b in itertools.pairwise(closes)]
    return _v(ok, all_of([bodies, *steps]))


def _rb_band(f: Frame, th: Thresholds) -> Cond:
    r = th.rsi_battle
    return rsi_band(f, r.rsi_min, r.rsi_max, 1, th)


def _rb_d1(f: Frame, s: int, th: Thresholds) -> Verdict:
    ratio = th.rsi_battle.macd_close_ratio
    ok = f.needs(("rsi", "macd"), 1)
    small = cmp(np.abs(f.v("macd")), "≤", ratio * f.v("close"), f.ptol)
    return _v(ok, _rb_band(f, th) & small)


def _rb_h4(f: Frame, s: int, th: Thresholds) -> Verdict:
    share = th.rsi_battle.bb_middle_share
    ok = f.needs(("rsi",), 1) & f.needs(_BB, 1)
    close, mid, upper = f.v("close"), f.v("bb_middle"), f.v("bb_upper")
    near = cmp(np.abs(close - mid), "≤", share * (upper - mid), 2 * f.ptol)
    return _v(ok, _rb_band(f, th) & near)


def _rb_h1(f: Frame, s: int, th: Thresholds) -> Verdict:
    k = th.rsi_battle.bb_width_bars_ago
    ok = f.needs(("rsi",), 1) & f.needs(("bb_upper", "bb_lower"), k + 1)
    now = f.v("bb_upper") - f.v("bb_lower")
    old = f.v("bb_upper", k + 1) - f.v("bb_lower", k + 1)
    return _v(ok, _rb_band(f, th) & cmp(now, ">", old, 4 * f.ptol))


def _rb_m5(f: Frame, s: int, th: Thresholds) -> Verdict:
    r = th.rsi_battle
    ok = f.needs(("rsi",), r.cross_bars + 1)
    rsis = [f.v("rsi", j) for j in range(r.cross_bars + 1, 0, -1)]
    sides = [v >= r.cross_level for v in rsis]
    unsure = np.zeros(len(ok), dtype=bool)
    for v in rsis:
        unsure |= np.abs(v - r.cross_level) <= RSI_TOL
    crosses = np.zeros(len(ok), dtype=np.int64)
    for a, b in itertools.pairwise(sides):
        crosses += a != b
    met = crosses >= r.min_crosses
    return _v(ok, Cond(met | unsure, met & ~unsure))


def _cs_higher(with_macd: bool) -> Rule:
    def rule(f: Frame, s: int, th: Thresholds) -> Verdict:
        fields = ("rsi", "macd", "macd_signal") if with_macd else ("rsi",)
        ok = f.needs(fields, 1) & f.needs(_BB, 1)
        cond = rsi_level(f, ">", th.composite_signal.rsi_level, s, th)
        if with_macd:
            cond = cond & macd_vs_signal(f, s)
        return _v(ok, cond & price_vs(f, "close", ">", "bb_middle", s))

    return rule


def _cs_m5(f: Frame, s: int, th: Thresholds) -> Verdict:
    share = th.composite_signal.body_range_share
    body, rng, _, _ = f.shape()
    strong = exact((rng > 0.0) & (body >= share * rng))
    cond = rsi_level(f, ">", th.composite_signal.rsi_level, s, th) & candle(f, s) & strong
    return _v(f.needs(("rsi",), 1), cond)


VECTOR_RULES: dict[str, dict[Timeframe, Rule]] = {
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


def all_verdicts(
    columns: AsOfColumns, th: Thresholds
) -> dict[tuple[str, str], dict[Timeframe, Verdict]]:
    """Every pattern/direction of ``COMBINATIONS`` on the four timeframes, at every row."""
    frames = {tf: Frame(cols) for tf, cols in columns.frames.items()}
    out: dict[tuple[str, str], dict[Timeframe, Verdict]] = {}
    for pattern, direction in COMBINATIONS:
        table = TABLE_DIRECTION.get(pattern)
        s = 1 if table is None or direction == table else -1
        rules = VECTOR_RULES[pattern]
        out[(pattern, direction)] = {tf: rules[tf](frames[tf], s, th) for tf in _ORDER}
    return out


_ORDER = (D1, H4, H1, M5)
