"""Data you can trust (issue 16, SPEC §3.4, §3.5): each defect found by trying the landed code as
a new user, as a regression test named after it, on SQLite and PostgreSQL, through the real
command line (``exchange_analytics.cli.main.main``) with real files."""

from __future__ import annotations

import asyncio
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import update

from exchange_analytics.cli.main import main
from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import Timeframe
from exchange_analytics.health.gather import check_health
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import PriceData
from tests.support.fake_yahoo import DATA_DIR

HISTDATA = DATA_DIR / "histdata"
USDJPY_2024 = HISTDATA / "HISTDATA_COM_MT_USDJPY_M12024.zip"
EURUSD_JAN = HISTDATA / "HISTDATA_COM_ASCII_EURUSD_M1202401.zip"
ORKAD_USDCHF = DATA_DIR / "orkad_USDCHF_5m.csv"
MT5_USDJPY = DATA_DIR / "mt5_USDJPY_M5.csv"
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


class Cli:
    """The command line in-process, as a user runs it: exit code, stdout, stderr."""

    def __init__(self, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: Any):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("METRICS_TEXTFILE", raising=False)
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Cli:
    env = {
        "EXCHANGE_ANALYTICS_HOME": str(tmp_path),
        "DATABASE_URL": db_url,
        "LOG_FILE": str(tmp_path / "logs"),
        "CURRENCY_PAIRS": "USD/JPY",
        "MARKET_DATA_PROVIDER": "demo",
    }
    return Cli(env, monkeypatch, capsys)


def _bars(settings: Settings, pair: str, timeframe: Timeframe) -> pd.DataFrame:
    async def read() -> pd.DataFrame:
        engine = build_engine(settings)
        try:
            async with engine.connect() as conn:
                return await candle_store.load_bars(conn, pair, timeframe)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _generic(path: Path, rows: list[tuple[str, float]]) -> Path:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{t},{c},{c + 0.02},{c - 0.02},{c},1" for t, c in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- future bars --------------------------------------------------------------------------


def test_import_of_a_future_bar_is_refused(cli: Cli, tmp_path: Path, db_url: str, make_settings):
    path = _generic(
        tmp_path / "usdjpy.csv",
        [("2026-07-14T10:00:00Z", 157.1), ("2099-01-05T10:00:00Z", 157.2)],
    )
    code, _, err = cli("import", str(path), "--pair", "USD/JPY", "--as-of", NOW.isoformat())
    assert code == 1
    assert f"{path}:3: future bar: opens at 2099-01-05T10:00:00+00:00" in err
    assert len(_bars(make_settings(db_url), "USD/JPY", Timeframe.M5)) == 0  # refused whole


def test_refused_import_ends_with_the_skip_bad_rows_hint(cli: Cli, tmp_path: Path):
    path = _generic(tmp_path / "usdjpy.csv", [("2099-01-05T10:00:00Z", 157.2)])
    code, _, err = cli("import", str(path), "--pair", "USD/JPY", "--as-of", NOW.isoformat())
    assert code == 1
    assert err.strip().splitlines()[-1].endswith("import the other rows with --skip-bad-rows")


def test_future_bar_is_skipped_with_skip_bad_rows(cli: Cli, tmp_path: Path, db_url, make_settings):
    path = _generic(
        tmp_path / "usdjpy.csv",
        [("2026-07-14T10:00:00Z", 157.1), ("2099-01-05T10:00:00Z", 157.2)],
    )
    args = ("import", str(path), "--pair", "USD/JPY", "--skip-bad-rows", "--as-of", NOW.isoformat())
    code, _, err = cli(*args)
    assert code == 0, err
    assert "skipped" in err and "future bar" in err
    stored = _bars(make_settings(db_url), "USD/JPY", Timeframe.M5)
    assert list(stored.index) == [pd.Timestamp("2026-07-14T10:00:00Z")]


