"""Reads of ``processing_runs`` for the health check and the operations reports.

Rows come back as plain mappings of every column (``stage_timings`` included); the pure code
above (``health.runstats.RunRecord.from_mapping``) picks the columns it reads, so this module
does not depend on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.models import ProcessingRun

_RUNS = ProcessingRun.__table__
RunRow = dict[str, Any]


async def runs_between(
    conn: AsyncConnection, since: datetime, until: datetime | None = None
) -> list[RunRow]:
    """Runs started in ``[since, until)`` (no upper bound without ``until``), oldest first."""
    query = select(_RUNS).where(_RUNS.c.started_at >= since)
    if until is not None:
        query = query.where(_RUNS.c.started_at < until)
    rows = await conn.execute(query.order_by(_RUNS.c.started_at))
    return [dict(r) for r in rows.mappings()]


async def latest_runs(conn: AsyncConnection, limit: int) -> list[RunRow]:
    """The newest ``limit`` runs whatever their age, newest first (failure streaks)."""
    query = select(_RUNS).order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc()).limit(limit)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def last_completed_run(conn: AsyncConnection) -> RunRow | None:
    """The newest run that completed (``success`` or ``partial``)."""
    query = (
        select(_RUNS)
        .where(_RUNS.c.status.in_(("success", "partial")))
        .order_by(_RUNS.c.started_at.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else dict(row)


async def first_run_started_at(conn: AsyncConnection) -> datetime | None:
    """When the oldest recorded run started (None before the first run)."""
    value: datetime | None = (await conn.execute(select(func.min(_RUNS.c.started_at)))).scalar()
    return value
