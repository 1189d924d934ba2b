"""Indicators (SPEC §6): TA-Lib equivalence, trailing-window equivalence, references, rows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import talib

from exchange_analytics.domain import Timeframe
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.indicators import (
    DEFAULT_INDICATORS,
    TRAILING_WINDOW,
    IndicatorSpec,
    bars_needed,
    compute_indicators,
    indicator_rows,
    parse_indicator_extras,
    trailing_window,
)
from exchange_analytics.indicators.compute import _checked
from tests.support.paths import REAL_DATA as REAL

DEFAULT_COLUMNS = ["rsi", "macd", "macd_signal", "macd_hist", "bb_upper", "bb_middle", "bb_lower"]
EXTRAS_TEXT = "SMA:20,SMA:50,SMA:200,EMA:20,ATR:14,STOCH:14:3:3"


def load_real(name: str) -> pd.DataFrame:
    """A long real 5m series as a bar frame (the MT5 file is in server time Europe/Athens)."""
    if name.startswith("mt5_"):
        frame = pd.read_csv(REAL / name)
        index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time"), format="%Y-%m-%d %H:%M:%S"))
        index = index.tz_localize("Europe/Athens").tz_convert("UTC")
    else:
        frame = pd.read_csv(REAL / name, comment="#")
        index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time"), utc=True))
    frame.index = index.rename("timestamp")
    return frame.astype("float64")


@pytest.fixture(
    scope="module", params=["mt5_USDJPY_M5.csv", "orkad_USDCHF_5m.csv"], ids=["usdjpy", "usdchf"]
)
def series(request: pytest.FixtureRequest) -> pd.DataFrame:
    bars = load_real(request.param)
    assert len(bars) > 10_000
    return bars


@pytest.fixture(scope="module")
def full(series: pd.DataFrame) -> pd.DataFrame:
    return compute_indicators(series, parse_indicator_extras(EXTRAS_TEXT + ",EMA:200"))


def test_columns_equal_talib_called_directly(series: pd.DataFrame, full: pd.DataFrame) -> None:
    close, high, low = (series[c].to_numpy() for c in ("close", "high", "low"))
    expected = {
        "rsi": talib.RSI(close, 14),
        "sma_20": talib.SMA(close, 20),
        "sma_200": talib.SMA(close, 200),
        "ema_20": talib.EMA(close, 20),
        "ema_200": talib.EMA(close, 200),
        "atr_14": talib.ATR(high, low, close, 14),
    }
    expected |= dict(
        zip(["macd", "macd_signal", "macd_hist"], talib.MACD(close, 12, 26, 9), strict=True)
    )
    expected |= dict(
        zip(
            ["bb_upper", "bb_middle", "bb_lower"], talib.BBANDS(close, 20, 2.0, 2.0, 0), strict=True
        )
    )
    expected |= dict(
        zip(["stoch_k", "stoch_d"], talib.STOCH(high, low, close, 14, 3, 0, 3, 0), strict=True)
    )
    assert list(full.columns[:7]) == DEFAULT_COLUMNS
    assert full.index.equals(series.index)
    for column, values in expected.items():
        np.testing.assert_array_equal(full[column].to_numpy(), values, err_msg=column)


def cycles(n: int) -> list[tuple[int, int]]:
    """(end, new bars) of simulated cycles spread over the series: one bar, a gap heal, ..."""
    return [(n, 1), (n - 777, 3), (n // 2, 60), (TRAILING_WINDOW * 3 + 5, 300)]


@pytest.mark.parametrize(
    ("columns", "tolerance"),
    [
        (["rsi"], 1e-9),
        (["macd", "macd_signal", "macd_hist"], 1e-9),
        # SMA 20 has a finite memory; TA-Lib's running sums leave ~1e-12 of rounding noise, so
        # "exactly" means: far inside the spec's 1e-9.
        (["bb_upper", "bb_middle", "bb_lower"], 1e-9),
        (["sma_20", "sma_200", "atr_14", "stoch_k", "stoch_d", "ema_20"], 1e-9),
    ],
    ids=["rsi", "macd", "bollinger", "extras"],
)
def test_trailing_window_reproduces_full_history(
    series: pd.DataFrame, full: pd.DataFrame, columns: list[str], tolerance: float
) -> None:
    extras = parse_indicator_extras(EXTRAS_TEXT)
    window = trailing_window(extras)
    assert window == TRAILING_WINDOW
    for end, new in cycles(len(series)):
        part = series.iloc[end - new - window : end]
        got = compute_indicators(part, extras).iloc[-new:][columns]
        want = full.iloc[end - new : end][columns]
        assert got.notna().all().all() and got.index.equals(want.index)
        worst = float((got - want).abs().max().max())
        assert worst <= tolerance, (end, new, worst)


def test_long_ema_needs_the_longer_trailing_window(
    series: pd.DataFrame, full: pd.DataFrame
) -> None:
    extras = parse_indicator_extras("EMA:200")
    window = trailing_window(extras)
    assert window > TRAILING_WINDOW
    end = len(series)

    def error(history: int) -> float:
        got = compute_indicators(series.iloc[end - 1 - history : end], extras)["ema_200"].iloc[-1]
        return abs(float(got) - float(full["ema_200"].iloc[-1]))

    assert error(window) <= 1e-9
    assert error(TRAILING_WINDOW) > 1e-9  # why trailing_window(extras) exists


def test_trailing_window_bound_covers_the_defaults_twice() -> None:
    assert TRAILING_WINDOW >= 1000
    for spec in DEFAULT_INDICATORS:
        assert 2 * bars_needed(spec) <= TRAILING_WINDOW, spec
    # (13/14)^342 * 100 < 1e-9 is the RSI bound the docstring quotes
    assert bars_needed(DEFAULT_INDICATORS[0]) == 342


def test_bollinger_matches_stockcharts_table() -> None:
    table = pd.read_csv(REAL / "ref_cs-bbands.csv")
    index = pd.DatetimeIndex(pd.to_datetime(table["Date"], format="%d-%b-%y"), name="timestamp")
    bars = pd.DataFrame({"close": table["Close"].to_numpy()}, index=index.tz_localize("UTC"))
    out = compute_indicators(bars)
    defined = table["MiddleBand"].notna().to_numpy()
    assert defined.sum() == 23
    assert out["bb_middle"].notna().to_numpy().tolist() == defined.tolist()
    for ours, theirs in (
        ("bb_middle", "MiddleBand"),
        ("bb_upper", "HighBand"),
        ("bb_lower", "LowBand"),
    ):
        diff = np.abs(out[ours].to_numpy()[defined] - table[theirs].to_numpy()[defined])
        assert diff.max() <= 1e-6, ours


def test_rsi_matches_stockcharts_published_values() -> None:
    # ref_cs-rsi.csv's RSI column is another seeding; StockCharts publishes these for its closes.
    table = pd.read_csv(REAL / "ref_cs-rsi.csv")
    index = pd.date_range("2009-12-14", periods=len(table), freq="D", tz="UTC", name="timestamp")
    bars = pd.DataFrame({"close": table["Close"].to_numpy()}, index=index)
    rsi = compute_indicators(bars)["rsi"].to_numpy()
    assert np.isnan(rsi[:14]).all()
    assert np.round(rsi[14:18], 2).tolist() == [70.53, 66.32, 66.55, 69.41]


def test_short_and_empty_input_give_nan_and_no_rows() -> None:
    index = pd.date_range("2024-05-06", periods=10, freq="5min", tz="UTC", name="timestamp")
    bars = pd.DataFrame(
        {c: np.linspace(1, 2, 10) for c in ("open", "high", "low", "close")}, index=index
    )
    out = compute_indicators(bars, parse_indicator_extras("ATR:14"))
    assert out.isna().all().all() and len(out) == 10
    assert indicator_rows("USD/JPY", Timeframe.M5, out) == []
    empty = compute_indicators(bars.iloc[:0])
    assert empty.empty and list(empty.columns) == DEFAULT_COLUMNS


def test_bad_prices_are_rejected() -> None:
    index = pd.date_range("2024-05-06", periods=40, freq="5min", tz="UTC", name="timestamp")
    bars = pd.DataFrame({"close": np.linspace(1, 2, 40)}, index=index)
    with pytest.raises(ValueError, match="'high' column"):
        compute_indicators(bars, parse_indicator_extras("STOCH:14:3:3"))
    bars.iloc[5, 0] = np.nan
    with pytest.raises(ValueError, match=r"bars\['close'\] is not finite at 2024-05-06 00:25"):
        compute_indicators(bars)


def test_output_length_is_checked_like_strategy_i() -> None:
    spec = DEFAULT_INDICATORS[1]
    good = (np.zeros(5), np.zeros(5), np.zeros(5))
    assert len(_checked(spec, good, 5)) == 3
    with pytest.raises(
        ValueError, match="column 'macd_signal' has shape \\(4,\\); expected \\(5,\\)"
    ):
        _checked(spec, (np.zeros(5), np.zeros(4), np.zeros(5)), 5)
    with pytest.raises(ValueError, match="returned 1 output"):
        _checked(spec, np.zeros(5), 5)


def test_indicator_rows_shape(full: pd.DataFrame) -> None:
    since = full.index[-50]
    rows = indicator_rows("usdjpy", Timeframe.H1, full, since=since)
    by_type: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_type.setdefault(str(row["indicator_type"]), []).append(row)
    assert set(by_type) == {
        "RSI",
        "MACD",
        "BB",
        "SMA_20",
        "SMA_50",
        "SMA_200",
        "EMA_20",
        "EMA_200",
        "ATR_14",
        "STOCH",
    }
    assert all(len(group) == 50 for group in by_type.values())
    for row in rows:
        assert list(row) == [
            "currency_pair",
            "timeframe",
            "timestamp",
            "indicator_type",
            "value",
            "additional_data",
        ]
        assert row["currency_pair"] == "USD/JPY" and row["timeframe"] == "1h"
        assert isinstance(row["timestamp"], datetime) and row["timestamp"].tzinfo == UTC
        assert row["timestamp"] >= since
        assert type(row["value"]) is float and np.isfinite(row["value"])
    json.dumps([r["additional_data"] for r in rows], allow_nan=False)
    last = full.iloc[-1]
    macd, bb, rsi = by_type["MACD"][-1], by_type["BB"][-1], by_type["RSI"][-1]
    assert macd["value"] == last["macd"]
    assert macd["additional_data"] == {
        "signal": last["macd_signal"],
        "histogram": last["macd_hist"],
        "fast": 12,
        "slow": 26,
        "signal_period": 9,
    }
    assert bb["value"] == last["bb_middle"]
    assert bb["additional_data"] == {
        "upper": last["bb_upper"],
        "lower": last["bb_lower"],
        "period": 20,
        "std_dev": 2.0,
        "ma": "SMA",
    }
    assert rsi["additional_data"] == {"period": 14} and rsi["value"] == last["rsi"]
    assert by_type["STOCH"][-1]["additional_data"] == {
        "d": last["stoch_d"],
        "fastk_period": 14,
        "slowk_period": 3,
        "slowd_period": 3,
        "ma": "SMA",
    }


def test_indicator_rows_skip_undefined_bars(full: pd.DataFrame) -> None:
    rows = indicator_rows("EUR/USD", Timeframe.M5, full[DEFAULT_COLUMNS])
    counts = {t: sum(r["indicator_type"] == t for r in rows) for t in ("RSI", "MACD", "BB")}
    n = len(full)
    assert counts == {"RSI": n - 14, "MACD": n - 33, "BB": n - 19}
    assert min(r["timestamp"] for r in rows if r["indicator_type"] == "MACD") == full.index[33]


def test_indicator_rows_reject_foreign_or_partial_columns(full: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'close' is not an indicator column"):
        indicator_rows("USD/JPY", Timeframe.H1, full.assign(close=1.0))
    with pytest.raises(ValueError, match="MACD:12:26:9 lacks column"):
        indicator_rows("USD/JPY", Timeframe.H1, full[["rsi", "macd"]])
    with pytest.raises(ValueError, match="since must be timezone-aware"):
        indicator_rows("USD/JPY", Timeframe.H1, full, since=pd.Timestamp("2026-01-01"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("  ", ()),
        ("SMA:20", (IndicatorSpec("SMA", (20,)),)),
        (
            "sma:20, ema:50 ,wma:10",
            (IndicatorSpec("SMA", (20,)), IndicatorSpec("EMA", (50,)), IndicatorSpec("WMA", (10,))),
        ),
        ("ATR:14,STOCH:5:3:3", (IndicatorSpec("ATR", (14,)), IndicatorSpec("STOCH", (5, 3, 3)))),
        ("RSI:14,RSI:7,SMA:20,SMA:20", (IndicatorSpec("RSI", (7,)), IndicatorSpec("SMA", (20,)))),
    ],
    ids=["empty", "blank", "one", "case-and-spaces", "atr-stoch", "defaults-and-repeats-dropped"],
)
def test_parse_indicator_extras_accepts(text: str, expected: tuple[IndicatorSpec, ...]) -> None:
    assert parse_indicator_extras(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SMA", "'SMA' is not understood"),
        ("SMA:20,,EMA:5", "an empty item"),
        ("MACD:12:26:9", "'MACD:12:26:9' is not understood"),
        ("STOCH:14:3", "'STOCH:14:3' is not understood"),
        ("SMA:1", "SMA period must be in [2, 100000], got 1"),
        ("EMA:20x,ATR:0", "'EMA:20X' is not understood; 'ATR:0': ATR period must be in [1"),
    ],
    ids=[
        "no-period",
        "empty-item",
        "default-kind",
        "stoch-short",
        "period-too-small",
        "all-reported",
    ],
)
def test_parse_indicator_extras_rejects_naming_the_setting_and_form(text: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_indicator_extras(text)
    message = str(caught.value)
    assert message.startswith(f"INDICATORS={text!r} is invalid")
    assert reason in message
    assert re.search(r"expected a comma-separated list of SMA:<period>.*STOCH:14:3:3$", message)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("spec", "columns", "indicator_type"),
    [
        (IndicatorSpec("RSI", (14,)), ("rsi",), "RSI"),
        (IndicatorSpec("RSI", (7,)), ("rsi_7",), "RSI_7"),
        (
            IndicatorSpec("BB", (20, 2.5)),
            ("bb_20_2.5_upper", "bb_20_2.5_middle", "bb_20_2.5_lower"),
            "BB_20_2.5",
        ),
        (IndicatorSpec("STOCH", (14, 3, 3)), ("stoch_k", "stoch_d"), "STOCH"),
        (IndicatorSpec("STOCH", (5, 3, 3)), ("stoch_5_3_3_k", "stoch_5_3_3_d"), "STOCH_5_3_3"),
        (IndicatorSpec("ATR", (14,)), ("atr_14",), "ATR_14"),
    ],
    ids=["rsi-default", "rsi-7", "bb-non-default", "stoch-default", "stoch-5-3-3", "atr-14"],
)
def test_spec_names_round_trip_through_rows(
    spec: IndicatorSpec, columns: tuple[str, ...], indicator_type: str
) -> None:
    assert spec.columns == columns and spec.indicator_type == indicator_type
    index = pd.date_range("2024-05-06", periods=80, freq="1h", tz="UTC", name="timestamp")
    rng = np.random.default_rng(1)
    close = 100 + np.cumsum(rng.normal(0, 0.1, 80))
    bars = pd.DataFrame(
        {"open": close, "high": close + 0.2, "low": close - 0.2, "close": close}, index=index
    )
    frame = compute_indicators(bars, [spec])
    rows = indicator_rows("USD/JPY", Timeframe.H1, frame[list(columns)])
    assert rows and {r["indicator_type"] for r in rows} == {indicator_type}
    for name, value in spec.parameters.items():
        assert rows[-1]["additional_data"][name] == value


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("FOO", (1,), "unknown indicator kind"),
        ("MACD", (26, 12, 9), "fast period must be below"),
        ("SMA", (20, 3), "takes 1 parameter"),
        ("SMA", (20.5,), "must be an integer"),
        ("BB", (20, 0.0), "std_dev must be in"),
    ],
    ids=["unknown", "macd-order", "arity", "float-period", "zero-std-dev"],
)
def test_invalid_specs_are_refused(kind: str, params: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IndicatorSpec(kind, params)
