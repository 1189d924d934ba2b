"""Everything that differs between PostgreSQL and SQLite: upserts and bulk loads, and for the
operations reports and the health check: elapsed seconds, server version, VACUUM,
maintenance statistics. No other module compares dialect names (``storage.sizes`` asks
``is_postgresql`` which catalog to read).

Upserts carry a ``WHERE`` that skips rows whose values did not change, and ``RETURNING`` the
rows actually written, so a steady-state cycle writes (and counts) only new or changed rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Float, Integer, Table, Text, case, cast, func, literal, or_, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.types import DateTime, TypeDecorator


def _dialect_name(conn: AsyncConnection | AsyncSession) -> str:
    bind = conn.get_bind() if isinstance(conn, AsyncSession) else conn
    return str(bind.dialect.name)


def _changed(table: Table, excluded: Any, columns: Sequence[str], dialect: str) -> Any:
    clauses = []
    for name in columns:
        column = table.c[name]
        new = excluded[name]
        clauses.append(
            column.is_distinct_from(new) if dialect == "postgresql" else column.is_not(new)
        )
    return or_(*clauses)


async def upsert(
    conn: AsyncConnection | AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
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
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table)
    excluded = stmt.excluded
    set_ = {name: excluded[name] for name in (*compare, *also_set)}
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key),
        set_=set_,
        where=_changed(table, excluded, compare, dialect),
    ).returning(table.c[key[0]])
    # executemany of one cached statement: SQLAlchemy batches it ("insertmanyvalues") and
    # RETURNING yields only the rows actually inserted or updated.
    result = await conn.execute(stmt, list(rows))
    return len(result.fetchall())


async def copy_upsert_postgres(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    records: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str] = (),
) -> int:
    """Bulk load through asyncpg binary COPY (SPEC §15: at least ``psql \\copy`` throughput).

    Fast path: COPY straight into the table inside a savepoint. A backfill of history that is
    not stored yet (the common case) costs one COPY. If any row already exists (a resumed or
    forced backfill), the savepoint is rolled back and the rows go through a temp staging
    table and one set-based INSERT ... SELECT ... ON CONFLICT that rewrites only changed rows.
    """
    import asyncpg

    if not records:
        return 0
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("COPY needs the asyncpg driver connection")
    # SQLAlchemy begins its transaction lazily, at the first statement it executes itself. Raw
    # driver calls before that would run in autocommit mode, outside the caller's transaction.
    await conn.execute(text("SELECT 1"))
    try:
        async with driver.transaction():  # nested: a savepoint
            await driver.copy_records_to_table(table.name, records=records, columns=list(columns))
        return len(records)
    except asyncpg.UniqueViolationError:
        pass
    staging = f"_stage_{table.name}"
    await driver.execute(
        f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" '  # table name is ours, not user input
        f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
    )
    await driver.execute(f'TRUNCATE "{staging}"')
    await driver.copy_records_to_table(staging, records=records, columns=list(columns))
    cols = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in (*compare, *also_set))
    changed = " OR ".join(f't."{c}" IS DISTINCT FROM EXCLUDED."{c}"' for c in compare)
    keys = ", ".join(f'"{c}"' for c in key)
    # Identifiers come from our own Table objects and column lists, never from input.
    head = f'INSERT INTO "{table.name}" AS t ({cols}) SELECT {cols} FROM "{staging}" '  # noqa: S608 # nosec B608
    sql = head + f"ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE {changed}"  # nosec B608
    status = await driver.execute(sql)
    return int(str(status).rsplit(" ", 1)[-1])


def bind_processor(column_type: Any, dialect: Any) -> Any:
    """What SQLAlchemy applies to a Python value of ``column_type`` before the driver sees
    it on ``dialect`` (None: nothing); for raw driver statements that must bind alike."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _sqlite_datetime(value: datetime | None) -> str | None:
    """A UTC datetime as SQLAlchemy's SQLite ``DATETIME`` stores it (naive UTC text with
    microseconds), so rows written either way compare and sort alike."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} reached the database; use UTC-aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_converters(table: Table, columns: Sequence[str], dialect: Any) -> list[Any]:
    """Per column, how a Python value becomes what SQLAlchemy would bind on SQLite: the
    column type's own bind processor, except for datetimes (formatted directly: the same
    text, at a fraction of the cost, checked against the processor by the tests)."""
    converters: list[Any] = []
    for name in columns:
        column_type = table.c[name].type
        impl = getattr(column_type, "impl_instance", None)
        if isinstance(column_type, TypeDecorator) and isinstance(impl, DateTime):
            converters.append(_sqlite_datetime)  # the UTC datetime columns (UTCDateTime)
        else:
            converters.append(bind_processor(column_type, dialect))
    return converters


@lru_cache(maxsize=32)
def _sqlite_upsert_sql(
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    compare: tuple[str, ...],
    also_set: tuple[str, ...],
) -> str:
    """``INSERT ... ON CONFLICT DO UPDATE ... WHERE <a compared column changed>``."""
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in (*compare, *also_set))
    changed = " OR ".join(f'"{table}"."{c}" IS NOT excluded."{c}"' for c in compare)
    keys = ", ".join(f'"{c}"' for c in key)
    # Identifiers come from our own Table objects and column lists, never from input.
    insert = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608 # nosec B608
    conflict = f"ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE {changed}"  # nosec B608
    return f"{insert} {conflict}"


async def executemany_upsert_sqlite(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str] = (),
) -> int:
    """The upsert of ``upsert`` as one ``executemany`` on the sqlite3 connection itself.

    Same statement, same transaction (the connection SQLAlchemy holds), same rows written;
    values are converted once per column instead of through SQLAlchemy's per-row machinery,
    which cost several times what SQLite did. Rows written are counted with
    ``total_changes()``: an update skipped by the WHERE does not count, as with RETURNING.
    """
    columns = tuple(rows[0].keys())
    converters = _sqlite_converters(table, columns, conn.dialect)
    values = [[row[c] for c in columns] for row in rows]
    texts: dict[datetime, str | None] = {}  # a batch repeats its few distinct moments
    for i, convert in enumerate(converters):
        if convert is _sqlite_datetime:
            for record in values:
                moment = record[i]
                text_ = texts.get(moment)
                if text_ is None:
                    text_ = texts[moment] = _sqlite_datetime(moment)
                record[i] = text_
        elif convert is not None:
            for record in values:
                record[i] = convert(record[i])
    sql = _sqlite_upsert_sql(table.name, columns, tuple(key), tuple(compare), tuple(also_set))
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    (before,) = (await driver.execute_fetchall("SELECT total_changes()"))[0]
    await driver.executemany(sql, values)
    (after,) = (await driver.execute_fetchall("SELECT total_changes()"))[0]
    return int(after) - int(before)


async def bulk_upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str] = (),
    copy_threshold: int = 2000,
) -> int:
    """Pick the fastest correct path: binary COPY on PostgreSQL for big batches, the sqlite3
    connection's own ``executemany`` on SQLite, else the SQLAlchemy upsert."""
    if not rows:
        return 0
    if conn.dialect.name == "sqlite":
        return await executemany_upsert_sqlite(
            conn, table, rows, key=key, compare=compare, also_set=also_set
        )
    if conn.dialect.name == "postgresql" and len(rows) >= copy_threshold:
        columns = list(rows[0].keys())
        records = [
            tuple(json.dumps(v) if isinstance(v, dict) else v for v in (row[c] for c in columns))
            for row in rows
        ]
        return await copy_upsert_postgres(
            conn, table, columns, records, key=key, compare=compare, also_set=also_set
        )
    return await upsert(conn, table, rows, key=key, compare=compare, also_set=also_set)


