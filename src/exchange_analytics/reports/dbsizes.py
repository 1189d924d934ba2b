"""Table and index sizes on both engines (used by database_stats and database_performance).

PostgreSQL: ``pg_total_relation_size`` (table + indexes + TOAST), ``pg_relation_size`` and
``pg_indexes_size`` per table, ``pg_relation_size`` and ``idx_scan`` per index.
SQLite: the ``dbstat`` virtual table gives bytes per table and index; where SQLite was built
without it, only the file total (``page_count * page_size``) is known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "database_bytes": self.database_bytes,
            "tables": [asdict(t) for t in self.tables],
            "indexes": [asdict(i) for i in self.indexes],
            "note": self.note,
        }


async def sizes(conn: AsyncConnection) -> Sizes:
    if conn.dialect.name == "postgresql":
        return await _postgres(conn)
    return await _sqlite(conn)


async def _postgres(conn: AsyncConnection) -> Sizes:
    tables = await conn.execute(
        text(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
            "pg_indexes_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema() "
            "AND c.relname = ANY(:names) ORDER BY c.relname"
        ),
        {"names": list(TABLES)},
    )
    indexes = await conn.execute(
        text(
            "SELECT indexrelname, relname, pg_relation_size(indexrelid), idx_scan "
            "FROM pg_stat_user_indexes WHERE schemaname = current_schema() "
            "AND relname = ANY(:names) ORDER BY relname, indexrelname"
        ),
        {"names": list(TABLES)},
    )
    total = (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar()
    return Sizes(
        tables=tuple(TableSize(r[0], int(r[1]), int(r[2]), int(r[3])) for r in tables),
        indexes=tuple(IndexSize(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in indexes),
        database_bytes=None if total is None else int(total),
    )


async def _sqlite(conn: AsyncConnection) -> Sizes:
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
        tables = tuple(TableSize(t, None, None, None) for t in TABLES if t in owners)
        note = "SQLite built without dbstat: only the file size is known"
        return Sizes(tables, (), file_bytes, note)
    table_sizes = []
    index_sizes = []
    for name in TABLES:
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
            index_sizes.append(IndexSize(index, name, size))
        table_sizes.append(TableSize(name, own + index_total, own, index_total))
    return Sizes(tuple(table_sizes), tuple(index_sizes), file_bytes)
