"""Table and index sizes on both engines (database_stats, database_performance, optimize).

PostgreSQL: ``pg_total_relation_size`` (table + indexes + TOAST), ``pg_relation_size`` and
``pg_indexes_size`` per table, ``pg_relation_size`` and ``idx_scan`` per index.
SQLite: the ``dbstat`` virtual table gives bytes per table and index; where SQLite was built
without it, only the file total (``page_count * page_size``) is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage import dialect
from exchange_analytics.storage.models import Base

#: The tables this project owns (sizes of anything else in the database are not ours to show).
TABLES: tuple[str, ...] = (*sorted(Base.metadata.tables), "alembic_version")


@dataclass(frozen=True, slots=True)
class TableSize:
    table: str
    total_bytes: int | None
    table_bytes: int | None
    index_bytes: int | None


@dataclass(frozen=True, slots=True)
class IndexSize:
    index: str
    table: str
    bytes: int | None
    scans: int | None = None


@dataclass(frozen=True)
class Sizes:
    tables: tuple[TableSize, ...]
    indexes: tuple[IndexSize, ...]
    #: Whole database (PostgreSQL) or file (SQLite) size.
    database_bytes: int | None
    note: str | None = None

    def to_dict(self) -> JSONObject:
        """What ``--json`` prints for the sizes (the reports' documents)."""
        return {
            "database_bytes": self.database_bytes,
            "tables": [asdict(t) for t in self.tables],
            "indexes": [asdict(i) for i in self.indexes],
            "note": self.note,
        }


@dataclass(frozen=True)
class RawSizes:
    """Sizes as the engine reports them: (table, total, table, indexes) and
    (index, table, bytes, scans) rows; ``note`` when only the file size is known."""

    tables: list[tuple[str, int | None, int | None, int | None]]
    indexes: list[tuple[str, str, int | None, int | None]]
    database_bytes: int | None
    note: str | None = None


async def relation_sizes(conn: AsyncConnection, tables: Sequence[str]) -> RawSizes:
    """Table and index sizes (PostgreSQL catalog functions, SQLite ``dbstat``)."""
    if dialect.is_postgresql(conn):
        return await _postgres_sizes(conn, tables)
    return await _sqlite_sizes(conn, tables)


async def _postgres_sizes(conn: AsyncConnection, names: Sequence[str]) -> RawSizes:
    tables = await conn.execute(
        text(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
            "pg_indexes_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema() "
            "AND c.relname = ANY(:names) ORDER BY c.relname"
        ),
        {"names": list(names)},
    )
    indexes = await conn.execute(
        text(
            "SELECT indexrelname, relname, pg_relation_size(indexrelid), idx_scan "
            "FROM pg_stat_user_indexes WHERE schemaname = current_schema() "
            "AND relname = ANY(:names) ORDER BY relname, indexrelname"
        ),
        {"names": list(names)},
    )
    total = (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar()
    return RawSizes(
        tables=[(r[0], int(r[1]), int(r[2]), int(r[3])) for r in tables],
        indexes=[(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in indexes],
        database_bytes=None if total is None else int(total),
    )


async def _sqlite_sizes(conn: AsyncConnection, names: Sequence[str]) -> RawSizes:
    page_count = (await conn.execute(text("PRAGMA page_count"))).scalar() or 0
    page_size = (await conn.execute(text("PRAGMA page_size"))).scalar() or 0
    file_bytes = int(page_count) * int(page_size)
    owners = {
        row[0]: (row[1], row[2])
        for row in await conn.execute(
            text("SELECT name, type, tbl_name FROM sqlite_master WHERE type IN ('table','index')")
        )
    }
    try:
        used = dict(
            (await conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")))
            .tuples()
            .all()
        )
    except DBAPIError:
        present: list[tuple[str, int | None, int | None, int | None]] = [
            (t, None, None, None) for t in names if t in owners
        ]
        note = "SQLite built without dbstat: only the file size is known"
        return RawSizes(present, [], file_bytes, note)
    table_sizes: list[tuple[str, int | None, int | None, int | None]] = []
    index_sizes: list[tuple[str, str, int | None, int | None]] = []
    for name in names:
        if name not in owners:
            continue
        own = int(used.get(name) or 0)
        index_names = [
            n for n, (kind, owner) in owners.items() if kind == "index" and owner == name
        ]
        index_total = 0
        for index in sorted(index_names):
            size = int(used.get(index) or 0)
            index_total += size
            index_sizes.append((index, name, size, None))
        table_sizes.append((name, own + index_total, own, index_total))
    return RawSizes(table_sizes, index_sizes, file_bytes)


async def sizes(conn: AsyncConnection) -> Sizes:
    raw = await relation_sizes(conn, TABLES)
    return Sizes(
        tables=tuple(TableSize(*row) for row in raw.tables),
        indexes=tuple(IndexSize(*row) for row in raw.indexes),
        database_bytes=raw.database_bytes,
        note=raw.note,
    )


async def footprint(engine: AsyncEngine) -> int | None:
    """What the installation takes: the sum of our tables on PostgreSQL (the database may hold
    others), the file on SQLite (free pages included: that is what VACUUM gives back)."""
    async with engine.connect() as conn:
        found = await sizes(conn)
    own = [t.total_bytes for t in found.tables if t.total_bytes is not None]
    if not dialect.is_postgresql(engine):
        return found.database_bytes
    return sum(own) if own else found.database_bytes
