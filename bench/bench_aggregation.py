"""Aggregation throughput: exchange_analytics.aggregation.aggregate vs pandas resample (SPEC §15).

Builds seeded synthetic 5m bars with FX weekends (Friday 22:00 to Sunday 22:00 UTC closed),
times ``aggregate(bars, 1h, "utc")`` against ``bars.resample("1h").agg(**OHLCV_AGG)`` on the
same frame (median of several runs, after one warm-up each), checks that both give the same
buckets, and reports rows/s for both and their ratio beside the target (>= 2.0x). It also
times the DST-aware New York 4h grid (``bucket_starts``) on the same timestamps.

A measurement, not a test: it exits 0 whether or not the target is met.

Example:
    .venv/bin/python bench/bench_aggregation.py --rows 1000000 --json
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import click
import numpy as np
import pandas as pd

from exchange_analytics.aggregation import OHLCV_AGG, aggregate, bucket_starts
from exchange_analytics.domain import Timeframe

TARGET = 2.0


def synthetic_m5(rows: int, seed: int = 20240506) -> pd.DataFrame:
    """``rows`` 5m bars on weekdays only, a seeded random walk around 150."""
    # About 5/7 of the calendar's 5m slots are open, so over-generate and cut.
    slots = pd.date_range(
        "2015-01-04 22:00", periods=int(rows * 1.45) + 2016, freq="5min", tz="UTC"
    )
    weekday, hour = slots.dayofweek, slots.hour
    closed = ((weekday == 4) & (hour >= 22)) | (weekday == 5) | ((weekday == 6) & (hour < 22))
    index = slots[~closed][:rows].rename("timestamp")
    rng = np.random.default_rng(seed)
    close = 150.0 + np.cumsum(rng.normal(0.0, 0.02, rows))
    open_ = np.concatenate([[150.0], close[:-1]])
    spread = rng.uniform(0.0, 0.03, (2, rows))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread[0],
            "low": np.minimum(open_, close) - spread[1],
            "close": close,
            "volume": rng.integers(1, 500, rows).astype(np.float64),
        },
        index=index,
    )


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    action()  # warm-up: imports, caches, page faults
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def pandas_reference(bars: pd.DataFrame) -> pd.DataFrame:
    out = bars.resample("1h").agg(**OHLCV_AGG)
    return out[out["bar_count"] > 0]


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h as argparse had it


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--rows", type=int, default=1_000_000, help="5m bars (default 1000000)")
@click.option("--repeats", type=int, default=7, help="timed runs per side (default 7)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(rows: int, repeats: int, as_json: bool) -> None:
    bars = synthetic_m5(rows)
    ours = aggregate(bars, Timeframe.H1, "utc").drop(columns="is_complete")
    reference = pandas_reference(bars)
    pd.testing.assert_frame_equal(ours, reference, check_freq=False)

    ours_s = median_seconds(lambda: aggregate(bars, Timeframe.H1, "utc"), repeats)
    pandas_s = median_seconds(lambda: pandas_reference(bars), repeats)
    ts = bars.index.asi8
    ny_s = median_seconds(lambda: bucket_starts(ts, Timeframe.H4, "new_york"), repeats)
    shuffled = np.random.default_rng(1).permutation(ts)
    ny_unsorted_s = median_seconds(
        lambda: bucket_starts(shuffled, Timeframe.H4, "new_york"), repeats
    )

    ratio = pandas_s / ours_s
    figures = {
        "rows": rows,
        "buckets": len(ours),
        "aggregate_ms": round(ours_s * 1e3, 2),
        "pandas_resample_ms": round(pandas_s * 1e3, 2),
        "aggregate_rows_per_s": round(rows / ours_s),
        "pandas_rows_per_s": round(rows / pandas_s),
        "bucket_starts_new_york_4h_sorted_ms": round(ny_s * 1e3, 2),
        "bucket_starts_new_york_4h_unsorted_ms": round(ny_unsorted_s * 1e3, 2),
    }
    ok = ratio >= TARGET
    if as_json:
        print(
            json.dumps(
                {
                    "name": "aggregation",
                    "figures": figures,
                    "target": TARGET,
                    "ratio": round(ratio, 2),
                    "ok": ok,
                }
            )
        )
    else:
        print(f"aggregation of {rows:,} 5m bars to {len(ours):,} 1h buckets (same output)")
        for label, seconds in (("aggregate()", ours_s), ("pandas resample.agg", pandas_s)):
            print(f"  {label:<20} {seconds * 1e3:8.2f} ms  {rows / seconds:>14,.0f} rows/s")
        verdict = "ok" if ok else "BELOW TARGET"
        print(f"  {'ratio':<20} {ratio:8.2f}x    target >= {TARGET:.1f}x  {verdict}")
        print(f"  {'bucket_starts NY 4h':<20} {ny_s * 1e3:8.2f} ms sorted input")
        print(f"  {'':<20} {ny_unsorted_s * 1e3:8.2f} ms unsorted input")


if __name__ == "__main__":
    main()
