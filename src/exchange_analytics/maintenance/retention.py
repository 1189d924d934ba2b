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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import structlog

from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import Timeframe
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
        for timeframe, cutoff in ((Timeframe.M5, cut_5m), (Timeframe.H1, cut_1h))
        for name in ("price_data", "technical_indicators")
    ]
    found.append(ExpiryRule("processing_runs", "processing_runs", cut_runs))
    found.append(
        ExpiryRule(
            "notifications sent", "notifications", cut_notes, statuses=("sent", "suppressed")
        )
    )
    return found


@dataclass(frozen=True, slots=True)
class RetentionStep:
    """One rule applied (or counted): rows deleted and how long it took."""

    target: str
    older_than: datetime
    rows: int
    seconds: float


@dataclass(frozen=True)
class Optimization:
    """What ``ops optimize`` did: what ``render`` prints and ``to_dict`` gives ``--json``."""

    database: str
    dry_run: bool
    now: datetime
    retention: list[RetentionStep]
    size_before: int | None
    size_after: int | None
    #: The VACUUM/ANALYZE statements run (none with --dry-run or --no-vacuum) and their time.
    vacuum: list[str] = field(default_factory=list)
    vacuum_seconds: float | None = None

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` document (``render.to_json`` writes the times as text)."""
        data: dict[str, object] = {
            "database": self.database,
            "dry_run": self.dry_run,
            "now": self.now,
            "retention": [asdict(step) for step in self.retention],
            "vacuum": self.vacuum,
            "size_before": self.size_before,
        }
        if self.vacuum_seconds is not None:
            data["vacuum_seconds"] = self.vacuum_seconds
        data["size_after"] = self.size_after
        return data


async def optimize(
    engine: Database,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool,
    skip_vacuum: bool = False,
) -> Optimization:
    """Apply (or with ``dry_run`` count) every rule, then VACUUM; the report's data."""
    size_before = await footprint(engine)
    steps = [await _apply(engine, target, dry_run=dry_run) for target in targets(settings, now)]
    vacuum: list[str] = []
    vacuum_seconds = None
    if not dry_run and not skip_vacuum:
        started = time.perf_counter()
        vacuum = await vacuum_tables(engine)
        vacuum_seconds = round(time.perf_counter() - started, 3)
        log.info("maintenance.vacuum", statements=len(vacuum))
    return Optimization(
        database=describe_database(settings),
        dry_run=dry_run,
        now=now,
        retention=steps,
        size_before=size_before,
        size_after=await footprint(engine),
        vacuum=vacuum,
        vacuum_seconds=vacuum_seconds,
    )


async def _apply(engine: Database, target: ExpiryRule, *, dry_run: bool) -> RetentionStep:
    """Delete what ``target`` expires (or only count it), timed."""
    started = time.perf_counter()
    if dry_run:
        rows = await expired_count(engine, target)
    else:
        rows = await delete_expired(engine, target)
        log.info("retention.deleted", target=target.name, rows=rows, before=target.cutoff)
    return RetentionStep(target.name, target.cutoff, rows, round(time.perf_counter() - started, 3))


def render(report: Optimization) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    lines = [f"Database {report.database}: retention (SPEC §4.4)", ""]
    lines.append(
        table(
            [[r.target, r.older_than, r.rows] for r in report.retention],
            ["rows of", "older than (UTC)", verb],
        )
    )
    if report.dry_run:
        lines.append("\n--dry-run: nothing deleted, no VACUUM.")
    elif report.vacuum:
        lines.append(f"\n{'; '.join(report.vacuum)} ({report.vacuum_seconds or 0:.1f} s)")
    lines.append(
        f"size before {human_bytes(report.size_before)}, after {human_bytes(report.size_after)}"
    )
    return "\n".join(lines)
