"""``scripts/monitoring/database_stats.py``: what is stored, per pair x timeframe, and how big.

Rows, first and last bar, and the number of intra-week gaps (``market_gaps``) for every pair x
timeframe in ``price_data``; row counts of the other tables; table and index sizes.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.config.settings import Settings
from exchange_analytics.reports import dbsizes, market_gaps
from exchange_analytics.reports.script_runtime import (
    human_bytes,
    open_database,
    parser,
    print_json,
    run_script,
    table,
)
from exchange_analytics.storage.engine import describe_database
from exchange_analytics.storage.models import Base, PriceData

_PRICES = PriceData.__table__
_ORDER = {"5m": 0, "1h": 1, "4h": 2, "1d": 3}


@dataclass
class SeriesStats:
    pair: str
    timeframe: str
    rows: int
    first_bar: datetime | None
    last_bar: datetime | None
    gaps: int = 0
    missing_bars: int = 0
    largest_gap_after: datetime | None = None
    largest_gap_bars: int = 0


async def series_stats(conn: AsyncConnection) -> list[SeriesStats]:
    rows = await conn.execute(
        select(
            _PRICES.c.currency_pair,
            _PRICES.c.timeframe,
            func.count(),
            func.min(_PRICES.c.timestamp),
            func.max(_PRICES.c.timestamp),
        ).group_by(_PRICES.c.currency_pair, _PRICES.c.timeframe)
    )
    stats = {
        (pair, tf): SeriesStats(pair, tf, int(count), first, last)
        for pair, tf, count, first, last in rows
    }
    for gap in await market_gaps.find_gaps(conn):
        entry = stats[(gap.pair, gap.timeframe)]
        entry.gaps += 1
        entry.missing_bars += gap.missing_bars
        if gap.missing_bars > entry.largest_gap_bars:
            entry.largest_gap_bars = gap.missing_bars
            entry.largest_gap_after = gap.after
    return sorted(stats.values(), key=lambda s: (s.pair, _ORDER.get(s.timeframe, 9)))


async def table_rows(conn: AsyncConnection) -> dict[str, int]:
    counts = {}
    for name, tbl in sorted(Base.metadata.tables.items()):
        counts[name] = int((await conn.execute(select(func.count()).select_from(tbl))).scalar_one())
    return counts


async def collect(settings: Settings) -> dict[str, Any]:
    async with open_database(settings) as engine, engine.connect() as conn:
        series = await series_stats(conn)
        counts = await table_rows(conn)
        sizes = await dbsizes.sizes(conn)
        dialect = conn.dialect.name
    return {
        "database": describe_database(settings),
        "dialect": dialect,
        "series": [
            {
                "pair": s.pair,
                "timeframe": s.timeframe,
                "rows": s.rows,
                "first_bar": s.first_bar,
                "last_bar": s.last_bar,
                "gaps": s.gaps,
                "missing_bars": s.missing_bars,
                "largest_gap_after": s.largest_gap_after,
                "largest_gap_bars": s.largest_gap_bars,
            }
            for s in series
        ],
        "table_rows": counts,
        "sizes": sizes.to_dict(),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Database {report['database']} ({report['dialect']})",
        "",
        "Candles per pair x timeframe",
    ]
    series = report["series"]
    if series:
        lines.append(
            table(
                [
                    [
                        s["pair"],
                        s["timeframe"],
                        s["rows"],
                        s["first_bar"],
                        s["last_bar"],
                        s["gaps"],
                        s["missing_bars"],
                    ]
                    for s in series
                ],
                ["pair", "tf", "rows", "first bar (UTC)", "last bar (UTC)", "gaps", "missing bars"],
            )
        )
    else:
        lines.append("(no candles stored yet)")
    lines += ["", "Gaps: bars further apart than one timeframe, FX weekend closure excluded.", ""]
    lines.append("Tables")
    by_table = {t["table"]: t for t in report["sizes"]["tables"]}
    lines.append(
        table(
            [
                [
                    name,
                    rows,
                    human_bytes(by_table.get(name, {}).get("total_bytes")),
                    human_bytes(by_table.get(name, {}).get("index_bytes")),
                ]
                for name, rows in report["table_rows"].items()
            ],
            ["table", "rows", "total size", "index size"],
        )
    )
    total = report["sizes"]["database_bytes"]
    lines.append(f"\nDatabase size: {human_bytes(total)}")
    if report["sizes"].get("note"):
        lines.append(report["sizes"]["note"])
    return "\n".join(lines)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    report = await collect(settings)
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser(
        "database_stats.py",
        "Rows, first/last bar and gap count per pair x timeframe; row counts and sizes of the "
        "tables (PostgreSQL and SQLite).",
        "python scripts/monitoring/database_stats.py --json",
    )
    arguments.add_argument("--json", action="store_true", help="machine-readable output")
    run_script(arguments, _run, argv)