async def _store_future_bar(settings: Settings) -> None:
    """What the landed code let through: a well-formed bar dated 2099, stored today."""
    engine = build_engine(settings)
    try:
        rows = candle_store.candle_rows(
            "USD/JPY",
            Timeframe.M5,
            [_candle(datetime(2099, 1, 5, 10, tzinfo=UTC), 157.2)],
            "csv",
        )
        async with engine.begin() as conn:
            await candle_store.write_rows(conn, rows)
    finally:
        await engine.dispose()


def _candle(t: datetime, c: float) -> Any:
    from exchange_analytics.domain import Candle

    return Candle(t, c, c + 0.02, c - 0.02, c, 1.0)


def test_health_blames_a_stored_future_bar_not_the_clock_and_quarantine_removes_it(
    cli: Cli, tmp_path: Path, db_url: str, make_settings
):
    settings = make_settings(db_url, CURRENCY_PAIRS="USD/JPY")
    path = _generic(tmp_path / "usdjpy.csv", [("2026-07-14T10:00:00Z", 157.1)])
    assert cli("import", str(path), "--pair", "USD/JPY", "--as-of", NOW.isoformat())[0] == 0
    asyncio.run(_store_future_bar(settings))
    report = asyncio.run(check_health(settings, datetime.now(UTC)))
    fresh = next(c for c in report.components if c.name == "data_freshness[USD/JPY]")
    assert "a stored bar lies in the future: bad data" in fresh.reason
    assert "exchange-analytics data quarantine --future" in fresh.reason
    assert "system clock" not in fresh.reason

    code, out, _ = cli("data", "quarantine", "--future", "--dry-run", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["removed"] == 0
    assert {(b["timeframe"], b["timestamp"]) for b in listed["bars"]} >= {
        ("5m", "2099-01-05T10:00:00+00:00")
    }
    code, out, _ = cli("data", "quarantine", "--future", "--pair", "usdjpy")
    assert code == 0 and "removed" in out
    stored = _bars(settings, "USD/JPY", Timeframe.M5)
    assert list(stored.index) == [pd.Timestamp("2026-07-14T10:00:00Z")]
    again = asyncio.run(check_health(settings, datetime.now(UTC)))
    fresh = next(c for c in again.components if c.name == "data_freshness[USD/JPY]")
    assert "future" not in fresh.reason


async def _age_newest_bar(settings: Settings, created: datetime) -> None:
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(PriceData).values(created_at=created))
    finally:
        await engine.dispose()


def test_a_wrong_system_clock_is_still_called_a_clock_problem(
    cli: Cli, tmp_path: Path, db_url: str, make_settings
):
    settings = make_settings(db_url, CURRENCY_PAIRS="USD/JPY")
    path = _generic(tmp_path / "usdjpy.csv", [("2026-07-14T10:00:00Z", 157.1)])
    assert cli("import", str(path), "--pair", "USD/JPY", "--as-of", NOW.isoformat())[0] == 0
    # The bar was stored after it closed; the clock now reads a day earlier.
    asyncio.run(_age_newest_bar(settings, datetime(2026, 7, 14, 10, 6, tzinfo=UTC)))
    report = asyncio.run(check_health(settings, datetime(2026, 7, 13, 10, 0, tzinfo=UTC)))
    fresh = next(c for c in report.components if c.name == "data_freshness[USD/JPY]")
    assert "check the system clock" in fresh.reason


# --- price level and jumps ------------------------------------------------------------------


def test_eurusd_scale_prices_imported_as_usdjpy_are_refused(cli: Cli, db_url: str, make_settings):
    code, _, err = cli("import", str(MT5_USDJPY), "--pair", "USD/JPY", "--tz", "Europe/Athens")
    assert code == 0, err
    before = len(_bars(make_settings(db_url), "USD/JPY", Timeframe.M5))
    code, _, err = cli("import", str(EURUSD_JAN), "--pair", "USD/JPY")
    assert code == 1
    assert "wrong pair or wrong scale?" in err and "--force" in err
    assert len(_bars(make_settings(db_url), "USD/JPY", Timeframe.M5)) == before


