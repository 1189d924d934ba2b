"""Vectorised outcomes: for many entries at once, which level the later 5m bars reached first.

The rule is :func:`exchange_analytics.evaluation.outcomes.outcome` (the per-signal oracle the
unit tests compare against): walk the bars *after* the entry bar, at most ``horizon`` of them;
a bar whose high/low reaches only the take-profit is ``take_profit``, only the stop-loss is
``stop_loss``, both is ``ambiguous`` (5m data cannot order them), none within the horizon is
``open``. "Bars" are stored bars, so a weekend counts as nothing, as in the monthly analysis.

Walking 1,440 bars for each of the ~70,000 5m closes of a year (the baseline) bar by bar is
100 million steps. Instead a sparse table of range maxima/minima (``log2(horizon)`` levels)
answers "first bar after ``p`` whose high ≥ level" by binary lifting for every entry at once:
``O(n log horizon)`` array operations, no Python loop over entries. The same tables give the
maximum adverse and favourable excursion up to the outcome bar.

MAE/MFE (pips, ≥ 0 when price moved that way): over the bars from the one after the entry up to
and including the outcome bar (all bars walked when the outcome is ``open``); NaN when no bar
followed the entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Outcome codes of :class:`Walk.code`, in the order of ``outcomes.OUTCOMES``.
TAKE_PROFIT, STOP_LOSS, AMBIGUOUS, OPEN = 0, 1, 2, 3
CODE_NAMES = ("take_profit", "stop_loss", "ambiguous", "open")


class RangeTable:
    """Sparse tables of running maxima of ``highs`` and minima of ``lows``.

    ``top[k, i]`` = max(highs[i : i + 2**k]); ``bottom[k, i]`` = min(lows[i : i + 2**k]); cells
    whose window runs past the end hold −inf / +inf so they never stop a search.
    """

    def __init__(self, highs: FloatArray, lows: FloatArray, horizon: int) -> None:
        n = len(highs)
        levels = max(1, int(horizon).bit_length())
        self.n = n
        self.top = np.full((levels, n), -np.inf)
        self.bottom = np.full((levels, n), np.inf)
        self.top[0], self.bottom[0] = highs, lows
        for k in range(1, levels):
            half = 1 << (k - 1)
            width = n - (1 << k) + 1
            if width <= 0:
                break
            self.top[k, :width] = np.maximum(
                self.top[k - 1, :width], self.top[k - 1, half:][:width]
            )
            self.bottom[k, :width] = np.minimum(
                self.bottom[k - 1, :width], self.bottom[k - 1, half:][:width]
            )

    def first_reach(
        self, start: IntArray, limit: IntArray, level: FloatArray, above: bool
    ) -> IntArray:
        """Per entry, the first index in [start, limit] whose high ≥ level (``above``) or low ≤
        level; ``limit + 1`` when none does. Binary lifting over the sparse table."""
        table = self.top if above else self.bottom
        pos = start.copy()
        for k in range(table.shape[0] - 1, -1, -1):
            step = 1 << k
            can = pos + step - 1 <= limit
            idx = np.where(can, pos, 0)
            window = table[k, idx]
            clear = window < level if above else window > level
            pos = np.where(can & clear, pos + step, pos)
        inside = pos <= limit
        single = table[0, np.where(inside, pos, 0)]
        hit = inside & (single >= level if above else single <= level)
        return np.where(hit, pos, limit + 1)

    def extreme(self, start: IntArray, end: IntArray, above: bool) -> FloatArray:
        """Max of highs (``above``) or min of lows over [start, end]; NaN where end < start."""
        table = self.top if above else self.bottom
        length = end - start + 1
        valid = length > 0
        safe = np.where(valid, length, 1)
        k = np.floor(np.log2(safe)).astype(np.int64)
        # horizon < 2**levels, so two overlapping windows of the top level always cover it.
        k = np.minimum(k, table.shape[0] - 1)
        a = np.where(valid, start, 0)
        b = np.where(valid, end - (1 << k) + 1, 0)
        left, right = table[k, a], table[k, b]
        value = np.maximum(left, right) if above else np.minimum(left, right)
        return np.where(valid, value, np.nan)


@dataclass(frozen=True)
class Walk:
    """Outcomes of many entries: codes, bars to the outcome (−1 when open), MAE/MFE in pips."""

    code: npt.NDArray[np.int8]
    bars: IntArray
    mae_pips: FloatArray
    mfe_pips: FloatArray

    def count(self, code: int) -> int:
        return int((self.code == code).sum())


def walk(
    table: RangeTable,
    positions: IntArray,
    entries: FloatArray,
    take_profit: FloatArray,
    stop_loss: FloatArray,
    buy: bool,
    horizon: int,
    pip: float,
    last: IntArray | None = None,
) -> Walk:
    """Outcome of an entry at bar ``positions[i]`` (its close ``entries[i]``) with the levels.

    ``last``: per entry, the last bar index the walk may read (default: the final bar); the
    calibration uses it so that a training window's outcomes never read the test window.
    """
    positions = np.asarray(positions, dtype=np.int64)
    final = np.full_like(positions, table.n - 1) if last is None else np.asarray(last, np.int64)
    start = positions + 1
    limit = np.minimum(positions + horizon, final)
    tp_at = table.first_reach(start, limit, take_profit, above=buy)
    sl_at = table.first_reach(start, limit, stop_loss, above=not buy)
    none = limit + 1
    code = np.full(len(positions), OPEN, dtype=np.int8)
    code[(tp_at < sl_at)] = TAKE_PROFIT
    code[(sl_at < tp_at)] = STOP_LOSS
    code[(tp_at == sl_at) & (tp_at < none)] = AMBIGUOUS
    first = np.minimum(tp_at, sl_at)
    end = np.where(code == OPEN, limit, first)
    bars = np.where(code == OPEN, -1, first - positions)
    high = table.extreme(start, end, above=True)
    low = table.extreme(start, end, above=False)
    if buy:
        mfe, mae = high - entries, entries - low
    else:
        mfe, mae = entries - low, high - entries
    return Walk(code, bars.astype(np.int64), mae / pip, mfe / pip)


def moves_after(
    closes: FloatArray, positions: IntArray, bars: int, sign: float, last: int | None = None
) -> FloatArray:
    """Close ``bars`` bars after each entry minus the entry close, in price units × ``sign``.

    ``sign`` +1 for BUY / −1 for SELL (positive = the signal's direction); NaN past ``last``.
    """
    final = len(closes) - 1 if last is None else last
    target = positions + bars
    ok = target <= final
    moved = closes[np.where(ok, target, 0)] - closes[positions]
    return np.where(ok, moved * sign, np.nan)
