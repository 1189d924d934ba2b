"""Retention (SPEC §4.4) and database housekeeping: ``ops optimize``
(``scripts/maintenance/database_optimization.py``).

What is deleted (ages from RETENTION_DAYS_*; 4h and 1d candles are kept forever):

    price_data + technical_indicators   5m older than RETENTION_DAYS_5M (90 d)
    price_data + technical_indicators   1h older than RETENTION_DAYS_1H (730 d)
    processing_runs                     started before RETENTION_DAYS_RUNS (180 d)
    notifications                       sent (or suppressed) and created before
                                        RETENTION_DAYS_NOTIFICATIONS (90 d); pending and
                                        failed messages are kept for inspection

Deletes run in batches of ``storage.expiry.BATCH`` rows, each its own short transaction, so a
cycle that starts meanwhile (SQLite: one writer at a time) waits at most one batch. Candles
and indicators are deleted per pair, so each batch is a range scan of the unique
(currency_pair, timeframe, timestamp) index. Then VACUUM + ANALYZE: on PostgreSQL
``VACUUM (ANALYZE)`` of our tables on an autocommit connection (VACUUM cannot run in a
transaction); on SQLite ``VACUUM``, ``ANALYZE`` and a WAL checkpoint that truncates the WAL.
This module decides the rules and writes the report; the SQL is in ``storage.expiry``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import structlog

from exchange_analytics.config.settings import Settings
from exchange_analytics.render import human_bytes, table
from exchange_analytics.storage.engine import Database, describe_database
from exchange_analytics.storage.expiry import (
    ExpiryRule,
    delete_expired,
    expired_count,
    vacuum_tables,
)
from exchange_analytics.storage.sizes import footprint

log = structlog.get_logger(__name__)


def targets(settings: Settings, now: datetime) -> list[ExpiryRule]:
    """The retention rules in force, with their cutoffs computed from ``now``."""
    cut_5m = now - timedelta(days=settings.retention_days_5m)
    cut_1h = now - timedelta(days=settings.retention_days_1h)
    cut_runs = now - timedelta(days=settings.retention_days_runs)
    cut_notes = now - timedelta(days=settings.retention_days_notifications)
    found = [
        ExpiryRule(f"{name} {timeframe}", name, cutoff, timeframe=timeframe, per_pair=True)
        for timeframe, cutoff in (("5m", cut_5m), ("1h", cut_1h))
        for name in ("price_data", "technical_indicators")
    ]
    found.append(ExpiryRule("processing_runs", "processing_runs", cut_runs))
    found.append(
        ExpiryRule(
            "notifications sent", "notifications", cut_notes, statuses=("sent", "suppressed")
        )
    )
    return found


async def optimize(
    engine: Database,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool,
    skip_vacuum: bool = False,
) -> dict[str, Any]:
    """Apply (or with ``dry_run`` count) every rule, then VACUUM; the report's data."""
    report: dict[str, Any] = {
        "database": describe_database(settings),
        "dry_run": dry_run,
        "now": now,
        "retention": [],
        "vacuum": [],
    }
    report["size_before"] = await footprint(engine)
    for target in targets(settings, now):
        started = time.perf_counter()
        if dry_run:
            rows = await expired_count(engine, target)
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
        report["vacuum"] = await vacuum_tables(engine)
        report["vacuum_seconds"] = round(time.perf_counter() - started, 3)
        log.info("maintenance.vacuum", statements=len(report["vacuum"]))
    report["size_after"] = await footprint(engine)
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
