"""The ``csv`` provider feeds real broker files through the whole cycle with ``--as-of``."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pandas as pd

from exchange_analytics.domain import Timeframe
from tests.support.cycle import SMALL_BACKFILL, bars, cycle, mt5_bars
from tests.support.paths import REAL_DATA

AS_OF = datetime(2026, 7, 1, 12, 2, tzinfo=UTC)


async def test_csv_provider_replays_mt5_files(sqlite_url, make_settings, tmp_path):
    feed = tmp_path / "feed"
    feed.mkdir()
    shutil.copyfile(REAL_DATA / "mt5_USDJPY_M5.csv", feed / "USDJPY_5m.csv")
    shutil.copyfile(REAL_DATA / "mt5_USDJPY_H1.csv", feed / "USDJPY_H1.csv")
    settings = make_settings(
        sqlite_url,
        MARKET_DATA_PROVIDER="csv",
        CSV_DIR=str(feed),
        CSV_TZ="Europe/Athens",
        **SMALL_BACKFILL,
    )
    report = await cycle(settings, AS_OF)
    assert report.status == "success", report.to_dict()
    stored = await bars(settings, "USD/JPY", Timeframe.M5)
    expected = [b for b in mt5_bars("USDJPY") if b.t >= stored.index[0].timestamp()]
    expected = [b for b in expected if b.t + 300 <= AS_OF.timestamp()]
    assert [int(t.timestamp()) for t in stored.index] == [b.t for b in expected]
    assert stored.index[-1] == pd.Timestamp("2026-07-01 11:55", tz="UTC")
    # Hours built from the broker's 5m bars equal the broker's own H1 bars.
    hours = await bars(settings, "USD/JPY", Timeframe.H1)
    broker = pd.read_csv(REAL_DATA / "mt5_USDJPY_H1.csv", parse_dates=["time"])
    broker.index = broker["time"].dt.tz_localize("Europe/Athens").dt.tz_convert("UTC")
    full = hours[(hours["bar_count"] == 12) & hours["is_complete"]]
    common = full.index.intersection(broker.index)
    assert len(common) > 100
    for column in ("open", "high", "low", "close"):
        assert (full.loc[common, column] == broker.loc[common, column]).all(), column
