"""As-of columns: every timeframe as it stood at each 5m close of a range, with array operations.

The per-bar path (``snapshots.iter_snapshots``) builds, at every 5m close, four windows and
runs TA-Lib on the trailing ``TRAILING_WINDOW`` bars of each. Here the same quantities are
produced for all closes at once, one array per (timeframe, field, bars back):

* **prices**: 5m bars as stored; the forming 1h/4h/1d bucket is the running
  first/max/min/last inside its bucket (``snapshots._prepare_higher``, the per-bar path's own
  code, so these prices are bit-identical to the windows').
* **indicators of complete bars**: TA-Lib once over the whole series (5m bars, or the stored
  complete 1h/4h/1d bars).
* **indicators of the forming bucket**: one step from the state after the last complete
  bucket: RSI's Wilder averages, MACD's two EMAs and signal EMA, and for the bands the last
  19 complete closes plus the forming close.
* **window length** and which values are still undefined (NaN): exact, because they depend
  only on how many bars precede, exactly as in the per-bar windows.

Why the values are *close to*, not bit-identical with, the per-bar ones: the per-bar path
runs TA-Lib on a trailing window whose start moves with every bar, and the installed TA-Lib
(0.8.x) computes Bollinger Bands from running, pivot-shifted sums and picks an FMA code path
by CPU; the rounding of those sums depends on where the window starts, so no one-step update
from one shared state reproduces every window's last bits (RSI and the EMAs do coincide once
their seeds have decayed, the bands never do). This module therefore aims at values within a
few 1e-12 of the per-bar ones, and ``vector_rules`` compares against thresholds with a
tolerance band far wider than that error: a condition whose two sides are further apart than
the band is decided here; one inside the band (sides within 1e-7 × the close, or 1e-6 RSI
points, of each other) is left undecided, and ``patterns.engine`` decides it - and builds
every detected result - from the per-bar windows of just those closes. That is how ties are
resolved exactly as the per-bar path resolves them, without any tolerance entering a decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import pandas as pd
import talib

from exchange_analytics.aggregation import DayBoundary, bucket_starts
from exchange_analytics.domain import Timeframe
from exchange_analytics.indicators import TRAILING_WINDOW
from exchange_analytics.patterns.inputs import PRICE_FIELDS, FloatArray, IntArray
from exchange_analytics.patterns.snapshots import (  # the per-bar path's own pieces
    _BB_DEV,
    _BB_PERIOD,
    _MACD_PERIODS,
    _RSI_PERIOD,
    HIGHER,
    _frame_arrays,
    _prepare_higher,
    indicator_arrays,
)

#: TA-Lib lookbacks: the first defined value sits at this position of a series.
RSI_LOOKBACK = _RSI_PERIOD
BB_LOOKBACK = _BB_PERIOD - 1
_FAST, _SLOW, _SIGNAL = _MACD_PERIODS
MACD_LOOKBACK = (_SLOW - 1) + (_SIGNAL - 1)
_EMA_START = _SLOW - 1  # where MACD's two EMAs are seeded (TA-Lib: lookback of the slow one)
INDICATORS = ("rsi", "macd", "macd_signal", "macd_hist", "bb_upper", "bb_middle", "bb_lower")


@dataclass(frozen=True, slots=True)
class TimeframeColumns:
    """One timeframe at every evaluated 5m close: ``at(field, j)`` is the window's ``[-j]``.

    ``length`` is the number of bars the per-bar window holds. ``latest`` holds the fields of
    the window's last bar (the 5m bar itself, or the forming bucket); ``history`` the same
    fields over the series of complete bars and ``last_complete`` the position in it of the
    bar before the latest one (−1 when there is none).
    """

    timeframe: Timeframe
    length: IntArray
    latest: Mapping[str, FloatArray]
    history: Mapping[str, FloatArray]
    last_complete: IntArray

    def at(self, name: str, j: int = 1) -> FloatArray:
        """``window.<name>[-j]`` at every row (NaN where the window is shorter than ``j``)."""
        if j == 1:
            return self.latest[name]
        source = self.history[name]
        index = self.last_complete - (j - 2)
        valid = (index >= 0) & (j <= self.length)
        out = np.full(len(index), np.nan)
        out[valid] = source[index[valid]]
        return out


@dataclass(frozen=True, slots=True)
class AsOfColumns:
    """The four timeframes at the 5m closes ``rows`` (positions in the 5m frame)."""

    rows: IntArray
    stamps: IntArray
    frames: Mapping[Timeframe, TimeframeColumns]

    def __len__(self) -> int:
        return len(self.rows)


def _m5_columns(
    stamps: IntArray, prices: Mapping[str, FloatArray], rows: IntArray, keep: int
) -> TimeframeColumns:
    history: dict[str, FloatArray] = dict(prices)
    history.update(indicator_arrays(prices["close"]))
    latest = {name: values[rows] for name, values in history.items()}
    length = np.minimum(rows + 1, keep).astype(np.int64)
    return TimeframeColumns(Timeframe.M5, length, latest, history, rows - 1)


@dataclass(frozen=True, slots=True)
class _States:
    """TA-Lib's running state after each complete bar, to step the forming bucket from."""

    gain: FloatArray  # RSI Wilder averages (partial sums of the seed before RSI_LOOKBACK)
    loss: FloatArray
    fast: FloatArray  # MACD EMAs, defined from _EMA_START
    slow: FloatArray
    signal: FloatArray  # defined from MACD_LOOKBACK; partial sums of the seed before it


