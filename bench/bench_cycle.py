"""Steady-state cycle cost (SPEC §15): flat in history length, 10 pairs within 1 s, peak RSS.

Four figures, each beside its target:

1. history independence: one pair primed by a backfill with ``BACKFILL_DAYS_5M=365`` and one
   with ``=7`` (demo provider, fresh databases), then ``--cycles`` steady-state cycles each,
   ``--as-of`` stepping 5 minutes through a weekday, the two installations taking turns;
   ratio of the medians (365 d / 7 d) on SQLite and on PostgreSQL, target <= 1.2;
2. ten pairs against PostgreSQL: median wall time of ``run_cycle`` in the process (engine set
   up and disposed as cron does), target <= 1.0 s;
3. rows written per steady-state cycle (new 5m bars, re-aggregated buckets, indicator rows,
   from the cycle report), to show a cycle writes only new or changed rows;
4. peak RSS of one 10-pair steady-state cycle as its own process (the cron script, measured
   with ``wait4``), target <= 250 MB.

The first two steady-state cycles after a backfill are warm-up (caches, the first gap
healing) and are not counted. PostgreSQL: TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), skipped with a note when unreachable.
A measurement, not a test: it always exits 0.

Example:
    .venv/bin/python bench/bench_cycle.py --cycles 12 --json
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.faults import (  # noqa: E402
    CRON_SCRIPT,
    create_pg_database,
    cron_env,
    drop_pg_database,
    iso,
    migrate,
    pg_admin_url,
    pg_reachable,
    python,
)

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h still works, as before
HISTORY_TARGET = 1.2
TEN_PAIRS_TARGET_S = 1.0
RSS_TARGET_MB = 250.0
WARM_UP = 2
#: Wednesday noon UTC: the market is open for every steady-state step.
START = datetime(2026, 11, 18, 12, 0, 30, tzinfo=UTC)
TEN_PAIRS = "USD/JPY,EUR/USD,GBP/USD,AUD/USD,USD/CHF,USD/CAD,EUR/JPY,GBP/JPY,NZD/USD,EUR/GBP"


def _settings(home: Path, url: str, **env: str) -> Any:
    from exchange_analytics.config.settings import load_settings

    return load_settings(
        {
            "EXCHANGE_ANALYTICS_HOME": str(home),
            "DATABASE_URL": url,
            "MARKET_DATA_PROVIDER": "demo",
            "LOG_FILE": str(home / "logs"),
            **env,
        },
        env_file=False,
    )


def _cycle(settings: Any, as_of: datetime) -> tuple[float, Any]:
    from exchange_analytics.pipeline.cycle import CycleOptions
    from exchange_analytics.pipeline.runner import run_cycle

    started = time.perf_counter()
    report = asyncio.run(run_cycle(settings, CycleOptions(as_of=as_of)))
    elapsed = time.perf_counter() - started
    if report.status != "success":
        raise SystemExit(
            f"cycle at {as_of.isoformat()} ended {report.status}: {report.error_message}"
        )
    return elapsed, report


def _written(report: Any) -> int:
    return int(
        report.total("rows_written")
        + report.total("bars_aggregated")
        + report.total("indicator_rows_written")
    )


def steady_state(settings_list: list[Any], cycles: int) -> list[dict[str, Any]]:
    """Backfill each installation at START, then ``cycles`` counted steady-state cycles.

    The installations take turns cycle by cycle (A, B, A, B, ...), so that a noisy moment
    on this machine hits both sides of a ratio alike instead of one of them.
    """
    results: list[dict[str, Any]] = []
    for settings in settings_list:
        started = time.perf_counter()
        _cycle(settings, START)
        results.append({"backfill_s": round(time.perf_counter() - started, 2)})
    samples: list[dict[str, list[float]]] = [
        {"wall": [], "inside": [], "written": []} for _ in settings_list
    ]
    for i in range(1, WARM_UP + cycles + 1):
        for settings, sample in zip(settings_list, samples, strict=True):
            elapsed, report = _cycle(settings, START + timedelta(minutes=5 * i))
            if i > WARM_UP:
                sample["wall"].append(elapsed)
                sample["inside"].append(report.processing_time)
                sample["written"].append(_written(report))
    for result, sample in zip(results, samples, strict=True):
        result.update(
            median_s=round(statistics.median(sample["wall"]), 4),
            median_processing_time_s=round(statistics.median(sample["inside"]), 4),
            rows_written_median=statistics.median(sample["written"]),
            cycles=cycles,
        )
    return results


def next_as_of(cycles: int) -> datetime:
    return START + timedelta(minutes=5 * (WARM_UP + cycles + 1))


def _database(kind: str, admin: str | None, home: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{home}/data/exchange_analytics.db"
    assert admin is not None
    return create_pg_database(admin, prefix="ea_bench_cycle")


def history_ratio(
    kind: str, root: Path, admin: str | None, cycles: int, long: int, short: int
) -> dict[str, Any]:
    homes = [root / f"{kind}-{days}d" for days in (short, long)]
    urls = [_database(kind, admin, home) for home in homes]
    try:
        settings = []
        for days, home, url in zip((short, long), homes, urls, strict=True):
            migrate(url, home)
            settings.append(_settings(home, url, BACKFILL_DAYS_5M=str(days)))
        short_result, long_result = steady_state(settings, cycles)
    finally:
        if kind == "postgres" and admin:
            for url in urls:
                drop_pg_database(admin, url)
    ratio = round(long_result["median_s"] / short_result["median_s"], 3)
    return {"database": kind, f"{short}d": short_result, f"{long}d": long_result, "ratio": ratio}


#: Run argv as a child and print its peak RSS (KiB) and exit code. This small launcher sits
#: between the benchmark and the measured process because a child's ``ru_maxrss`` includes
#: the memory of the process it was forked from (the kernel folds the pre-exec peak in), and
#: the benchmark process holds several hundred MB by now.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n"
)


def peak_rss_mb(env: dict[str, str], as_of: datetime) -> tuple[float, int]:
    """Peak RSS (MB) and exit code of one cron-script cycle, measured by ``wait4``."""
    done = subprocess.run(
        [python(), "-c", _LAUNCHER, python(), str(CRON_SCRIPT), "--as-of", iso(as_of)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    kib, code = done.stdout.split()
    return int(kib) / 1024, int(code)


def ten_pairs(root: Path, admin: str, cycles: int) -> dict[str, Any]:
    home = root / "ten-pairs"
    url = create_pg_database(admin, prefix="ea_bench_10")
    try:
        migrate(url, home)
        settings = _settings(home, url, CURRENCY_PAIRS=TEN_PAIRS)
        (result,) = steady_state([settings], cycles)
        env = cron_env(home, url, CURRENCY_PAIRS=TEN_PAIRS)
        for name in (
            "BACKFILL_DAYS_1H",
            "BACKFILL_DAYS_4H",
            "BACKFILL_DAYS_1D",
            "BACKFILL_DAYS_5M",
            "MIN_BARS",
        ):
            env.pop(name)  # the same (default) settings as the in-process cycles
        rss, code = peak_rss_mb(env, next_as_of(cycles))
        result["subprocess_peak_rss_mb"] = round(rss, 1)
        result["subprocess_exit_code"] = code
        return result
    finally:
        drop_pg_database(admin, url)


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--cycles", type=int, default=20, help="counted steady-state cycles")
@click.option("--long-days", type=int, default=365, help="long 5m history (days)")
@click.option("--short-days", type=int, default=7, help="short 5m history (days)")
@click.option("--no-postgres", is_flag=True, help="SQLite only")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(cycles: int, long_days: int, short_days: int, no_postgres: bool, as_json: bool) -> None:
    from exchange_analytics.logs import configure_logging

    notes: list[str] = []
    figures: dict[str, Any] = {}
    admin = pg_admin_url()
    reason = "--no-postgres" if no_postgres else pg_reachable(admin)
    with tempfile.TemporaryDirectory(prefix="bench-cycle-") as tmp:
        root = Path(tmp)
        configure_logging(root / "logs", "cycle", console=False)
        figures["history_sqlite"] = history_ratio(
            "sqlite", root, None, cycles, long_days, short_days
        )
        if reason:
            notes.append(f"PostgreSQL parts skipped: {reason}")
        else:
            figures["history_postgres"] = history_ratio(
                "postgres", root, admin, cycles, long_days, short_days
            )
            figures["ten_pairs_postgres"] = ten_pairs(root, admin, cycles)

    rows: list[dict[str, Any]] = []
    for key in ("history_sqlite", "history_postgres"):
        if key in figures:
            f = figures[key]
            rows.append(
                {
                    "figure": f"steady cycle {long_days}d vs {short_days}d history "
                    f"({f['database']})",
                    "measured": f"{f['ratio']:.2f}x "
                    f"({f[f'{long_days}d']['median_s']:.3f} s vs "
                    f"{f[f'{short_days}d']['median_s']:.3f} s)",
                    "target": f"<= {HISTORY_TARGET}x",
                    "ok": f["ratio"] <= HISTORY_TARGET,
                }
            )
    if "ten_pairs_postgres" in figures:
        t = figures["ten_pairs_postgres"]
        rows += [
            {
                "figure": "steady cycle, 10 pairs, PostgreSQL (in process)",
                "measured": f"{t['median_s']:.3f} s",
                "target": f"<= {TEN_PAIRS_TARGET_S} s",
                "ok": t["median_s"] <= TEN_PAIRS_TARGET_S,
            },
            {
                "figure": "rows written per steady cycle, 10 pairs",
                "measured": f"{t['rows_written_median']:g}",
                "target": "new/changed only",
                "ok": True,
            },
            {
                "figure": "peak RSS, 10-pair steady cycle (subprocess)",
                "measured": f"{t['subprocess_peak_rss_mb']:.0f} MB",
                "target": f"<= {RSS_TARGET_MB:.0f} MB",
                "ok": t["subprocess_peak_rss_mb"] <= RSS_TARGET_MB
                and t["subprocess_exit_code"] == 0,
            },
        ]
    else:
        rows.append(
            {
                "figure": "10 pairs / peak RSS (PostgreSQL)",
                "measured": "skipped",
                "target": "-",
                "ok": False,
            }
        )
    ok = all(r["ok"] for r in rows)
    ratio = max(figures[k]["ratio"] for k in ("history_sqlite", "history_postgres") if k in figures)
    if as_json:
        print(
            json.dumps(
                {
                    "name": "cycle",
                    "figures": {**figures, "notes": notes},
                    "target": f"history ratio <= {HISTORY_TARGET}, 10 pairs <= "
                    f"{TEN_PAIRS_TARGET_S} s, RSS <= {RSS_TARGET_MB:.0f} MB",
                    "ratio": ratio,
                    "ok": ok,
                    "rows": rows,
                },
                default=str,
            )
        )
        return
    for row in rows:
        print(
            f"{row['figure']:<52} {row['measured']:>34}  target {row['target']:<16} "
            f"{'ok' if row['ok'] else 'MISSED'}"
        )
    for key, value in figures.items():
        print(f"  {key}: {json.dumps(value, default=str)}")
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
