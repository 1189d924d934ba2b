"""The columnar fast path of validation: ``clean_closed_prefix`` keeps exactly the bars
``validate_candles`` keeps when that rejects nothing, and declines (None) whenever it might
reject one, so the caller's fallback gives the same reasons as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.providers.validation import validate_candles
from exchange_analytics.providers.validation_columns import clean_closed_prefix

T0 = datetime(2025, 11, 3, 12, 0, tzinfo=UTC)
BASE = int(T0.timestamp())


def columns(count: int = 6) -> dict[str, np.ndarray]:
    return {
        "seconds": BASE + 300 * np.arange(count, dtype=np.int64),
        "o": np.full(count, 150.0),
        "h": np.full(count, 150.2),
        "lo": np.full(count, 149.9),
        "c": np.full(count, 150.1),
        "v": np.full(count, 10.0),
    }


def both(cols: dict[str, np.ndarray], end: datetime) -> tuple[int | None, list[Candle], int]:
    """The fast path's answer, and validate_candles' kept bars and rejected count."""
    s, o, h, lo, c, v = cols.values()
    fast = clean_closed_prefix(s, (o, h, lo, c), v, Timeframe.M5, end)
    candles = [
        Candle(datetime.fromtimestamp(t, UTC), *row)
        for t, *row in zip(
            s.tolist(), o.tolist(), h.tolist(), lo.tolist(), c.tolist(), v.tolist(), strict=True
        )
    ]
    kept, rejected = validate_candles(candles, Timeframe.M5, end)
    return fast, kept, len(rejected)


@pytest.mark.parametrize(
    "end_offset",  # the last bar opens at T0 + 25 min
    [
        timedelta(minutes=25),
        timedelta(minutes=25, microseconds=1),
        timedelta(minutes=29, seconds=59),
        timedelta(minutes=30),
        timedelta(minutes=30, microseconds=1),
        timedelta(hours=1),
    ],
)
def test_clean_batch_keeps_the_closed_prefix(end_offset: timedelta) -> None:
    cols = columns()
    fast, kept, rejected = both(cols, T0 + end_offset)
    assert rejected == 0 and fast == len(kept)


@pytest.mark.parametrize(
    ("column", "index", "value"),
    [
        ("o", 2, float("nan")),
        ("h", 1, float("inf")),
        ("lo", 3, 0.0),
        ("c", 0, -1.0),
        ("lo", 2, 150.15),  # low above min(open, close)
        ("h", 4, 150.05),  # high below max(open, close)
        ("v", 5, -1.0),
        ("v", 0, float("nan")),
        ("seconds", 3, BASE + 300 * 3 + 60),  # off the grid
        ("seconds", 3, BASE + 300 * 2),  # duplicate
        ("seconds", 3, BASE + 300),  # backwards
    ],
)
def test_any_rejection_declines(column: str, index: int, value: float) -> None:
    cols = columns()
    cols[column][index] = value
    fast, _, rejected = both(cols, T0 + timedelta(hours=1))
    assert rejected >= 1 and fast is None


def test_a_future_bar_declines() -> None:
    fast, _, rejected = both(columns(), T0 + timedelta(minutes=20))
    assert rejected == 1 and fast is None  # the bar opening at T0 + 25 min is in the future


def test_empty_batch() -> None:
    empty = np.empty(0)
    assert (
        clean_closed_prefix(np.empty(0, dtype=np.int64), (empty,) * 4, empty, Timeframe.M5, T0) == 0
    )
