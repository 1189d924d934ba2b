"""Vectorised outcomes equal the bar-by-bar oracle; the baseline on a hand-built series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchange_analytics.evaluation.levels import (
    AMBIGUOUS,
    CODE_NAMES,
    OPEN,
    STOP_LOSS,
    TAKE_PROFIT,
    RangeTable,
    moves_after,
    walk,
)
from exchange_analytics.evaluation.outcomes import outcome
from exchange_analytics.evaluation.scoring import Setup, baseline_summary, levels_for
from tests.support.paths import REAL_DATA

PIP = 0.0001


def _real_bars(rows: int = 6000) -> pd.DataFrame:
    frame = pd.read_csv(REAL_DATA / "orkad_USDCHF_5m.csv", comment="#")
    frame = frame[(frame["high"] >= frame[["open", "close"]].max(axis=1))]
    frame = frame[(frame["low"] <= frame[["open", "close"]].min(axis=1))]
    return frame.iloc[5000 : 5000 + rows].reset_index(drop=True)


def _oracle(highs, lows, closes, position, buy, tp_pips, sl_pips, horizon):
    entry = closes[position]
    tp, sl = levels_for(np.array([entry]), buy, tp_pips, sl_pips, PIP)
    after = slice(position + 1, position + 1 + horizon)
    name, bars = outcome(
        "BUY" if buy else "SELL", float(tp[0]), float(sl[0]), highs[after], lows[after]
    )
    end = position + (bars if bars is not None else min(horizon, len(highs) - 1 - position))
    window = slice(position + 1, end + 1)
    if buy:
        mfe, mae = highs[window].max() - entry, entry - lows[window].min()
    else:
        mfe, mae = entry - lows[window].min(), highs[window].max() - entry
    return name, bars, mae / PIP, mfe / PIP


@pytest.mark.parametrize("buy", [True, False], ids=["buy", "sell"])
@pytest.mark.parametrize(
    ("tp", "sl", "horizon"), [(120, 60, 1440), (5, 3, 50), (2, 2, 7)], ids=["wide", "tight", "tiny"]
)
def test_walk_equals_the_bar_by_bar_oracle_on_real_bars(buy, tp, sl, horizon):
    bars = _real_bars()
    highs, lows, closes = (bars[c].to_numpy(np.float64) for c in ("high", "low", "close"))
    rng = np.random.default_rng(7)
    positions = np.sort(rng.choice(len(bars) - 2, size=400, replace=False)).astype(np.int64)
    table = RangeTable(highs, lows, horizon)
    take_profit, stop_loss = levels_for(closes[positions], buy, tp, sl, PIP)
    got = walk(table, positions, closes[positions], take_profit, stop_loss, buy, horizon, PIP)
    seen = set()
    for i, position in enumerate(positions):
        name, n, mae, mfe = _oracle(highs, lows, closes, position, buy, tp, sl, horizon)
        assert CODE_NAMES[got.code[i]] == name, position
        assert got.bars[i] == (-1 if n is None else n), position
        assert got.mae_pips[i] == pytest.approx(mae, abs=1e-9)
        assert got.mfe_pips[i] == pytest.approx(mfe, abs=1e-9)
        seen.add(name)
    if (tp, sl) == (2, 2):
        assert {"take_profit", "stop_loss", "ambiguous"} <= seen


def _series(highs, lows, closes):
    return (
        np.asarray(highs, np.float64),
        np.asarray(lows, np.float64),
        np.asarray(closes, np.float64),
    )


def test_baseline_on_a_hand_built_series():
    # Entry closes 1.0000, 1.0010, 1.0020, 1.0005, 1.0040; TP 10 pips, SL 10 pips, BUY.
    highs, lows, closes = _series(
        [1.0002, 1.0012, 1.0021, 1.0030, 1.0042, 1.0041],
        [0.9998, 1.0001, 1.0015, 0.9995, 1.0030, 1.0039],
        [1.0000, 1.0010, 1.0020, 1.0005, 1.0040, 1.0040],
    )
    table = RangeTable(highs, lows, 3)
    setup = Setup(True, 10, 10, 3, 0)
    base = baseline_summary(table, closes, 0, 4, setup, PIP)
    # 0: bar1 high 1.0012 >= 1.0010 -> TP at once.  1: TP 1.0020 bar2 high 1.0021 -> TP.
    # 2: TP 1.0030, SL 1.0010: bar3 high 1.0030 and low 0.9995 -> ambiguous.
    # 3: TP 1.0015, SL 0.9995: bar4 high 1.0042 -> TP.  4: one bar left, neither -> open.
    assert base == {
        "entries": 5,
        "take_profit": 3,
        "stop_loss": 0,
        "ambiguous": 1,
        "open": 1,
        "hit_rate": 1.0,
        "expectancy_r": 1.0,
    }
    sell = baseline_summary(table, closes, 0, 4, Setup(False, 10, 10, 3, 2), PIP)
    # SELL 0: SL 1.0010 bar1 high 1.0012 -> SL.  1: SL 1.0020 bar2 -> SL.  2: ambiguous.
    # 3: SL 1.0015 bar4 high -> SL.  4: open.  Expectancy: -1 - 2/10.
    assert (sell["take_profit"], sell["stop_loss"], sell["ambiguous"], sell["open"]) == (0, 3, 1, 1)
    assert sell["expectancy_r"] == pytest.approx(-1.2)


def test_walk_stops_at_the_last_allowed_bar():
    highs, lows, closes = _series([1.0, 1.0, 1.0, 1.5], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0])
    table = RangeTable(highs, lows, 10)
    positions = np.array([0], dtype=np.int64)
    tp, sl = np.array([1.2]), np.array([0.5])
    free = walk(table, positions, closes[positions], tp, sl, True, 10, PIP)
    cut = walk(table, positions, closes[positions], tp, sl, True, 10, PIP, np.array([2]))
    assert (free.code[0], free.bars[0]) == (TAKE_PROFIT, 3)
    assert (cut.code[0], cut.bars[0]) == (OPEN, -1)
    assert STOP_LOSS != AMBIGUOUS


def test_move_after_is_signed_and_nan_past_the_end():
    closes = np.array([1.0, 1.1, 1.3, 1.2])
    moved = moves_after(closes, np.array([0, 1, 2], dtype=np.int64), 2, -1.0)
    assert moved[:2] == pytest.approx([-0.3, -0.1])
    assert np.isnan(moved[2])
