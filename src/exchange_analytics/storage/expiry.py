"""Retention deletes (SPEC §4.4) and VACUUM: the SQL behind ``ops optimize``.

An :class:`ExpiryRule` names rows by table, age and (for candles and indicators) timeframe or
(for notifications) status; ``maintenance.retention`` decides the rules, this module counts
and deletes. Deletes run in batches, each its own short transaction, so a cycle that starts
meanwhile (SQLite: one writer at a time) waits at most one batch; candles and indicators are
deleted per pair, so each batch is a range scan of the unique (pair, timeframe, timestamp)
index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange_analytics.domain import Timeframe
from exchange_analytics.storage import dialect
from exchange_analytics.storage.models import Base
from exchange_analytics.storage.sizes import TABLES

BATCH = 10_000
#: The column that dates a row of each table retention applies to.
_AGE_COLUMN = {
    "price_data": "timestamp",
    "technical_indicators": "timestamp",
    "processing_runs": "started_at",
    "notifications": "created_at",
}


@dataclass(frozen=True)
class ExpiryRule:
    """Rows of ``table`` dated before ``cutoff`` (and of ``timeframe`` / in ``statuses``)."""

    name: str
    table: str
    cutoff: datetime
    timeframe: Timeframe | None = None
    statuses: tuple[str, ...] = ()
    per_pair: bool = False


def _table(rule: ExpiryRule) -> Table:
    return Base.metadata.tables[rule.table]


def _where(rule: ExpiryRule) -> ColumnElement[bool]:
    tbl = _table(rule)
    condition: ColumnElement[bool] = tbl.c[_AGE_COLUMN[rule.table]] < rule.cutoff
    if rule.timeframe is not None:
        condition = condition & (tbl.c.timeframe == rule.timeframe.value)
    if rule.statuses:
        condition = condition & tbl.c.status.in_(rule.statuses)
    return condition


async def expired_count(engine: AsyncEngine, rule: ExpiryRule) -> int:
    """How many rows the rule would delete now."""
    async with engine.connect() as conn:
        query = select(func.count()).select_from(_table(rule)).where(_where(rule))
        return int((await conn.execute(query)).scalar_one())


async def _pairs(engine: AsyncEngine, tbl: Table) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(tbl.c.currency_pair).distinct())).scalars())


async def delete_expired(engine: AsyncEngine, rule: ExpiryRule, batch: int = BATCH) -> int:
    """Delete in batches of ``batch`` rows, one transaction each; returns rows deleted."""
    tbl = _table(rule)
    where = _where(rule)
    scopes: list[ColumnElement[bool]] = (
        [where & (tbl.c.currency_pair == pair) for pair in await _pairs(engine, tbl)]
        if rule.per_pair
        else [where]
    )
    deleted = 0
    for condition in scopes:
        while True:
            ids = select(tbl.c.id).where(condition).limit(batch).scalar_subquery()
            async with engine.begin() as conn:
                result = await conn.execute(delete(tbl).where(tbl.c.id.in_(ids)))
            count = max(result.rowcount or 0, 0)
            deleted += count
            if count < batch:
                break
    return deleted


async def vacuum_tables(engine: AsyncEngine) -> list[str]:
    """VACUUM + ANALYZE of our tables outside any transaction; returns the statements run."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        return await dialect.vacuum(conn, TABLES)
