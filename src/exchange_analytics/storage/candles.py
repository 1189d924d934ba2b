"""Reading and writing candles in ``price_data``.

Writes go through ``dialect.bulk_upsert`` (binary COPY on PostgreSQL for big batches), and a
row is only rewritten when one of its values changed, so re-running a cycle writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, SupportsFloat, SupportsInt, cast

from sqlalchemy import BigInteger, Table, false, func, literal, select
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.storage.dialect import bind_processor, bulk_upsert
from exchange_analytics.storage.models import PriceData, utcnow

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

TABLE = cast(Table, PriceData.__table__)
KEY = ("currency_pair", "timeframe", "timestamp")
COMPARE = ("open", "high", "low", "close", "volume", "source", "bar_count", "is_complete")


def candle_rows(
    pair: str, timeframe: Timeframe, candles: Iterable[Candle], source: str
) -> list[dict[str, Any]]:
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


def frame_rows(
    pair: str, timeframe: Timeframe, frame: pd.DataFrame, source: str
) -> list[dict[str, Any]]:
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
) -> list[dict[str, Any]]:
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
) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
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


async def write_rows(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
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


def _epoch_seconds(conn: AsyncConnection) -> Any:
    """The bar timestamp as integer epoch seconds, computed by the database."""
    if conn.dialect.name == "sqlite":
        return cast_(func.strftime("%s", PriceData.timestamp), BigInteger)
    return cast_(func.extract("epoch", PriceData.timestamp), BigInteger)


_FRAME_COLUMNS = ("open", "high", "low", "close", "volume")


def _bar_columns(conn: AsyncConnection) -> list[Any]:
    """The columns every bar read selects, in the order ``_frame`` expects."""
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


def _frame(columns: Sequence[Any]) -> pd.DataFrame:
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
    return _frame(list(zip(*rows, strict=True)) if rows else [()] * 8)


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


_WINDOW_VALUES = "open, high, low, close, volume, COALESCE(bar_count, 0), is_complete"
_RAW_COLUMNS = '"timestamp", open, high, low, close, volume, bar_count, is_complete'


def _windows_sql(dialect: str, count: int, window: int) -> str:
    """The one statement behind ``load_windows``: per timeframe, the ``window`` bars before a
    moment and every bar from it on (the moment's own bar included), tagged with a code.

    SQLite returns the stored timestamp text (numpy parses it far faster than ``strftime``
    in SQL); PostgreSQL returns epoch seconds. Only integers we produce are spelled into it.
    """
    sqlite = dialect == "sqlite"
    stamp = '"timestamp"' if sqlite else 'CAST(EXTRACT(EPOCH FROM "timestamp") AS BIGINT)'
    parts = []
    for code in range(count):
        p = [f"{'?' if sqlite else '$'}{3 * code + i}" for i in (1, 2, 3)]  # reusable: ?1, $1
        head = f"SELECT {code}, {stamp}, {_WINDOW_VALUES} FROM"
        where = f"WHERE currency_pair = {p[0]} AND timeframe = {p[1]} AND"
        # Identifiers are ours and the values bound parameters: no input reaches the text.
        earlier = f'SELECT {_RAW_COLUMNS} FROM price_data {where} "timestamp" <'  # noqa: S608 # nosec B608
        order = f'ORDER BY "timestamp" DESC LIMIT {int(window)}'
        parts.append(f"{head} ({earlier} {p[2]} {order}) AS w{code}")
        parts.append(f'{head} price_data {where} "timestamp" >= {p[2]}')
    return " UNION ALL ".join(parts)


async def _driver_rows(conn: AsyncConnection, sql: str, params: list[Any]) -> list[Any]:
    """Rows straight from the driver, on the connection (and transaction) ``conn`` holds.

    This is the one read a steady-state cycle makes of thousands of rows; SQLAlchemy's
    per-row result processing cost more than the database did."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "sqlite":  # the sqlite3 connection itself: same transaction
        return list(await driver.execute_fetchall(sql, params))
    # SQLAlchemy begins its asyncpg transaction lazily, at its own first statement; a raw
    # read before that would run outside the caller's transaction (snapshot).
    if not driver.is_in_transaction():
        await conn.execute(select(literal(1)))
    return list(await driver.fetch(sql, *params))


async def load_windows(
    conn: AsyncConnection, pair: str, before: dict[Timeframe, datetime], window: int
) -> dict[Timeframe, tuple[datetime | None, pd.DataFrame]]:
    """Trailing windows of several timeframes of one pair, in one statement.

    For each timeframe: the ``window`` bars before ``before[tf]`` and every bar from it on,
    with the open time of the window's first bar (None when fewer than ``window`` bars lie
    before: then the frame holds all history, as ``window_start`` would say).
    """
    import numpy as np

    dialect = conn.dialect.name
    to_db = bind_processor(TABLE.c.timestamp.type, conn.dialect)
    params: list[Any] = []
    for tf, moment in before.items():
        params += [pair, tf.value, to_db(moment) if to_db is not None else moment]
    rows = await _driver_rows(conn, _windows_sql(dialect, len(before), window), params)
    columns = list(zip(*rows, strict=True)) if rows else [()] * 9
    codes = np.asarray(columns[0], dtype=np.int64)
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text
        micros = np.asarray(columns[1], dtype="datetime64[us]").astype(np.int64)
        seconds = micros // 1_000_000
    else:
        seconds = np.asarray(columns[1], dtype=np.int64)
    order = np.lexsort((seconds, codes))  # grouped by timeframe, ascending in time within each
    dtypes = (np.float64,) * 5 + (np.int64, bool)
    ordered = [seconds[order]] + [
        np.asarray(c, dtype=t)[order] for c, t in zip(columns[2:], dtypes, strict=True)
    ]
    bounds = np.searchsorted(codes[order], np.arange(len(before) + 1))
    out: dict[Timeframe, tuple[datetime | None, pd.DataFrame]] = {}
    for i, (tf, moment) in enumerate(before.items()):
        frame = _frame([c[bounds[i] : bounds[i + 1]] for c in ordered])
        earlier = int(frame.index.searchsorted(moment))
        start = frame.index[0].to_pydatetime() if earlier >= window else None
        out[tf] = (start, frame)
    return out
