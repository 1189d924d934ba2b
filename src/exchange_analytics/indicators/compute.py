"""TA-Lib indicators on a bar frame (SPEC §6), and how much history a cycle must load.

Look-ahead: every value at bar t depends only on bars up to and including t (TA-Lib computes
causally), so the value of a forming 1h/4h/1d bucket changes as the bucket fills and is
rewritten each cycle together with the bucket.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib
from talib._ta_lib import MA_Type  # the public ``talib.MA_Type``; its stub lives here

from exchange_analytics.indicators.specs import DEFAULT_INDICATORS, IndicatorSpec

FloatArray = npt.NDArray[np.float64]

#: Absolute agreement a per-cycle value must have with the full-history value (SPEC §6).
TOLERANCE = 1e-9
#: Worst-case size of a seed error: RSI lives in [0, 100]; price-valued smoothers (EMA, MACD,
#: ATR) start at most the history's price range away from the full-history state, and FX
#: prices (JPY crosses included) stay far below 1000.
_RSI_SCALE = 100.0
_PRICE_SCALE = 1_000.0

TRAILING_WINDOW: int = 1000
"""Bars of history a per-cycle computation loads before the first bar it writes.

Why a finite window is enough: TA-Lib's RSI and ATR use Wilder smoothing, whose state forgets
its seed by a factor (p-1)/p per bar, (13/14)^n for RSI 14; EMA forgets by (p-1)/(p+1) per
bar, (25/27)^n for MACD's slow EMA 26 and (8/10)^n for its signal EMA 9. A window that starts
n bars earlier than the first written bar therefore differs from the full history by at most
scale * factor^n: 100 * (13/14)^n < 1e-9 needs n >= 342 for RSI, and a 1000-price-unit seed
error needs 359 + 124 = 483 bars for MACD (line, then signal). 1000 bars is twice the worst of
these, so every written value equals the full-history one within 1e-9 (in practice the states
coincide to the last bit long before). Bollinger Bands (SMA 20, population stdev) have a
finite 20-bar memory; TA-Lib's running sums leave only rounding noise of ~1e-12.

Long-memory extras need more: EMA 200 forgets by 199/201 per bar, so 1000 bars leave an error
of ~1e-4 of a price. Use ``trailing_window(extras)``, which applies the same bound to them.
"""


def _decay_bars(factor: float, scale: float) -> int:
    """Bars after which ``scale * factor**n`` is below TOLERANCE."""
    return math.ceil(math.log(TOLERANCE / scale) / math.log(factor))


def bars_needed(spec: IndicatorSpec) -> int:
    """History bars (before the first written bar) for ``spec`` to meet TOLERANCE, unpadded."""
    p = spec.params
    match spec.kind:
        case "RSI":
            return _decay_bars((p[0] - 1) / p[0], _RSI_SCALE)
        case "ATR":
            return _decay_bars((p[0] - 1) / p[0], _PRICE_SCALE) if p[0] > 1 else 1
        case "EMA":
            return _decay_bars((p[0] - 1) / (p[0] + 1), _PRICE_SCALE)
        case "MACD":
            slow = _decay_bars((p[1] - 1) / (p[1] + 1), _PRICE_SCALE)
            signal = _decay_bars((p[2] - 1) / (p[2] + 1), _PRICE_SCALE) if p[2] > 1 else 0
            return slow + signal
        case "STOCH":
            return int(p[0] + p[1] + p[2])
        case _:  # SMA, WMA, BB: a finite window
            return int(p[0])


def trailing_window(extras: Sequence[IndicatorSpec] = ()) -> int:
    """Bars to load before the first bar a cycle writes: ``TRAILING_WINDOW`` or, when an
    extra has a longer memory (EMA 200...), twice that extra's bound."""
    needed = max(bars_needed(s) for s in (*DEFAULT_INDICATORS, *extras))
    return max(TRAILING_WINDOW, 2 * needed)


def _price(bars: pd.DataFrame, column: str) -> FloatArray:
    if column not in bars.columns:
        raise ValueError(f"bars lack the {column!r} column needed for the indicators")
    return _finite(column, bars[column].to_numpy(dtype=np.float64), bars.index)


def _finite(column: str, prices: npt.ArrayLike, index: Sequence[object]) -> FloatArray:
    """``prices`` as a contiguous float array; ValueError naming the first non-finite bar."""
    values = np.ascontiguousarray(prices, dtype=np.float64)
    if not np.isfinite(values).all():
        i = int(np.argmin(np.isfinite(values)))
        raise ValueError(
            f"bars[{column!r}] is not finite at {index[i]}; TA-Lib would carry the gap "
            "into every later value"
        )
    return values


