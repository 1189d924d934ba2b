"""What the dashboard (SPEC §18) reads, and the read-only engine it reads it through.

Every function here is bounded: a ``limit`` (or a fixed small result such as one row per pair)
goes into the SQL, so no page can turn into an unbounded read of ``price_data`` or
``technical_indicators`` however much history is stored. Rows come back as plain dicts typed
by ``dashboard_rows`` (TypedDicts) and tuples, so ``web/`` never touches SQLAlchemy.

Read-only is enforced by the database, not by convention: SQLite is opened with a
``mode=ro`` URI (plus ``PRAGMA query_only``), PostgreSQL sessions start with
``default_transaction_read_only`` on. A bug in the dashboard can then fail, but never write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import event, func, inspect, select
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import Timeframe
from exchange_analytics.errors import DatabaseUnavailable
from exchange_analytics.storage.dashboard_rows import (
    ActiveAlertRow,
    CandleRow,
    DetectionRow,
    HighLowRow,
    IndicatorRow,
    OpenNotificationRow,
    PairLastBar,
    RunRow,
    TrackRecordRow,
)
from exchange_analytics.storage.engine import CONNECTION_ERRORS, translate_db_error
from exchange_analytics.storage.models import (
    AlertState,
    Notification,
    PairInitialization,
    PatternDetection,
    PatternTrackRecord,
    PriceData,
    ProcessingRun,
    TechnicalIndicator,
)
from exchange_analytics.storage.typed_rows import columns_of, typed_rows

_PRICES = PriceData.__table__.c
_INDICATORS = TechnicalIndicator.__table__.c
_DETECTIONS = PatternDetection.__table__.c
_RUNS = ProcessingRun.__table__.c
_NOTES = Notification.__table__.c
_ALERTS = AlertState.__table__.c
_INIT = PairInitialization.__table__.c
#: The indicators the pair page draws (Bollinger Bands, RSI, MACD panels).
CHART_INDICATORS = ("BB", "RSI", "MACD")
TRACK_RECORD_TABLE = "pattern_track_records"


def read_only_engine(settings: Settings) -> AsyncEngine:
    """An engine that cannot write: the database refuses it, whatever the code asks."""
    if settings.is_sqlite:
        path = settings.sqlite_path
        if path is None:  # an in-memory database has nothing to show
            raise ValueError("the dashboard needs a SQLite file, not an in-memory database")
        url = f"sqlite+aiosqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
        engine = create_async_engine(url, connect_args={"timeout": 5})

        @event.listens_for(engine.sync_engine, "connect")
        def _query_only(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=1")
            cursor.close()

        return engine
    connect_args = settings.database_connect_args.copy()
    connect_args.setdefault("timeout", 5)
    connect_args["server_settings"] = {
        **connect_args.get("server_settings", {}),
        "application_name": "exchange-analytics-dashboard",
        "default_transaction_read_only": "on",
        "statement_timeout": "10000",
    }
    return create_async_engine(settings.database_url, connect_args=connect_args, pool_pre_ping=True)


class DashboardStore:
    """The dashboard's one engine (read-only) and the connections it hands out.

    Any connection error inside ``connect()`` (server down, file missing, query failing on a
    lost connection) becomes ``DatabaseUnavailable`` with the operator's one-line reason.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = read_only_engine(settings)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        path = self.settings.sqlite_path
        if path is not None and not path.exists():
            # Said before connecting: a refused aiosqlite connect leaves its thread behind.
            raise DatabaseUnavailable(
                f"SQLite database {path} does not exist: run `exchange-analytics db upgrade` "
                "(or set DATABASE_URL)"
            )
        try:
            async with self.engine.connect() as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise translate_db_error(self.settings, exc) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


async def is_read_only(conn: AsyncConnection) -> bool:
    """What the database itself says about this session (shown in /api/health)."""
    if conn.dialect.name == "sqlite":
        return bool((await conn.exec_driver_sql("PRAGMA query_only")).scalar())
    return (await conn.exec_driver_sql("SHOW transaction_read_only")).scalar() == "on"