def json_keys_set(
    conn: AsyncConnection, column: Any, values: Mapping[str, str | int | None]
) -> Any:
    """SQL for ``column`` (a JSON object) with the top-level keys of ``values`` set, for a
    single ``UPDATE ... SET column = <this>``: no read of the row first. A NULL or non-object
    value becomes ``{}``. SQLite: ``json_set``; PostgreSQL: ``jsonb ||
    jsonb_build_object(...)`` (each value typed, since asyncpg cannot infer a variadic's)."""
    if is_postgresql(conn):
        base = case(
            (func.jsonb_typeof(column) == "object", column), else_=cast(literal("{}"), JSONB)
        )
        pairs: list[Any] = []
        for key, value in values.items():
            kind = Integer if isinstance(value, int) else Text
            pairs += [literal(key, Text), cast(literal(value, kind), kind)]
        return base.op("||")(func.jsonb_build_object(*pairs))
    base = case((func.json_type(column) == "object", column), else_=literal("{}"))
    paths: list[Any] = []
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


def dialect_insert(bind: AsyncConnection, table: Table) -> Any:
    """The engine's own ``INSERT`` for ``table`` (it has ``on_conflict_do_nothing`` and
    ``returning`` on both engines), for the insert-once rows: detections, outbox messages."""
    module: Any = postgresql if is_postgresql(bind) else sqlite
    return module.insert(table)


def seconds_between(bind: AsyncConnection, later: Any, earlier: Any) -> Any:
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


async def maintenance_stats(conn: AsyncConnection, tables: Sequence[str]) -> Any:
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

    async def pragma(name: str) -> Any:
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
