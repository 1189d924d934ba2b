"""The steady-state cycle's one big read: the trailing windows of every timeframe of a pair,
in one statement, straight from the driver (split from ``storage.candles``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.domain import Timeframe
from exchange_analytics.storage.candles import TABLE
from exchange_analytics.storage.dialect import bind_processor

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS = ("open", "high", "low", "close", "volume", "bar_count", "is_complete")

_WINDOW_VALUES = "open, high, low, close, volume, COALESCE(bar_count, 0), is_complete"
_RAW_COLUMNS = '"timestamp", open, high, low, close, volume, bar_count, is_complete'


def _windows_sql(dialect: str, count: int, window: int) -> str:
    """The one statement behind ``load_window_arrays``: per timeframe, the ``window`` bars before a
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


async def _driver_rows(
    conn: AsyncConnection, sql: str, params: list[object]
) -> list[Sequence[object]]:
    """Rows straight from the driver, on the connection (and transaction) ``conn`` holds.

    This is the one read a steady-state cycle makes of thousands of rows; SQLAlchemy's
    per-row result processing cost more than the database did."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if conn.dialect.name == "sqlite":  # the sqlite3 connection itself: same transaction
        import aiosqlite  # each driver imported only where it is the one in use

        if not isinstance(driver, aiosqlite.Connection):
            raise TypeError(f"no raw read path for {type(driver).__name__}")
        return list(await driver.execute_fetchall(sql, params))
    import asyncpg

    if not isinstance(driver, asyncpg.Connection):
        raise TypeError(f"no raw read path for {type(driver).__name__}")
    # SQLAlchemy begins its asyncpg transaction lazily, at its own first statement; a raw
    # read before that would run outside the caller's transaction (snapshot).
    if not driver.is_in_transaction():
        await conn.execute(select(literal(1)))
    return list(await driver.fetch(sql, *params))


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """One timeframe's trailing window as arrays: open times (epoch ns, ascending) and the
    bar frame's columns (open..volume float64, bar_count int64, is_complete bool), with the
    open time of the window's first bar (None: the window holds all history)."""

    start: datetime | None
    timestamps: npt.NDArray[np.int64]
    columns: dict[str, npt.NDArray[np.generic]]

    def frame(self) -> pd.DataFrame:
        """The bar frame ``candles.load_bars`` returns for these bars (built once)."""
        import pandas as pd

        index = pd.DatetimeIndex(self.timestamps, dtype="datetime64[ns, UTC]", name="timestamp")
        return pd.DataFrame(self.columns, index=index, copy=False)


def window_of_frame(start: datetime | None, frame: pd.DataFrame) -> StoredWindow:
    """A bar frame (``candles.load_bars``) as a ``StoredWindow``."""
    import numpy as np

    stamps = np.asarray(frame.index.as_unit("ns").asi8, dtype=np.int64)
    return StoredWindow(start, stamps, {c: frame[c].to_numpy() for c in _COLUMNS})


async def load_window_arrays(
    conn: AsyncConnection, pair: str, before: dict[Timeframe, datetime], window: int
) -> dict[Timeframe, StoredWindow]:
    """Trailing windows of several timeframes of one pair, in one statement, as arrays.

    For each timeframe: the ``window`` bars before ``before[tf]`` and every bar from it on,
    with the open time of the window's first bar (None when fewer than ``window`` bars lie
    before: then the window holds all history, as ``window_start`` would say).
    """
    import numpy as np

    dialect = conn.dialect.name
    to_db = bind_processor(TABLE.c.timestamp.type, conn.dialect)
    params: list[object] = []
    for tf, moment in before.items():
        params += [pair, tf.value, to_db(moment) if to_db is not None else moment]
    rows = await _driver_rows(conn, _windows_sql(dialect, len(before), window), params)
    columns = list(zip(*rows, strict=True)) if rows else [()] * 9
    codes = np.asarray(columns[0], dtype=np.int64)
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text
        micros = np.asarray(columns[1], dtype="datetime64[us]").astype(np.int64)
        nanos = micros // 1_000_000 * 1_000_000_000
    else:
        nanos = np.asarray(columns[1], dtype=np.int64) * 1_000_000_000
    order = np.lexsort((nanos, codes))  # grouped by timeframe, ascending in time within each
    dtypes = (np.float64,) * 5 + (np.int64, bool)
    ordered = [np.asarray(c, dtype=t)[order] for c, t in zip(columns[2:], dtypes, strict=True)]
    stamps = nanos[order]
    bounds = np.searchsorted(codes[order], np.arange(len(before) + 1)).tolist()
    out: dict[Timeframe, StoredWindow] = {}
    for i, (tf, moment) in enumerate(before.items()):
        lo, hi = bounds[i], bounds[i + 1]
        own = stamps[lo:hi]
        earlier = int(np.searchsorted(own, _ns(moment), side="left"))
        start = _EPOCH + timedelta(microseconds=int(own[0]) // 1000) if earlier >= window else None
        out[tf] = StoredWindow(
            start, own, {c: v[lo:hi] for c, v in zip(_COLUMNS, ordered, strict=True)}
        )
    return out


def _ns(moment: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (exact integer arithmetic)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000
