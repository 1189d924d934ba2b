"""The four timeframe windows *as they stood* when each 5m bar closed: no look-ahead.

Used by ``replay`` (every 5m bar of a range) and by the live cycle (the bars that just arrived),
so that a replayed bar gives exactly what cron would have produced at that bar's close.

At the close of the 5m bar opening at ``t`` (SPEC §7: "each timeframe is read at its latest
bar: the 5m bar just closed, and for 1h/4h/1d the bucket containing it"):

* **5m**: the stored 5m bars up to and including ``t``.
* **1h / 4h / 1d**: the stored bars of ``higher`` whose bucket *starts before* the bucket
  containing ``t`` (all of them had ended by then; whatever ``higher`` holds from ``t``'s bucket
  onwards is the future and is ignored), followed by the bucket containing ``t`` rebuilt from the
  5m bars of that bucket up to ``t`` only. That last bar is the forming bucket (``last_complete``
  False) unless ``t`` is its final 5m bar. It is rebuilt from 5m even when ``higher`` already
  holds the finished bucket, because the finished bucket's high, low and close are look-ahead.
* **indicators**: computed per timeframe at every step on the trailing
  ``indicators.TRAILING_WINDOW`` bars of that window, exactly as the live cycle does, so a
  replayed value equals the live one whatever history the caller loaded before it.

The bucket grid (``aggregation.bucket_starts``, UTC or New York day boundary) and the OHLCV rule
(``aggregation.OHLCV_AGG``) come from the aggregation module. The forming bucket is a *prefix*
of a bucket, so its value at every 5m bar is the running form of each ``OHLCV_AGG`` reduction
(first, running max, running min, last), computed for all bars in one pass instead of
re-aggregating the bucket at every bar; the tests check it against ``aggregation.aggregate``.

Caveat: a bucket that started before the first bar of ``m5`` is rebuilt from the part of it
that ``m5`` holds. Load at least a day (better ``TRAILING_WINDOW`` bars) of 5m history before
``eval_from``, as the live cycle and ``replay`` do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import talib
from talib._ta_lib import MA_Type  # the public ``talib.MA_Type``; its stub lives here

from exchange_analytics.aggregation import OHLCV_AGG, DayBoundary, bucket_end_ns, bucket_starts
from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.indicators import DEFAULT_INDICATORS, TRAILING_WINDOW
from exchange_analytics.patterns.evaluate import PatternResult, detect_all, evaluate_all
from exchange_analytics.patterns.inputs import PRICE_FIELDS, FloatArray, IntArray, TimeframeWindow
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, Thresholds

HIGHER = (Timeframe.H1, Timeframe.H4, Timeframe.D1)
_M5_NS = Timeframe.M5.seconds * 1_000_000_000
#: Bars each window keeps (indicators are still computed on ``TRAILING_WINDOW`` bars).
WINDOW_BARS = 64
_SPECS = {spec.kind: spec for spec in DEFAULT_INDICATORS}
_RSI, _MACD, _BB = _SPECS["RSI"], _SPECS["MACD"], _SPECS["BB"]
_RSI_PERIOD = int(_RSI.params[0])
_MACD_PERIODS = tuple(int(p) for p in _MACD.params)
_BB_PERIOD, _BB_DEV = int(_BB.params[0]), float(_BB.params[1])
_COLUMNS = (_RSI.columns, _MACD.columns, _BB.columns)


def indicator_arrays(close: FloatArray) -> dict[str, FloatArray]:
    """RSI, MACD and Bollinger columns of ``close`` as arrays, without building DataFrames.

    ``indicators.compute_indicators`` returns a DataFrame, which costs ~400 µs a call against
    ~20 µs for the three TA-Lib calls themselves; a month's replay needs ~24,000 calls. The
    parameters and column names are taken from ``indicators.DEFAULT_INDICATORS`` and the calls
    mirror ``compute_indicators``; a unit test asserts both give bit-identical values.
    """
    close = np.ascontiguousarray(close, dtype=np.float64)
    outputs = (
        (talib.RSI(close, timeperiod=_RSI_PERIOD),),
        talib.MACD(
            close,
            fastperiod=_MACD_PERIODS[0],
            slowperiod=_MACD_PERIODS[1],
            signalperiod=_MACD_PERIODS[2],
        ),
        talib.BBANDS(
            close, timeperiod=_BB_PERIOD, nbdevup=_BB_DEV, nbdevdn=_BB_DEV, matype=MA_Type.SMA
        ),
    )
    arrays: dict[str, FloatArray] = {}
    for columns, values in zip(_COLUMNS, outputs, strict=True):
        arrays.update(zip(columns, values, strict=True))
    return arrays


def _running(rule: str, values: FloatArray, first: IntArray) -> FloatArray:
    """The running form of an ``OHLCV_AGG`` reduction within runs starting at ``first``."""
    if rule == "first":
        return values[np.repeat(first, np.diff(np.append(first, len(values))))]
    if rule == "last":
        return values.copy()
    if rule in ("max", "min"):
        # Running max/min restarted at every run, for all runs at once: a prefix scan by
        # doubling (log2 of the longest run steps). Max and min are exact, so this equals
        # ``ufunc.accumulate`` run by run, without a Python loop over thousands of buckets.
        ufunc = np.maximum if rule == "max" else np.minimum
        run = np.repeat(np.arange(len(first)), np.diff(np.append(first, len(values))))
        out = values.copy()
        shift = 1
        while shift < len(values):
            same = run[shift:] == run[:-shift]
            if not same.any():
                break
            out[shift:] = np.where(same, ufunc(out[shift:], out[:-shift]), out[shift:])
            shift *= 2
        return out
    raise ValueError(f"aggregation rule {rule!r} has no running form for the forming bucket")


def _frame_arrays(frame: pd.DataFrame, what: str) -> tuple[IntArray, dict[str, FloatArray]]:
    """Open times (int64 ns) and price columns of a bar frame, checked for order and time zone."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError(f"{what} must be indexed by UTC-aware bar open times")
    stamps = np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    if len(stamps) > 1 and not (stamps[1:] > stamps[:-1]).all():
        raise ValueError(f"{what} must be sorted by strictly increasing timestamp")
    missing = [c for c in PRICE_FIELDS if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")
    return stamps, {c: frame[c].to_numpy(dtype=np.float64) for c in PRICE_FIELDS}


def _window(
    tf: Timeframe,
    stamps: IntArray,
    prices: Mapping[str, FloatArray],
    close_history: FloatArray,
    keep: int,
    last_complete: bool,
) -> TimeframeWindow:
    """Indicators on the whole trailing ``close_history``; the window keeps its last bars."""
    ind = indicator_arrays(close_history)
    return TimeframeWindow(
        timeframe=tf,
        timestamps=stamps,
        open=prices["open"],
        high=prices["high"],
        low=prices["low"],
        close=prices["close"],
        rsi=ind["rsi"][-keep:],
        macd=ind["macd"][-keep:],
        macd_signal=ind["macd_signal"][-keep:],
        macd_hist=ind["macd_hist"][-keep:],
        bb_upper=ind["bb_upper"][-keep:],
        bb_middle=ind["bb_middle"][-keep:],
        bb_lower=ind["bb_lower"][-keep:],
        last_complete=last_complete,
    )


@dataclass(slots=True)
class _Higher:
    """One higher timeframe: stored completed bars plus the forming bucket at every 5m bar.

    Per bucket (not per 5m bar) the completed part is located and copied once into
    ``closes`` with one free slot at the end; per 5m bar only that slot changes.
    """

    timeframe: Timeframe
    stored_ts: IntArray
    stored: dict[str, FloatArray]
    bucket: IntArray  # bucket start of every 5m bar
    bucket_end: IntArray  # its end
    forming: dict[str, FloatArray]  # running OHLC of the bucket at every 5m bar
    cached_bucket: int = -1
    closes: FloatArray = field(default_factory=lambda: np.zeros(1))
    tail_ts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tail: dict[str, FloatArray] = field(default_factory=dict)

    def _enter_bucket(self, start: int, trailing: int, keep: int) -> None:
        self.cached_bucket = start
        cut = int(np.searchsorted(self.stored_ts, start, side="left"))
        lo = max(0, cut - (trailing - 1))
        self.closes = np.empty(cut - lo + 1, dtype=np.float64)
        self.closes[:-1] = self.stored["close"][lo:cut]
        first_kept = max(lo, cut - (keep - 1))
        self.tail_ts = self.stored_ts[first_kept:cut]
        self.tail = {c: self.stored[c][first_kept:cut] for c in PRICE_FIELDS}

    def window(self, i: int, m5_close_ns: int, trailing: int, keep: int) -> TimeframeWindow:
        start = int(self.bucket[i])
        if start != self.cached_bucket:
            self._enter_bucket(start, trailing, keep)
        self.closes[-1] = self.forming["close"][i]
        stamps = np.append(self.tail_ts, start)
        prices = {c: np.append(self.tail[c], self.forming[c][i]) for c in PRICE_FIELDS}
        complete = m5_close_ns >= int(self.bucket_end[i])
        return _window(self.timeframe, stamps, prices, self.closes, keep, complete)


def _prepare_higher(
    tf: Timeframe,
    frame: pd.DataFrame | None,
    m5_ts: IntArray,
    m5: Mapping[str, FloatArray],
    day_boundary: DayBoundary,
) -> _Higher:
    if frame is None:
        stored_ts = np.zeros(0, dtype=np.int64)
        stored = {c: np.zeros(0, dtype=np.float64) for c in PRICE_FIELDS}
    else:
        stored_ts, stored = _frame_arrays(frame, f"{tf} bars")
        off_grid = bucket_starts(stored_ts, tf, day_boundary) != stored_ts
        if off_grid.any():
            bad = pd.Timestamp(int(stored_ts[np.argmax(off_grid)]), unit="ns", tz="UTC")
            raise ValueError(
                f"{tf} bar at {bad.isoformat()} is not on the {tf} grid of "
                f"day_boundary={day_boundary}; pass bars built by exchange_analytics.aggregation"
            )
    bucket = bucket_starts(m5_ts, tf, day_boundary)
    first = np.flatnonzero(np.diff(bucket, prepend=np.int64(-1)) != 0).astype(np.int64)
    ends = bucket_end_ns(bucket[first], tf, day_boundary)
    bucket_end = np.repeat(ends, np.diff(np.append(first, len(bucket))))
    forming = {}
    for column in PRICE_FIELDS:
        source, rule = OHLCV_AGG[column]
        forming[column] = _running(rule, m5[source], first)
    return _Higher(tf, stored_ts, stored, bucket, bucket_end, forming)


def iter_snapshots(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    day_boundary: DayBoundary,
    eval_from: pd.Timestamp,
    eval_to: pd.Timestamp,
    *,
    trailing: int = TRAILING_WINDOW,
    keep: int = WINDOW_BARS,
) -> Iterator[tuple[pd.Timestamp, dict[Timeframe, TimeframeWindow]]]:
    """For each 5m bar opening in [eval_from, eval_to], the four windows at its close.

    ``m5``: stored 5m bars (UTC open times, ascending) including the history before
    ``eval_from`` that the indicators and forming buckets need. ``higher``: stored 1h/4h/1d
    bars on the ``day_boundary`` grid (what ``price_data`` holds; bars from ``t``'s bucket on
    are ignored, so passing the whole stored history is safe). Indicators are computed on the
    last ``trailing`` bars of each timeframe; each window keeps its last ``keep`` bars (the
    detectors' longest lookback is 20). Yields (5m bar open time, windows); each yielded
    window owns its arrays, so keeping one does not see later bars.
    """
    if trailing < 2 or keep < 1:
        raise ValueError(f"trailing must be ≥ 2 and keep ≥ 1, got {trailing} and {keep}")
    m5_ts, _ = _frame_arrays(m5, "5m bars")
    lo = int(np.searchsorted(m5_ts, _ns(eval_from, "eval_from"), side="left"))
    hi = int(np.searchsorted(m5_ts, _ns(eval_to, "eval_to"), side="right"))
    yield from snapshots_at(m5, higher, day_boundary, range(lo, hi), trailing=trailing, keep=keep)


def snapshots_at(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    day_boundary: DayBoundary,
    rows: Iterable[int],
    *,
    trailing: int = TRAILING_WINDOW,
    keep: int = WINDOW_BARS,
) -> Iterator[tuple[pd.Timestamp, dict[Timeframe, TimeframeWindow]]]:
    """:func:`iter_snapshots` at the given positions of ``m5`` only (ascending row numbers).

    ``patterns.engine`` finds with array operations the few 5m closes where a pattern can
    fire and builds the windows of just those closes here, with the very code the per-bar
    path runs, so what it stores is what the per-bar path would have stored.
    """
    if trailing < 2 or keep < 1:
        raise ValueError(f"trailing must be ≥ 2 and keep ≥ 1, got {trailing} and {keep}")
    wanted = [int(i) for i in rows]
    if not wanted:
        return
    m5_ts, m5_prices = _frame_arrays(m5, "5m bars")
    if wanted[0] < 0 or wanted[-1] >= len(m5_ts):
        raise ValueError(f"rows must lie in [0, {len(m5_ts)}), got {wanted[0]}..{wanted[-1]}")
    # Forming buckets only from the bucket of the earliest wanted bar on (a bucket is a prefix
    # of its own 5m bars, so nothing before it matters); ``offset`` maps rows into that part.
    lo, hi = min(wanted), max(wanted) + 1
    tfs: list[tuple[_Higher, int]] = []
    for tf in HIGHER:
        begin = int(bucket_starts(m5_ts[lo : lo + 1], tf, day_boundary)[0])
        offset = int(np.searchsorted(m5_ts, begin, side="left"))
        part = {c: v[offset:hi] for c, v in m5_prices.items()}
        h = _prepare_higher(tf, higher.get(tf), m5_ts[offset:hi], part, day_boundary)
        tfs.append((h, offset))
    m5_close = m5_prices["close"]
    for i in wanted:
        first = max(0, i + 1 - trailing)
        kept = max(first, i + 1 - keep)
        prices = {c: m5_prices[c][kept : i + 1] for c in PRICE_FIELDS}
        windows = {
            Timeframe.M5: _window(
                Timeframe.M5, m5_ts[kept : i + 1], prices, m5_close[first : i + 1], keep, True
            )
        }
        close_ns = int(m5_ts[i]) + _M5_NS
        for h, offset in tfs:
            windows[h.timeframe] = h.window(i - offset, close_ns, trailing, keep)
        yield pd.Timestamp(int(m5_ts[i]), unit="ns", tz="UTC"), windows


def evaluate_snapshots(
    m5: pd.DataFrame,
    higher: Mapping[Timeframe, pd.DataFrame],
    pair: str | CurrencyPair,
    day_boundary: DayBoundary,
    eval_from: pd.Timestamp,
    eval_to: pd.Timestamp,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    every_result: bool = False,
) -> Iterator[tuple[pd.Timestamp, list[PatternResult]]]:
    """:func:`iter_snapshots` then the patterns: per 5m bar, its detections (what replay and
    the live cycle store), or with ``every_result`` all eleven results (``evaluate_all``)."""
    parsed = pair if isinstance(pair, CurrencyPair) else CurrencyPair.parse(pair)
    run = evaluate_all if every_result else detect_all
    keep = max(WINDOW_BARS, thresholds.bars_needed)
    for stamp, windows in iter_snapshots(m5, higher, day_boundary, eval_from, eval_to, keep=keep):
        yield stamp, run(windows, parsed, thresholds)


def latest_bar_at(m5: pd.DataFrame, at: pd.Timestamp) -> pd.Timestamp | None:
    """Open time of the last 5m bar that had closed by ``at`` (``patterns explain --at``)."""
    stamps, _ = _frame_arrays(m5, "5m bars")
    k = int(np.searchsorted(stamps, _ns(at, "at") - _M5_NS, side="right"))
    return None if k == 0 else pd.Timestamp(int(stamps[k - 1]), unit="ns", tz="UTC")


def _ns(value: pd.Timestamp, what: str) -> int:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {stamp}")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)
