"""Stored pattern track records (SPEC §17): written by the §16 evaluation, read by messages.

The evaluation is too heavy to run per message, so ``patterns evaluate --store`` writes one row
per pair, pattern, direction and trailing window (at most daily) and a pattern message reads it
here with one indexed lookup. Rows are plain dicts so callers need no SQLAlchemy.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.dialect import upsert
from exchange_analytics.storage.models import PatternTrackRecord, utcnow

TABLE = cast(Table, PatternTrackRecord.__table__)

KEY = ("currency_pair", "pattern_type", "direction", "window_days")
#: Every column an evaluation writes besides the key (``id`` is the database's).
VALUE_COLUMNS = tuple(c.name for c in TABLE.columns if c.name not in (*KEY, "id"))
_COUNT_COLUMNS = ("signals", "take_profit", "stop_loss", "ambiguous", "open")


def _complete(row: dict[str, Any]) -> dict[str, Any]:
    """Fill what an evaluation may leave out: counts 0, figures null, computed now."""
    missing = [name for name in (*KEY, "period_from", "period_to") if row.get(name) is None]
    if missing:
        raise ValueError(f"track record row lacks {', '.join(missing)}")
    full: dict[str, Any] = {name: row.get(name) for name in (*KEY, *VALUE_COLUMNS)}
    for name in _COUNT_COLUMNS:
        full[name] = int(full[name] or 0)
    full["window_days"] = int(full["window_days"])
    if full["computed_at"] is None:
        full["computed_at"] = utcnow()
    return full


async def upsert_track_records(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    """Insert or replace the rows (one per pair, pattern, direction, window); returns rows written.

    A row must carry the key and ``period_from``/``period_to``; unknown keys are ignored so the
    evaluation can pass its result dicts as they are.
    """
    full = [_complete(row) for row in rows]
    return await upsert(conn, TABLE, full, key=KEY, compare=VALUE_COLUMNS)


async def track_record_for(
    conn: AsyncConnection, pair: str, pattern: str, direction: str, window_days: int
) -> dict[str, Any] | None:
    """The stored record for one pair, pattern, direction and window, or None if never stored."""
    stmt = select(TABLE).where(
        TABLE.c.currency_pair == pair,
        TABLE.c.pattern_type == pattern,
        TABLE.c.direction == direction,
        TABLE.c.window_days == window_days,
    )
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def all_track_records(conn: AsyncConnection, limit: int = 1000) -> list[dict[str, Any]]:
    """Stored records, newest computation first (reports, dashboard, health)."""
    stmt = (
        select(TABLE)
        .order_by(
            TABLE.c.computed_at.desc(),
            TABLE.c.currency_pair,
            TABLE.c.pattern_type,
            TABLE.c.direction,
            TABLE.c.window_days,
        )
        .limit(limit)
    )
    return [dict(row) for row in (await conn.execute(stmt)).mappings()]
