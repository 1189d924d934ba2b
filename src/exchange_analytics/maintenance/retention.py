"""Retention (SPEC §4.4) and database housekeeping (scripts/maintenance/database_optimization.py).

What is deleted (ages from RETENTION_DAYS_*; 4h and 1d candles are kept forever):

    price_data + technical_indicators   5m older than RETENTION_DAYS_5M (90 d)
    price_data + technical_indicators   1h older than RETENTION_DAYS_1H (730 d)
    processing_runs                     started before RETENTION_DAYS_RUNS (180 d)
    notifications                       sent (or suppressed) and created before
                                        RETENTION_DAYS_NOTIFICATIONS (90 d); pending and
                                        failed messages are kept for inspection

Deletes run in batches of ``BATCH`` rows, each its own short transaction, so a cycle that
starts meanwhile (SQLite: one writer at a time) waits at most one batch. Candles and
indicators are deleted per pair, so each batch is a range scan of the unique
(currency_pair, timeframe, timestamp) index. Then VACUUM + ANALYZE: on PostgreSQL
``VACUUM (ANALYZE)`` of our tables on an autocommit connection (VACUUM cannot run in a
transaction); on SQLite ``VACUUM``, ``ANALYZE`` and a WAL checkpoint that truncates the WAL.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import ColumnElement, Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

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

log = structlog.get_logger(__name__)

BATCH = 10_000
_PRICES = cast(Table, PriceData.__table__)
_INDICATORS = cast(Table, TechnicalIndicator.__table__)
_RUNS = cast(Table, ProcessingRun.__table__)
_NOTES = cast(Table, Notification.__table__)


@dataclass(frozen=True)
class Target:
    """One retention rule: rows of ``table`` matching ``where`` (per pair if ``per_pair``)."""

    name: str
    table: Table
    where: ColumnElement[bool]
    cutoff: datetime
    per_pair: bool = False


def targets(settings: Settings, now: datetime) -> list[Target]:
    cut_5m = now - timedelta(days=settings.retention_days_5m)
    cut_1h = now - timedelta(days=settings.retention_days_1h)
    cut_runs = now - timedelta(days=settings.retention_days_runs)
    cut_notes = now - timedelta(days=settings.retention_days_notifications)
    found = []
    for label, timeframe, cutoff in (("5m", "5m", cut_5m), ("1h", "1h", cut_1h)):
        for name, tbl in (("price_data", _PRICES), ("technical_indicators", _INDICATORS)):
            found.append(
                Target(
                    f"{name} {label}",
                    tbl,
                    (tbl.c.timeframe == timeframe) & (tbl.c.timestamp < cutoff),
                    cutoff,
                    per_pair=True,
                )
            )
    found.append(Target("processing_runs", _RUNS, _RUNS.c.started_at < cut_runs, cut_runs))
    found.append(
        Target(
            "notifications sent",
            _NOTES,
            _NOTES.c.status.in_(("sent", "suppressed")) & (_NOTES.c.created_at < cut_notes),
            cut_notes,
        )
    )
    return found


async def _pairs(engine: AsyncEngine, tbl: Table) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(tbl.c.currency_pair).distinct())).scalars())


async def count_expired(engine: AsyncEngine, target: Target) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(target.table).where(target.where)
        return int((await conn.execute(query)).scalar_one())


async def delete_expired(engine: AsyncEngine, target: Target, batch: int = BATCH) -> int:
    """Delete in batches of ``batch`` rows, one transaction each; returns rows deleted."""
    tbl = target.table
    scopes: list[ColumnElement[bool]] = (
        [tbl.c.currency_pair == pair for pair in await _pairs(engine, tbl)]
        if target.per_pair
        else [target.where]
    )
    deleted = 0
    for scope in scopes:
        condition = target.where & scope if target.per_pair else scope
        while True:
            ids = select(tbl.c.id).where(condition).limit(batch).scalar_subquery()
            async with engine.begin() as conn:
                result = await conn.execute(delete(tbl).where(tbl.c.id.in_(ids)))
            count = max(result.rowcount or 0, 0)
            deleted += count
            if count < batch:
                break
    return deleted


async def vacuum(engine: AsyncEngine) -> list[str]:
    """VACUUM + ANALYZE outside any transaction; returns the statements run."""
    ran: list[str] = []
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name == "postgresql":
            quote = conn.dialect.identifier_preparer.quote
            for name in dbsizes.TABLES:
                statement = f"VACUUM (ANALYZE) {quote(name)}"
                await conn.execute(text(statement))
                ran.append(statement)
        else:
            for statement in ("VACUUM", "ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"):
                await conn.execute(text(statement))
                ran.append(statement)
    return ran


async def _size(engine: AsyncEngine) -> int | None:
    async with engine.connect() as conn:
        sizes = await dbsizes.sizes(conn)
    own = [t.total_bytes for t in sizes.tables if t.total_bytes is not None]
    if engine.dialect.name == "sqlite":
        return sizes.database_bytes
    return sum(own) if own else sizes.database_bytes


async def optimize(
    settings: Settings, now: datetime, *, dry_run: bool, skip_vacuum: bool = False
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "database": describe_database(settings),
        "dry_run": dry_run,
        "now": now,
        "retention": [],
        "vacuum": [],
    }
    async with open_database(settings) as engine:
        report["size_before"] = await _size(engine)
        for target in targets(settings, now):
            started = time.perf_counter()
            if dry_run:
                rows = await count_expired(engine, target)
            else:
                rows = await delete_expired(engine, target)
                log.info("retention.deleted", target=target.name, rows=rows, before=target.cutoff)
            report["retention"].append(
                {
                    "target": target.name,
                    "older_than": target.cutoff,
                    "rows": rows,
                    "seconds": round(time.perf_counter() - started, 3),
                }
            )
        if not dry_run and not skip_vacuum:
            started = time.perf_counter()
            report["vacuum"] = await vacuum(engine)
            report["vacuum_seconds"] = round(time.perf_counter() - started, 3)
            log.info("maintenance.vacuum", statements=len(report["vacuum"]))
        report["size_after"] = await _size(engine)
    return report


def render(report: dict[str, Any]) -> str:
    verb = "would delete" if report["dry_run"] else "deleted"
    lines = [f"Database {report['database']}: retention (SPEC §4.4)", ""]
    lines.append(
        table(
            [[r["target"], r["older_than"], r["rows"]] for r in report["retention"]],
            ["rows of", "older than (UTC)", verb],
        )
    )
    if report["dry_run"]:
        lines.append("\n--dry-run: nothing deleted, no VACUUM.")
    elif report["vacuum"]:
        lines.append(f"\n{'; '.join(report['vacuum'])} ({report.get('vacuum_seconds', 0):.1f} s)")
    lines.append(
        f"size before {human_bytes(report['size_before'])}, after "
        f"{human_bytes(report['size_after'])}"
    )
    return "\n".join(lines)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    report = await optimize(
        settings, datetime.now(UTC), dry_run=args.dry_run, skip_vacuum=args.no_vacuum
    )
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser(
        "database_optimization.py",
        "Retention deletes (5m candles 90 d, 1h 2 y, runs 180 d, sent notifications 90 d; "
        "from RETENTION_DAYS_*), then VACUUM/ANALYZE on PostgreSQL or SQLite.",
        "python scripts/maintenance/database_optimization.py --dry-run",
    )
    arguments.add_argument("--dry-run", action="store_true", help="count only; change nothing")
    arguments.add_argument("--no-vacuum", action="store_true", help="skip VACUUM/ANALYZE")
    arguments.add_argument("--json", action="store_true", help="machine-readable output")
    run_script(arguments, _run, argv)
