"""Everything that differs between PostgreSQL and SQLite: upserts and bulk loads, and for the
operations reports and the health check: elapsed seconds, server version, VACUUM,
maintenance statistics. No other module compares dialect names (``storage.sizes`` asks
``is_postgresql`` which catalog to read).

Upserts carry a ``WHERE`` that skips rows whose values did not change, and ``RETURNING`` the
rows actually written, so a steady-state cycle writes (and counts) only new or changed rows.
Bulk writes (``bulk_upsert``) keep those semantics on each engine's fast path:
``storage.bulk_sqlite`` (the sqlite3 connection's ``executemany``) and
``storage.bulk_postgres`` (asyncpg binary COPY).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    SQLColumnExpression,
    Table,
    Text,
    case,
    cast,
    func,
    literal,
    or_,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import KeyedColumnElement

from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.storage.bulk_postgres import copy_records, copy_upsert_postgres
from exchange_analytics.storage.bulk_sqlite import (
    bind_processor,
    executemany_upsert_sqlite,
    sqlite_datetime,
)

__all__ = [
    "bind_processor",
    "bulk_upsert",
    "copy_upsert_postgres",
    "dialect_insert",
    "dialect_name",
    "executemany_upsert_sqlite",
    "is_postgresql",
    "json_keys_set",
    "maintenance_stats",
    "seconds_between",
    "server_version",
    "single_writer",
    "upsert",
    "vacuum",
]

#: The old private names, still read by the tests of the SQLite bulk path.
_sqlite_datetime = sqlite_datetime

#: A row to write: column name -> Python value (a TypedDict row fits).
Row = Mapping[str, object]
#: ``excluded`` of an ``INSERT ... ON CONFLICT`` (the row that was proposed).
Excluded = ReadOnlyColumnCollection[str, KeyedColumnElement[object]]
if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

    #: A dialect's own INSERT (both have ``on_conflict_do_nothing`` and ``returning``).
    DialectInsert: TypeAlias = postgresql.Insert | sqlite.Insert
#: Rows written below this size go through ``upsert``; larger ones through the bulk paths.
COPY_THRESHOLD = 500


def _dialect_name(conn: AsyncConnection | AsyncSession) -> str:
    bind = conn.get_bind() if isinstance(conn, AsyncSession) else conn
    return str(bind.dialect.name)


def _changed(
    table: Table, excluded: Excluded, columns: Sequence[str], dialect: str
) -> ColumnElement[bool]:
    clauses = []
    for name in columns:
        column = table.c[name]
        new = excluded[name]
        clauses.append(
            column.is_distinct_from(new) if dialect == "postgresql" else column.is_not(new)
        )
    return or_(*clauses)


@lru_cache(maxsize=64)
def _upsert_statement(
    table: Table,
    key: tuple[str, ...],
    compare: tuple[str, ...],
    also_set: tuple[str, ...],
    dialect: str,
) -> ReturningInsert[tuple[object]]:
    """The upsert statement, built once per table, columns and dialect: building it (the
    ``excluded`` alias of every column) cost more than running it for a cycle's few rows."""
    updated = (*compare, *also_set)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(table)
        return pg.on_conflict_do_update(
            index_elements=list(key),
            set_={name: pg.excluded[name] for name in updated},
            where=_changed(table, pg.excluded, compare, dialect),
        ).returning(table.c[key[0]])
    lite = sqlite.insert(table)
    return lite.on_conflict_do_update(
        index_elements=list(key),
        set_={name: lite.excluded[name] for name in updated},
        where=_changed(table, lite.excluded, compare, dialect),
    ).returning(table.c[key[0]])


async def upsert(
    conn: AsyncConnection | AsyncSession,
    table: Table,
    rows: Sequence[Row],
    *,
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str] = (),
) -> int:
    """Insert ``rows`` or update those whose ``compare`` columns changed; returns rows written.

    ``also_set`` columns (e.g. ``updated_at``) are written with an update but never trigger one.
    """
    if not rows:
        return 0
    dialect = _dialect_name(conn)
    stmt = _upsert_statement(table, tuple(key), tuple(compare), tuple(also_set), dialect)
    # executemany of one cached statement: SQLAlchemy batches it ("insertmanyvalues") and
    # RETURNING yields only the rows actually inserted or updated.
    result = await conn.execute(stmt, list(rows))
    return len(result.fetchall())


async def bulk_upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Row],
    *,
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str] = (),
    copy_threshold: int = COPY_THRESHOLD,
    stamps: Mapping[str, object] | None = None,
) -> int:
    """``upsert`` by the fastest correct path: the sqlite3 connection's own ``executemany`` on
    SQLite, binary COPY on PostgreSQL for batches of ``copy_threshold`` rows or more, else the
    SQLAlchemy upsert. Same rows written, same count returned, whichever path.

    ``stamps``: columns with one value for every row (``created_at``, ``updated_at``), written
    as if merged into each row (they win over a row's own value) without copying the rows."""
    if not rows:
        return 0
    if conn.dialect.name == "sqlite":
        return await executemany_upsert_sqlite(
            conn, table, rows, key=key, compare=compare, also_set=also_set, stamps=stamps
        )
    if conn.dialect.name == "postgresql" and len(rows) >= copy_threshold:
        columns = [name for name in rows[0] if not stamps or name not in stamps]
        records = copy_records(table, columns, rows, stamps)
        columns += stamps or {}
        return await copy_upsert_postgres(
            conn, table, columns, records, key=key, compare=compare, also_set=also_set
        )
    if stamps:
        rows = [{**row, **stamps} for row in rows]
    return await upsert(conn, table, rows, key=key, compare=compare, also_set=also_set)