def _talib(
    spec: IndicatorSpec, close: FloatArray, high: FloatArray | None, low: FloatArray | None
) -> object:
    n = [int(x) for x in spec.params]  # periods (BB's std_dev is read separately)
    sma = MA_Type.SMA
    match spec.kind:
        case "RSI":
            return talib.RSI(close, timeperiod=n[0])
        case "MACD":
            return talib.MACD(close, fastperiod=n[0], slowperiod=n[1], signalperiod=n[2])
        case "BB":
            dev = float(spec.params[1])
            return talib.BBANDS(close, timeperiod=n[0], nbdevup=dev, nbdevdn=dev, matype=sma)
        case "SMA":
            return talib.SMA(close, timeperiod=n[0])
        case "EMA":
            return talib.EMA(close, timeperiod=n[0])
        case "WMA":
            return talib.WMA(close, timeperiod=n[0])
    if high is None or low is None:  # pragma: no cover - compute_indicators loads them
        raise ValueError(f"{spec} needs high and low prices")
    match spec.kind:
        case "ATR":
            return talib.ATR(high, low, close, timeperiod=n[0])
        case "STOCH":
            return talib.STOCH(
                high,
                low,
                close,
                fastk_period=n[0],
                slowk_period=n[1],
                slowk_matype=sma,
                slowd_period=n[2],
                slowd_matype=sma,
            )
    raise ValueError(f"no TA-Lib function for {spec}")  # pragma: no cover - kinds are closed


def _checked(spec: IndicatorSpec, result: object, length: int) -> tuple[FloatArray, ...]:
    """Insist on one float array per named column, each one value per bar.

    Like backtesting.py's ``Strategy.I``: a wrong shape would silently misalign values and
    timestamps, so it is an error naming the indicator instead.
    """
    outputs = result if isinstance(result, tuple) else (result,)
    if len(outputs) != len(spec.columns):
        raise ValueError(
            f"indicator {spec} returned {len(outputs)} output(s); expected {len(spec.columns)} "
            f"({', '.join(spec.columns)})"
        )
    arrays: list[FloatArray] = []
    for name, output in zip(spec.columns, outputs, strict=True):
        if not isinstance(output, np.ndarray) or output.shape != (length,):
            shape = getattr(output, "shape", type(output).__name__)
            raise ValueError(
                f"indicator {spec} column {name!r} has shape {shape}; expected ({length},), "
                "one value per bar"
            )
        arrays.append(output.astype(np.float64, copy=False))
    return tuple(arrays)


def compute_indicators(bars: pd.DataFrame, extras: Sequence[IndicatorSpec] = ()) -> pd.DataFrame:
    """RSI 14, MACD 12/26/9, Bollinger 20/2σ/SMA and ``extras`` on the bars' closes.

    ATR and STOCH also use high and low. Returns a frame with the same index as ``bars`` and
    the specs' columns in order (``rsi, macd, macd_signal, macd_hist, bb_upper, bb_middle,
    bb_lower``, then one or more per extra); NaN where an indicator is not defined yet (its
    first ``period - 1``-ish bars). An extra repeating a default or another extra is computed
    once. Raises ValueError on a missing or non-finite price column.
    """
    return pd.DataFrame(indicator_columns(bars, extras), index=bars.index, copy=False)


def indicator_columns(
    bars: pd.DataFrame, extras: Sequence[IndicatorSpec] = ()
) -> dict[str, FloatArray]:
    """``compute_indicators`` as plain arrays (column name -> one value per bar), for the
    steady-state cycle, which only keeps the last few values of each."""
    specs = _specs(extras)
    close = _price(bars, "close")
    needs_high_low = any(s.needs_high_low for s in specs)
    high = _price(bars, "high") if needs_high_low else None
    low = _price(bars, "low") if needs_high_low else None
    return _columns(specs, close, high, low)


def indicator_columns_of(
    prices: Mapping[str, npt.NDArray[np.generic]],
    stamps_ns: npt.NDArray[np.int64],
    extras: Sequence[IndicatorSpec] = (),
) -> dict[str, FloatArray]:
    """``indicator_columns`` of bars held as arrays (``prices``: close, and high and low when
    an extra needs them; ``stamps_ns``: their open times, epoch ns, to name a bad bar)."""
    specs = _specs(extras)
    index = pd.DatetimeIndex(stamps_ns, dtype="datetime64[ns, UTC]", name="timestamp")
    close = _finite("close", prices["close"], index)
    needs_high_low = any(s.needs_high_low for s in specs)
    high = _finite("high", prices["high"], index) if needs_high_low else None
    low = _finite("low", prices["low"], index) if needs_high_low else None
    return _columns(specs, close, high, low)


def _specs(extras: Sequence[IndicatorSpec]) -> list[IndicatorSpec]:
    """The defaults and ``extras``, each once, in order."""
    specs: list[IndicatorSpec] = []
    for spec in (*DEFAULT_INDICATORS, *extras):
        if not isinstance(spec, IndicatorSpec):
            raise TypeError(f"extras must be IndicatorSpec values, got {spec!r}")
        if spec not in specs:
            specs.append(spec)
    return specs


def _columns(
    specs: Sequence[IndicatorSpec],
    close: FloatArray,
    high: FloatArray | None,
    low: FloatArray | None,
) -> dict[str, FloatArray]:
    columns: dict[str, FloatArray] = {}
    for spec in specs:
        for name, values in zip(
            spec.columns, _checked(spec, _talib(spec, close, high, low), close.size), strict=True
        ):
            columns[name] = values
    return columns
