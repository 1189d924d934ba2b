"""render_chart: a real PNG of the expected size, drawn without pyplot, from real candles."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import talib

from exchange_analytics.notifications.chart import render_chart
from tests.support.paths import REAL_DATA

REAL = REAL_DATA / "mt5_USDJPY_H1.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _indicators(bars: pd.DataFrame) -> pd.DataFrame:
    close = bars["close"].to_numpy(dtype=float)
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2)
    return pd.DataFrame(
        {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "rsi": talib.RSI(close, 14)},
        index=bars.index,
    )


@pytest.fixture(scope="module")
def real_bars() -> pd.DataFrame:
    """The last 120 USD/JPY hourly candles of the MT5 export (server time EET/EEST -> UTC)."""
    frame = pd.read_csv(REAL, parse_dates=["time"]).tail(120)
    stamps = frame["time"].dt.tz_localize("Europe/Athens").dt.tz_convert("UTC")
    return frame.set_index(pd.DatetimeIndex(stamps, name="timestamp"))[
        ["open", "high", "low", "close"]
    ]


@pytest.fixture(scope="module")
def synthetic_bars() -> pd.DataFrame:
    """Seeded random walk with a few dojis (open == close == high == low)."""
    rng = np.random.default_rng(7)
    close = 1.08 + np.cumsum(rng.normal(0, 0.0004, 80))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 0.0003, 80)
    low = np.minimum(open_, close) - rng.uniform(0, 0.0003, 80)
    open_[10] = high[10] = low[10] = close[10]
    index = pd.date_range("2024-05-01", periods=80, freq="5min", tz="UTC", name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close}, index=index)


def test_real_candles_render_a_1000x600_png(real_bars: pd.DataFrame) -> None:
    png = render_chart(real_bars, _indicators(real_bars), "USD/JPY 1h · Trend reversal · SELL")
    assert _png_size(png) == (1000, 600)
    assert len(png) > 20_000  # candles, bands and text, not an empty canvas


def test_synthetic_candles_with_dojis_render(synthetic_bars: pd.DataFrame) -> None:
    png = render_chart(synthetic_bars, _indicators(synthetic_bars), "EUR/USD 5m")
    assert _png_size(png) == (1000, 600)
    assert len(png) > 10_000


def test_missing_indicators_are_left_out_not_fatal(synthetic_bars: pd.DataFrame) -> None:
    png = render_chart(synthetic_bars, pd.DataFrame(index=synthetic_bars.index), "bare")
    assert _png_size(png) == (1000, 600)


def test_drawing_adds_detail_the_blank_panels_lack(synthetic_bars: pd.DataFrame) -> None:
    with_bands = render_chart(synthetic_bars, _indicators(synthetic_bars), "EUR/USD 5m")
    bare = render_chart(synthetic_bars, pd.DataFrame(index=synthetic_bars.index), "EUR/USD 5m")
    assert len(with_bands) > len(bare)


def test_no_bars_is_a_clear_error() -> None:
    empty = pd.DataFrame(columns=["open", "high", "low", "close"])
    with pytest.raises(ValueError, match="no bars"):
        render_chart(empty, pd.DataFrame(), "empty")


def test_a_missing_price_column_is_named(synthetic_bars: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="high"):
        render_chart(synthetic_bars.drop(columns=["high"]), pd.DataFrame(), "broken")


def test_importing_notifications_stays_light_and_charts_avoid_pyplot() -> None:
    """The CLI imports notifications; matplotlib and pandas must wait for a chart."""
    code = (
        "import sys\n"
        "import exchange_analytics.notifications.chart\n"
        "import exchange_analytics.notifications.discord\n"
        "import exchange_analytics.notifications.formatting\n"
        "heavy = [m for m in ('matplotlib', 'pandas', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import pandas as pd\n"
        "from exchange_analytics.notifications.chart import render_chart\n"
        "bars = pd.DataFrame({'open': [1.0, 1.1], 'high': [1.2, 1.2], 'low': [0.9, 1.0],\n"
        "    'close': [1.1, 1.0]}, index=pd.date_range('2024-01-01', periods=2, freq='h'))\n"
        "render_chart(bars, pd.DataFrame(index=bars.index), 't')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