def _states(close: FloatArray) -> _States:
    """Replay TA-Lib's RSI and MACD recurrences over ``close`` (values, not bits).

    Plain Python floats in lists, one loop per recurrence (this runs on every higher
    timeframe's window of every pair each cycle); the arithmetic is TA-Lib's, step by step,
    in its order, so the states are the same floats."""
    gain, loss = _rsi_states(close)
    fast, slow, signal = _macd_states(np.ascontiguousarray(close, dtype=np.float64))
    return _States(gain, loss, fast, slow, signal)


def _rsi_states(close: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Wilder's average gain and loss after each bar (partial seed sums before the lookback).

    TA-Lib's steps, in its order: the seed sums the first ``RSI_LOOKBACK`` gains (losses)
    from 0.0 and divides by the period, then each bar does ``(avg * (p - 1) + x) / p``. Each
    average is its own loop over plain floats (the price differences come from numpy, the
    same IEEE subtractions)."""
    n = len(close)
    if n < 2:
        return np.full(n, np.nan), np.full(n, np.nan)
    d = np.diff(close)
    rising = d > 0
    ups = np.where(rising, d, 0.0).tolist()
    downs = np.where(rising, 0.0, -d).tolist()  # -0.0 on a flat bar, as TA-Lib's -d
    return _wilder(ups), _wilder(downs)


def _wilder(moves: list[float]) -> FloatArray:
    """One Wilder average over ``moves`` (move j is bar j + 1's), NaN at bar 0."""
    p = float(_RSI_PERIOD)
    q = p - 1
    out = [math.nan, *accumulate(moves[:RSI_LOOKBACK], initial=0.0)]
    out.pop(1)  # accumulate's own 0.0: the partial sums start at bar 1
    if len(moves) >= RSI_LOOKBACK:
        avg = out[-1] / p
        out[-1] = avg
        for x in moves[RSI_LOOKBACK:]:
            avg = (avg * q + x) / p
            out.append(avg)
    return np.array(out)


def _macd_states(values: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD's fast and slow EMAs and its signal EMA after each bar, from ``_EMA_START`` on
    (the signal: partial sums of its seed before ``MACD_LOOKBACK``).

    TA-Lib's own EMA computes them: MACD seeds its fast EMA with the mean of the ``_FAST``
    closes ending at ``_EMA_START`` (where the slow one's seed ends), and its signal EMA with
    the mean of the first ``_SIGNAL`` MACD values, then steps each as ``(x - ema) * k + ema``
    with ``k = 2 / (period + 1)``: the same floats, in the same order, as the recurrences
    replayed in Python, at a fraction of the cost."""
    n = len(values)
    fast, slow, signal = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    if n <= _EMA_START:
        return fast, slow, signal
    slow[_EMA_START:] = talib.EMA(values, timeperiod=_SLOW)[_EMA_START:]
    fast[_EMA_START:] = talib.EMA(values[_EMA_START - _FAST + 1 :], timeperiod=_FAST)[_FAST - 1 :]
    macd = fast[_EMA_START:] - slow[_EMA_START:]
    seeded = min(n, MACD_LOOKBACK)
    signal[_EMA_START:seeded] = np.cumsum(macd[: seeded - _EMA_START])
    if n > MACD_LOOKBACK:
        signal[MACD_LOOKBACK:] = talib.EMA(macd, timeperiod=_SIGNAL)[_SIGNAL - 1 :]
    return fast, slow, signal


def _forming_indicators(
    close: FloatArray, states: _States, offset: int, cut: IntArray, x: FloatArray
) -> dict[str, FloatArray]:
    """Indicators of the window ``close[..cut) + [x]`` at its last position, per row.

    ``states`` were replayed from ``close[offset]`` on (``offset`` > 0 only when every window
    starts far enough later that the seed no longer shows in the values)."""
    rows = len(cut)
    out = {name: np.full(rows, np.nan) for name in INDICATORS}
    prev = np.where(cut >= 1, cut - 1, 0)
    d = x - close[prev] if len(close) else np.zeros(rows)
    up, down = np.where(d > 0, d, 0.0), np.where(d > 0, 0.0, -d)
    p = float(_RSI_PERIOD)
    rsi_ok = cut >= RSI_LOOKBACK
    if len(states.gain):
        prev = np.clip(prev - offset, 0, len(states.gain) - 1)
        g_prev, l_prev = states.gain[prev], states.loss[prev]
        seed = cut == RSI_LOOKBACK
        g = np.where(seed, (g_prev + up) / p, (g_prev * (p - 1) + up) / p)
        lo = np.where(seed, (l_prev + down) / p, (l_prev * (p - 1) + down) / p)
        total = g + lo
        with np.errstate(invalid="ignore", divide="ignore"):
            rsi = np.where(total > 0, 100.0 * (g / total), 0.0)
        out["rsi"] = np.where(rsi_ok, rsi, np.nan)
        macd_ok = cut >= MACD_LOOKBACK
        kf, ks, kg = 2.0 / (_FAST + 1), 2.0 / (_SLOW + 1), 2.0 / (_SIGNAL + 1)
        f = (x - states.fast[prev]) * kf + states.fast[prev]
        s = (x - states.slow[prev]) * ks + states.slow[prev]
        m = f - s
        sig_prev = states.signal[prev]
        sig = np.where(
            cut == MACD_LOOKBACK, (sig_prev + m) / _SIGNAL, (m - sig_prev) * kg + sig_prev
        )
        out["macd"] = np.where(macd_ok, m, np.nan)
        out["macd_signal"] = np.where(macd_ok, sig, np.nan)
        out["macd_hist"] = np.where(macd_ok, m - sig, np.nan)
    bb_ok = cut >= BB_LOOKBACK
    if bb_ok.any():
        _forming_bands(close, cut, x, np.flatnonzero(bb_ok), out)
    return out


def _forming_bands(
    close: FloatArray, cut: IntArray, x: FloatArray, take: IntArray, out: dict[str, FloatArray]
) -> None:
    """Bands of the last ``BB_LOOKBACK`` complete closes plus the forming one, per row.

    Sums of the complete closes are taken once per bucket, around a pivot (the last complete
    close) so that the variance does not cancel catastrophically; each row adds its close.
    """
    buckets, inverse = np.unique(cut[take], return_inverse=True)
    pivot = close[buckets - 1]
    dev = close[buckets[:, None] + np.arange(-BB_LOOKBACK, 0)[None, :]] - pivot[:, None]
    total, squares = dev.sum(axis=1)[inverse], (dev * dev).sum(axis=1)[inverse]
    d = x[take] - pivot[inverse]
    period = float(_BB_PERIOD)
    mean = (total + d) / period
    var = np.maximum((squares + d * d) / period - mean * mean, 0.0)
    mid = pivot[inverse] + mean
    width = np.sqrt(var) * _BB_DEV
    out["bb_middle"][take] = mid
    out["bb_upper"][take] = mid + width
    out["bb_lower"][take] = mid - width


def _higher_columns(
    tf: Timeframe,
    frame: pd.DataFrame | None,
    m5_ts: IntArray,
    m5_prices: Mapping[str, FloatArray],
    day_boundary: DayBoundary,
    rows: IntArray,
    keep: int,
    trailing: int,
) -> TimeframeColumns:
    # Forming buckets need the 5m bars from the start of the bucket of the first row only.
    if len(rows):
        begin = int(bucket_starts(m5_ts[rows[:1]], tf, day_boundary)[0])
        s = int(np.searchsorted(m5_ts, begin, side="left"))
    else:
        s = 0
    end = int(rows[-1]) + 1 if len(rows) else 0
    part = {c: v[s:end] for c, v in m5_prices.items()}
    h = _prepare_higher(tf, frame, m5_ts[s:end], part, day_boundary)
    local = rows - s
    cut = np.searchsorted(h.stored_ts, h.bucket[local], side="left").astype(np.int64)
    close = np.ascontiguousarray(h.stored["close"])
    history: dict[str, FloatArray] = dict(h.stored)
    history.update(indicator_arrays(close))
    latest: dict[str, FloatArray] = {c: h.forming[c][local] for c in PRICE_FIELDS}
    # A window holds at most trailing - 1 complete bars: beyond that the per-bar window's
    # indicators start later than this history's (values agree, NaN-ness does not change).
    upto = int(cut.max()) if len(cut) else 0
    offset = max(0, int(cut.min()) - 2 * trailing) if len(cut) else 0
    states = _states(close[offset:upto])
    latest.update(_forming_indicators(close, states, offset, cut, latest["close"]))
    length = (np.minimum(np.minimum(cut, keep - 1), trailing - 1) + 1).astype(np.int64)
    return TimeframeColumns(tf, length, latest, history, cut - 1)


def asof_columns(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    day_boundary: DayBoundary,
    eval_from: pd.Timestamp,
    eval_to: pd.Timestamp,
    *,
    keep: int,
    trailing: int = TRAILING_WINDOW,
) -> AsOfColumns:
    """The columns of every 5m bar opening in [eval_from, eval_to] (inputs as for
    ``snapshots.iter_snapshots``)."""
    m5_ts, m5_prices = _frame_arrays(m5, "5m bars")
    lo = int(np.searchsorted(m5_ts, _ns(eval_from), side="left"))
    hi = int(np.searchsorted(m5_ts, _ns(eval_to), side="right"))
    rows = np.arange(lo, max(lo, hi), dtype=np.int64)
    frames: dict[Timeframe, TimeframeColumns] = {
        Timeframe.M5: _m5_columns(m5_ts, m5_prices, rows, keep)
    }
    for tf in HIGHER:
        frames[tf] = _higher_columns(
            tf, higher.get(tf), m5_ts, m5_prices, day_boundary, rows, keep, trailing
        )
    return AsOfColumns(rows, m5_ts[rows], frames)


def _ns(value: pd.Timestamp) -> int:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError(f"range bounds must be timezone-aware (UTC), got naive {stamp}")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)
