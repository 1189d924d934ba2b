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
from typing import Any

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
from exchange_analytics.health.runstats import RunRecord
from exchange_analytics.health.verdict import HealthReport
from exchange_analytics.storage.engine import (
    CONNECTION_ERRORS,
    build_engine,
    describe_database,
    translate_db_error,
)
from exchange_analytics.storage.models import (
    Notification,
    PairInitialization,
    PriceData,
    ProcessingRun,
)
from exchange_analytics.storage.schema import current_revision, head_revision

log = structlog.get_logger(__name__)

PROVIDER_BUDGET_S = 3.0
DATABASE_BUDGET_S = 5.0
RUN_WINDOW = timedelta(hours=24)
_PRICES = PriceData.__table__
_RUNS = ProcessingRun.__table__
_NOTES = Notification.__table__
_INIT = PairInitialization.__table__
_RUN_COLUMNS = [_RUNS.c[name] for name in RunRecord.__dataclass_fields__]


@dataclass(frozen=True)
class DatabaseSections:
    pairs: tuple[PairFacts, ...]
    runs: RunFacts
    notifications: NotificationFacts


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
    engine: AsyncEngine, settings: Settings, now: datetime, head: str
) -> tuple[DatabaseFacts, DatabaseSections | None, str | None]:
    target = describe_database(settings)
    dialect = engine.dialect.name
    async with engine.connect() as conn:
        started = time.perf_counter()
        await conn.execute(text("SELECT 1"))
        latency_ms = (time.perf_counter() - started) * 1000
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
            )
    except CONNECTION_ERRORS as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = f"reading the tables failed: {redact(str(cause).strip())[:200]}"
        log.warning("health.read_failed", error=reason)
        return facts, None, reason
    return facts, sections, None


async def read_pairs(conn: AsyncConnection, pairs: tuple[str, ...]) -> tuple[PairFacts, ...]:
    """Newest 5m bar per pair (served by the unique (pair, timeframe, timestamp) index)."""
    states = dict(
        (await conn.execute(select(_INIT.c.currency_pair, _INIT.c.status))).tuples().all()
    )
    found = []
    for pair in pairs:
        latest = (
            await conn.execute(
                select(func.max(_PRICES.c.timestamp)).where(
                    _PRICES.c.currency_pair == pair, _PRICES.c.timeframe == "5m"
                )
            )
        ).scalar()
        found.append(PairFacts(pair, latest, states.get(pair)))
    return tuple(found)


async def load_runs_since(conn: AsyncConnection, since: datetime) -> list[RunRecord]:
    """Runs started at or after ``since``, oldest first (for health and the alert rules)."""
    rows = await conn.execute(
        select(*_RUN_COLUMNS).where(_RUNS.c.started_at >= since).order_by(_RUNS.c.started_at)
    )
    return [RunRecord.from_mapping(r) for r in rows.mappings()]


async def load_latest_runs(conn: AsyncConnection, limit: int) -> list[RunRecord]:
    """The newest ``limit`` runs whatever their age, newest first (failure streaks)."""
    rows = await conn.execute(
        select(*_RUN_COLUMNS).order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc()).limit(limit)
    )
    return [RunRecord.from_mapping(r) for r in rows.mappings()]


async def read_runs(conn: AsyncConnection, now: datetime, max_error_count: int) -> RunFacts:
    recent = await load_runs_since(conn, now - RUN_WINDOW)
    latest = await load_latest_runs(conn, max_error_count + 20)
    completed = (
        (
            await conn.execute(
                select(*_RUN_COLUMNS)
                .where(_RUNS.c.status.in_(("success", "partial")))
                .order_by(_RUNS.c.started_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    first = (await conn.execute(select(func.min(_RUNS.c.started_at)))).scalar()
    return RunFacts(
        recent=tuple(recent),
        latest=tuple(latest),
        last_completed=None if completed is None else RunRecord.from_mapping(completed),
        first_started_at=first,
    )


async def read_notifications(
    conn: AsyncConnection, now: datetime, *, enabled: bool
) -> NotificationFacts:
    c = _NOTES.c
    grouped = await conn.execute(
        select(c.status, func.count(), func.min(c.created_at), func.min(c.claimed_at))
        .where(c.status.in_(("pending", "sending", "failed")))
        .group_by(c.status)
    )
    by_status: dict[str, tuple[int, Any, Any]] = {
        row[0]: (int(row[1]), row[2], row[3]) for row in grouped
    }
    failed_recent = (
        await conn.execute(
            select(func.count()).where(c.status == "failed", c.created_at >= now - RUN_WINDOW)
        )
    ).scalar_one()
    last_failed = (
        await conn.execute(
            select(c.last_error, func.coalesce(c.claimed_at, c.created_at))
            .where(c.status == "failed")
            .order_by(c.id.desc())
            .limit(1)
        )
    ).first()
    retry_error = (
        await conn.execute(
            select(c.last_error)
            .where(c.status == "pending", c.last_error.is_not(None))
            .order_by(c.id.desc())
            .limit(1)
        )
    ).scalar()
    pending = by_status.get("pending", (0, None, None))
    sending = by_status.get("sending", (0, None, None))
    return NotificationFacts(
        enabled=enabled,
        pending=pending[0],
        sending=sending[0],
        failed_total=by_status.get("failed", (0, None, None))[0],
        failed_recent=int(failed_recent),
        oldest_pending_at=pending[1],
        oldest_claim_at=sending[2],
        last_failure_error=None if last_failed is None else last_failed[0],
        last_failure_at=None if last_failed is None else last_failed[1],
        last_retry_error=retry_error,
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
