"""Evaluation at scale (SPEC §16, §19): a pair-year evaluated, and calibration throughput.

Figures, all on the real ``otestrategy_EURUSD_M5_2025.csv`` (MetaTrader ``copy_rates`` dump,
Europe/Athens server clock, 2025-01-02 .. 2025-11-06; 1h/4h/1d aggregated from it, UTC day):

* ``evaluate_year_s``: in-process ``evaluation.evaluate.evaluate_range`` over the whole file,
  all six patterns in both directions, with the baseline and bootstrap (target ≤ 1 s, issue 12);
* ``tasks_per_s``: ``patterns calibrate`` tasks (8+2-week windows × the seed and two engine
  passes of a small grid) per second, in-process (``--workers 1``), on a pool of 2 processes and
  on a real ``distributed.LocalCluster`` of 2 single-threaded worker processes; and whether the
  three gave identical results (they must).

No database: the bars are what the import would store (the bench measures the evaluation, not
SQL). A measurement, not a test: it exits 0 whether or not the targets are met.

Example:
    .venv/bin/python bench/bench_calibrate.py --json
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import pandas as pd

from exchange_analytics.aggregation import aggregate
from exchange_analytics.domain import Timeframe
from exchange_analytics.evaluation import calibrate as cal
from exchange_analytics.evaluation.evaluate import RangeInputs, evaluate_range
from exchange_analytics.evaluation.executors import ExecutorSpec, run_tasks
from exchange_analytics.evaluation.grid import build_grid
from exchange_analytics.evaluation.walkforward import build_tasks, run_task, windows
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"
FILE = "otestrategy_EURUSD_M5_2025.csv"
TARGET_YEAR_S = 1.0
GRID = {
    "composite_signal": {
        "rsi_level": [50, 55],
        "take_profit_pips": [120, 60],
        "stop_loss_pips": [60, 30],
        "cooldown_minutes": [60, 240],
        "timeframes": [["1d", "4h", "1h", "5m"], ["4h", "1h", "5m"]],
    },
    "breakout": {"d1_rsi_max": [70, 80], "take_profit_pips": [100, 50], "stop_loss_pips": [50]},
}


def load(path: Path) -> RangeInputs:
    """The file as a UTC 5m frame with 1h/4h/1d built from it, for the whole range."""
    frame = pd.read_csv(path)
    stamps = pd.DatetimeIndex(pd.to_datetime(frame.pop("time"), format="%Y.%m.%d %H:%M:%S"))
    frame.index = stamps.tz_localize("Europe/Athens").tz_convert("UTC").as_unit("ns")
    frame.index.name = "timestamp"
    m5 = frame[["open", "high", "low", "close"]].astype("float64")
    m5["volume"] = frame["tick_volume"].astype("float64")
    m5 = m5[~m5.index.duplicated()].sort_index()
    higher = {tf: aggregate(m5, tf, "utc") for tf in (Timeframe.H1, Timeframe.H4, Timeframe.D1)}
    # The first 1000 bars are the indicators' trailing history, as the database read gives.
    start, end = m5.index[1000], m5.index[-1]
    return RangeInputs("EUR/USD", m5, higher, start, end, "utc")


def time_evaluate(inputs: RangeInputs) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    rows = evaluate_range(inputs, DEFAULT_THRESHOLDS, cooldown_minutes=60)
    return time.perf_counter() - started, rows


def time_tasks(tasks: list[Any], spec: ExecutorSpec) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    results = run_tasks(run_task, tasks, spec)
    return time.perf_counter() - started, results


def calibrate_figures(inputs: RangeInputs, windows_n: int) -> dict[str, Any]:
    wins = windows(inputs.start, inputs.end, 8, 2)[:windows_n]
    passes = cal.grid_passes(build_grid(GRID, 60), 60)
    tasks = build_tasks({inputs.pair: inputs}, wins, passes, 1440, 1.0)
    figures: dict[str, Any] = {"tasks": len(tasks), "windows": len(wins), "passes": len(passes)}
    seconds, inline = time_tasks(tasks, ExecutorSpec(workers=1))
    figures["inline_tasks_per_s"] = round(len(tasks) / seconds, 3)
    seconds, pooled = time_tasks(tasks, ExecutorSpec(workers=2))
    figures["pool2_tasks_per_s"] = round(len(tasks) / seconds, 3)
    identical = pooled == inline
    try:
        from distributed import LocalCluster
    except ImportError:
        figures["dask_tasks_per_s"] = None
    else:
        with LocalCluster(
            processes=True, host="127.0.0.1", n_workers=2, threads_per_worker=1,
            dashboard_address=None,
        ) as cluster:  # fmt: skip
            spec = ExecutorSpec(dask=cluster.scheduler_address)
            time_tasks(tasks[:2], spec)  # workers import the package once
            seconds, dasked = time_tasks(tasks, spec)
        figures["dask_tasks_per_s"] = round(len(tasks) / seconds, 3)
        identical = identical and dasked == inline
    figures["identical_results"] = identical
    return figures


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h as argparse had it


@click.command(help=(__doc__ or "").splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--windows", type=int, default=3, help="walk-forward windows to run")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(windows: int, as_json: bool) -> None:
    inputs = load(DATA / FILE)
    seconds, rows = time_evaluate(inputs)
    bars = inputs.last - inputs.first + 1
    figures: dict[str, Any] = {
        "evaluate_bars": bars,
        "evaluate_year_s": round(seconds, 3),
        "evaluate_bars_per_s": round(bars / seconds),
        "signals": {f"{r['pattern']} {r['direction']}": r["signals"] for r in rows if r["signals"]},
        **calibrate_figures(inputs, windows),
    }
    year_ok = seconds <= TARGET_YEAR_S
    rows_out = [
        {"figure": "evaluate pair-year (s)", "measured": figures["evaluate_year_s"],
         "target": f"<= {TARGET_YEAR_S}", "ok": year_ok},
        {"figure": "calibrate tasks/s, in-process", "measured": figures["inline_tasks_per_s"],
         "target": "reported", "ok": True},
        {"figure": "calibrate tasks/s, 2 processes", "measured": figures["pool2_tasks_per_s"],
         "target": "reported", "ok": True},
        {"figure": "calibrate tasks/s, LocalCluster 2 workers",
         "measured": figures["dask_tasks_per_s"], "target": "reported", "ok": True},
        {"figure": "identical results on every executor",
         "measured": figures["identical_results"], "target": True,
         "ok": figures["identical_results"]},
    ]  # fmt: skip
    ok = all(row["ok"] for row in rows_out)
    if as_json:
        target = f"pair-year <= {TARGET_YEAR_S} s; identical results"
        print(
            json.dumps(
                {
                    "name": "calibrate",
                    "figures": figures,
                    "target": target,
                    "ok": ok,
                    "rows": rows_out,
                }
            )
        )
        return
    for row in rows_out:
        print(f"  {row['figure']:<45} {row['measured']!s:>10}   target {row['target']}")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
