"""The pieces of a cycle that hold no stage: its options, its deadline, where its lock
files live, its status and its record (split from ``pipeline.cycle``, which imports them
back under the old names)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.errors import NotInitializedError
from exchange_analytics.pipeline.market_data import FetchOutcome
from exchange_analytics.pipeline.report import CycleReport, PairReport
from exchange_analytics.storage import runs
from exchange_analytics.storage.cycle_reads import PairFacts, pair_facts
from exchange_analytics.storage.engine import CONNECTION_ERRORS, Connection, Database

log = structlog.get_logger("exchange_analytics.pipeline.cycle")  # the cycle's own events


@dataclass(frozen=True)
class CycleOptions:
    mode: str = "system_cycle"  # or single_cycle
    pairs: tuple[str, ...] | None = None
    provider: str | None = None
    force_reinitialize: bool = False
    dry_run: bool = False
    as_of: datetime | None = None


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    @property
    def passed(self) -> bool:
        return time.monotonic() - self.started > self.seconds

    @property
    def at(self) -> float:
        return self.started + self.seconds


class CycleTimeout(Exception):
    """MAX_PROCESSING_TIME passed; raised between steps, never inside one."""


def lock_dir(settings: Settings) -> Path:
    path = settings.sqlite_path
    return path.parent if path is not None else settings.home / "data"


async def read_facts(conn: Connection, pair: CurrencyPair, min_bars: int, mode: str) -> PairFacts:
    """The pair's facts, in a transaction of their own (nothing stays open while the
    provider is asked); a single cycle refuses a pair that is not initialized."""
    async with conn.begin():
        facts = (await pair_facts(conn, [str(pair)], min_bars))[str(pair)]
    if mode == "single_cycle" and not facts.initialized():
        raise NotInitializedError(
            f"{pair} is not initialized: run `exchange-analytics cycle` "
            "(system_cycle) once to backfill it"
        )
    return facts


def fetched_counts(pair_report: PairReport, fetched: FetchOutcome) -> None:
    """Copy a fetch's counts into the pair's report."""
    pair_report.rows_fetched = fetched.rows_fetched
    pair_report.rows_written = fetched.rows_written
    pair_report.rejected_bars = fetched.rejected
    pair_report.null_rows = fetched.null_rows
    pair_report.held_back_bars = fetched.held_back


def run_status(pairs: Sequence[PairReport]) -> str:
    """The run's status from its pairs: an error only when every pair failed."""
    errors = [p for p in pairs if p.error]
    if not errors:
        # A stuck feed (SPEC §3.5) is an alarm, not a success.
        return "partial" if any(p.warning for p in pairs) else "success"
    return "error" if len(errors) == len(pairs) else "partial"


async def record_run(engine: Database, report: CycleReport) -> None:
    """The summary log line, and the run's ``processing_runs`` row closed with its totals."""
    fields = report.summary_fields()
    log_method = log.info if report.status in ("success", "skipped") else log.warning
    log_method("cycle.summary", **fields)
    if report.run_id is None:
        return
    errors = [f"{p.pair}: {p.error or p.warning}" for p in report.pairs if p.error or p.warning]
    if report.error_message:
        errors.insert(0, report.error_message)
    try:
        await runs.finish_run(
            engine,
            report.run_id,
            status=report.status,
            processing_time=report.processing_time,
            stage_timings={k: round(v, 4) for k, v in report.stage_timings.items()},
            rows_fetched=report.total("rows_fetched"),
            bars_aggregated=report.total("bars_aggregated"),
            indicator_rows_written=report.total("indicator_rows_written"),
            patterns_detected=report.total("patterns_detected"),
            notifications_sent=report.notifications_sent,
            error_count=report.error_count,
            error_message=redact("; ".join(errors))[:4000] if errors else None,
            details={"pairs": [p.__dict__ for p in report.pairs], "dry_run": report.dry_run},
        )
    except CONNECTION_ERRORS as exc:
        log.error("cycle.record_failed", error=redact(str(exc))[:300])
