"""The per-timeframe input of the pattern detectors: plain numpy arrays, newest bar last.

Detectors run once per pair per 5m bar, and a replay runs them for every 5m bar of a month, so
they must not touch pandas: a :class:`TimeframeWindow` holds one float64 array per field and the
detectors read a few trailing elements (``close[-1]`` is the bar "0 bars ago", ``close[-6]`` the
one 5 bars ago). Building one from a DataFrame is :meth:`TimeframeWindow.from_frame`; the replay
and the live cycle build them directly from arrays (``patterns.snapshots``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from exchange_analytics.domain import Timeframe

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PRICE_FIELDS = ("open", "high", "low", "close")
INDICATOR_FIELDS = (
    "rsi",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
)
FIELDS = PRICE_FIELDS + INDICATOR_FIELDS


@dataclass(frozen=True, slots=True, eq=False)
class TimeframeWindow:
    """Trailing bars of one timeframe as they stood at one moment; the last element is now.

    ``timestamps`` are bar open times in int64 epoch nanoseconds (UTC). Indicator arrays hold NaN
    where the indicator is not defined yet (too little history); detectors treat that as "not
    evaluable", never as a value.
    """

    timeframe: Timeframe
    timestamps: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    rsi: FloatArray
    macd: FloatArray
    macd_signal: FloatArray
    macd_hist: FloatArray
    bb_upper: FloatArray
    bb_middle: FloatArray
    bb_lower: FloatArray
    #: Whether the latest bar's bucket had ended (False for the forming 1h/4h/1d bucket).
    last_complete: bool = True
    #: Memo of :meth:`missing` answers: eleven patterns ask the same few questions per window.
    _memo: dict[tuple[tuple[str, ...], int], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        for name in FIELDS:
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"{self.timeframe} window: {name} has {len(getattr(self, name))} values "
                    f"but there are {n} timestamps"
                )

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def last_timestamp(self) -> pd.Timestamp | None:
        """Open time of the latest bar (UTC), or None for an empty window."""
        if not len(self.timestamps):
            return None
        return pd.Timestamp(int(self.timestamps[-1]), unit="ns", tz="UTC")

    def missing(self, names: tuple[str, ...], bars: int) -> str | None:
        """Why the last ``bars`` values of ``names`` cannot be used, or None when they can.

        This is the one place that decides "not enough history": fewer bars than a lookback
        needs, or NaN (indicator still warming up) anywhere in the span the condition reads.
        """
        key = (names, bars)
        if key in self._memo:
            return self._memo[key]
        reason = None
        if len(self.timestamps) < bars:
            reason = f"needs {bars} bars, has {len(self.timestamps)}"
        for name in names if reason is None else ():
            values = getattr(self, name)
            if bars == 1:
                if math.isnan(values[-1]):
                    reason = f"{name} not defined yet (too little history)"
                    break
            elif any(map(math.isnan, values[-bars:].tolist())):
                reason = f"{name} not defined on all of the last {bars} bars (too little history)"
                break
        self._memo[key] = reason
        return reason

    def tail(self, bars: int) -> TimeframeWindow:
        """The same window cut to its last ``bars`` bars (views, no copies)."""
        cut = {name: getattr(self, name)[-bars:] for name in FIELDS}
        return TimeframeWindow(
            timeframe=self.timeframe,
            timestamps=self.timestamps[-bars:],
            last_complete=self.last_complete,
            **cut,
        )

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, timeframe: Timeframe, *, last_complete: bool | None = None
    ) -> TimeframeWindow:
        """Build from bars joined with their indicators (``compute_indicators`` columns).

        ``frame`` is indexed by the bar open time (UTC, ascending) and has the price columns
        open/high/low/close plus rsi, macd, macd_signal, macd_hist, bb_upper, bb_middle,
        bb_lower. ``last_complete`` defaults to the frame's ``is_complete`` column when present.
        """
        absent = [name for name in FIELDS if name not in frame.columns]
        if absent:
            raise ValueError(f"{timeframe} bars lack the columns {', '.join(absent)}")
        index = pd.DatetimeIndex(frame.index)
        if index.tz is None:
            raise ValueError(f"{timeframe} bars must be indexed by UTC-aware timestamps")
        if not index.is_monotonic_increasing:
            raise ValueError(f"{timeframe} bars must be in ascending time order")
        stamps = index.tz_convert("UTC").as_unit("ns").asi8.astype(np.int64, copy=True)
        if last_complete is None:
            last_complete = (
                bool(frame["is_complete"].iloc[-1])
                if "is_complete" in frame.columns and len(frame)
                else True
            )
        arrays = {name: frame[name].to_numpy(dtype=np.float64, copy=True) for name in FIELDS}
        return cls(timeframe=timeframe, timestamps=stamps, last_complete=last_complete, **arrays)