def test_a_price_jump_is_held_back_unless_forced(
    cli: Cli, tmp_path: Path, db_url: str, make_settings
):
    start = datetime(2026, 7, 14, 10, tzinfo=UTC)
    closes = [157.10, 157.12, 172.90, 157.15]  # one 10 % spike
    rows = [((start + timedelta(minutes=5 * i)).isoformat(), c) for i, c in enumerate(closes)]
    path = _generic(tmp_path / "usdjpy.csv", rows)
    code, out, err = cli("import", str(path), "--pair", "USD/JPY", "--json", "--no-derive")
    assert code == 0, err
    assert json.loads(out)["held_back"] == 1
    stored = _bars(make_settings(db_url), "USD/JPY", Timeframe.M5)
    assert 172.90 not in list(stored["close"])
    code, out, _ = cli("import", str(path), "--pair", "USD/JPY", "--json", "--force", "--no-derive")
    assert code == 0 and json.loads(out)["held_back"] == 0
    assert 172.90 in list(_bars(make_settings(db_url), "USD/JPY", Timeframe.M5)["close"])


# --- HistData -------------------------------------------------------------------------------


def _independent_hourly(path: Path) -> pd.DataFrame:
    """The same zip read by pandas alone, on HistData's corrected clock, resampled to 1h."""
    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(member) as stream:
            raw = pd.read_csv(stream, header=None, names=["d", "t", "o", "h", "l", "c", "v"])
    wall = pd.to_datetime(raw["d"] + " " + raw["t"], format="%Y.%m.%d %H:%M")
    # EU summer time per PROVENANCE §F: from 00:00 UTC after the last Sunday of March to
    # 00:00 UTC after the last Sunday of October (2024: Apr 1 and Oct 28).
    start, end = pd.Timestamp("2024-04-01"), pd.Timestamp("2024-10-28")
    as_summer = wall + pd.Timedelta(hours=4)
    as_winter = wall + pd.Timedelta(hours=5)
    summer = (as_summer >= start) & (as_summer < end)
    winter = ~((as_winter >= start) & (as_winter < end))
    ambiguous = summer & winter
    second_copy = ambiguous & wall.duplicated(keep="first")
    instant = as_summer.where(summer & ~second_copy, as_winter)
    frame = raw.assign(ts=instant.dt.tz_localize("UTC")).set_index("ts").sort_index()
    assert frame.index.is_unique
    hourly = frame.resample("1h").agg({"o": "first", "h": "max", "l": "min", "c": "last"})
    return hourly.dropna()


@pytest.mark.slow
def test_histdata_zip_imports(cli: Cli, db_url: str, make_settings):
    code, out, err = cli("import", str(USDJPY_2024), "--pair", "USD/JPY", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["format"] == "histdata" and summary["from_1m"] is True
    assert summary["rows_read"] == 372_083 and summary["bad_rows"] == 0
    assert summary["held_back"] == 0
    settings = make_settings(db_url)
    stored = _bars(settings, "USD/JPY", Timeframe.H1)
    expected = _independent_hourly(USDJPY_2024)
    assert list(stored.index) == list(expected.index)
    for ours, theirs in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c")):
        assert (stored[ours].to_numpy() == expected[theirs].to_numpy()).all(), ours
    # The doubled autumn hour: 19:00-19:59 file time twice -> 23:00 and 00:00 UTC both present.
    assert pd.Timestamp("2024-10-27T23:00Z") in stored.index
    assert pd.Timestamp("2024-10-28T00:00Z") in stored.index
    # A summer bar is not an hour late: Mon 2024-07-01 00:00 file time is 04:00 UTC.
    m5 = _bars(settings, "USD/JPY", Timeframe.M5)
    assert m5.loc[pd.Timestamp("2024-07-01T04:00Z"), "open"] == _file_open(
        USDJPY_2024, "2024.07.01,00:00"
    )


def _file_open(path: Path, stamp: str) -> float:
    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".csv"))
        for line in archive.read(member).decode().splitlines():
            if line.startswith(stamp + ","):
                return float(line.split(",")[2])
    raise AssertionError(f"{stamp} not in {path}")


