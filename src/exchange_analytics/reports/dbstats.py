"""``ops db-stats`` (``scripts/monitoring/database_stats.py``): what is stored, per pair x
timeframe, and how big.

Rows, first and last bar, and the number of intra-week gaps (``market_gaps``) for every pair x
timeframe in ``price_data``; row counts of the other tables; table and index sizes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from exchange_analytics.config.settings import Settings
from exchange_analytics.render import human_bytes, table
from exchange_analytics.reports import market_gaps
from exchange_analytics.storage.dialect import dialect_name
from exchange_analytics.storage.engine import Connection, Database, describe_database
from exchange_analytics.storage.sizes import Sizes, sizes
from exchange_analytics.storage.stats_queries import series_summaries, table_row_counts

_ORDER = {"5m": 0, "1h": 1, "4h": 2, "1d": 3}


@dataclass
class SeriesStats:
    """One stored series. ``timeframe`` stays the column's text: it is printed and sorted
    only, and a value outside the four known timeframes is listed (last), not refused."""

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


@dataclass(frozen=True)
class DbStats:
    """The report: what ``render`` prints and ``to_dict`` gives ``--json``."""

    database: str
    dialect: str
    series: list[SeriesStats]
    table_rows: dict[str, int]
    sizes: Sizes

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` document (``render.to_json`` writes the times as text)."""
        return {
            "database": self.database,
            "dialect": self.dialect,
            "series": [asdict(s) for s in self.series],
            "table_rows": self.table_rows,
            "sizes": self.sizes.to_dict(),
        }


async def collect(engine: Database, settings: Settings) -> DbStats:
    """The report's data."""
    async with engine.connect() as conn:
        series = await series_stats(conn)
        counts = await table_row_counts(conn)
        found = await sizes(conn)
    return DbStats(describe_database(settings), dialect_name(engine), series, counts, found)


def render(report: DbStats) -> str:
    """The same data as text tables."""
    lines = [
        f"Database {report.database} ({report.dialect})",
        "",
        "Candles per pair x timeframe",
    ]
    if report.series:
        lines.append(
            table(
                [
                    [s.pair, s.timeframe, s.rows, s.first_bar, s.last_bar, s.gaps, s.missing_bars]
                    for s in report.series
                ],
                ["pair", "tf", "rows", "first bar (UTC)", "last bar (UTC)", "gaps", "missing bars"],
            )
        )
    else:
        lines.append("(no candles stored yet)")
    lines += ["", "Gaps: bars further apart than one timeframe, FX weekend closure excluded.", ""]
    lines.append("Tables")
    by_table = {t.table: t for t in report.sizes.tables}
    lines.append(
        table(
            [
                [
                    name,
                    rows,
                    human_bytes(by_table[name].total_bytes if name in by_table else None),
                    human_bytes(by_table[name].index_bytes if name in by_table else None),
                ]
                for name, rows in report.table_rows.items()
            ],
            ["table", "rows", "total size", "index size"],
        )
    )
    lines.append(f"\nDatabase size: {human_bytes(report.sizes.database_bytes)}")
    if report.sizes.note:
        lines.append(report.sizes.note)
    return "\n".join(lines)
