"""``ops db-stats`` (``scripts/monitoring/database_stats.py``): what is stored, per pair x
timeframe, and how big.

Rows, first and last bar, and the number of intra-week gaps (``market_gaps``) for every pair x
timeframe in ``price_data``; row counts of the other tables; table and index sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exchange_analytics.config.settings import Settings
from exchange_analytics.render import human_bytes, table
from exchange_analytics.reports import market_gaps
from exchange_analytics.storage.dialect import dialect_name
from exchange_analytics.storage.engine import Connection, Database, describe_database
from exchange_analytics.storage.sizes import sizes
from exchange_analytics.storage.stats_queries import series_summaries, table_row_counts

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


async def series_stats(conn: Connection) -> list[SeriesStats]:
    stats = {
        (pair, tf): SeriesStats(pair, tf, count, first, last)
        for pair, tf, count, first, last in await series_summaries(conn)
    }
    for gap in await market_gaps.find_gaps(conn):
        entry = stats[(gap.pair, gap.timeframe)]
        entry.gaps += 1
        entry.missing_bars += gap.missing_bars
        if gap.missing_bars > entry.largest_gap_bars:
            entry.largest_gap_bars = gap.missing_bars
            entry.largest_gap_after = gap.after
    return sorted(stats.values(), key=lambda s: (s.pair, _ORDER.get(s.timeframe, 9)))


async def collect(engine: Database, settings: Settings) -> dict[str, Any]:
    """The report's data (what ``--json`` prints)."""
    async with engine.connect() as conn:
        series = await series_stats(conn)
        counts = await table_row_counts(conn)
        found = await sizes(conn)
    return {
        "database": describe_database(settings),
        "dialect": dialect_name(engine),
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
        "sizes": found.to_dict(),
    }


def render(report: dict[str, Any]) -> str:
    """The same data as text tables."""
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
