"""One system cycle (SPEC §1): lock, per-pair market data, derive, patterns, notify, record.

The cycle is the only place that wires the stages together. Each pair runs under its own lock
and error boundary: one failing pair makes the run ``partial``; the run only ``error``s when
every pair failed or the database went away. ``MAX_PROCESSING_TIME`` is checked between
steps: when it has passed, the run stops after the step in progress (status ``timeout``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import structlog

from exchange_analytics import stopping as stop
from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.errors import DatabaseUnavailable, ExchangeAnalyticsError
from exchange_analytics.pipeline import data_quality, derive, market_data
from exchange_analytics.pipeline.cycle_parts import (
    CycleOptions,
    CycleTimeout,
    Deadline,
    fetched_counts,
    lock_dir,
    read_facts,
    record_run,
    run_status,
)
from exchange_analytics.pipeline.market_data import FetchOutcome
from exchange_analytics.pipeline.metrics import write_run_metrics
from exchange_analytics.pipeline.report import CycleReport, PairReport
from exchange_analytics.providers.base import MarketDataProvider
from exchange_analytics.storage import initialization as init_store
from exchange_analytics.storage import runs
from exchange_analytics.storage.cycle_reads import PairFacts
from exchange_analytics.storage.dialect import single_writer
from exchange_analytics.storage.engine import (
    CONNECTION_ERRORS,
    Connection,
    Database,
    translate_db_error,
)
from exchange_analytics.storage.locks import LockManager
from exchange_analytics.storage.planner import refresh_planner_statistics

log = structlog.get_logger(__name__)

__all__ = ["Cycle", "CycleOptions", "CycleTimeout", "ProgressCallback"]

ProgressCallback = Callable[[str, int, int], None]


class Cycle:
    """Holds what one run shares across pairs; ``run()`` does the work."""

    def __init__(
        self,
        settings: Settings,
        options: CycleOptions,
        engine: Database,
        provider: MarketDataProvider,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.engine = engine
        self.provider = provider
        self.progress = progress
        self.now = (options.as_of or datetime.now(UTC)).astimezone(UTC)
        self.deadline = Deadline(settings.max_processing_time)
        self.locks = LockManager(engine, lock_dir(settings))
        # SQLite has one writer and aiosqlite one thread per connection: pairs deriving at
        # the same time only queue on the file lock and trade the GIL, so derive + patterns
        # take turns there (fetches still overlap). PostgreSQL runs them side by side.
        self.database_turn = asyncio.Lock() if single_writer(engine) else None
        self.report = CycleReport(
            mode=options.mode,
            provider=provider.name,
            started_at=datetime.now(UTC),
            as_of=self.now,
            dry_run=options.dry_run,
        )
        from exchange_analytics.indicators import parse_indicator_extras

        self.extras = parse_indicator_extras(settings.indicators) if settings.indicators else ()
        from exchange_analytics.patterns.thresholds import build_thresholds

        self.thresholds = build_thresholds(settings.pattern_thresholds)

    def _check_deadline(self) -> None:
        stop.check()
        if self.deadline.passed:
            raise CycleTimeout

    def _timed(self, pair_report: PairReport, stage: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        pair_report.timings[stage] = round(pair_report.timings.get(stage, 0.0) + elapsed, 4)
        self.report.stage_timings[stage] = self.report.stage_timings.get(stage, 0.0) + elapsed

    async def _process_pair(self, pair: CurrencyPair) -> PairReport:
        """One pair under its lock and error boundary (see the module docstring)."""
        name = str(pair)
        pair_report = PairReport(pair=name)
        if not await self.locks.try_acquire(f"pair:{name}"):
            pair_report.action = "skipped_locked"
            log.info("pair.skipped_locked", pair=name)
            return pair_report
        try:
            async with AsyncExitStack() as turn:  # releases the SQLite turn, if taken
                await self._pair_steps(pair, pair_report, turn)
        except (CycleTimeout, stop.StopRequested):
            raise
        except CONNECTION_ERRORS as exc:
            raise translate_db_error(self.settings, exc) from exc
        except ExchangeAnalyticsError as exc:
            pair_report.action = "error"
            pair_report.error = redact(str(exc))
            log.error("pair.failed", pair=name, error=pair_report.error, kind=type(exc).__name__)
        finally:
            await self.locks.release(f"pair:{name}")
        return pair_report

    async def _pair_steps(
        self, pair: CurrencyPair, pair_report: PairReport, turn: AsyncExitStack
    ) -> None:
        """Stages 2-6 for one pair: initialization check, fetch, feed watch, derive, patterns.

        The pair's facts (``storage.cycle_reads``) are read once, under its lock, and handed
        to the stages that used to read them one statement at a time. The facts, the
        continuous fetch and the feed watch share one connection (each connection taken from
        the pool costs round trips: a rollback on return, on PostgreSQL a ping)."""
        self._check_deadline()
        async with self.engine.connect() as conn:
            facts = await self._read_facts(conn, pair, pair_report)
            needs_backfill = self.options.force_reinitialize or not facts.initialized()
            fetched = (
                None if needs_backfill else await self._fetch_latest(conn, pair, pair_report, facts)
            )
        if fetched is None:
            fetched = await self._backfill(pair, pair_report)
        self._check_deadline()
        if self.database_turn is not None:  # SQLite: one writer; see __init__
            await turn.enter_async_context(self.database_turn)
        started = time.perf_counter()
        derived = await self._derive(pair, facts, fetched, needs_backfill)
        self._timed(pair_report, "derive", started)
        pair_report.bars_aggregated = derived.bars_aggregated
        pair_report.indicator_rows_written = derived.indicator_rows_written
        self._check_deadline()
        await self._after_derive(pair, pair_report, needs_backfill, derived.frames, facts)

    async def _read_facts(
        self, conn: Connection, pair: CurrencyPair, pair_report: PairReport
    ) -> PairFacts:
        started = time.perf_counter()
        facts = await read_facts(conn, pair, self.settings.min_bars, self.options.mode)
        self._timed(pair_report, "initialization_check", started)
        return facts

    async def _backfill(self, pair: CurrencyPair, pair_report: PairReport) -> FetchOutcome:
        """Stage 2: the initialization backfill (SPEC §3.3), then the feed watch."""
        pair_report.action = "backfill"
        started = time.perf_counter()
        fetched = await market_data.backfill(
            self.engine,
            self.provider,
            self.settings,
            pair,
            self.now,
            restart=self.options.force_reinitialize,
            progress=self.progress,
        )
        fetched_counts(pair_report, fetched)
        self._timed(pair_report, "fetch", started)
        pair_report.warning = await data_quality.watch_feed(self.engine, str(pair), self.now)
        return fetched

    async def _fetch_latest(
        self, conn: Connection, pair: CurrencyPair, pair_report: PairReport, facts: PairFacts
    ) -> FetchOutcome:
        """Stage 3: the continuous fetch with gap healing, and the feed watch (SPEC §3.5),
        which saves its state in the fetch's last transaction: what it used to read (the
        newest stored 5m bar, its state) the facts and the fetch tell it."""
        pair_report.action = "continuous"
        started = time.perf_counter()
        watch = data_quality.FeedWatch.of(str(pair), facts, self.now)
        fetched = await market_data.fetch_latest(
            conn,
            self.provider,
            self.settings,
            pair,
            self.now,
            last=facts.latest_m5,
            last_close=facts.latest_m5_close,
            watch=watch,
        )
        fetched_counts(pair_report, fetched)
        self._timed(pair_report, "fetch", started)
        await watch.settle(conn, fetched.new_m5)
        pair_report.warning = watch.message()
        return fetched

    async def _derive(
        self, pair: CurrencyPair, facts: PairFacts, fetched: FetchOutcome, backfill: bool
    ) -> derive.DeriveOutcome:
        """Stages 4-5: all history after a backfill (then the pair is complete), else only
        what the new 5m bars can change."""
        name = str(pair)
        if not backfill:
            return await derive.derive_incremental(
                self.engine,
                name,
                fetched.new_m5,
                self.settings.day_boundary,
                self.extras,
                facts=facts,
            )
        derived = await derive.derive_full(
            self.engine, name, self.settings.day_boundary, self.extras
        )
        async with self.engine.begin() as conn:
            await init_store.mark_complete(conn, name)
        return derived

    async def _after_derive(
        self,
        pair: CurrencyPair,
        pair_report: PairReport,
        backfilled: bool,
        frames: derive.FrameCache | None = None,
        facts: PairFacts | None = None,
    ) -> None:
        """Stage 6: patterns at every new closed 5m bar, detections + outbox in one commit."""
        from exchange_analytics.pipeline import notify, signals

        started = time.perf_counter()
        outcome = await signals.evaluate_new_bars(
            self.engine,
            pair=str(pair),
            now=self.now,
            day_boundary=self.settings.day_boundary,
            thresholds=self.thresholds,
            cooldown_minutes=self.settings.notify_cooldown_minutes,
            source=self.provider.name,
            is_demo=self.provider.is_demo,
            after_backfill=backfilled,
            dry_run=self.options.dry_run,
            frames=frames,
            facts=facts,
            gate=notify.PolicyGate(self.settings, self.now),  # SPEC §17 policy + track record
        )
        self._timed(pair_report, "patterns", started)
        pair_report.patterns_detected = outcome.detections
        pair_report.notifications_queued = outcome.queued
        self.report.messages.extend(outcome.messages)

    async def _after_pairs(self) -> None:
        """Stage 7: digests, follow-ups, then send pending notifications (within the deadline)."""
        from exchange_analytics.notifications.outbox import count_by_status
        from exchange_analytics.pipeline.notify import notification_stages, send_outbox

        started = time.perf_counter()
        if not self.options.dry_run:
            await notification_stages(self.engine, self.settings, self.now)
            sent = await send_outbox(self.engine, self.settings, self.now, self.deadline.at)
            self.report.notifications_sent = sent.sent + sent.recovered
        counts = await count_by_status(self.engine)
        self.report.notifications_pending = counts.get("pending", 0) + counts.get("sending", 0)
        self.report.stage_timings["notify"] = time.perf_counter() - started

    async def run(self) -> CycleReport:
        report = self.report
        run_lock = (
            "run" if self.settings.run_lock_scope == "global" else f"run:{self.settings.host_id}"
        )
        if not await self.locks.try_acquire(run_lock):
            return await self._skipped()
        started = time.perf_counter()
        try:
            report.run_id = await runs.start_run(
                self.engine,
                mode=self.options.mode,
                as_of=self.now,
                provider=self.provider.name,
                host=self.settings.host_id,
            )
            try:
                await self._pairs_then_notify()
            except stop.StopRequested as exc:
                report.status = "interrupted"
                report.error_message = str(exc)
                log.warning("cycle.interrupted", reason=str(exc))
            except CycleTimeout:
                report.status = "timeout"
                report.error_message = (
                    f"MAX_PROCESSING_TIME ({self.settings.max_processing_time:g}s) passed; "
                    "stopped after the step in progress"
                )
                log.warning(
                    "cycle.timeout", alert=True, severity="WARNING", message=report.error_message
                )
        except DatabaseUnavailable as exc:
            report.status = "error"
            report.error_message = str(exc)
            raise
        except Exception as exc:
            report.status = "error"
            report.error_message = f"internal error: {type(exc).__name__}: {redact(str(exc))[:300]}"
            raise
        except asyncio.CancelledError:
            report.status = "interrupted"
            report.error_message = "interrupted by a signal (SIGTERM/SIGINT)"
            raise
        finally:
            report.processing_time = time.perf_counter() - started
            await self._close_run()
        return report

    async def _skipped(self) -> CycleReport:
        """Another run holds the run lock: record a 'skipped' run and leave."""
        report = self.report
        report.status = "skipped"
        report.run_id = await runs.start_run(
            self.engine,
            mode=self.options.mode,
            status="skipped",
            as_of=self.now,
            provider=self.provider.name,
            host=self.settings.host_id,
        )
        await runs.finish_run(
            self.engine,
            report.run_id,
            processing_time=0.0,
            error_message="another run holds the lock",
        )
        log.info("cycle.skipped", reason="another cycle is running", run_id=report.run_id)
        await self.locks.release_all()
        return report

    async def _pairs_then_notify(self) -> None:
        """Every pair (PROVIDER_CONCURRENCY at a time), then the notification stages."""
        pairs = [
            CurrencyPair.parse(p) for p in (self.options.pairs or self.settings.currency_pairs)
        ]
        semaphore = asyncio.Semaphore(self.settings.provider_concurrency)

        async def guarded(pair: CurrencyPair) -> PairReport:
            async with semaphore:
                return await self._process_pair(pair)

        # Every pair task finishes its current step before the run goes on, so nothing is
        # still writing when the run records itself (timeout, stop, lost database).
        outcomes = await asyncio.gather(*(guarded(p) for p in pairs), return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        self.report.pairs = [o for o in outcomes if isinstance(o, PairReport)]
        if failures:
            raise failures[0]
        if any(p.action == "backfill" for p in self.report.pairs):
            await refresh_planner_statistics(self.engine)
        self._check_deadline()
        await self._after_pairs()
        self.report.status = self._status()

    async def _close_run(self) -> None:
        """Whatever happened: record the run, raise alerts, write metrics, drop the locks."""
        report = self.report
        await asyncio.shield(self._record())
        if report.status not in ("interrupted",) and not self.options.dry_run:
            await self._alerts()
        if self.settings.metrics_textfile is not None:
            await write_run_metrics(self.engine, self.settings.metrics_textfile, report)
        await self.locks.release_all()

    async def _alerts(self) -> None:
        """Stage 8: alert rules over the recorded runs; alerts go out through the outbox."""
        from exchange_analytics.pipeline.alerts import raise_alerts
        from exchange_analytics.pipeline.notify import send_outbox

        try:
            if await raise_alerts(self.engine, self.settings, self.now):
                sent = await send_outbox(
                    self.engine, self.settings, self.now, time.monotonic() + 30.0
                )
                self.report.notifications_sent += sent.sent
        except CONNECTION_ERRORS as exc:
            log.error("alerts.failed", error=redact(str(exc))[:300])

    def _status(self) -> str:
        return run_status(self.report.pairs)

    async def _record(self) -> None:
        await record_run(self.engine, self.report)