@pytest.mark.parametrize(
    ("week", "first_utc"),
    [
        # US on summer time, EU not yet: the session still opens 22:00 UTC (UTC-5).
        pytest.param("2024.03.17,17:00", "2024-03-17T22:00Z", id="us-only-summer-week"),
        # EU back on winter time, US still on summer time: 22:00 UTC again.
        pytest.param("2024.11.03,17:00", "2024-11-03T22:00Z", id="eu-winter-us-summer-week"),
        # Both on summer time: 21:00 UTC (UTC-4).
        pytest.param("2024.04.07,17:00", "2024-04-07T21:00Z", id="both-summer-week"),
    ],
)
def test_dst_weeks_on_histdata_clock(
    cli: Cli, tmp_path: Path, db_url: str, make_settings, week: str, first_utc: str
):
    with zipfile.ZipFile(USDJPY_2024) as archive:
        lines = archive.read("DAT_MT_USDJPY_M1_2024.csv").decode().splitlines()
    first = lines.index(next(line for line in lines if line.startswith(week)))
    week_file = tmp_path / "DAT_MT_USDJPY_M1_week.csv"
    week_file.write_text("\n".join(lines[first : first + 7000]) + "\n")
    code, out, err = cli("import", str(week_file), "--pair", "USD/JPY", "--json", "--no-derive")
    assert code == 0, err
    assert json.loads(out)["first"] == pd.Timestamp(first_utc).isoformat()
    stored = _bars(make_settings(db_url), "USD/JPY", Timeframe.M5)
    assert stored.index[0] == pd.Timestamp(first_utc)
    assert stored["open"].iloc[0] == float(lines[first].split(",")[2])


def test_tz_overrides_the_histdata_clock(cli: Cli, tmp_path: Path, db_url: str, make_settings):
    with zipfile.ZipFile(USDJPY_2024) as archive:
        lines = archive.read("DAT_MT_USDJPY_M1_2024.csv").decode().splitlines()
    first = lines.index(next(line for line in lines if line.startswith("2024.07.01,00:00")))
    path = tmp_path / "DAT_MT_USDJPY_M1_july.csv"
    path.write_text("\n".join(lines[first : first + 60]) + "\n")
    code, out, err = cli("import", str(path), "--pair", "USD/JPY", "--json", "--tz", "UTC-5")
    assert code == 0, err
    assert json.loads(out)["first"] == "2024-07-01T05:00:00+00:00"


# --- the first partial bucket ---------------------------------------------------------------


def test_first_partial_hour_is_kept(cli: Cli, db_url: str, make_settings, monkeypatch):
    monkeypatch.setenv("DAY_BOUNDARY", "new_york")
    code, _, err = cli("import", str(ORKAD_USDCHF), "--pair", "USD/CHF", "--skip-bad-rows")
    assert code == 0, err
    settings = make_settings(db_url, DAY_BOUNDARY="new_york")
    hourly = _bars(settings, "USD/CHF", Timeframe.H1)
    first_hour = hourly.loc[pd.Timestamp("2026-01-04T22:00Z")]
    assert first_hour["open"] == 0.79192 and first_hour["bar_count"] == 11
    daily = _bars(settings, "USD/CHF", Timeframe.D1)
    assert daily.loc[pd.Timestamp("2026-01-04T22:00Z"), "open"] == 0.79192  # not 0.79281
    four = _bars(settings, "USD/CHF", Timeframe.H4)
    assert four.index[0] == pd.Timestamp("2026-01-04T22:00Z")
    assert four["open"].iloc[0] == 0.79192


def test_import_help_and_data_help(cli: Cli):
    code, out, _ = cli("import", "--help")
    assert code == 0 and "--force" in out and "Example" in out
    code, out, _ = cli("data", "quarantine", "--help")
    assert code == 0 and "--future" in out and "Example" in out
