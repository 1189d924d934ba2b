"""The cycle's writes of derived rows: indicator rows, upserted so that only new or changed
values are written (a re-run writes nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.dialect import bulk_upsert
from exchange_analytics.storage.models import TechnicalIndicator, utcnow

INDICATORS = TechnicalIndicator.__table__
INDICATOR_KEY = ("currency_pair", "timeframe", "timestamp", "indicator_type")


async def write_indicator_rows(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> int:
    """Upsert indicator rows (``indicators.indicator_rows``: key columns, ``value``,
    ``additional_data``) on the caller's transaction; returns how many were new or changed
    (``value`` or ``additional_data`` differ)."""
    now = utcnow()
    return await bulk_upsert(
        conn,
        INDICATORS,
        rows,
        key=INDICATOR_KEY,
        compare=("value", "additional_data"),
        also_set=("updated_at",),
        stamps={"created_at": now, "updated_at": now},  # no copy of each row to add them
    )
