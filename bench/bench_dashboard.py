"""The dashboard's speed (SPEC §18, §15): overview on the ``make run`` database, and a pair's
candle endpoint when a year of 5m bars is stored.

1. A fresh installation made like ``make run`` (``db upgrade`` + one demo cycle, SQLite), served
   by the real ``exchange-analytics serve`` (uvicorn) on 127.0.0.1. ``GET /`` is timed
   ``--requests`` times after one warm-up; median and p95 beside the target (< 200 ms). The
   health verdict inside the overview is cached for 15 s, so the runs include both cached
   answers; the first request, which runs the health check, is reported on its own.
2. A year of synthetic 5m bars (weekdays, ~75k) and their BB/RSI/MACD rows are written for a
   second pair; ``/api/candles?tf=5m&from=<a year ago>&to=<now>`` is timed (the answer is
   bounded to the newest 5,000 bars), and the default window (600 bars).

A measurement, not a test: it exits 0 whether or not the targets are met.

Example:
    .venv/bin/python bench/bench_dashboard.py --requests 50 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.web.serving import cli_env, free_port, run_cli, serving  # noqa: E402

OVERVIEW_TARGET_MS = 200.0
CANDLES_TARGET_MS = 500.0
YEAR_PAIR = "EUR/GBP"


def _year_rows(pair: str, end: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A year of weekday 5m bars (a seeded random walk) and BB/RSI/MACD rows for each."""
    rng = random.Random(7)
    stamp = (end - timedelta(days=365)).replace(minute=0, second=0, microsecond=0)
    price, bars, indicators = 0.85, [], []
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    while stamp < end:
        if stamp.weekday() < 5:
            step = rng.gauss(0, 0.0004)
            o, c = price, price + step
            h, lo = max(o, c) + abs(rng.gauss(0, 0.0002)), min(o, c) - abs(rng.gauss(0, 0.0002))
            price = c
            key = {"currency_pair": pair, "timeframe": "5m", "timestamp": stamp, **stamps}
            bars.append(
                {**key, "open": o, "high": h, "low": lo, "close": c, "volume": 0.0}
                | {"source": "bench", "is_complete": True}
            )
            extra = {
                "RSI": (50 + 20 * math.sin(len(bars) / 40), {"period": 14}),
                "BB": (c, {"upper": c + 0.002, "lower": c - 0.002}),
                "MACD": (step, {"signal": step / 2, "histogram": step / 2}),
            }
            indicators += [
                {**key, "indicator_type": kind, "value": value, "additional_data": data}
                for kind, (value, data) in extra.items()
            ]
        stamp += timedelta(minutes=5)
    return bars, indicators


async def _write_year(url: str, pair: str, end: datetime) -> int:
    """Store the year of bars and indicator rows (plain INSERTs in one transaction)."""
    from sqlalchemy import insert

    from exchange_analytics.config.settings import load_settings
    from exchange_analytics.storage.engine import build_engine
    from exchange_analytics.storage.models import PriceData, TechnicalIndicator

    bars, indicators = _year_rows(pair, end)
    engine = build_engine(load_settings({"DATABASE_URL": url}, env_file=False))
    try:
        async with engine.begin() as conn:
            for i in range(0, len(bars), 5000):
                await conn.execute(insert(PriceData.__table__), bars[i : i + 5000])
            for i in range(0, len(indicators), 15000):
                await conn.execute(insert(TechnicalIndicator.__table__), indicators[i : i + 15000])
    finally:
        await engine.dispose()
    return len(bars)


def _time_get(client: httpx.Client, path: str, count: int) -> list[float]:
    """``count`` timed GETs after one warm-up (the warm-up's time is element 0)."""
    started = time.perf_counter()
    client.get(path).raise_for_status()
    times = [(time.perf_counter() - started) * 1000]
    for _ in range(count):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    first, ordered = times[0], sorted(times[1:])
    return {
        "first_ms": round(first, 1),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def measure(home: Path, requests: int) -> dict[str, Any]:
    env = cli_env(home, CURRENCY_PAIRS=f"USD/JPY,{YEAR_PAIR}")
    plain = cli_env(home)
    for args in (("db", "upgrade"), ("cycle", "--provider", "demo")):
        done = run_cli(plain, *args)
        if done.returncode != 0:
            raise SystemExit(f"could not prepare the installation: {done.stderr.strip()}")
    url = f"sqlite+aiosqlite:///{home}/data/exchange_analytics.db"
    written = asyncio.run(_write_year(url, YEAR_PAIR, datetime.now(UTC)))
    year_from = int((datetime.now(UTC) - timedelta(days=366)).timestamp())
    year_path = f"/api/candles?pair={YEAR_PAIR}&tf=5m&from={year_from}&to={int(time.time())}"
    with serving(env, free_port()) as base, httpx.Client(base_url=base, timeout=30) as client:
        overview = _time_get(client, "/", requests)
        year = _time_get(client, year_path, max(10, requests // 3))
        default = _time_get(client, f"/api/candles?pair={YEAR_PAIR}&tf=5m", requests)
        answered = len(client.get(year_path).json()["candles"])
        size_kb = len(client.get(year_path).content) / 1024
    return {
        "overview": _summary(overview),
        "candles_year_range": {
            **_summary(year),
            "bars_stored": written,
            "bars_answered": answered,
            "answer_kb": round(size_kb),
        },
        "candles_default": _summary(default),
        "requests": requests,
    }


def _row(figure: str, measured: float, target: float) -> dict[str, Any]:
    return {
        "figure": figure,
        "measured": f"{measured} ms",
        "target": f"< {target:.0f} ms",
        "ok": measured < target,
    }


def rows_for(figures: dict[str, Any]) -> list[dict[str, Any]]:
    overview, year = figures["overview"], figures["candles_year_range"]
    return [
        _row(
            "overview GET / (make run database), median", overview["median_ms"], OVERVIEW_TARGET_MS
        ),
        _row(
            "overview GET /, first request (runs the health check)",
            overview["first_ms"],
            OVERVIEW_TARGET_MS,
        ),
        _row("overview GET /, p95", overview["p95_ms"], OVERVIEW_TARGET_MS),
        _row(
            f"/api/candles 5m over a year ({year['bars_stored']} bars stored, "
            f"{year['bars_answered']} answered)",
            year["median_ms"],
            CANDLES_TARGET_MS,
        ),
        _row(
            "/api/candles 5m default window (600 bars)",
            figures["candles_default"]["median_ms"],
            OVERVIEW_TARGET_MS,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        figures = measure(Path(tmp), max(10, args.requests))
    rows = rows_for(figures)
    if args.json:
        target = (
            f"overview < {OVERVIEW_TARGET_MS:.0f} ms; "
            f"year of 5m candles < {CANDLES_TARGET_MS:.0f} ms"
        )
        ratio = round(figures["overview"]["median_ms"] / OVERVIEW_TARGET_MS, 3)
        ok = all(r["ok"] for r in rows)
        result = {"name": "dashboard", "figures": figures, "target": target, "ratio": ratio}
        print(json.dumps({**result, "ok": ok, "rows": rows}))
        return 0
    for row in rows:
        status = "ok" if row["ok"] else "MISSED"
        print(f"{row['figure']}: {row['measured']} (target {row['target']})  {status}")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
