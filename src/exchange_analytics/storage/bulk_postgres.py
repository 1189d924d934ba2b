"""PostgreSQL bulk upserts through asyncpg's binary COPY (``dialect.bulk_upsert`` picks this).

SPEC §15 asks backfills to reach ``psql \\copy`` throughput. Fast path: COPY straight into the
table inside a savepoint; a backfill of history not stored yet (the common case) costs one
COPY. If any row already exists (a resumed or forced backfill), the savepoint is rolled back
and the rows go through a temporary staging table and one set-based
``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE <a compared column changed>``, so only
new or changed rows are written, as with ``dialect.upsert``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Protocol

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.bulk_json import is_json_type, json_object_text


class _Transaction(Protocol):
    async def __aenter__(self) -> object: ...

    async def __aexit__(self, *exc_info: object) -> bool | None: ...


class _PostgresDriver(Protocol):
    """The part of asyncpg's connection used here (SQLAlchemy's ``driver_connection``)."""

    def transaction(self) -> _Transaction: ...

    async def execute(self, query: str) -> str: ...

    async def copy_records_to_table(
        self, table_name: str, *, records: Sequence[tuple[object, ...]], columns: list[str]
    ) -> str: ...


def _json_text(value: object) -> object:
    """A JSON object as the text COPY loads into a json/jsonb column; other values as they are."""
    return json_object_text(value) if isinstance(value, dict) else value


def copy_records(
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, object]],
    stamps: Mapping[str, object] | None = None,
) -> list[tuple[object, ...]]:
    """The rows' values in ``columns`` order, then the ``stamps`` (the same values for every
    row), JSON objects as text (what COPY takes)."""
    if len(columns) == 1:
        records: list[tuple[object, ...]] = [(row[columns[0]],) for row in rows]
    else:
        records = list(map(itemgetter(*columns), rows))
    if stamps:
        tail = tuple(stamps.values())
        records = [record + tail for record in records]
        columns = (*columns, *stamps)
    json_columns = [i for i, name in enumerate(columns) if is_json_type(table.c[name].type)]
    if not json_columns:
        return records
    per_column: list[Sequence[object]] = [list(values) for values in zip(*records, strict=True)]
    for index in json_columns:
        per_column[index] = list(map(_json_text, per_column[index]))
    return list(zip(*per_column, strict=True))


async def _driver(conn: AsyncConnection) -> _PostgresDriver:
    """asyncpg's connection under ``conn``, inside the caller's transaction."""
    raw = await conn.get_raw_connection()
    if raw.driver_connection is None:
        raise RuntimeError("COPY needs the asyncpg driver connection")
    driver: _PostgresDriver = raw.driver_connection
    # SQLAlchemy begins its transaction lazily, at the first statement it executes itself. Raw
    # driver calls before that would run in autocommit mode, outside the caller's transaction.
    await conn.execute(text("SELECT 1"))
    return driver


def _staged_upsert_sql(
    table: str,
    staging: str,
    columns: Sequence[str],
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str],
) -> str:
    """``INSERT INTO table SELECT ... FROM staging ON CONFLICT DO UPDATE ... WHERE changed``."""
    cols = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in (*compare, *also_set))
    changed = " OR ".join(f't."{c}" IS DISTINCT FROM EXCLUDED."{c}"' for c in compare)
    keys = ", ".join(f'"{c}"' for c in key)
    # Identifiers come from our own Table objects and column lists, never from input.
    head = f'INSERT INTO "{table}" AS t ({cols}) SELECT {cols} FROM "{staging}" '  # noqa: S608 # nosec B608
    return head + f"ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE {changed}"  # nosec B608


async def copy_upsert_postgres(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    records: Sequence[tuple[object, ...]],
    *,
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str] = (),
) -> int:
    """Bulk load ``records`` (tuples in ``columns`` order) through binary COPY; returns rows
    written (new, or changed in a ``compare`` column)."""
    import asyncpg

    if not records:
        return 0
    driver = await _driver(conn)
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
    sql = _staged_upsert_sql(table.name, staging, columns, key, compare, also_set)
    status = await driver.execute(sql)
    return int(str(status).rsplit(" ", 1)[-1])
