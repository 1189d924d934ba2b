"""Reading and writing candles in ``price_data``.

Writes go through ``dialect.bulk_upsert`` (binary COPY on PostgreSQL for big batches), and a
row is only rewritten when one of its values changed, so re-running a cycle writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, SupportsFloat, SupportsInt, TypedDict

from sqlalchemy import BigInteger, ColumnElement, false, func, select
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.storage.dialect import bulk_upsert
from exchange_analytics.storage.models import PriceData, utcnow

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

TABLE = PriceData.__table__


class PriceRow(TypedDict):
    """One ``price_data`` row as the writers build it."""

    currency_pair: str
    timeframe: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    source: str
    bar_count: int | None
    is_complete: bool
    created_at: datetime
    updated_at: datetime


KEY = ("currency_pair", "timeframe", "timestamp")
COMPARE = ("open", "high", "low", "close", "volume", "source", "bar_count", "is_complete")


def candle_rows(
    pair: str, timeframe: Timeframe, candles: Iterable[Candle], source: str
) -> list[PriceRow]:
    now = utcnow()
    return [
        {
            "currency_pair": pair,
            "timeframe": timeframe.value,
            "timestamp": c.timestamp,
            "open": float(c.open),
            "high": float(c.high),
            "low": float(c.low),
            "close": float(c.close),
            "volume": float(c.volume),
            "source": source,
            "bar_count": None,
            "is_complete": True,
            "created_at": now,
            "updated_at": now,
        }
        for c in candles
    ]


def frame_rows(pair: str, timeframe: Timeframe, frame: pd.DataFrame, source: str) -> list[PriceRow]:
    """Rows from an aggregated bar frame (index = bucket start; bar_count, is_complete)."""
    has_count = "bar_count" in frame.columns
    has_complete = "is_complete" in frame.columns
    return _bar_rows(
        pair,
        timeframe,
        frame.index.to_pydatetime(),
        [frame[c].to_numpy() for c in _FRAME_COLUMNS],
        frame["bar_count"].to_numpy() if has_count else [None] * len(frame),
        frame["is_complete"].to_numpy() if has_complete else [True] * len(frame),
        source,
    )


def bucket_rows(
    pair: str,
    timeframe: Timeframe,
    starts_ns: Iterable[SupportsInt],
    columns: Mapping[str, npt.NDArray[np.generic]],
    source: str,
) -> list[PriceRow]:
    """Rows from rebuilt buckets held as arrays (``aggregation.rebuild.RebuiltBuckets``):
    bucket starts in epoch ns and the aggregated-frame columns."""
    stamps = [_EPOCH + timedelta(microseconds=int(ns) // 1000) for ns in starts_ns]
    values = [columns[c] for c in _FRAME_COLUMNS]
    return _bar_rows(
        pair, timeframe, stamps, values, columns["bar_count"], columns["is_complete"], source
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bar_rows(
    pair: str,
    timeframe: Timeframe,
    stamps: Sequence[datetime],
    prices: Sequence[Iterable[SupportsFloat]],
    counts: Iterable[SupportsInt | None],
    complete: Iterable[object],
    source: str,
) -> list[PriceRow]:
    now = utcnow()
    rows: list[PriceRow] = []
    for ts, o, h, lo, c, v, n, done in zip(stamps, *prices, counts, complete, strict=True):
        rows.append(
            {
                "currency_pair": pair,
                "timeframe": timeframe.value,
                "timestamp": ts,
                "open": float(o),
                "high": float(h),
                "low": float(lo),
                "close": float(c),
                "volume": float(v),
                "source": source,
                "bar_count": int(n) if n is not None else None,
                "is_complete": bool(done),
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


async def write_rows(conn: AsyncConnection, rows: Sequence[PriceRow]) -> int:
    """Upsert price rows; returns how many were new or changed."""
    return await bulk_upsert(conn, TABLE, rows, key=KEY, compare=COMPARE, also_set=("updated_at",))


async def latest_timestamp(
    conn: AsyncConnection, pair: str, timeframe: Timeframe
) -> datetime | None:
    stmt = select(func.max(PriceData.timestamp)).where(
        PriceData.currency_pair == pair, PriceData.timeframe == timeframe.value
    )
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


async def earliest_timestamp(
    conn: AsyncConnection, pair: str, timeframe: Timeframe
) -> datetime | None:
    stmt = select(func.min(PriceData.timestamp)).where(
        PriceData.currency_pair == pair, PriceData.timeframe == timeframe.value
    )
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


async def has_bars(
    conn: AsyncConnection, pair: str, timeframes: Iterable[Timeframe], count: int
) -> bool:
    """Whether every timeframe holds at least ``count`` bars (one statement, index probes)."""
    col = TABLE.c
    probes = [
        select(col.timestamp)
        .where(col.currency_pair == pair, col.timeframe == tf.value)
        .order_by(col.timestamp.desc())
        .offset(count - 1)
        .limit(1)
        .scalar_subquery()
        .label(f"tf_{tf.name}")
        for tf in timeframes
    ]
    row = (await conn.execute(select(*probes))).one()
    return all(value is not None for value in row)


def _epoch_seconds(conn: AsyncConnection) -> ColumnElement[int]:
    """The bar timestamp as integer epoch seconds, computed by the database."""
    if conn.dialect.name == "sqlite":
        return cast_(func.strftime("%s", PriceData.timestamp), BigInteger)
    return cast_(func.extract("epoch", PriceData.timestamp), BigInteger)


_FRAME_COLUMNS = ("open", "high", "low", "close", "volume")


def _bar_columns(
    conn: AsyncConnection,
) -> list[ColumnElement[int] | ColumnElement[float] | ColumnElement[bool]]:
    """The columns every bar read selects, in the order ``bar_frame`` expects."""
    return [
        _epoch_seconds(conn),
        PriceData.open,
        PriceData.high,
        PriceData.low,
        PriceData.close,
        PriceData.volume,
        func.coalesce(PriceData.bar_count, 0),
        PriceData.is_complete,
    ]


def bar_frame(columns: Sequence[npt.ArrayLike]) -> pd.DataFrame:
    """A bar frame from column sequences (epoch seconds first), without per-row objects."""
    import numpy as np
    import pandas as pd

    seconds = np.asarray(columns[0], dtype=np.int64)
    index = pd.DatetimeIndex(
        (seconds * 1_000_000_000).astype("datetime64[ns]"), name="timestamp"
    ).tz_localize("UTC")
    data = {
        name: np.asarray(columns[i + 1], dtype=np.float64) for i, name in enumerate(_FRAME_COLUMNS)
    }
    data["bar_count"] = np.asarray(columns[6], dtype=np.int64)
    data["is_complete"] = np.asarray(columns[7], dtype=bool)
    return pd.DataFrame(data, index=index)


async def load_bars(
    conn: AsyncConnection,
    pair: str,
    timeframe: Timeframe,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    last: int | None = None,
) -> pd.DataFrame:
    """A bar frame (index ``timestamp`` UTC) for [since, until]; or the ``last`` N bars.

    This is a hot read path, so rows go straight into numpy arrays and the timestamps arrive
    as epoch seconds computed by the database: no per-row Python objects.
    """
    stmt = select(*_bar_columns(conn)).where(
        PriceData.currency_pair == pair, PriceData.timeframe == timeframe.value
    )
    if since is not None:
        stmt = stmt.where(PriceData.timestamp >= since)
    if until is not None:
        stmt = stmt.where(PriceData.timestamp <= until)
    if last is not None:
        stmt = stmt.order_by(PriceData.timestamp.desc()).limit(last)
    else:
        stmt = stmt.order_by(PriceData.timestamp)
    rows = (await conn.execute(stmt)).all()
    if last is not None:
        rows = rows[::-1]
    return bar_frame(list(zip(*rows, strict=True)) if rows else [()] * 8)


async def nth_bar_before(
    conn: AsyncConnection, pair: str, timeframe: Timeframe, before: datetime, n: int
) -> datetime | None:
    """Open time of the ``n``-th stored bar before ``before`` (None: fewer are stored).

    Where an indicator's trailing window starts: derive, the patterns stage and evaluation
    all read from here, so their windows (and so their values) agree.
    """
    col = PriceData.__table__.c
    stmt = (
        select(col.timestamp)
        .where(col.currency_pair == pair, col.timeframe == timeframe.value, col.timestamp < before)
        .order_by(col.timestamp.desc())
        .limit(1)
        .offset(n - 1)
    )
    value: datetime | None = (await conn.execute(stmt)).scalar()
    return value


async def bar_times_after(
    conn: AsyncConnection, pair: str, timeframe: Timeframe, after: datetime
) -> list[datetime]:
    """Open times of the stored bars after ``after``, oldest first."""
    col = PriceData.__table__.c
    rows = await conn.execute(
        select(col.timestamp)
        .where(col.currency_pair == pair, col.timeframe == timeframe.value, col.timestamp > after)
        .order_by(col.timestamp)
    )
    return [r[0] for r in rows]


async def m5_span(conn: AsyncConnection, pair: str) -> tuple[datetime | None, datetime | None]:
    """Open times of the first and the last stored 5m bar (one statement, two index probes)."""
    col = TABLE.c
    where = (col.currency_pair == pair, col.timeframe == Timeframe.M5.value)
    first = select(func.min(col.timestamp)).where(*where).scalar_subquery()
    last = select(func.max(col.timestamp)).where(*where).scalar_subquery()
    row = (await conn.execute(select(first, last))).one()
    return row[0], row[1]


async def forming_starts(
    conn: AsyncConnection, pair: str, timeframes: Sequence[Timeframe]
) -> dict[Timeframe, list[datetime]]:
    """Bucket starts still stored as forming (is_complete = false), per timeframe, at once.

    Served by the partial index on forming bars, so it costs the same with any history."""
    col = TABLE.c
    rows = await conn.execute(
        select(col.timeframe, col.timestamp).where(
            col.currency_pair == pair,
            col.timeframe.in_([tf.value for tf in timeframes]),
            # ``= false`` (``= 0`` on SQLite), not ``IS false``: only the equality matches the
            # partial index's predicate, and without it this scans every stored 1h/4h/1d bar.
            col.is_complete == false(),
        )
    )
    found: dict[Timeframe, list[datetime]] = {tf: [] for tf in timeframes}
    for timeframe, timestamp in rows:
        found[Timeframe(timeframe)].append(timestamp)
    return found