async def known_pairs(conn: AsyncConnection, configured: tuple[str, ...]) -> list[str]:
    """Configured pairs first, then any pair initialized in this database (at most 200)."""
    stored = (
        await conn.execute(select(_INIT.currency_pair).order_by(_INIT.currency_pair).limit(200))
    ).scalars()
    return list(dict.fromkeys([*configured, *stored]))


async def last_bars(conn: AsyncConnection, pairs: list[str]) -> dict[str, PairLastBar]:
    """Newest 5m bar and initialization status per pair (one indexed lookup per pair)."""
    states = dict(
        (
            await conn.execute(
                select(_INIT.currency_pair, _INIT.status).where(_INIT.currency_pair.in_(pairs))
            )
        )
        .tuples()
        .all()
    )
    found: dict[str, PairLastBar] = {}
    for pair in pairs:
        row = (
            await conn.execute(
                select(_PRICES.timestamp, _PRICES.close)
                .where(_PRICES.currency_pair == pair, _PRICES.timeframe == Timeframe.M5.value)
                .order_by(_PRICES.timestamp.desc())
                .limit(1)
            )
        ).first()
        found[pair] = PairLastBar(
            last_bar=None if row is None else row.timestamp,
            last_close=None if row is None else row.close,
            initialization=states.get(pair),
        )
    return found


