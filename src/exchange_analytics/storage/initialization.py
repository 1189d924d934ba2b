"""Initialization state per pair (SPEC §4.3): tells a half-done backfill from a done one."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Timeframe
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage.dialect import json_keys_set, upsert
from exchange_analytics.storage.models import PairInitialization, utcnow
from exchange_analytics.storage.typed_rows import columns_of, typed_row

TABLE = PairInitialization.__table__


class InitializationState(TypedDict):
    """One ``pair_initialization`` row."""

    currency_pair: str
    status: str
    provider: str
    started_at: datetime
    completed_at: datetime | None
    #: Per-pair marks (backfill progress per timeframe, ``derived_until``, the feed state):
    #: a JSON object of ISO-8601 strings and counts.
    progress: JSONObject | None
    updated_at: datetime


async def get_state(conn: AsyncConnection, pair: str) -> InitializationState | None:
    query = select(*columns_of(TABLE, InitializationState)).where(TABLE.c.currency_pair == pair)
    row = (await conn.execute(query)).mappings().first()
    return typed_row(row, InitializationState) if row else None


async def begin_backfill(
    conn: AsyncConnection, pair: str, provider: str, *, restart: bool
) -> JSONObject:
    """Mark the pair in progress; keep recorded progress unless ``restart`` (force)."""
    state = await get_state(conn, pair)
    progress: JSONObject = {} if restart or state is None else dict(state["progress"] or {})
    now = utcnow()
    await upsert(
        conn,
        TABLE,
        [
            {
                "currency_pair": pair,
                "status": "in_progress",
                "provider": provider,
                "started_at": now,
                "completed_at": None,
                "progress": progress,
                "updated_at": now,
            }
        ],
        key=("currency_pair",),
        compare=("status", "provider", "started_at", "completed_at", "progress", "updated_at"),
    )
    return progress


async def save_progress(
    conn: AsyncConnection, pair: str, timeframe: Timeframe, fetched_until: datetime
) -> None:
    """Record how far the backfill of ``timeframe`` has fetched (its key is the value, '5m')."""
    await set_markers(conn, pair, {timeframe.value: fetched_until.isoformat()})


async def mark_complete(conn: AsyncConnection, pair: str) -> None:
    now = utcnow()
    await conn.execute(
        update(TABLE)
        .where(TABLE.c.currency_pair == pair)
        .values(status="complete", completed_at=now, updated_at=now)
    )


async def get_progress(conn: AsyncConnection, pair: str) -> JSONObject:
    """The pair's ``progress`` object alone ({} without a row): one read for a stage that
    needs several of its markers."""
    value = (
        await conn.execute(select(TABLE.c.progress).where(TABLE.c.currency_pair == pair))
    ).scalar()
    return dict(value) if isinstance(value, dict) else {}


def marker_of(progress: JSONObject, name: str) -> datetime | None:
    """A high-water mark from a ``progress`` object already read."""
    value = progress.get(name)
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


async def get_marker(conn: AsyncConnection, pair: str, name: str) -> datetime | None:
    """A per-pair high-water mark kept in ``progress`` (e.g. 'derived_until')."""
    return marker_of(await get_progress(conn, pair), name)


async def set_markers(
    conn: AsyncConnection, pair: str, values: dict[str, str | int | None]
) -> None:
    """Set keys of ``progress`` in ONE statement (no read of the row first), in the caller's
    transaction, so a mark is committed with the work it describes or not at all. Nothing
    happens when the pair has no row yet."""
    await conn.execute(
        update(TABLE)
        .where(TABLE.c.currency_pair == pair)
        .values(progress=json_keys_set(conn, TABLE.c.progress, values), updated_at=utcnow())
    )


async def set_marker(conn: AsyncConnection, pair: str, name: str, moment: datetime) -> None:
    """Set a high-water mark in the same transaction as the work it describes."""
    await set_markers(conn, pair, {name: moment.isoformat()})
