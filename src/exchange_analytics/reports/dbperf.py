"""``scripts/monitoring/database_performance.py``: is the database still fast for the pipeline?

Times the queries a cycle and the health check actually make (each run ``--repeat`` times
after one warm-up; median and max reported), shows table and index sizes, and on PostgreSQL
the maintenance picture from ``pg_stat_user_tables``: live/dead tuples, sequential vs index
scans, last (auto)vacuum and (auto)analyze. On SQLite: file, free-list and WAL sizes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Executable, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.config.settings import Settings
from exchange_analytics.reports import dbsizes
from exchange_analytics.reports.script_runtime import (
    human_bytes,
    open_database,
    parser,
    print_json,
    run_script,
    table,
)
from exchange_analytics.storage.engine import describe_database
from exchange_analytics.storage.models import (
    Notification,
    PriceData,
    ProcessingRun,
    TechnicalIndicator,
)

_P = PriceData.__table__
_I = TechnicalIndicator.__table__
_N = Notification.__table__
_R = ProcessingRun.__table__


def key_queries(pair: str, now: datetime, bars: int) -> list[tuple[str, Executable]]:
    """The pipeline's hot queries, as it issues them."""
    return [
        (
            f"last {bars} bars {pair} 1h",
            select(_P)
            .where(_P.c.currency_pair == pair, _P.c.timeframe == "1h")
            .order_by(_P.c.timestamp.desc())
            .limit(bars),
        ),
        (
            f"last {bars} bars {pair} 5m",
            select(_P)
            .where(_P.c.currency_pair == pair, _P.c.timeframe == "5m")
            .order_by(_P.c.timestamp.desc())
            .limit(bars),
        ),
        (
            f"latest 5m bar {pair}",
            select(func.max(_P.c.timestamp)).where(
                _P.c.currency_pair == pair, _P.c.timeframe == "5m"
            ),
        ),
        (
            f"indicators {pair} 1h since 10 d",
            select(_I).where(
                _I.c.currency_pair == pair,
                _I.c.timeframe == "1h",
                _I.c.timestamp >= now - timedelta(days=10),
            ),
        ),
        (
            "pending notifications",
            select(_N)
            .where(
                _N.c.status == "pending",
                or_(_N.c.next_attempt_at.is_(None), _N.c.next_attempt_at <= now),
            )
            .order_by(_N.c.id)
            .limit(50),
        ),
        (
            "runs last 24 h",
            select(_R).where(_R.c.started_at >= now - timedelta(hours=24)),
        ),
        (
            "5m rows past retention",
            select(func.count()).where(
                _P.c.timeframe == "5m", _P.c.timestamp < now - timedelta(days=90)
            ),
        ),
    ]


async def time_queries(
    conn: AsyncConnection, queries: Sequence[tuple[str, Executable]], repeat: int
) -> list[dict[str, Any]]:
    results = []
    for label, statement in queries:
        rows = len((await conn.execute(statement)).all())  # warm-up: compile, cache pages
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            (await conn.execute(statement)).all()
            samples.append((time.perf_counter() - started) * 1000)
        results.append(
            {
                "query": label,
                "rows": rows,
                "median_ms": round(statistics.median(samples), 3),
                "max_ms": round(max(samples), 3),
            }
        )
    return results


async def postgres_table_stats(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            "SELECT relname, n_live_tup, n_dead_tup, seq_scan, idx_scan, last_vacuum, "
            "last_autovacuum, last_analyze, last_autoanalyze FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() AND relname = ANY(:names) ORDER BY relname"
        ),
        {"names": list(dbsizes.TABLES)},
    )
    return [dict(r) for r in rows.mappings()]


