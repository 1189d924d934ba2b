"""Validation of a batch held as columns (the demo provider's): whether ``validate_candles``
would keep every closed bar, asked of whole arrays at once.

Its own module so the health check and the HTTP providers, which import ``validation``, do
not import numpy (the health process must stay light: tests pin what it imports).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from exchange_analytics.domain import Timeframe, utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def clean_closed_prefix(
    seconds: np.ndarray,
    prices: Sequence[np.ndarray],
    volumes: np.ndarray,
    timeframe: Timeframe,
    end: datetime,
) -> int | None:
    """How many leading bars ``validate_candles`` keeps when it would reject none; None when
    it might reject one (then build the candles and call it, for its reasons).

    For a batch held as columns: ``seconds`` are whole epoch seconds (bars stamped
    ``datetime.fromtimestamp(s, UTC)``), ``prices`` the open, high, low and close columns.
    The checks are the per-bar rules of ``check_values``, the grid, strictly increasing
    times and no bar after ``end``, asked of whole arrays at once; with times ascending the
    closed bars are a prefix and the rest are the forming bar, dropped as it drops it.
    """
    if not seconds.size:
        return 0
    opens, highs, lows, closes = prices
    ok = bool(
        np.all(np.isfinite(opens) & np.isfinite(highs) & np.isfinite(lows) & np.isfinite(closes))
        and np.all((opens > 0) & (highs > 0) & (lows > 0) & (closes > 0))
        and np.all(lows <= np.minimum(opens, closes))
        and np.all(highs >= np.maximum(opens, closes))
        and np.all(np.isfinite(volumes) & (volumes >= 0))
        and np.all(seconds % timeframe.seconds == 0)
        and np.all(np.diff(seconds) > 0)
    )
    end_us = (utc(end) - _EPOCH) // _MICROSECOND
    if not ok or int(seconds[-1]) * 1_000_000 > end_us:
        return None
    closed = (seconds + timeframe.seconds) * 1_000_000 <= end_us
    return int(np.count_nonzero(closed))
