"""The health check's only I/O: read the facts that ``checks.evaluate`` judges.

Budgets, because ``exchange-analytics health`` must answer within about a second even when
something is down: the provider gets one light GET with a 3 s budget (demo and csv need no
network), the database 5 s for everything (connect, ``SELECT 1``, the revision, the reads).
The database and the provider are checked concurrently. httpx is imported only when a real
provider is configured (its import pulls in ~100 ms of CLI dependencies).

A missing SQLite file is reported, not created: ``health`` must not leave an empty database
behind that the next ``db upgrade`` would then have to explain.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.health.checks import HealthThresholds, evaluate
from exchange_analytics.health.facts import (
    DatabaseFacts,
    HealthFacts,
    NotificationFacts,
    PairFacts,
    ProviderFacts,
    RunFacts,
)
from exchange_analytics.health.host import disk_facts, env_file_facts, memory_facts
from exchange_analytics.health.notify_policy import NotifyPolicyFacts, read_notify_policy
from exchange_analytics.health.runstats import RunRecord
from exchange_analytics.health.verdict import HealthReport
from exchange_analytics.storage import bar_checks, run_history
from exchange_analytics.storage.dialect import dialect_name
from exchange_analytics.storage.engine import (
    CONNECTION_ERRORS,
    Connection,
    Database,
    build_engine,
    describe_database,
    translate_db_error,
)
from exchange_analytics.storage.outbox_state import outbox_state
from exchange_analytics.storage.schema import current_revision, head_revision
from exchange_analytics.storage.stats_queries import (
    initialization_states,
    latest_bar_times,
    round_trip_ms,
)

log = structlog.get_logger(__name__)

PROVIDER_BUDGET_S = 3.0
DATABASE_BUDGET_S = 5.0
RUN_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class DatabaseSections:
    pairs: tuple[PairFacts, ...]
    runs: RunFacts
    notifications: NotificationFacts
    notify_policy: NotifyPolicyFacts | None = None


async def check_health(
    settings: Settings, now: datetime, *, started: float | None = None
) -> HealthReport:
    """Gather every fact and evaluate it; ``started`` (perf_counter) times the whole check."""
    started = time.perf_counter() if started is None else started
    facts = await gather_facts(settings, now)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return evaluate(facts, HealthThresholds.from_settings(settings), elapsed_ms)


async def gather_facts(
    settings: Settings,
    now: datetime,
    *,
    provider_budget: float = PROVIDER_BUDGET_S,
    database_budget: float = DATABASE_BUDGET_S,
) -> HealthFacts:
    (database, sections, unread), provider = await asyncio.gather(
        database_facts(settings, now, database_budget),
        provider_facts(settings, provider_budget),
    )
    return HealthFacts(
        now=now,
        database=database,
        provider=provider,
        disks=disk_facts(settings),
        memory=memory_facts(),
        env_file=env_file_facts(settings.env_file),
        pairs=None if sections is None else sections.pairs,
        runs=None if sections is None else sections.runs,
        notifications=None if sections is None else sections.notifications,
        notify_policy=None if sections is None else sections.notify_policy,
        unread_reason=unread,
        pair_names=settings.currency_pairs,
    )


async def database_facts(
    settings: Settings, now: datetime, budget: float = DATABASE_BUDGET_S
) -> tuple[DatabaseFacts, DatabaseSections | None, str | None]:
    """Reachability, latency and revision; then the sections the pipeline checks read."""
    target = describe_database(settings)
    dialect = "sqlite" if settings.is_sqlite else "postgresql"
    head = head_revision()
    path = settings.sqlite_path
    if path is not None and not path.exists():
        error = f"database file {path} does not exist: run `exchange-analytics db upgrade`"
        return DatabaseFacts(target, dialect, False, error, head=head), None, "no database yet"
    if not settings.is_sqlite:
        connect_args = {**settings.database_connect_args, "timeout": min(budget, 10.0)}
        settings = settings.with_overrides(database_connect_args=connect_args)
    engine = build_engine(settings)
    try:
        return await asyncio.wait_for(_read_database(engine, settings, now, head), budget)
    except TimeoutError:
        error = f"database at {target} did not answer within {budget:g} s"
        return DatabaseFacts(target, dialect, False, error, head=head), None, "database timeout"
    except CONNECTION_ERRORS as exc:
        error = str(translate_db_error(settings, exc))
        return DatabaseFacts(target, dialect, False, error, head=head), None, "database down"
    finally:
        await engine.dispose()


async def _read_database(
    engine: Database, settings: Settings, now: datetime, head: str
) -> tuple[DatabaseFacts, DatabaseSections | None, str | None]:
    target = describe_database(settings)
    dialect = dialect_name(engine)
    async with engine.connect() as conn:
        latency_ms = await round_trip_ms(conn)
    revision = await current_revision(engine)
    facts = DatabaseFacts(
        target, dialect, True, latency_ms=latency_ms, revision=revision, head=head
    )
    if revision is None:
        return facts, None, "the schema has not been created"
    try:
        async with engine.connect() as conn:
            sections = DatabaseSections(
                pairs=await read_pairs(conn, settings.currency_pairs),
                runs=await read_runs(conn, now, settings.max_error_count),
                notifications=await read_notifications(
                    conn, now, enabled=settings.notifications_enabled
                ),
                notify_policy=await read_notify_policy(conn, settings),
            )
    except CONNECTION_ERRORS as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = f"reading the tables failed: {redact(str(cause).strip())[:200]}"
        log.warning("health.read_failed", error=reason)
        return facts, None, reason
    return facts, sections, None


async def read_pairs(conn: Connection, pairs: tuple[str, ...]) -> tuple[PairFacts, ...]:
    """Newest 5m bar per pair (served by the unique (pair, timeframe, timestamp) index)."""
    states = await initialization_states(conn)
    latest = await latest_bar_times(conn, pairs)
    quality = await bar_checks.pair_quality(conn, pairs)  # future bars, stuck feeds (SPEC §3.5)
    return tuple(PairFacts(pair, latest[pair], states.get(pair), **quality[pair]) for pair in pairs)


async def load_runs_since(conn: Connection, since: datetime) -> list[RunRecord]:
    """Runs started at or after ``since``, oldest first (for health and the alert rules)."""
    return [RunRecord.from_mapping(r) for r in await run_history.runs_between(conn, since)]


async def load_latest_runs(conn: Connection, limit: int) -> list[RunRecord]:
    """The newest ``limit`` runs whatever their age, newest first (failure streaks)."""
    return [RunRecord.from_mapping(r) for r in await run_history.latest_runs(conn, limit)]


async def read_runs(conn: Connection, now: datetime, max_error_count: int) -> RunFacts:
    recent = await load_runs_since(conn, now - RUN_WINDOW)
    latest = await load_latest_runs(conn, max_error_count + 20)
    completed = await run_history.last_completed_run(conn)
    return RunFacts(
        recent=tuple(recent),
        latest=tuple(latest),
        last_completed=None if completed is None else RunRecord.from_mapping(completed),
        first_started_at=await run_history.first_run_started_at(conn),
    )


async def read_notifications(
    conn: Connection, now: datetime, *, enabled: bool
) -> NotificationFacts:
    state = await outbox_state(conn, since=now - RUN_WINDOW)
    return NotificationFacts(
        enabled=enabled,
        pending=state.pending,
        sending=state.sending,
        failed_total=state.failed_total,
        failed_recent=state.failed_since,
        oldest_pending_at=state.oldest_pending_at,
        oldest_claim_at=state.oldest_claim_at,
        last_failure_error=state.last_failure_error,
        last_failure_at=state.last_failure_at,
        last_retry_error=state.last_retry_error,
    )


async def provider_facts(settings: Settings, budget: float = PROVIDER_BUDGET_S) -> ProviderFacts:
    """One light GET of the newest 5m candle of the first pair (demo/csv: nothing to reach)."""
    name = settings.market_data_provider
    if name not in ("yahoo", "oanda"):
        return ProviderFacts(name, checked=False, reachable=True)
    import httpx

    from exchange_analytics.providers.http import build_client, redact_url

    pair = CurrencyPair.parse(settings.currency_pairs[0])
    headers = {"Accept": "application/json"}
    if name == "yahoo":
        from exchange_analytics.providers.yahoo import USER_AGENT

        url = f"{settings.yahoo_base_url}/v8/finance/chart/{pair.yahoo_symbol}"
        params = {"interval": "5m", "range": "1d"}
        headers["User-Agent"] = USER_AGENT
    else:
        url = f"{settings.oanda_base_url}/v3/instruments/{pair.oanda_instrument}/candles"
        params = {"granularity": "M5", "count": "1", "price": "M"}
        headers["Authorization"] = f"Bearer {settings.oanda_api_token or ''}"
    shown = redact(url)
    started = time.perf_counter()
    async with build_client(timeout=httpx.Timeout(budget), headers=headers) as client:
        try:
            response = await asyncio.wait_for(client.get(url, params=params), budget)
        except (httpx.HTTPError, TimeoutError) as exc:
            reason = redact(str(exc).strip()) or f"no answer within {budget:g} s"
            error = f"{type(exc).__name__}: {reason[:200]}"
            return ProviderFacts(name, True, False, error=error, url=shown)
    latency = (time.perf_counter() - started) * 1000
    code = response.status_code
    return ProviderFacts(
        name,
        checked=True,
        reachable=200 <= code < 300,
        status_code=code,
        latency_ms=latency,
        url=redact_url(response.request.url),
    )
