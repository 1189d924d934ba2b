"""Aggregation of 5m (and provider 1h) bars into 1h, 4h and 1d buckets (SPEC §5).

Pure functions of data in, data out: no database, no clock. ``buckets`` holds the grid
arithmetic (UTC and DST-aware New York alignment), ``aggregate`` the OHLCV rule and the
"one alignment" history builder.

Example::

    hourly = aggregate(m5_frame, Timeframe.H1, "utc")
    touched = touched_bucket_starts(new_m5.index, Timeframe.H4, "new_york")
"""

from exchange_analytics.aggregation.aggregate import (
    AGGREGATED_COLUMNS,
    BAR_COLUMNS,
    OHLCV_AGG,
    aggregate,
    combine_history,
    touched_bucket_starts,
)
from exchange_analytics.aggregation.buckets import (
    DAY_BOUNDARIES,
    bucket_end_ns,
    bucket_starts,
)
from exchange_analytics.domain import DayBoundary

__all__ = [
    "AGGREGATED_COLUMNS",
    "BAR_COLUMNS",
    "DAY_BOUNDARIES",
    "OHLCV_AGG",
    "DayBoundary",
    "aggregate",
    "bucket_end_ns",
    "bucket_starts",
    "combine_history",
    "touched_bucket_starts",
]
