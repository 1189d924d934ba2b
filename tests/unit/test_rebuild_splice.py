"""``aggregation.rebuild.splice_columns``: a stored window with rebuilt buckets put in place."""

from __future__ import annotations

import numpy as np
import pandas as pd

from exchange_analytics.aggregation.rebuild import RebuiltBuckets, splice_columns

HOUR = 3_600_000_000_000


def _columns(stamps: list[int], base: float) -> dict[str, np.ndarray]:
    n = len(stamps)
    prices = {c: base + np.arange(n, dtype=np.float64) for c in ("open", "high", "low", "close")}
    return {
        **prices,
        "volume": np.ones(n),
        "bar_count": np.full(n, 12, dtype=np.int64),
        "is_complete": np.ones(n, dtype=bool),
    }


def _by_frames(stamps: list[int], stored: dict, built: RebuiltBuckets) -> pd.DataFrame:
    """The rule with pandas: stored rows not rebuilt, then the rebuilt ones, sorted."""
    old = pd.DataFrame(stored, index=stamps)
    new = pd.DataFrame(built.columns, index=built.starts.tolist())
    return pd.concat([old[~old.index.isin(new.index)], new]).sort_index()


def test_rebuilt_buckets_replace_the_tail_or_slot_in_between() -> None:
    stamps = [k * HOUR for k in range(10)]
    stored = _columns(stamps, 100.0)
    for rebuilt in ([8, 9], [9, 10], [7, 9], [3, 5, 11], [12]):
        starts = np.asarray([k * HOUR for k in rebuilt], dtype=np.int64)
        built = RebuiltBuckets(starts, _columns(starts.tolist(), 500.0))
        got_stamps, got = splice_columns(np.asarray(stamps, dtype=np.int64), stored, built)
        expected = _by_frames(stamps, stored, built)
        assert got_stamps.tolist() == expected.index.tolist(), rebuilt
        for name, values in got.items():
            assert values.dtype == stored[name].dtype, name
            assert values.tolist() == expected[name].tolist(), (rebuilt, name)
