"""Aggregation against real broker and vendor bars (tests/data/real, see PROVENANCE.md there).

The MetaTrader 5 files are one broker's M5, H1 and H4 bars of the same weeks, in naive server
time Europe/Athens. The broker's H4 bars start at server 00/04/08/..., which is New York
17/21/01/... whenever the US and the EU are both on summer or both on winter time. Every
comparison counts what it compared, so none can pass vacuously, and checks that no reference
bar lacks an aggregated bucket or the reverse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchange_analytics.aggregation import OHLCV_AGG, aggregate, bucket_end_ns, combine_history
from exchange_analytics.domain import Timeframe
from tests.support.paths import REAL_DATA as REAL

PRICES = ["open", "high", "low", "close", "volume"]


def load_mt5(pair: str, timeframe: str) -> pd.DataFrame:
    frame = pd.read_csv(REAL / f"mt5_{pair}_{timeframe}.csv")
    server_time = pd.DatetimeIndex(pd.to_datetime(frame.pop("time"), format="%Y-%m-%d %H:%M:%S"))
    frame.index = server_time.tz_localize("Europe/Athens").tz_convert("UTC").rename("timestamp")
    return frame.astype("float64")


def load_orkad(name: str) -> pd.DataFrame:
    frame = pd.read_csv(REAL / name, comment="#")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time"), utc=True), name="timestamp")
    return frame.astype("float64")


def covered(
    agg: pd.DataFrame, source: pd.DataFrame, source_tf: Timeframe, tf: Timeframe, boundary: str
) -> pd.DataFrame:
    """Buckets lying wholly inside the source data's time range (PROVENANCE's "fully covered")."""
    ends = bucket_end_ns(agg.index.asi8, tf, boundary)
    inside = (agg.index >= source.index[0]) & (
        ends <= source.index[-1].value + source_tf.seconds * 10**9
    )
    return agg[inside]


def compare(agg: pd.DataFrame, reference: pd.DataFrame) -> tuple[int, int]:
    """(bars compared, bars exactly equal in OHLC and volume) over the shared timestamps."""
    common = agg.index.intersection(reference.index)
    equal = (agg.loc[common, PRICES].to_numpy() == reference.loc[common, PRICES].to_numpy()).all(
        axis=1
    )
    return len(common), int(equal.sum())


@pytest.fixture(scope="module", params=["USDJPY", "EURUSD"])
def mt5(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    pair = request.param
    return {tf: load_mt5(pair, tf) for tf in ("M5", "H1", "H4")}


@pytest.mark.parametrize("boundary", ["utc", "new_york"])
def test_mt5_m5_to_h1_reproduces_every_covered_broker_hour(
    mt5: dict[str, pd.DataFrame], boundary: str
) -> None:
    m5, h1 = mt5["M5"], mt5["H1"]
    agg = covered(aggregate(m5, Timeframe.H1, boundary), m5, Timeframe.M5, Timeframe.H1, boundary)
    reference = h1[(h1.index >= agg.index[0]) & (h1.index <= agg.index[-1])]
    assert compare(agg, reference) == (998, 998)
    # The M5 file runs to 21:55 server time but the H1 file stops at 20:00: the one extra
    # aggregated hour is the only difference between the two sets.
    assert agg.index.difference(reference.index).tolist() == [agg.index[-1]]
    assert reference.index.difference(agg.index).empty


def test_mt5_m5_to_h4_new_york_reproduces_every_covered_broker_h4_bar(
    mt5: dict[str, pd.DataFrame],
) -> None:
    m5, h4 = mt5["M5"], mt5["H4"]
    agg = aggregate(m5, Timeframe.H4, "new_york")
    agg = covered(agg, m5, Timeframe.M5, Timeframe.H4, "new_york")
    reference = h4[(h4.index >= agg.index[0]) & (h4.index <= agg.index[-1])]
    assert compare(agg, reference) == (248, 248)
    assert reference.index.difference(agg.index).empty
    assert len(agg.index.difference(reference.index)) <= 1  # the H4 file ends one bar earlier


def test_mt5_h1_to_h4_new_york_matches_the_broker_outside_dst_disagreement_weeks(
    mt5: dict[str, pd.DataFrame],
) -> None:
    h1, h4 = mt5["H1"], mt5["H4"]
    agg = aggregate(h1, Timeframe.H4, "new_york", source_timeframe=Timeframe.H1)
    ends = bucket_end_ns(agg.index.asi8, Timeframe.H4, "new_york")
    full = agg[agg["bar_count"].to_numpy() * 300 * 10**9 == ends - agg.index.asi8]
    assert compare(full, h4) == (2286, 2286)
    # A full New York bucket the broker does not have starts where server midnight is not
    # New York 17:00: the weeks when only one of the US and the EU has changed clocks (server
    # - New York = 6 h instead of 7 h), or after the H4 file's last bar.
    missing = full.index.difference(h4.index)
    athens = np.array([t.utcoffset() for t in missing.tz_convert("Europe/Athens")])
    new_york = np.array([t.utcoffset() for t in missing.tz_convert("America/New_York")])
    disagreement = (athens - new_york) == pd.Timedelta(hours=6)
    assert disagreement.sum() == 203
    assert (missing[~disagreement] > h4.index[-1]).all()


@pytest.mark.parametrize(
    ("timeframe", "reference_tf", "boundary", "compared"),
    [(Timeframe.H4, "H4", "new_york", 2286), (Timeframe.H1, "H1", "utc", 9998)],
    ids=["4h-new-york", "1h-utc"],
)
def test_combine_history_real_data_is_one_seamless_series(
    mt5: dict[str, pd.DataFrame],
    timeframe: Timeframe,
    reference_tf: str,
    boundary: str,
    compared: int,
) -> None:
    m5, h1 = mt5["M5"], mt5["H1"]
    out = combine_history(m5, h1, timeframe, boundary, data_end=None)
    assert out.index.is_monotonic_increasing and out.index.is_unique
    first_5m = m5.index[0]
    not_whole_hours = out.index[out["bar_count"].to_numpy() % 12 != 0]
    assert (not_whole_hours >= first_5m).all()  # only 5m-built buckets can hold part-hours
    ends = bucket_end_ns(out.index.asi8, timeframe, boundary)
    full = out[out["bar_count"].to_numpy() * 300 * 10**9 == ends - out.index.asi8]
    total, equal = compare(full, mt5[reference_tf])
    assert total == equal == compared
    # both sources contributed compared bars
    assert (full.index.intersection(mt5[reference_tf].index) >= first_5m).sum() > 200


def test_orkad_usdchf_5m_to_1h_matches_vendor_hours_even_with_missing_bars() -> None:
    m5 = load_orkad("orkad_USDCHF_5m.csv")
    h1 = load_orkad("orkad_USDCHF_1h.csv")
    agg = covered(aggregate(m5, Timeframe.H1, "utc"), m5, Timeframe.M5, Timeframe.H1, "utc")
    reference = h1[(h1.index >= agg.index[0]) & (h1.index <= agg.index[-1])]
    assert compare(agg, reference) == (3113, 3113)
    assert agg.index.equals(reference.index)
    # The vendor's 5m file has intra-week holes; those hours still match exactly.
    assert int((agg["bar_count"] < 12).sum()) == 55


def test_yahoo_5m_aggregates_like_pandas_resample() -> None:
    raw = pd.read_csv(
        REAL / "yahoo_USDJPY_5m_2025-10-20_2025-12-01.csv",
        skiprows=3,
        header=None,
        names=["time", "close", "high", "low", "open", "volume"],
    )
    bars = raw.set_index(
        pd.DatetimeIndex(pd.to_datetime(raw.pop("time"), utc=True), name="timestamp")
    )
    bars = bars[PRICES].astype("float64")
    assert len(bars) == 8385
    for timeframe in (Timeframe.H1, Timeframe.H4, Timeframe.D1):
        expected = bars.resample(timeframe.duration).agg(**OHLCV_AGG)
        expected = expected[expected["bar_count"] > 0]
        out = aggregate(bars, timeframe, "utc").drop(columns="is_complete")
        pd.testing.assert_frame_equal(out, expected, check_freq=False)
