"""The cycle's writes of derived rows: indicator rows, upserted so that only new or changed
values are written (a re-run writes nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.storage.dialect import bulk_upsert
from exchange_analytics.storage.models import TechnicalIndicator, utcnow

INDICATORS = cast(Table, TechnicalIndicator.__table__)
INDICATOR_KEY = ("currency_pair", "timeframe", "timestamp", "indicator_type")

#: A ``technical_indicators`` row as ``indicators.indicator_rows`` builds it (key columns,
#: ``value``, ``additional_data``), passed through to the database as it is.
IndicatorRow = dict[str, object]


async def write_indicator_rows(conn: AsyncConnection, rows: Sequence[IndicatorRow]) -> int:
    """Upsert indicator rows on the caller's transaction; returns how many were new or
    changed (``value`` or ``additional_data`` differ)."""
    now = utcnow()
    for row in rows:  # stamped in place: a backfill passes hundreds of thousands
        row["created_at"] = now
        row["updated_at"] = now
    return await bulk_upsert(
        conn,
        INDICATORS,
        rows,
        key=INDICATOR_KEY,
        compare=("value", "additional_data"),
        also_set=("updated_at",),
    )
