"""SQLite bulk upserts on the sqlite3 connection itself (``dialect.bulk_upsert`` picks this).

The statement is the one ``dialect.upsert`` builds (``INSERT ... ON CONFLICT DO UPDATE ...
WHERE <a compared column changed>``), run as one ``executemany`` on the connection SQLAlchemy
holds, so it joins the caller's transaction. What SQLAlchemy spends per row (bind processing,
parameter dicts, RETURNING rows) cost several times what SQLite did (issue 17); here values
are converted once per column, with the column type's own bind processor, except datetimes
(formatted once per distinct moment, the same text, checked against the processor by the
tests). Rows written are the cursor's ``rowcount`` (sqlite3 sums ``sqlite3_changes()`` over an
``executemany``): an update skipped by the WHERE does not count, as with RETURNING, and no
extra statement is run to count. How each column converts is worked out once per table and
column list (``_column_plan``), not per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Literal, Protocol, TypeVar

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

from exchange_analytics.storage.bulk_json import is_json_type, json_object_text

T = TypeVar("T")
#: Python value -> what the driver binds (SQLAlchemy's ``_BindProcessorType``).
Converter = Callable[[object], object]


class _Cursor(Protocol):
    """The part of aiosqlite's cursor used here."""

    @property
    def rowcount(self) -> int: ...


class _SQLiteDriver(Protocol):
    """The part of aiosqlite's connection used here (SQLAlchemy's ``driver_connection``)."""

    async def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> _Cursor: ...


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


#: How one column's values become what the driver binds: a UTC datetime's text, the JSON
#: text through the shared encoder, another bind processor, or nothing (None).
ColumnKind = Literal["datetime", "json", "convert"]
ColumnStep = tuple[ColumnKind, Converter | None] | None


@lru_cache(maxsize=64)
def _column_plan(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[ColumnStep, ...]:
    """Each column's conversion, worked out once per table, column list and dialect: type
    lookups and ``dialect_impl`` cost more than converting a steady cycle's few rows."""
    steps: list[ColumnStep] = []
    for name in columns:
        column_type = table.c[name].type
        if _is_utc_datetime(column_type):
            steps.append(("datetime", None))
        elif (convert := bind_processor(column_type, dialect)) is None:
            steps.append(None)
        elif is_json_type(column_type) and _default_json(dialect):
            steps.append(("json", convert))
        else:
            steps.append(("convert", convert))
    return tuple(steps)


def _converted(step: ColumnStep, values: list[object]) -> Sequence[object]:
    """One column's values as the driver binds them (``step`` from ``_column_plan``)."""
    if step is None:
        return values
    kind, convert = step
    if kind == "datetime":
        return _datetime_texts(values)
    if convert is None:  # never: only datetimes have no converter
        return values
    if kind == "json":
        return _json_texts(values, convert)
    return list(map(convert, values))


def sqlite_columns(
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, object]],
    dialect: Dialect,
    stamps: Mapping[str, object] | None = None,
) -> Iterable[tuple[object, ...]]:
    """The rows' values in ``columns`` order, then the ``stamps`` (one value for every row,
    converted once), each as SQLAlchemy would bind it on SQLite."""
    records: Sequence[tuple[object, ...]]
    if len(columns) == 1:
        records = [(row[columns[0]],) for row in rows]
    else:
        records = list(map(itemgetter(*columns), rows))
    stamps = stamps or {}
    plan = _column_plan(table, (*columns, *stamps), dialect)
    if not stamps and not any(plan):
        return records
    per_column = [
        _converted(step, [record[index] for record in records])
        for index, step in enumerate(plan[: len(columns)])
    ]
    for step, value in zip(plan[len(columns) :], stamps.values(), strict=True):
        per_column.append(list(_converted(step, [value])) * len(records))
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
    stamps: Mapping[str, object] | None = None,
) -> int:
    """The upsert of ``dialect.upsert`` as one ``executemany`` on the sqlite3 connection
    itself: same statement, same transaction, same rows written; returns rows written.
    ``stamps`` are columns with one value for every row (as if merged into each row, and
    taking precedence), so callers need not copy rows to add them."""
    if not rows:
        return 0
    stamps = stamps or {}
    columns = tuple(name for name in rows[0] if name not in stamps)
    values = sqlite_columns(table, columns, rows, conn.dialect, stamps)
    names = (*columns, *stamps)
    sql = sqlite_upsert_sql(table.name, names, tuple(key), tuple(compare), tuple(also_set))
    raw = await conn.get_raw_connection()
    if raw.driver_connection is None:
        raise RuntimeError("executemany needs the aiosqlite driver connection")
    driver: _SQLiteDriver = raw.driver_connection
    cursor = await driver.executemany(sql, values)
    return cursor.rowcount
