"""Table and index sizes on both engines (database_stats, database_performance, optimize).

PostgreSQL: ``pg_total_relation_size`` (table + indexes + TOAST), ``pg_relation_size`` and
``pg_indexes_size`` per table, ``pg_relation_size`` and ``idx_scan`` per index.
SQLite: the ``dbstat`` virtual table gives bytes per table and index; where SQLite was built
without it, only the file total (``page_count * page_size``) is known. The engine-specific
queries live in :mod:`storage.dialect`; this module names the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "database_bytes": self.database_bytes,
            "tables": [asdict(t) for t in self.tables],
            "indexes": [asdict(i) for i in self.indexes],
            "note": self.note,
        }


async def sizes(conn: AsyncConnection) -> Sizes:
    raw = await dialect.relation_sizes(conn, TABLES)
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
