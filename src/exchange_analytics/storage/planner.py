"""What the cycle asks of the database engine itself, rather than of its rows: refresh the
query planner's statistics after a bulk load (whether the engine has a single writer is a
dialect test: ``storage.dialect.single_writer``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange_analytics.storage.dialect import is_postgresql

#: The tables a bulk backfill fills, whose statistics go stale with it.
BULK_TABLES = ("price_data", "technical_indicators", "pattern_detections")


async def refresh_planner_statistics(engine: AsyncEngine) -> None:
    """After a bulk backfill the planner's statistics describe an almost empty table, and it
    may then choose sequential scans that make every later cycle grow with history.
    PostgreSQL: ``ANALYZE`` of the bulk tables (AUTOCOMMIT); SQLite: ``PRAGMA optimize``."""
    async with engine.connect() as conn:
        if is_postgresql(engine):
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in BULK_TABLES:
                await conn.execute(text(f"ANALYZE {table}"))  # table names are ours
        else:
            await conn.execute(text("PRAGMA optimize"))
            await conn.commit()