def _typed_value(value: str | int | None) -> SQLColumnExpression[object]:
    """``value`` cast to its SQL type: asyncpg cannot infer the type of a variadic's argument."""
    if isinstance(value, int):
        as_integer = cast(literal(value, Integer), Integer)
        return as_integer
    as_text = cast(literal(value, Text), Text)
    return as_text


def json_keys_set(
    conn: AsyncConnection,
    column: ColumnElement[JSONValue],
    values: Mapping[str, str | int | None],
) -> ColumnElement[JSONValue]:
    """SQL for ``column`` (a JSON object) with the top-level keys of ``values`` set, for a
    single ``UPDATE ... SET column = <this>``: no read of the row first. A NULL or non-object
    value becomes ``{}``. SQLite: ``json_set``; PostgreSQL: ``jsonb ||
    jsonb_build_object(...)`` (each value typed, since asyncpg cannot infer a variadic's)."""
    if is_postgresql(conn):
        from sqlalchemy.dialects.postgresql import JSONB

        base = case(
            (func.jsonb_typeof(column) == "object", column), else_=cast(literal("{}"), JSONB)
        )
        pairs: list[SQLColumnExpression[object]] = []
        for key, value in values.items():
            pairs += [literal(key, Text), _typed_value(value)]
        return base.op("||")(func.jsonb_build_object(*pairs))
    base = case((func.json_type(column) == "object", column), else_=literal("{}"))
    paths: list[SQLColumnExpression[object]] = []
    for key, value in values.items():
        paths += [literal(f'$."{key}"'), literal(value)]
    return func.json_set(base, *paths)


# --- the operations reports and the health check: what differs by engine -------------------


def dialect_name(bind: AsyncConnection | AsyncEngine) -> str:
    """'postgresql' or 'sqlite', for reports that show which engine they read."""
    return str(bind.dialect.name)


def is_postgresql(bind: AsyncConnection | AsyncEngine) -> bool:
    """The one dialect test outside the upsert helpers (reports, health, maintenance)."""
    return dialect_name(bind) == "postgresql"


def single_writer(bind: AsyncConnection | AsyncEngine) -> bool:
    """True on SQLite: one writer at a time, so concurrent writers only queue on its lock."""
    return dialect_name(bind) == "sqlite"


@asynccontextmanager
async def failure_contained(conn: AsyncConnection) -> AsyncIterator[None]:
    """A block whose failing statement must not spoil the transaction around it. PostgreSQL
    aborts the whole transaction on an error, so the block runs in a savepoint; SQLite goes
    on after a failed statement, and a savepoint there would only cost a round trip."""
    if is_postgresql(conn):
        async with conn.begin_nested():
            yield
    else:
        yield


def dialect_insert(bind: AsyncConnection, table: Table) -> DialectInsert:
    """The engine's own ``INSERT`` for ``table`` (it has ``on_conflict_do_nothing`` and
    ``returning`` on both engines), for the insert-once rows: detections, outbox messages."""
    if is_postgresql(bind):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    return sqlite.insert(table)


def seconds_between(
    bind: AsyncConnection, later: ColumnElement[datetime], earlier: ColumnElement[datetime]
) -> SQLColumnExpression[float]:
    """SQL for ``later - earlier`` in seconds (float): ``EXTRACT(epoch ...)`` or julianday."""
    if is_postgresql(bind):
        return func.extract("epoch", later - earlier)
    return cast((func.julianday(later) - func.julianday(earlier)) * 86400.0, Float)


async def server_version(conn: AsyncConnection) -> str:
    """'PostgreSQL 16.4' or 'SQLite 3.45.1'."""
    if is_postgresql(conn):
        version = (await conn.execute(text("SHOW server_version"))).scalar()
        return f"PostgreSQL {version}"
    version = (await conn.execute(text("SELECT sqlite_version()"))).scalar()
    return f"SQLite {version}"


async def vacuum(conn: AsyncConnection, tables: Sequence[str]) -> list[str]:
    """VACUUM + ANALYZE on an AUTOCOMMIT connection; returns the statements run.

    PostgreSQL: ``VACUUM (ANALYZE)`` per table. SQLite: ``VACUUM``, ``ANALYZE`` and a WAL
    checkpoint that truncates the WAL file.
    """
    ran: list[str] = []
    if is_postgresql(conn):
        quote = conn.dialect.identifier_preparer.quote
        statements = [f"VACUUM (ANALYZE) {quote(name)}" for name in tables]
    else:
        statements = ["VACUUM", "ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"]
    for statement in statements:
        await conn.execute(text(statement))
        ran.append(statement)
    return ran


async def maintenance_stats(
    conn: AsyncConnection, tables: Sequence[str]
) -> list[JSONObject] | JSONObject:
    """PostgreSQL: ``pg_stat_user_tables`` rows (live/dead tuples, scans, last (auto)vacuum and
    analyze) as dicts. SQLite: the file's page figures and journal mode as one dict."""
    if is_postgresql(conn):
        rows = await conn.execute(
            text(
                "SELECT relname, n_live_tup, n_dead_tup, seq_scan, idx_scan, last_vacuum, "
                "last_autovacuum, last_analyze, last_autoanalyze FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname = ANY(:names) ORDER BY relname"
            ),
            {"names": list(tables)},
        )
        return [dict(r) for r in rows.mappings()]

    async def pragma(name: str) -> int | str | None:
        return (await conn.execute(text(f"PRAGMA {name}"))).scalar()

    page_size = int(await pragma("page_size") or 0)
    free_pages = int(await pragma("freelist_count") or 0)
    return {
        "page_size": page_size,
        "pages": int(await pragma("page_count") or 0),
        "free_pages": free_pages,
        "free_bytes": free_pages * page_size,
        "journal_mode": await pragma("journal_mode"),
    }
