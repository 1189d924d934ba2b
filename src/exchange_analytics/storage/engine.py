"""The engine, built once per process and passed in; database errors translated for operators."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings
from exchange_analytics.errors import ConfigurationError, DatabaseUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000

#: The names code outside storage/ uses when it passes the database around: it holds an engine
#: or a connection and hands it to storage functions, and never imports SQLAlchemy itself.
Database = AsyncEngine
Connection = AsyncConnection


def build_engine(settings: Settings, **kwargs: object) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL and a busy timeout for concurrent cron jobs.

    ``kwargs`` pass through to ``create_async_engine`` (pool options and the like).
    """
    if settings.is_sqlite:
        path = settings.sqlite_path
        if path is not None and not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"DATABASE_URL: cannot create directory {path.parent}: {exc.strerror}"
                ) from exc
        kwargs.setdefault("pool_reset_on_return", None)  # _sqlite_reset does it, when needed
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        event.listen(engine.sync_engine, "reset", _sqlite_reset)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(
            dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
        ) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args = dict(settings.database_connect_args)
    connect_args.setdefault("timeout", 10)
    connect_args.setdefault("server_settings", {"application_name": "exchange-analytics"})
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(settings.database_url, connect_args=connect_args, **kwargs)


def _sqlite_reset(
    dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, state: PoolResetState
) -> None:
    """The pool's rollback-on-return, skipped when the connection holds no transaction.

    On aiosqlite a rollback is a round trip to the driver's thread even when there is nothing
    to roll back, and most connections come back committed (``engine.begin()``). sqlite3's
    own rollback does nothing without a transaction, so skipping it changes nothing else."""
    if not state.asyncio_safe or state.transaction_was_reset:
        return  # as the pool's own reset: no awaiting here / the Connection already did it
    if getattr(record.driver_connection, "in_transaction", True):
        dbapi_connection.rollback()


def describe_database(settings: Settings) -> str:
    """host:port/database (PostgreSQL) or the file path (SQLite); never the password."""
    if settings.is_sqlite:
        return str(settings.sqlite_path)
    parts = urlsplit(settings.database_url)
    return f"{parts.hostname}:{parts.port or 5432}/{parts.path.lstrip('/')}"


def translate_db_error(settings: Settings, exc: BaseException) -> DatabaseUnavailable:
    """One line an operator can act on: which database, what went wrong, password hidden."""
    reason = _root_reason(exc)
    if settings.is_sqlite and settings.sqlite_path is not None:
        folder = settings.sqlite_path.parent
        return DatabaseUnavailable(
            f"cannot use SQLite database {settings.sqlite_path}: {redact(reason)} "
            f"(check that {folder} exists and is writable by this user, or set DATABASE_URL)"
        )
    return DatabaseUnavailable(
        f"database unreachable at {describe_database(settings)}: {redact(reason)} "
        "(check DATABASE_URL and that the server is running)"
    )


def _root_reason(exc: BaseException) -> str:
    seen: set[int] = set()
    current: BaseException | None = exc
    last = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        last = current
        current = current.__cause__ or current.__context__
    if isinstance(last, DBAPIError) and last.orig is not None:
        last = last.orig
    text_ = str(last).strip().splitlines()[0] if str(last).strip() else type(last).__name__
    if isinstance(last, ConnectionRefusedError | socket.gaierror | TimeoutError | OSError):
        text_ = f"{type(last).__name__}: {text_}"
    return text_[:300]


CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DBAPIError,
    OSError,
    TimeoutError,
)


async def ping(engine: AsyncEngine, settings: Settings) -> None:
    """``SELECT 1`` or DatabaseUnavailable."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except CONNECTION_ERRORS as exc:
        raise translate_db_error(settings, exc) from exc
