"""The full soak: one simulated week of cron cycles (2,016) on SQLite and PostgreSQL (SPEC §13).

Each cycle is ``run_cycle`` with ``CycleOptions(as_of=T)`` in this process (its own engine,
disposed afterwards, as a cron process would), T stepping by 5 minutes from Monday 00:00 UTC
through the weekend closure to the next Monday, demo provider. Reports cycles/s, RSS after
cycle 10 and at the end (memory must stay flat), and the soak test's consistency checks
(``tests/support/faults.py``): every closed 5m bar present once with the simulator's values,
every 1h/4h/1d bucket equal to re-aggregating the stored 5m bars, one 'success'
processing_runs row per cycle, no surplus rows behind any unique key.

PostgreSQL: TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres), in a
fresh database; skipped with a note when unreachable. A measurement: it always exits 0.

Example:
    .venv/bin/python bench/bench_soak.py --cycles 2016 --db both --json
"""

from __future__ import annotations

import asyncio
import json
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
    SMALL_BACKFILL,
    aggregation_mismatches,
    create_pg_database,
    drop_pg_database,
    m5_mismatches,
    migrate,
    pg_admin_url,
    pg_reachable,
    read_state,
    rss_mb,
)

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h still works, as before
START = datetime(2026, 11, 16, 0, 0, 30, tzinfo=UTC)  # a Monday
PAIR = "USD/JPY"
RSS_GROWTH_LIMIT_MB = 50.0


def soak(kind: str, url: str, home: Path, cycles: int) -> dict[str, Any]:
    from exchange_analytics.config.settings import load_settings
    from exchange_analytics.pipeline.cycle import CycleOptions
    from exchange_analytics.pipeline.runner import run_cycle

    migrate(url, home)
    settings = load_settings(
        {
            "EXCHANGE_ANALYTICS_HOME": str(home),
            "DATABASE_URL": url,
            "MARKET_DATA_PROVIDER": "demo",
            **SMALL_BACKFILL,
        },
        env_file=False,
    )
    moments = [START + timedelta(minutes=5 * i) for i in range(cycles)]
    statuses: dict[str, int] = {}
    rss_start = rss_mb()
    started = time.perf_counter()
    for index, moment in enumerate(moments):
        report = asyncio.run(run_cycle(settings, CycleOptions(as_of=moment)))
        statuses[report.status] = statuses.get(report.status, 0) + 1
        if index == 9:
            rss_start = rss_mb()
    elapsed = time.perf_counter() - started
    rss_end = rss_mb()

    state = read_state(url)
    missing, m5_problems = m5_mismatches(state, PAIR, moments[-1])
    bucket_problems = aggregation_mismatches(state, PAIR, settings.day_boundary)
    runs_ok = (
        len(state.runs) == cycles
        and all(r["status"] == "success" and r["finished_at"] for r in state.runs)
        and [r["as_of"] for r in state.runs] == moments
    )
    problems = m5_problems[:5] + bucket_problems[:5]
    if not runs_ok:
        problems.append(f"processing_runs: {len(state.runs)} rows, statuses {statuses}")
    if state.duplicate_total:
        problems.append(f"surplus rows: {state.duplicates}")
    growth = rss_end - rss_start
    return {
        "database": kind,
        "cycles": cycles,
        "seconds": round(elapsed, 1),
        "cycles_per_s": round(cycles / elapsed, 2),
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_mb": round(growth, 1),
        "statuses": statuses,
        "bars_5m": len(state.bars_of(PAIR, "5m")),
        "bars_missing": missing,
        "duplicates": state.duplicate_total,
        "problems": problems,
        "ok": not problems and growth < RSS_GROWTH_LIMIT_MB,
    }


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--cycles", type=int, default=2016, help="cycles (default 2016 = 1 week)")
@click.option("--db", type=click.Choice(("sqlite", "postgres", "both")), default="both")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(cycles: int, db: str, as_json: bool) -> None:
    from exchange_analytics.logs import configure_logging

    results: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        root = Path(tmp)
        configure_logging(root / "logs", "cycle", console=False)
        if db in ("sqlite", "both"):
            home = root / "sqlite"
            url = f"sqlite+aiosqlite:///{home}/data/exchange_analytics.db"
            results.append(soak("sqlite", url, home, cycles))
        if db in ("postgres", "both"):
            admin = pg_admin_url()
            reason = pg_reachable(admin)
            if reason:
                notes.append(f"PostgreSQL skipped: not reachable ({reason})")
            else:
                url = create_pg_database(admin, prefix="ea_bench_soak")
                try:
                    results.append(soak("postgres", url, root / "postgres", cycles))
                finally:
                    drop_pg_database(admin, url)

    rows = [
        {
            "figure": f"soak {r['cycles']} cycles ({r['database']}): consistent, RSS flat",
            "measured": f"{r['cycles_per_s']} cycles/s, RSS {r['rss_start_mb']} -> "
            f"{r['rss_end_mb']} MB, {len(r['problems'])} problems",
            "target": f"0 problems, growth < {RSS_GROWTH_LIMIT_MB:.0f} MB",
            "ok": r["ok"],
        }
        for r in results
    ]
    ok = bool(results) and all(r["ok"] for r in results)
    if as_json:
        print(
            json.dumps(
                {
                    "name": "soak",
                    "figures": {"results": results, "notes": notes},
                    "target": "every bar once, buckets right, runs complete, RSS flat",
                    "ratio": None,
                    "ok": ok,
                    "rows": rows,
                }
            )
        )
        return
    for r in results:
        print(
            f"soak {r['database']}: {r['cycles']} cycles in {r['seconds']} s "
            f"({r['cycles_per_s']} cycles/s); RSS {r['rss_start_mb']} MB after cycle 10, "
            f"{r['rss_end_mb']} MB at the end ({r['rss_growth_mb']:+} MB); statuses {r['statuses']}"
        )
        print(
            f"  5m bars {r['bars_5m']}, missing {r['bars_missing']}, surplus rows "
            f"{r['duplicates']}; {'consistent' if not r['problems'] else r['problems']}"
        )
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
