"""Reads of ``processing_runs`` for the health check and the operations reports.

Rows come back as plain mappings of every column (``stage_timings`` included); the pure code
above (``health.runstats.RunRecord.from_mapping``) picks the columns it reads, so this module
does not depend on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage.models import ProcessingRun
from exchange_analytics.storage.typed_rows import columns_of, typed_row, typed_rows

_RUNS = ProcessingRun.__table__


class RunRow(TypedDict):
    """One ``processing_runs`` row, every column."""

    id: int
    mode: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    processing_time: float | None
    #: JSON column: stage -> seconds.
    stage_timings: JSONObject | None
    rows_fetched: int
    bars_aggregated: int
    indicator_rows_written: int
    patterns_detected: int
    notifications_sent: int
    error_count: int
    error_message: str | None
    #: JSON column: the per-pair reports and the dry-run flag.
    details: JSONObject | None
    as_of: datetime | None
    provider: str | None
    host: str
    pid: int


_ALL = columns_of(_RUNS, RunRow)


async def runs_between(
    conn: AsyncConnection, since: datetime, until: datetime | None = None
) -> list[RunRow]:
    """Runs started in ``[since, until)`` (no upper bound without ``until``), oldest first."""
    query = select(*_ALL).where(_RUNS.c.started_at >= since)
    if until is not None:
        query = query.where(_RUNS.c.started_at < until)
    rows = await conn.execute(query.order_by(_RUNS.c.started_at))
    return typed_rows(rows.mappings(), RunRow)


async def latest_runs(conn: AsyncConnection, limit: int) -> list[RunRow]:
    """The newest ``limit`` runs whatever their age, newest first (failure streaks)."""
    query = select(*_ALL).order_by(_RUNS.c.started_at.desc(), _RUNS.c.id.desc()).limit(limit)
    return typed_rows((await conn.execute(query)).mappings(), RunRow)


async def last_completed_run(conn: AsyncConnection) -> RunRow | None:
    """The newest run that completed (``success`` or ``partial``)."""
    query = (
        select(*_ALL)
        .where(_RUNS.c.status.in_(("success", "partial")))
        .order_by(_RUNS.c.started_at.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else typed_row(row, RunRow)


async def first_run_started_at(conn: AsyncConnection) -> datetime | None:
    """When the oldest recorded run started (None before the first run)."""
    value: datetime | None = (await conn.execute(select(func.min(_RUNS.c.started_at)))).scalar()
    return value
