"""CSV history import (SPEC §3.4): formats, time zones, and bad rows named by file and line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe
from exchange_analytics.errors import ConfigurationError, CsvFormatError, ProviderRequestError
from exchange_analytics.providers.base import MarketDataProvider
from exchange_analytics.providers.csv_import import (
    CsvProvider,
    detect_format,
    parse_csv,
    resolve_tz,
)
from exchange_analytics.providers.registry import build_provider
from tests.support.fake_yahoo import DATA_DIR

MT5_M5 = DATA_DIR / "mt5_USDJPY_M5.csv"
MT5_H1 = DATA_DIR / "mt5_USDJPY_H1.csv"
ORKAD_5M = DATA_DIR / "orkad_USDCHF_5m.csv"
YFINANCE_5M = DATA_DIR / "yahoo_USDJPY_5m_2025-10-20_2025-12-01.csv"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def write(tmp_path: Path, text: str, name: str = "history.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- real files ------------------------------------------------------------------------------


def test_real_mt5_export_in_athens_server_time() -> None:
    parsed = parse_csv(MT5_M5, tz="Europe/Athens", timeframe=Timeframe.M5)
    assert parsed.format == "generic"
    assert parsed.errors == []
    assert parsed.rows == len(parsed.candles) == 11_998
    # 2026-05-13 06:10 server time (EEST, UTC+3) is 03:10 UTC
    assert parsed.candles[0] == Candle(
        utc(2026, 5, 13, 3, 10), 157.662, 157.674, 157.639, 157.663, 128.0
    )
    assert parsed.candles[-1].timestamp == utc(2026, 7, 9, 18, 55)
    stamps = [c.timestamp for c in parsed.candles]
    assert stamps == sorted(set(stamps))


def test_real_mt5_copy_rates_dump_with_dotted_date_and_time_in_one_column() -> None:
    """Regression: ``time`` = ``2025.01.02 00:05:00`` (an MT5 ``copy_rates`` dump) was refused
    as a bad timestamp on every row, so the year-long EUR/USD file could not be imported."""
    parsed = parse_csv(
        DATA_DIR / "otestrategy_EURUSD_M5_2025.csv", tz="Europe/Athens", timeframe=Timeframe.M5
    )
    assert parsed.format == "generic"
    assert parsed.errors == []
    assert parsed.rows == len(parsed.candles) == 63_361
    # 2025.01.02 00:05 server time (EET, UTC+2) is 2025-01-01 22:05 UTC; tick_volume is volume
    assert parsed.candles[0] == Candle(
        utc(2025, 1, 1, 22, 5), 1.03507, 1.03512, 1.03495, 1.03505, 51.0
    )


def test_real_mt5_hourly_export_across_both_dst_changes() -> None:
    parsed = parse_csv(MT5_H1, tz="Europe/Athens", timeframe=Timeframe.H1)
    assert parsed.errors == []
    assert len(parsed.candles) == 9_998
    assert parsed.candles[0].timestamp == utc(2024, 11, 27, 3)  # winter: 05:00 EET = UTC+2
    assert parsed.candles[-1].timestamp == utc(2026, 7, 9, 17)  # summer: 20:00 EEST = UTC+3


def test_the_zone_matters_for_naive_times() -> None:
    parsed = parse_csv(MT5_M5, tz=None, timeframe=Timeframe.M5)
    assert parsed.candles[0].timestamp == utc(2026, 5, 13, 6, 10)  # read as UTC


def test_real_yfinance_export_with_its_three_header_lines() -> None:
    parsed = parse_csv(YFINANCE_5M, tz="Asia/Tokyo")  # offsets in the file win over --tz
    assert parsed.format == "generic"
    assert len(parsed.candles) == 8_385
    first = parsed.candles[0]
    assert first.timestamp == utc(2025, 10, 20, 23, 0)
    assert (first.open, first.close) == (150.72500610351562, 150.73899841308594)


def test_real_orkad_file_is_refused_at_its_first_bad_bar() -> None:
    # The vendor sets each open to the previous close even when that lies outside the bar's
    # high/low, so this real file has genuine OHLC violations.
    with pytest.raises(CsvFormatError) as caught:
        parse_csv(ORKAD_5M)
    assert caught.value.line == 52
    assert caught.value.path == str(ORKAD_5M)
    assert str(caught.value) == (
        f"{ORKAD_5M}:52: ohlc violation: high 0.793 below max(open, close) 0.79303"
    )


def test_real_orkad_file_with_skip_bad_rows_keeps_the_rest() -> None:
    parsed = parse_csv(ORKAD_5M, skip_bad_rows=True)
    assert parsed.rows == 37_235
    assert len(parsed.candles) + len(parsed.errors) == 37_235
    assert [e.line for e in parsed.errors[:3]] == [52, 153, 192]
    assert all(e.reason.startswith("ohlc violation") for e in parsed.errors)
    assert parsed.candles[0].timestamp == utc(2026, 1, 4, 22, 5)


# --- HistData and MetaTrader -----------------------------------------------------------------


HISTDATA = """\
20240102 170000;142.010;142.020;141.990;142.000;0
20240102 170500;142.000;142.050;141.980;142.040;0
20240702 170000;161.450;161.500;161.400;161.480;0
"""


def test_histdata_runs_on_its_real_clock_not_fixed_est(tmp_path: Path) -> None:
    # HistData documents "EST without DST", but its files are UTC-4 in EU summer time
    # (PROVENANCE §F): a July 17:00 is 21:00 UTC, not 22:00.
    parsed = parse_csv(write(tmp_path, HISTDATA, "DAT_ASCII_USDJPY_M1_2024.csv"))
    assert parsed.format == "histdata"
    assert [c.timestamp for c in parsed.candles] == [
        utc(2024, 1, 2, 22, 0),
        utc(2024, 1, 2, 22, 5),
        utc(2024, 7, 2, 21, 0),
    ]
    assert parsed.candles[0] == Candle(utc(2024, 1, 2, 22), 142.01, 142.02, 141.99, 142.0, 0.0)


def test_histdata_zone_can_be_overridden(tmp_path: Path) -> None:
    parsed = parse_csv(write(tmp_path, HISTDATA), tz="UTC")
    assert parsed.candles[0].timestamp == utc(2024, 1, 2, 17, 0)


def test_metatrader_lines_in_broker_server_time(tmp_path: Path) -> None:
    text = (
        "2024.01.02,17:00,142.010,142.020,141.990,142.000,123\n"
        "2024.01.02,17:05,142.000,142.030,141.995,142.020,98\n"
    )
    parsed = parse_csv(write(tmp_path, text), tz="Europe/Athens")
    assert parsed.format == "metatrader"
    assert parsed.candles == [
        Candle(utc(2024, 1, 2, 15, 0), 142.01, 142.02, 141.99, 142.0, 123.0),
        Candle(utc(2024, 1, 2, 15, 5), 142.0, 142.03, 141.995, 142.02, 98.0),
    ]


def test_metatrader5_tab_export_with_header_uses_tick_volume(tmp_path: Path) -> None:
    text = (
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
        "2024.07.02\t17:00:00\t161.450\t161.500\t161.400\t161.480\t321\t0\t3\n"
    )
    parsed = parse_csv(write(tmp_path, text), tz="Europe/Athens")
    assert parsed.format == "metatrader"
    assert parsed.candles == [Candle(utc(2024, 7, 2, 14, 0), 161.45, 161.5, 161.4, 161.48, 321.0)]


# --- bad rows ----------------------------------------------------------------------------------


GOOD = [
    "timestamp,open,high,low,close,volume",
    "2024-01-02T22:00:00Z,142.010,142.020,141.990,142.000,5",
    "2024-01-02T22:05:00Z,142.000,142.050,141.980,142.040,6",
    "2024-01-02T22:10:00Z,142.040,142.060,142.000,142.010,7",
    "2024-01-02T22:15:00Z,142.010,142.030,141.970,141.990,8",
]


@pytest.mark.parametrize(
    ("line", "row", "reason"),
    [
        pytest.param(
            3,
            "2024-01-02T22:05:00Z,142.000,14x.050,141.980,142.040,6",
            "bad number in column 'high': '14x.050'",
            id="bad-number",
        ),
        pytest.param(
            3,
            "2024-01-02T22:05:00Z,142.000,142.050,141.980,,6",
            "bad number in column 'close': ''",
            id="empty-price",
        ),
        pytest.param(
            3,
            "2024-13-02T22:05:00Z,142.000,142.050,141.980,142.040,6",
            "bad timestamp '2024-13-02T22:05:00Z'",
            id="bad-timestamp",
        ),
        pytest.param(
            3,
            "2024-01-02T22:05:00Z,142.000,142.030,141.980,142.040,6",
            "ohlc violation: high 142.03 below max(open, close) 142.04",
            id="ohlc",
        ),
        pytest.param(
            3,
            "2024-01-02T22:05:00Z,-142.000,142.050,141.980,142.040,6",
            "non-positive price: open=-142.0",
            id="negative",
        ),
        pytest.param(
            3,
            "2024-01-02T22:05:00Z,nan,142.050,141.980,142.040,6",
            "non-finite price: open=nan",
            id="nan",
        ),
        pytest.param(
            3,
            "2024-01-02T22:00:00Z,142.000,142.050,141.980,142.040,6",
            "duplicate timestamp 2024-01-02T22:00:00+00:00 (first at line 2)",
            id="duplicate",
        ),
        pytest.param(
            3,
            "2024-01-02T22:07:00Z,142.000,142.050,141.980,142.040,6",
            "misaligned timestamp: 2024-01-02T22:07:00+00:00 is not on the 5m grid "
            "(is the file 5m data?)",
            id="misaligned",
        ),
        pytest.param(
            4,
            "2024-01-02T21:55:00Z,142.040,142.060,142.000,142.010,7",
            "out of order: 2024-01-02T21:55:00+00:00 comes after "
            "2024-01-02T22:05:00+00:00 (line 3)",
            id="out-of-order",
        ),
        pytest.param(
            3, "2024-01-02T22:05:00Z,142.000", "expected at least 5 fields, got 2", id="short-row"
        ),
        pytest.param(
            3,
            "2024-01-02T22:05:00Z,142.000,142.050,141.980,142.040,many",
            "bad number in column 'volume': 'many'",
            id="bad-volume",
        ),
    ],
)
def test_a_bad_row_is_refused_with_file_line_and_reason(
    tmp_path: Path, line: int, row: str, reason: str
) -> None:
    lines = list(GOOD)
    lines[line - 1] = row
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(CsvFormatError) as caught:
        parse_csv(path)
    assert (caught.value.path, caught.value.line, caught.value.reason) == (str(path), line, reason)
    assert str(caught.value) == f"{path}:{line}: {reason}"


def test_all_or_nothing_raises_the_first_bad_row(tmp_path: Path) -> None:
    lines = [
        *GOOD[:2],
        "# a comment",
        "",
        GOOD[2].replace("142.050", "oops"),
        GOOD[3],
        GOOD[4].replace("22:15", "22:16"),
    ]
    with pytest.raises(CsvFormatError) as caught:
        parse_csv(write(tmp_path, "\n".join(lines)))
    assert caught.value.line == 5  # comment and blank lines still count as lines


def test_skip_bad_rows_reports_every_bad_row_and_keeps_the_rest(tmp_path: Path) -> None:
    lines = [
        *GOOD,
        "2024-01-02T22:15:00Z,142.010,142.030,141.970,141.990,8",
        "2024-01-02T22:20:00Z,142.010,142.000,141.970,141.990,8",
        "2024-01-02T22:25:00Z,141.990,142.000,141.970,141.995,2",
    ]
    lines[2] = lines[2].replace("142.050", "oops")
    parsed = parse_csv(write(tmp_path, "\n".join(lines)), skip_bad_rows=True)
    assert [(e.line, e.reason.split(" ")[0]) for e in parsed.errors] == [
        (3, "bad"),
        (6, "duplicate"),
        (7, "ohlc"),
    ]
    assert [c.timestamp.minute for c in parsed.candles] == [0, 10, 15, 25]
    assert parsed.rows == 7


def test_crlf_and_bom_keep_line_numbers_exact(tmp_path: Path) -> None:
    lines = list(GOOD)
    lines[3] = lines[3].replace("142.060", "x")
    path = tmp_path / "windows.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    with pytest.raises(CsvFormatError) as caught:
        parse_csv(path)
    assert caught.value.line == 4


def test_a_5m_file_imported_as_hourly_points_at_the_timeframe(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match=r":3: misaligned .* \(is the file 1h data\?\)"):
        parse_csv(write(tmp_path, "\n".join(GOOD)), timeframe=Timeframe.H1)


def test_header_without_close_is_refused_at_the_header(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError) as caught:
        parse_csv(write(tmp_path, "# note\ntime,open,high,low\n2024-01-02,1,1,1\n"), fmt="generic")
    assert (caught.value.line, caught.value.reason) == (2, "header lacks close")


def test_file_without_data_rows(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match="no data rows"):
        parse_csv(write(tmp_path, GOOD[0] + "\n"))
    with pytest.raises(CsvFormatError, match="file is empty"):
        parse_csv(write(tmp_path, "\n\n"))


def test_missing_file_and_unknown_format_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        parse_csv(tmp_path / "nope.csv")
    with pytest.raises(ConfigurationError, match="--format 'excel'"):
        parse_csv(write(tmp_path, "\n".join(GOOD)), fmt="excel")


# --- time zones ----------------------------------------------------------------------------------


def test_dst_fall_back_hour_is_resolved_by_order(tmp_path: Path) -> None:
    # Athens leaves summer time at 04:00 on 2024-10-27: 03:00-03:59 happens twice.
    text = "time,open,high,low,close\n" + "".join(
        f"2024-10-27 {hm},1.10,1.11,1.09,1.10\n" for hm in ("03:50", "03:55", "03:00", "03:05")
    )
    parsed = parse_csv(write(tmp_path, text), tz="Europe/Athens")
    assert [c.timestamp for c in parsed.candles] == [
        utc(2024, 10, 27, 0, 50),
        utc(2024, 10, 27, 0, 55),
        utc(2024, 10, 27, 1, 0),
        utc(2024, 10, 27, 1, 5),
    ]


def test_dst_spring_forward_gap_is_a_bad_row(tmp_path: Path) -> None:
    # Athens skips 03:00-03:59 on 2024-03-31: 03:30 never happened there.
    text = (
        "time,open,high,low,close\n"
        "2024-03-31 02:55,1.1,1.1,1.1,1.1\n"
        "2024-03-31 03:30,1.1,1.1,1.1,1.1\n"
    )
    with pytest.raises(CsvFormatError) as caught:
        parse_csv(write(tmp_path, text), tz="Europe/Athens")
    assert caught.value.line == 3
    assert caught.value.reason.startswith("nonexistent local time 2024-03-31 03:30:00")


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("UTC", timedelta(0)),
        ("UTC+02:00", timedelta(hours=2)),
        ("-05:00", timedelta(hours=-5)),
        ("GMT+3", timedelta(hours=3)),
        ("Asia/Tokyo", timedelta(hours=9)),
    ],
)
def test_resolve_tz(name: str, offset: timedelta) -> None:
    assert resolve_tz(name).utcoffset(datetime(2024, 1, 2)) == offset


@pytest.mark.parametrize("name", ["Mars/Olympus", "UTC+25", "../etc/passwd"])
def test_unknown_zone_is_a_usage_error_naming_the_flag(name: str) -> None:
    with pytest.raises(ConfigurationError, match="--tz"):
        resolve_tz(name)


# --- format detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "fmt"),
    [
        (["20240102 170000;142.010;142.020;141.990;142.000;0"], "histdata"),
        (["2024.01.02,17:00,142.010,142.020,141.990,142.000,123"], "metatrader"),
        (["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>"], "metatrader"),
        (["timestamp,open,high,low,close,volume"], "generic"),
        (
            ["#FOR THE FULL HISTORICAL DATA VISIT : https://ork.ad", "time,open,high,low,close"],
            "generic",
        ),
        (["", "Price,Close,High,Low,Open,Volume"], "generic"),
    ],
)
def test_detect_format(lines: list[str], fmt: str) -> None:
    assert detect_format(lines) == fmt


def test_detect_format_names_the_line_it_cannot_read() -> None:
    with pytest.raises(CsvFormatError) as caught:
        detect_format(["# header comment", "hello,world"], "x.csv")
    assert caught.value.line == 2
    assert str(caught.value).startswith("x.csv:2: unrecognised format: 'hello,world'")


# --- the csv provider -------------------------------------------------------------------------


async def test_csv_provider_serves_closed_bars_of_the_window(tmp_path: Path) -> None:
    (tmp_path / "USDJPY_M5.csv").write_bytes(MT5_M5.read_bytes())
    provider = build_provider("csv", csv_dir=tmp_path, csv_tz="Europe/Athens")
    assert isinstance(provider, CsvProvider)
    assert isinstance(provider, MarketDataProvider)
    start, end = utc(2026, 5, 13, 3, 0), datetime(2026, 5, 13, 5, 2, 30, tzinfo=UTC)
    result = await provider.fetch_candles(CurrencyPair.parse("USD/JPY"), Timeframe.M5, start, end)
    everything = parse_csv(MT5_M5, tz="Europe/Athens").candles
    assert result.candles == [
        c for c in everything if start <= c.timestamp <= utc(2026, 5, 13, 4, 55)
    ]
    assert result.candles[0].timestamp == utc(2026, 5, 13, 3, 10)
    assert result.forming_dropped == 1  # the 05:00 bar closes after 05:02:30
    latest = await provider.ping(CurrencyPair.parse("USD/JPY"), end)
    assert latest == result.candles[-1]
    await provider.aclose()


async def test_csv_provider_logs_bad_rows_once_and_names_missing_files(tmp_path: Path) -> None:
    lines = list(GOOD)
    lines[2] = lines[2].replace("142.050", "oops")
    write(tmp_path, "\n".join(lines), "EURUSD_5m.csv")
    provider = CsvProvider(tmp_path)
    pair = CurrencyPair.parse("EUR/USD")
    with capture_logs() as logs:
        for _ in range(2):
            result = await provider.fetch_candles(
                pair, Timeframe.M5, utc(2024, 1, 2), utc(2024, 1, 3)
            )
            assert [c.timestamp.minute for c in result.candles] == [0, 10, 15]
    bad = [e for e in logs if e["event"] == "provider.csv_bad_rows"]
    assert len(bad) == 1
    assert bad[0]["first"].endswith("EURUSD_5m.csv:3: bad number in column 'high': 'oops'")
    with pytest.raises(ProviderRequestError, match=r"expected EURUSD_1h\.csv or EURUSD_H1\.csv"):
        await provider.fetch_candles(pair, Timeframe.H1, utc(2024, 1, 2), utc(2024, 1, 3))


def test_csv_provider_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="MARKET_DATA_PROVIDER=csv needs a directory"):
        build_provider("csv")
    with pytest.raises(ConfigurationError, match="does not exist"):
        CsvProvider(tmp_path / "missing")
    with pytest.raises(ConfigurationError, match="--tz"):
        CsvProvider(tmp_path, tz="Nowhere/Special")