async def candles(
    conn: AsyncConnection,
    pair: str,
    timeframe: Timeframe,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[CandleRow]:
    """The newest ``limit`` bars in [start, end], oldest first (time, o, h, l, c, complete)."""
    query = select(
        _PRICES.timestamp,
        _PRICES.open,
        _PRICES.high,
        _PRICES.low,
        _PRICES.close,
        _PRICES.is_complete,
    ).where(_PRICES.currency_pair == pair, _PRICES.timeframe == timeframe.value)
    if start is not None:
        query = query.where(_PRICES.timestamp >= start)
    if end is not None:
        query = query.where(_PRICES.timestamp <= end)
    rows = (await conn.execute(query.order_by(_PRICES.timestamp.desc()).limit(limit))).all()
    return [
        (r.timestamp, r.open, r.high, r.low, r.close, bool(r.is_complete)) for r in reversed(rows)
    ]


async def indicator_rows(
    conn: AsyncConnection,
    pair: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[IndicatorRow]:
    """BB/RSI/MACD rows for the bars being drawn: (time, type, value, additional_data)."""
    rows = await conn.execute(
        select(
            _INDICATORS.timestamp,
            _INDICATORS.indicator_type,
            _INDICATORS.value,
            _INDICATORS.additional_data,
        )
        .where(
            _INDICATORS.currency_pair == pair,
            _INDICATORS.timeframe == timeframe.value,
            _INDICATORS.indicator_type.in_(CHART_INDICATORS),
            _INDICATORS.timestamp >= start,
            _INDICATORS.timestamp <= end,
        )
        .order_by(_INDICATORS.timestamp)
        .limit(limit * len(CHART_INDICATORS))
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


@dataclass(frozen=True)
class DetectionFilter:
    """What the signals table and /api/detections filter on; ``None`` means any."""

    pair: str
    start: datetime | None = None
    end: datetime | None = None
    pattern: str | None = None
    direction: str | None = None
    signals_only: bool = False


async def detections(
    conn: AsyncConnection, where: DetectionFilter, limit: int, offset: int = 0
) -> list[DetectionRow]:
    """Detections matching ``where``, newest first, one page of at most ``limit``."""
    d = _DETECTIONS
    query = select(*columns_of(PatternDetection.__table__, DetectionRow)).where(
        d.currency_pair == where.pair
    )
    if where.start is not None:
        query = query.where(d.bar_timestamp >= where.start)
    if where.end is not None:
        query = query.where(d.bar_timestamp <= where.end)
    if where.pattern is not None:
        query = query.where(d.pattern_type == where.pattern)
    if where.direction is not None:
        query = query.where(d.direction == where.direction)
    if where.signals_only:
        query = query.where(d.notify_decision == "new")
    query = query.order_by(d.bar_timestamp.desc(), d.id.desc()).limit(limit).offset(offset)
    return typed_rows((await conn.execute(query)).mappings(), DetectionRow)


async def pattern_names(conn: AsyncConnection, pair: str) -> list[str]:
    """Distinct pattern types stored for a pair (the filter's choices; six at most)."""
    rows = await conn.execute(
        select(_DETECTIONS.pattern_type)
        .where(_DETECTIONS.currency_pair == pair)
        .group_by(_DETECTIONS.pattern_type)
        .order_by(_DETECTIONS.pattern_type)
        .limit(50)
    )
    return list(rows.scalars())


async def highs_lows_after(
    conn: AsyncConnection, pair: str, after: datetime, until: datetime, limit: int
) -> list[HighLowRow]:
    """5m (time, high, low) in (after, until], for signal outcomes; at most ``limit`` rows."""
    rows = await conn.execute(
        select(_PRICES.timestamp, _PRICES.high, _PRICES.low)
        .where(
            _PRICES.currency_pair == pair,
            _PRICES.timeframe == Timeframe.M5.value,
            _PRICES.timestamp > after,
            _PRICES.timestamp <= until,
        )
        .order_by(_PRICES.timestamp)
        .limit(limit)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def recent_runs(conn: AsyncConnection, limit: int) -> list[RunRow]:
    """The newest ``limit`` runs, newest first (no ``details``: it can be large)."""
    rows = await conn.execute(
        select(*columns_of(ProcessingRun.__table__, RunRow))
        .order_by(_RUNS.started_at.desc(), _RUNS.id.desc())
        .limit(limit)
    )
    return typed_rows(rows.mappings(), RunRow)


async def notification_counts(conn: AsyncConnection) -> dict[str, int]:
    """Rows per outbox status (a handful of statuses, one grouped count)."""
    rows = await conn.execute(select(_NOTES.status, func.count()).group_by(_NOTES.status))
    return {str(status): int(count) for status, count in rows}


async def open_notifications(conn: AsyncConnection, limit: int) -> list[OpenNotificationRow]:
    """Pending, sending and failed messages, newest first (no payload: it is the message)."""
    rows = await conn.execute(
        select(*columns_of(Notification.__table__, OpenNotificationRow))
        .where(_NOTES.status.in_(("pending", "sending", "failed")))
        .order_by(_NOTES.id.desc())
        .limit(limit)
    )
    return typed_rows(rows.mappings(), OpenNotificationRow)


async def active_alerts(conn: AsyncConnection, limit: int) -> list[ActiveAlertRow]:
    """Alerts currently raised, most severe first."""
    rows = await conn.execute(
        select(*columns_of(AlertState.__table__, ActiveAlertRow))
        .where(_ALERTS.active.is_(True))
        .order_by(_ALERTS.severity, _ALERTS.first_raised_at)
        .limit(limit)
    )
    return typed_rows(rows.mappings(), ActiveAlertRow)


async def has_track_records(conn: AsyncConnection) -> bool:
    """Whether migration 0003's ``pattern_track_records`` exists in this database."""
    return bool(await conn.run_sync(lambda sync: inspect(sync).has_table(TRACK_RECORD_TABLE)))


#: The §16 record's columns the patterns page shows (migration 0003); others are ignored.
TRACK_RECORD_COLUMNS = tuple(TrackRecordRow.__annotations__)


async def track_records(
    conn: AsyncConnection, pair: str | None, limit: int
) -> list[TrackRecordRow] | None:
    """Stored §16 records ordered by pair, pattern, direction, window; None if the table
    (migration 0003) is absent from this database, so the page can say so instead of failing.
    Each row goes to the patterns page and ``/api/patterns/record`` (``shaping.record_row``).
    """
    if not await has_track_records(conn):
        return None
    table = PatternTrackRecord.__table__
    query = select(*columns_of(table, TrackRecordRow))
    if pair is not None:
        query = query.where(table.c.currency_pair == pair)
    query = query.order_by(
        table.c.currency_pair, table.c.pattern_type, table.c.direction, table.c.window_days
    ).limit(limit)
    return typed_rows((await conn.execute(query)).mappings(), TrackRecordRow)