async def sqlite_file_stats(conn: AsyncConnection, settings: Settings) -> dict[str, Any]:
    async def pragma(name: str) -> Any:
        return (await conn.execute(text(f"PRAGMA {name}"))).scalar()

    page_size = int(await pragma("page_size") or 0)
    path = settings.sqlite_path
    wal = path.with_name(path.name + "-wal") if path is not None else None
    return {
        "page_size": page_size,
        "pages": int(await pragma("page_count") or 0),
        "free_pages": int(await pragma("freelist_count") or 0),
        "free_bytes": int(await pragma("freelist_count") or 0) * page_size,
        "journal_mode": await pragma("journal_mode"),
        "wal_bytes": wal.stat().st_size if wal is not None and wal.exists() else 0,
    }


async def collect(settings: Settings, now: datetime, *, repeat: int, bars: int) -> dict[str, Any]:
    pair = settings.currency_pairs[0]
    async with open_database(settings) as engine, engine.connect() as conn:
        timings = await time_queries(conn, key_queries(pair, now, bars), repeat)
        sizes = await dbsizes.sizes(conn)
        dialect = conn.dialect.name
        if dialect == "postgresql":
            maintenance: Any = await postgres_table_stats(conn)
        else:
            maintenance = await sqlite_file_stats(conn, settings)
    return {
        "database": describe_database(settings),
        "dialect": dialect,
        "generated_at": now,
        "repeat": repeat,
        "queries": timings,
        "sizes": sizes.to_dict(),
        "maintenance": maintenance,
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"Database {report['database']} ({report['dialect']})", ""]
    lines.append(f"Key queries (median and max of {report['repeat']} runs after a warm-up)")
    lines.append(
        table(
            [[q["query"], q["rows"], q["median_ms"], q["max_ms"]] for q in report["queries"]],
            ["query", "rows", "median ms", "max ms"],
        )
    )
    sizes = report["sizes"]
    lines += ["", "Tables"]
    lines.append(
        table(
            [
                [t["table"], human_bytes(t["total_bytes"]), human_bytes(t["index_bytes"])]
                for t in sizes["tables"]
            ],
            ["table", "total", "indexes"],
        )
    )
    if sizes["indexes"]:
        lines += ["", "Indexes"]
        lines.append(
            table(
                [
                    [i["index"], i["table"], human_bytes(i["bytes"]), i["scans"]]
                    for i in sizes["indexes"]
                ],
                ["index", "table", "size", "scans"],
            )
        )
    maintenance = report["maintenance"]
    if report["dialect"] == "postgresql":
        lines += ["", "Maintenance (pg_stat_user_tables)"]
        lines.append(
            table(
                [
                    [
                        m["relname"],
                        m["n_live_tup"],
                        m["n_dead_tup"],
                        m["seq_scan"],
                        m["idx_scan"],
                        _latest(m["last_vacuum"], m["last_autovacuum"]),
                        _latest(m["last_analyze"], m["last_autoanalyze"]),
                    ]
                    for m in maintenance
                ],
                ["table", "live", "dead", "seq scans", "idx scans", "last vacuum", "last analyze"],
            )
        )
    else:
        lines += [
            "",
            f"SQLite file: {maintenance['pages']} pages of {maintenance['page_size']} B, "
            f"{human_bytes(maintenance['free_bytes'])} free (reclaimed by VACUUM), journal "
            f"{maintenance['journal_mode']}, WAL {human_bytes(maintenance['wal_bytes'])}",
        ]
    return "\n".join(lines)


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    report = await collect(settings, datetime.now(UTC), repeat=args.repeat, bars=args.bars)
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser(
        "database_performance.py",
        "Latency of the pipeline's key queries, table and index sizes; on PostgreSQL dead "
        "tuples, sequential vs index scans and the last (auto)vacuum/analyze.",
        "python scripts/monitoring/database_performance.py --repeat 10",
    )
    arguments.add_argument("--repeat", type=int, default=5, help="timed runs per query (5)")
    arguments.add_argument("--bars", type=int, default=200, help="N in 'last N bars' (200)")
    arguments.add_argument("--json", action="store_true", help="machine-readable output")
    run_script(arguments, _run, argv)
