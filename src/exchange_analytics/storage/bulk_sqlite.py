"""SQLite bulk upserts on the sqlite3 connection itself (``dialect.bulk_upsert`` picks this).

The statement is the one ``dialect.upsert`` builds (``INSERT ... ON CONFLICT DO UPDATE ...
WHERE <a compared column changed>``), run as one ``executemany`` on the connection SQLAlchemy
holds, so it joins the caller's transaction. What SQLAlchemy spends per row (bind processing,
parameter dicts, RETURNING rows) cost several times what SQLite did (issue 17); here values
are converted once per column, with the column type's own bind processor, except datetimes
(formatted once per distinct moment, the same text, checked against the processor by the
tests). Rows written are counted with ``total_changes()``: an update skipped by the WHERE
does not count, as with RETURNING.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Protocol, TypeVar

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

from exchange_analytics.storage.bulk_json import is_json_type, json_object_text

T = TypeVar("T")
#: Python value -> what the driver binds (SQLAlchemy's ``_BindProcessorType``).
Converter = Callable[[object], object]


class _SQLiteDriver(Protocol):
    """The part of aiosqlite's connection used here (SQLAlchemy's ``driver_connection``)."""

    async def execute_fetchall(self, sql: str) -> Iterable[tuple[int, ...]]: ...

    async def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> object: ...


def bind_processor(column_type: TypeEngine[T], dialect: Dialect) -> Callable[[T], object] | None:
    """What SQLAlchemy applies to a Python value of ``column_type`` before the driver sees
    it on ``dialect`` (None: nothing); for raw driver statements that must bind alike."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def sqlite_datetime(value: datetime | None) -> str | None:
    """A UTC datetime as SQLAlchemy's SQLite ``DATETIME`` stores it (naive UTC text with
    microseconds), so rows written either way compare and sort alike."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} reached the database; use UTC-aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _is_utc_datetime(column_type: TypeEngine[object]) -> bool:
    """The UTC datetime columns (``models.UTCDateTime``: a TypeDecorator over DateTime)."""
    impl = getattr(column_type, "impl_instance", None)
    return isinstance(column_type, TypeDecorator) and isinstance(impl, DateTime)


def _datetime_texts(moments: Sequence[object]) -> list[str | None]:
    """``sqlite_datetime`` of each moment, computed once per distinct moment: a batch repeats
    its few stamps (``created_at``) and each bar time once per indicator."""
    texts: dict[object, str | None] = {}
    for moment in set(moments):
        if moment is None or isinstance(moment, datetime):
            texts[moment] = sqlite_datetime(moment)
        else:
            raise TypeError(f"{moment!r} is not a datetime")
    return list(map(texts.__getitem__, moments))


def _default_json(dialect: Dialect) -> bool:
    """Whether the engine serializes JSON with ``json.dumps`` (no ``json_serializer`` given)."""
    return getattr(dialect, "_json_serializer", None) is None


def _json_texts(values: Sequence[object], convert: Converter) -> list[object]:
    """The JSON bind processor's text for each value: dicts (nearly all) through one reused
    encoder, the rest (None, JSON.NULL, ...) through the processor itself."""
    return [json_object_text(v) if type(v) is dict else convert(v) for v in values]


def sqlite_columns(
    table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, object]], dialect: Dialect
) -> Iterable[tuple[object, ...]]:
    """The rows' values in ``columns`` order, each as SQLAlchemy would bind it on SQLite."""
    records: Sequence[tuple[object, ...]]
    if len(columns) == 1:
        records = [(row[columns[0]],) for row in rows]
    else:
        records = list(map(itemgetter(*columns), rows))
    converted: dict[int, Sequence[object]] = {}
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if _is_utc_datetime(column_type):
            converted[index] = _datetime_texts([record[index] for record in records])
        elif (convert := bind_processor(column_type, dialect)) is not None:
            values = [record[index] for record in records]
            if is_json_type(column_type) and _default_json(dialect):
                converted[index] = _json_texts(values, convert)
            else:
                converted[index] = list(map(convert, values))
    if not converted:
        return records
    per_column = [
        converted.get(index) or [record[index] for record in records]
        for index in range(len(columns))
    ]
    return zip(*per_column, strict=True)


@lru_cache(maxsize=32)
def sqlite_upsert_sql(
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
    rows: Sequence[Mapping[str, object]],
    *,
    key: Sequence[str],
    compare: Sequence[str],
    also_set: Sequence[str] = (),
) -> int:
    """The upsert of ``dialect.upsert`` as one ``executemany`` on the sqlite3 connection
    itself: same statement, same transaction, same rows written; returns rows written."""
    if not rows:
        return 0
    columns = tuple(rows[0].keys())
    values = sqlite_columns(table, columns, rows, conn.dialect)
    sql = sqlite_upsert_sql(table.name, columns, tuple(key), tuple(compare), tuple(also_set))
    raw = await conn.get_raw_connection()
    if raw.driver_connection is None:
        raise RuntimeError("executemany needs the aiosqlite driver connection")
    driver: _SQLiteDriver = raw.driver_connection
    before = await _total_changes(driver)
    await driver.executemany(sql, values)
    return await _total_changes(driver) - before


async def _total_changes(driver: _SQLiteDriver) -> int:
    """Rows inserted, updated or deleted on this connection so far (SQLite's own counter)."""
    for (count,) in await driver.execute_fetchall("SELECT total_changes()"):
        return int(count)
    return 0
