"""Replay speed: a month of real USD/JPY 5m bars through the as-of snapshots and the patterns.

What ``exchange-analytics replay`` does per bar, without the database: for every 5m bar of the
month, ``patterns.snapshots.iter_snapshots`` builds the 5m/1h/4h/1d windows as they stood at
that bar's close (indicators on 1000-bar trailing windows, forming buckets rebuilt from 5m) and
``patterns.evaluate.detect_all`` runs the eleven pattern/direction rules. The notification
decision (new / repeat / cooldown, 60 min) is applied as replay would.

Data: ``mt5_USDJPY_M5.csv`` and ``mt5_USDJPY_H1.csv`` from ``shared/data/real`` (MetaTrader
export in Europe/Athens server time, converted to UTC). The stored 1h/4h/1d history is built
from them with ``aggregation.combine_history`` (5m-built buckets where 5m exists, 1h-built
before), i.e. what ``price_data`` would hold; building it is timed separately as ``setup_s``.

Target (the task's): a month replays in well under 60 s. A measurement, not a test: it exits 0
whether or not the target is met.

Example:
    .venv/bin/python bench/bench_replay.py --json
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from exchange_analytics.aggregation import combine_history
from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.evaluate import detect_all
from exchange_analytics.patterns.newness import NewnessTracker
from exchange_analytics.patterns.snapshots import iter_snapshots

TARGET_S = 60.0
_HERE = Path(__file__).resolve()
DEFAULT_DATA = _HERE.parents[1] / "tests" / "data" / "real"


def load_mt5(path: Path) -> pd.DataFrame:
    """A MetaTrader CSV (naive Europe/Athens server time) as a UTC bar frame."""
    frame = pd.read_csv(path)
    stamps = pd.DatetimeIndex(pd.to_datetime(frame.pop("time")))
    frame.index = stamps.tz_localize("Europe/Athens").tz_convert("UTC").as_unit("ns")
    frame.index.name = "timestamp"
    return frame.astype("float64")


def replay_once(
    m5: pd.DataFrame,
    higher: dict[Timeframe, pd.DataFrame],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[dict[str, float], collections.Counter[str], collections.Counter[str], list[str]]:
    """One replay: timings, detections and decisions per pattern/direction, and a fingerprint."""
    detections: collections.Counter[str] = collections.Counter()
    decisions: collections.Counter[str] = collections.Counter()
    fingerprint: list[str] = []
    tracker = NewnessTracker(cooldown_minutes=60)
    bars = 0
    snapshot_s = detect_s = 0.0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    iterator = iter_snapshots(m5, higher, "utc", start, end)
    while True:
        t0 = time.perf_counter()
        item = next(iterator, None)
        t1 = time.perf_counter()
        snapshot_s += t1 - t0
        if item is None:
            break
        stamp, windows = item
        results = detect_all(windows, "USD/JPY")
        detect_s += time.perf_counter() - t1
        bars += 1
        close = (stamp + pd.Timedelta(minutes=5)).to_pydatetime()
        keys = [(r.pattern_type, r.direction) for r in results]
        for key, decision in tracker.step(keys, close).items():
            decisions[f"{key[0]} {key[1]} {decision}"] += 1
        for r in results:
            detections[f"{r.pattern_type} {r.direction}"] += 1
            fingerprint.append(f"{stamp.isoformat()} {r.pattern_type} {r.direction} {r.confidence}")
    timings = {
        "bars": float(bars),
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
        "snapshot_s": snapshot_s,
        "detect_s": detect_s,
    }
    return timings, detections, decisions, fingerprint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the CSVs")
    parser.add_argument("--from", dest="start", default="2026-06-01", help="first bar (UTC)")
    parser.add_argument("--to", dest="end", default="2026-06-30 23:55", help="last bar (UTC)")
    parser.add_argument("--repeats", type=int, default=3, help="replays; the median is kept")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    setup0 = time.perf_counter()
    m5 = load_mt5(args.data / "mt5_USDJPY_M5.csv")
    h1 = load_mt5(args.data / "mt5_USDJPY_H1.csv")
    tfs = (Timeframe.H1, Timeframe.H4, Timeframe.D1)
    higher = {tf: combine_history(m5, h1, tf, "utc", None) for tf in tfs}
    setup_s = time.perf_counter() - setup0
    start, end = pd.Timestamp(args.start, tz="UTC"), pd.Timestamp(args.end, tz="UTC")

    runs = [replay_once(m5, higher, start, end) for _ in range(max(1, args.repeats))]
    reproducible = all(run[3] == runs[0][3] for run in runs)
    timings = sorted(runs, key=lambda run: run[0]["wall_s"])[len(runs) // 2][0]
    _, detections, decisions, _ = runs[0]
    bars = int(timings["bars"])
    wall = statistics.median(run[0]["wall_s"] for run in runs)
    figures = {
        "bars": bars,
        "range": f"{start.isoformat()} .. {end.isoformat()}",
        "month_s": round(wall, 3),
        "cpu_s": round(timings["cpu_s"], 3),
        "bars_per_s": round(bars / wall, 1) if wall else None,
        "ms_per_bar": round(wall / bars * 1e3, 3) if bars else None,
        "snapshot_s": round(timings["snapshot_s"], 3),
        "detect_s": round(timings["detect_s"], 3),
        "setup_s": round(setup_s, 3),
        "repeats": len(runs),
        "reproducible": reproducible,
        "detections": dict(sorted(detections.items())),
        "decisions": dict(sorted(decisions.items())),
    }
    ok = bars > 0 and wall < TARGET_S and reproducible
    if args.json:
        print(
            json.dumps({"name": "replay", "figures": figures, "target": "month < 60 s", "ok": ok})
        )
        return 0
    print(f"replay of {bars:,} real USD/JPY 5m bars ({figures['range']})")
    print(
        f"  month             {wall:8.2f} s   target < {TARGET_S:.0f} s  {'ok' if ok else 'MISSED'}"
    )
    print(
        f"  throughput        {figures['bars_per_s']:>8} bars/s  ({figures['ms_per_bar']} ms/bar)"
    )
    print(
        f"  snapshots         {timings['snapshot_s']:8.2f} s   patterns {timings['detect_s']:.2f} s"
    )
    print(f"  cpu               {timings['cpu_s']:8.2f} s   setup (load + history) {setup_s:.2f} s")
    print(f"  reproducible      {reproducible} over {len(runs)} runs")
    print("  detections per pattern/direction:")
    for name, count in sorted(detections.items()):
        print(f"    {name:<26} {count:6d}")
    print("  notification decisions (cooldown 60 min):")
    for name, count in sorted(decisions.items()):
        print(f"    {name:<34} {count:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
