"""Reads and writes for the alert stage (``pipeline.alerts``): the runs the rules look at and the
``alert_state`` rows that remember what was raised, so an alert is not repeated while it lasts.

Runs come back as SQLAlchemy row mappings of every column (the pure rules above,
``health.runstats.RunRecord.from_mapping``, pick the columns they read); alert states as
``AlertStateRow`` dicts.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import RowMapping, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.dialect import upsert
from exchange_analytics.storage.models import AlertState, ProcessingRun
from exchange_analytics.storage.typed_rows import columns_of, typed_row

_STATE = AlertState.__table__
_RUNS = ProcessingRun.__table__


class AlertStateRow(TypedDict):
    """One ``alert_state`` row: what was raised, when, and whether it still lasts."""

    alert_key: str
    severity: str
    active: bool
    first_raised_at: datetime
    last_notified_at: datetime | None
    resolved_at: datetime | None
    message: str


async def runs_since_or_latest(
    conn: AsyncConnection, since: datetime, latest: int
) -> list[RowMapping]:
    """Runs started at or after ``since`` plus the newest ``latest`` runs whatever their age
    (a failure streak counts across a quiet day), in the database's order."""
    recent_ids = select(_RUNS.c.id).order_by(_RUNS.c.id.desc()).limit(latest)
    rows = await conn.execute(
        select(_RUNS).where(or_(_RUNS.c.started_at >= since, _RUNS.c.id.in_(recent_ids)))
    )
    return list(rows.mappings())


async def alert_states(conn: AsyncConnection) -> dict[str, AlertStateRow]:
    """Every stored alert state by its alert key."""
    rows = (await conn.execute(select(*columns_of(_STATE, AlertStateRow)))).mappings()
    return {r["alert_key"]: typed_row(r, AlertStateRow) for r in rows}


async def save_alert_state(
    conn: AsyncConnection,
    key: str,
    severity: str,
    active: bool,
    now: datetime,
    message: str,
    *,
    notified: datetime | None = None,
    resolved: datetime | None = None,
) -> None:
    """Upsert the state of ``key``: ``first_raised_at`` is kept while the alert stays active, and
    ``last_notified_at`` is kept unless this call notified."""
    query = select(_STATE).where(_STATE.c.alert_key == key)
    current = (await conn.execute(query)).mappings().first()
    first = now if current is None or not current["active"] else current["first_raised_at"]
    row = {
        "alert_key": key,
        "severity": severity,
        "active": active,
        "first_raised_at": first,
        "last_notified_at": notified or (current["last_notified_at"] if current else None),
        "resolved_at": resolved,
        "message": message,
    }
    await upsert(
        conn,
        _STATE,
        [row],
        key=("alert_key",),
        compare=(
            "severity",
            "active",
            "first_raised_at",
            "last_notified_at",
            "resolved_at",
            "message",
        ),
    )
