"""Stored pattern track records (SPEC §17): written by the §16 evaluation, read by messages.

The evaluation is too heavy to run per message, so ``patterns evaluate --store`` writes one row
per pair, pattern, direction and trailing window (at most daily) and a pattern message reads it
here with one indexed lookup. Rows are plain dicts (``TrackRecord``) so callers need no
SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import SupportsInt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage.dashboard_rows import TrackRecordRow
from exchange_analytics.storage.dialect import upsert
from exchange_analytics.storage.models import PatternTrackRecord, utcnow
from exchange_analytics.storage.typed_rows import columns_of, typed_row, typed_rows

TABLE = PatternTrackRecord.__table__

KEY = ("currency_pair", "pattern_type", "direction", "window_days")
#: Every column an evaluation writes besides the key (``id`` is the database's).
VALUE_COLUMNS = tuple(c.name for c in TABLE.columns if c.name not in (*KEY, "id"))
_COUNT_COLUMNS = ("signals", "take_profit", "stop_loss", "ambiguous", "open")


class TrackRecord(TrackRecordRow):
    """One stored ``pattern_track_records`` row (every column): what the patterns page shows,
    with the row's id and the JSON its figures depend on."""

    id: int
    details: JSONObject | None


def _complete(row: Mapping[str, object]) -> dict[str, object]:
    """Fill what an evaluation may leave out: counts 0, figures null, computed now."""
    missing = [name for name in (*KEY, "period_from", "period_to") if row.get(name) is None]
    if missing:
        raise ValueError(f"track record row lacks {', '.join(missing)}")
    full: dict[str, object] = {name: row.get(name) for name in (*KEY, *VALUE_COLUMNS)}
    for name in (*_COUNT_COLUMNS, "window_days"):
        full[name] = _whole(name, full[name])
    if full["computed_at"] is None:
        full["computed_at"] = utcnow()
    return full


def _whole(name: str, value: object) -> int:
    """A count as the evaluation gives it (int, numpy integer, float), missing or empty as 0."""
    if not value:
        return 0
    if isinstance(value, SupportsInt | str):
        return int(value)
    raise ValueError(f"track record {name} is not a whole number: {value!r}")


async def upsert_track_records(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> int:
    """Insert or replace the rows (one per pair, pattern, direction, window); returns rows written.

    A row must carry the key and ``period_from``/``period_to``; unknown keys are ignored so the
    evaluation can pass its result dicts as they are.
    """
    full = [_complete(row) for row in rows]
    return await upsert(conn, TABLE, full, key=KEY, compare=VALUE_COLUMNS)


async def track_record_for(
    conn: AsyncConnection, pair: str, pattern: str, direction: str, window_days: int
) -> TrackRecord | None:
    """The stored record for one pair, pattern, direction and window, or None if never stored."""
    stmt = select(*columns_of(TABLE, TrackRecord)).where(
        TABLE.c.currency_pair == pair,
        TABLE.c.pattern_type == pattern,
        TABLE.c.direction == direction,
        TABLE.c.window_days == window_days,
    )
    row = (await conn.execute(stmt)).mappings().first()
    return typed_row(row, TrackRecord) if row else None


async def all_track_records(conn: AsyncConnection, limit: int = 1000) -> list[TrackRecord]:
    """Stored records, newest computation first (reports, dashboard, health)."""
    stmt = (
        select(*columns_of(TABLE, TrackRecord))
        .order_by(
            TABLE.c.computed_at.desc(),
            TABLE.c.currency_pair,
            TABLE.c.pattern_type,
            TABLE.c.direction,
            TABLE.c.window_days,
        )
        .limit(limit)
    )
    return typed_rows((await conn.execute(stmt)).mappings(), TrackRecord)
