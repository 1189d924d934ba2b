"""Everything that differs between PostgreSQL and SQLite: upserts and bulk loads.

Upserts carry a ``WHERE`` that skips rows whose values did not change, and ``RETURNING`` the
rows actually written, so a steady-state cycle writes (and counts) only new or changed rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, or_, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


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
    """Pick the fastest correct path: binary COPY on PostgreSQL for big batches, else upsert."""
    if not rows:
        return 0
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
