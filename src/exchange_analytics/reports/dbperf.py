"""``ops db-performance`` (``scripts/monitoring/database_performance.py``): is the database
still fast for the pipeline?

Times the queries a cycle and the health check actually make (each run ``--repeat`` times
after one warm-up; median and max reported), shows table and index sizes, and on PostgreSQL
the maintenance picture from ``pg_stat_user_tables``: live/dead tuples, sequential vs index
scans, last (auto)vacuum and (auto)analyze. On SQLite: file, free-list and WAL sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exchange_analytics.config.settings import Settings
from exchange_analytics.jsontypes import JSONObject, as_int
from exchange_analytics.render import human_bytes, table
from exchange_analytics.storage.dialect import dialect_name, maintenance_stats
from exchange_analytics.storage.engine import Database, describe_database
from exchange_analytics.storage.query_timings import QueryTiming, key_query_timings
from exchange_analytics.storage.sizes import TABLES, Sizes, sizes


def _wal_bytes(settings: Settings) -> int:
    path = settings.sqlite_path
    wal = path.with_name(path.name + "-wal") if path is not None else None
    return wal.stat().st_size if wal is not None and wal.exists() else 0


@dataclass(frozen=True)
class DbPerformance:
    """The report: what ``render`` prints and ``to_dict`` gives ``--json``."""

    database: str
    dialect: str
    generated_at: datetime
    repeat: int
    queries: list[QueryTiming]
    sizes: Sizes
    #: As the engine reports it (``storage.dialect.maintenance_stats``): PostgreSQL's
    #: ``pg_stat_user_tables`` rows, or SQLite's file figures plus ``wal_bytes``.
    maintenance: list[JSONObject] | JSONObject

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` document (``render.to_json`` writes the times as text)."""
        return {
            "database": self.database,
            "dialect": self.dialect,
            "generated_at": self.generated_at,
            "repeat": self.repeat,
            "queries": self.queries,
            "sizes": self.sizes.to_dict(),
            "maintenance": self.maintenance,
        }


async def collect(
    engine: Database, settings: Settings, now: datetime, *, repeat: int, bars: int
) -> DbPerformance:
    """The report's data."""
    pair = settings.currency_pairs[0]
    async with engine.connect() as conn:
        timings = await key_query_timings(conn, pair, now, bars=bars, repeat=repeat)
        found = await sizes(conn)
        maintenance = await maintenance_stats(conn, TABLES)
    if isinstance(maintenance, dict):  # SQLite: the file's figures, plus its WAL beside it
        maintenance["wal_bytes"] = _wal_bytes(settings)
    return DbPerformance(
        database=describe_database(settings),
        dialect=dialect_name(engine),
        generated_at=now,
        repeat=repeat,
        queries=timings,
        sizes=found,
        maintenance=maintenance,
    )


def render(report: DbPerformance) -> str:
    lines = [f"Database {report.database} ({report.dialect})", ""]
    lines.append(f"Key queries (median and max of {report.repeat} runs after a warm-up)")
    lines.append(
        table(
            [[q["query"], q["rows"], q["median_ms"], q["max_ms"]] for q in report.queries],
            ["query", "rows", "median ms", "max ms"],
        )
    )
    lines += ["", "Tables"]
    lines.append(
        table(
            [
                [t.table, human_bytes(t.total_bytes), human_bytes(t.index_bytes)]
                for t in report.sizes.tables
            ],
            ["table", "total", "indexes"],
        )
    )
    if report.sizes.indexes:
        lines += ["", "Indexes"]
        lines.append(
            table(
                [[i.index, i.table, human_bytes(i.bytes), i.scans] for i in report.sizes.indexes],
                ["index", "table", "size", "scans"],
            )
        )
    return "\n".join([*lines, "", *_maintenance_lines(report.maintenance)])


def _maintenance_lines(maintenance: list[JSONObject] | JSONObject) -> list[str]:
    """PostgreSQL's ``pg_stat_user_tables`` rows as a table, or SQLite's file figures."""
    if isinstance(maintenance, list):
        rows = [
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
        ]
        columns = ["table", "live", "dead", "seq scans", "idx scans", "last vacuum", "last analyze"]
        return ["Maintenance (pg_stat_user_tables)", table(rows, columns)]
    return [
        f"SQLite file: {maintenance['pages']} pages of {maintenance['page_size']} B, "
        f"{human_bytes(as_int(maintenance['free_bytes']))} free (reclaimed by VACUUM), journal "
        f"{maintenance['journal_mode']}, WAL {human_bytes(as_int(maintenance['wal_bytes']))}"
    ]


def _latest(*values: object) -> datetime | None:
    """The later of the (auto)vacuum or (auto)analyze times (None where never).

    ``object``: the driver gives pg_stat's times as datetimes, though ``maintenance_stats``
    types its rows as JSON objects (``to_json`` writes them as text)."""
    present = [v for v in values if isinstance(v, datetime)]
    return max(present) if present else None
