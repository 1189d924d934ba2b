"""Helpers for running cycles in-process against a real database and reading it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select, text

from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import Timeframe
from exchange_analytics.pipeline.cycle import CycleOptions
from exchange_analytics.pipeline.report import CycleReport
from exchange_analytics.pipeline.runner import run_cycle
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import PriceData
from tests.support.fake_yahoo import Bar
from tests.support.paths import REAL_DATA

SMALL_BACKFILL = {
    "BACKFILL_DAYS_5M": 7,
    "BACKFILL_DAYS_1H": 40,
    "BACKFILL_DAYS_4H": 40,
    "BACKFILL_DAYS_1D": 40,
    "MIN_BARS": 20,
}


async def cycle(settings: Settings, as_of: datetime, **options: Any) -> CycleReport:
    return await run_cycle(settings, CycleOptions(as_of=as_of, **options))


async def bars(settings: Settings, pair: str, timeframe: Timeframe) -> pd.DataFrame:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            return await candle_store.load_bars(conn, pair, timeframe)
    finally:
        await engine.dispose()


async def scalar(settings: Settings, sql: str, **params: Any) -> Any:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


async def duplicate_bars(settings: Settings) -> int:
    """Rows sharing (pair, timeframe, timestamp): must always be 0."""
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            grouped = (
                select(func.count().label("n"))
                .select_from(PriceData)
                .group_by(PriceData.currency_pair, PriceData.timeframe, PriceData.timestamp)
                .having(func.count() > 1)
                .subquery()
            )
            return int(
                (await conn.execute(select(func.count()).select_from(grouped))).scalar() or 0
            )
    finally:
        await engine.dispose()


def mt5_bars(pair: str = "USDJPY") -> tuple[Bar, ...]:
    """The real MetaTrader 5m bars (server time Europe/Athens) as UTC ``Bar``s."""
    frame = pd.read_csv(REAL_DATA / f"mt5_{pair}_M5.csv", parse_dates=["time"])
    stamps = frame["time"].dt.tz_localize("Europe/Athens").dt.tz_convert("UTC")
    return tuple(
        Bar(int(ts.timestamp()), float(o), float(h), float(lo), float(c), float(v))
        for ts, o, h, lo, c, v in zip(
            stamps,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    )
