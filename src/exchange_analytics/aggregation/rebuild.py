"""Rebuilding a few buckets from a trailing 5m window, as arrays (the steady-state cycle).

A steady-state cycle rebuilds the one to three buckets a new 5m bar touches and puts them in
place of the stored ones at the end of each higher timeframe's window. ``aggregate`` does the
same through DataFrames; on windows this size the frames cost more than the arithmetic, and
this runs for every pair every five minutes (issue 17), so here the same rule
(``aggregate_arrays`` + ``completeness``, hence the same values) works on plain arrays and
the window is joined column by column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from exchange_analytics.aggregation.aggregate import (
    BAR_COLUMNS,
    BarArrays,
    aggregate_arrays,
    completeness,
)
from exchange_analytics.aggregation.buckets import Int64Array
from exchange_analytics.domain import DayBoundary, Timeframe


@dataclass(frozen=True, slots=True)
class RebuiltBuckets:
    """Buckets rebuilt from 5m bars: starts (epoch ns, ascending) and the aggregated-frame
    columns (open..volume float64, bar_count int64, is_complete bool)."""

    starts: Int64Array
    columns: dict[str, npt.NDArray[np.generic]]

    def __len__(self) -> int:
        return int(self.starts.size)

    def frame(self) -> pd.DataFrame:
        """The aggregated frame ``aggregate`` would have returned for these buckets."""
        index = pd.DatetimeIndex(self.starts, dtype="datetime64[ns, UTC]", name="timestamp")
        return pd.DataFrame(self.columns, index=index, copy=False)


def rebuild_buckets(
    m5: BarArrays,
    wanted: Int64Array,
    timeframe: Timeframe,
    day_boundary: DayBoundary,
    data_end_ns: int,
) -> RebuiltBuckets:
    """The buckets starting at ``wanted`` (ascending epoch ns) that hold 5m bars, built from
    ``m5`` exactly as ``aggregate(m5 from wanted[0] on, data_end=...)`` builds them."""
    first = int(np.searchsorted(m5.timestamps, wanted[0], side="left"))
    starts, columns = aggregate_arrays(
        m5.slice(first, len(m5)), timeframe, day_boundary, Timeframe.M5
    )
    out: dict[str, npt.NDArray[np.generic]] = {
        c: np.asarray(columns[c], dtype=np.float64) for c in BAR_COLUMNS
    }
    out["bar_count"] = np.asarray(columns["bar_count"], dtype=np.int64)
    out["is_complete"] = completeness(starts, timeframe, day_boundary, data_end_ns)
    keep = np.isin(starts, wanted)
    if not keep.all():
        starts = starts[keep]
        out = {c: v[keep] for c, v in out.items()}
    return RebuiltBuckets(starts, out)


def splice_columns(
    stamps: Int64Array, columns: Mapping[str, npt.NDArray[np.generic]], built: RebuiltBuckets
) -> tuple[Int64Array, dict[str, npt.NDArray[np.generic]]]:
    """A stored window (open times in epoch ns, ascending, and its columns) with ``built`` put
    in place of the stored buckets it rebuilds: what the table holds once ``built`` is
    written. Stored bars before the first rebuilt bucket are kept by position; those after it
    that ``built`` does not replace are kept too, and the result sorted by time."""
    position = int(np.searchsorted(stamps, built.starts[0], side="left"))
    later = stamps[position:]
    kept = ~np.isin(later, built.starts)
    if not kept.any():  # the usual case: the rebuilt buckets replace the tail
        joined = {c: np.concatenate([v[:position], built.columns[c]]) for c, v in columns.items()}
        return np.concatenate([stamps[:position], built.starts]), joined
    merged = np.concatenate([stamps[:position], later[kept], built.starts])
    order = np.argsort(merged, kind="stable")
    out = {
        c: np.concatenate([v[:position], v[position:][kept], built.columns[c]])[order]
        for c, v in columns.items()
    }
    return merged[order], out
