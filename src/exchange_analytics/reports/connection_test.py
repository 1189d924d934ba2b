"""``scripts/test/database_connection_test.py``: can this installation reach its database?

Connects (timed), reads the server version and the migration revision (compared with the
newest migration in the code), and measures round-trip latency over a few ``SELECT 1``.
Exit 0 when connected and at head, 1 when unreachable or the schema is not at head.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from exchange_analytics.config.settings import Settings
from exchange_analytics.reports.script_runtime import (
    open_database,
    parser,
    print_json,
    run_script,
)
from exchange_analytics.storage.engine import describe_database
from exchange_analytics.storage.schema import current_revision, head_revision


async def probe(settings: Settings, rounds: int) -> dict[str, Any]:
    started = time.perf_counter()
    async with open_database(settings, need_schema=False) as engine:
        connect_ms = (time.perf_counter() - started) * 1000
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                version = (await conn.execute(text("SHOW server_version"))).scalar()
                server = f"PostgreSQL {version}"
            else:
                version = (await conn.execute(text("SELECT sqlite_version()"))).scalar()
                server = f"SQLite {version}"
            samples = []
            for _ in range(rounds):
                begun = time.perf_counter()
                await conn.execute(text("SELECT 1"))
                samples.append((time.perf_counter() - begun) * 1000)
        revision = await current_revision(engine)
    head = head_revision()
    return {
        "database": describe_database(settings),
        "server": server,
        "connect_ms": round(connect_ms, 2),
        "round_trip_ms": {
            "rounds": rounds,
            "median": round(statistics.median(samples), 3),
            "min": round(min(samples), 3),
            "max": round(max(samples), 3),
        },
        "revision": revision,
        "head": head,
        "at_head": revision == head,
    }


def render(report: dict[str, Any]) -> str:
    rtt = report["round_trip_ms"]
    if report["at_head"]:
        schema = f"at head ({report['head']})"
    else:
        schema = (
            f"at {report['revision'] or 'nothing'}, code expects {report['head']}: "
            "run `exchange-analytics db upgrade`"
        )
    return "\n".join(
        [
            f"database   {report['database']}",
            f"server     {report['server']}",
            f"connect    {report['connect_ms']:.1f} ms (includes the first SELECT 1)",
            f"round trip median {rtt['median']:.3f} ms, min {rtt['min']:.3f}, "
            f"max {rtt['max']:.3f} over {rtt['rounds']} x SELECT 1",
            f"schema     {schema}",
            "result     OK" if report["at_head"] else "result     SCHEMA NOT AT HEAD",
        ]
    )


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    report = await probe(settings, args.rounds)
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return 0 if report["at_head"] else 1


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser(
        "database_connection_test.py",
        "Connect to DATABASE_URL: server version, migration revision vs the code's head, "
        "round-trip latency. Exit 0 OK, 1 unreachable or schema not at head, 2 bad config.",
        "python scripts/test/database_connection_test.py --json",
    )
    arguments.add_argument("--rounds", type=int, default=5, help="SELECT 1 round trips (5)")
    arguments.add_argument("--json", action="store_true", help="machine-readable output")
    run_script(arguments, _run, argv)
