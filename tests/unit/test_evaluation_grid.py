"""The calibration grid: validation, expansion, choice on training, the thresholds file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from exchange_analytics.config.settings import load_settings
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.evaluation import calibrate as cal
from exchange_analytics.evaluation.grid import DEFAULT_GRID, build_grid, load_grid, passes
from exchange_analytics.evaluation.walkforward import windows
from exchange_analytics.patterns.thresholds import build_thresholds


def test_default_grid_is_valid_and_small():
    grid = build_grid(DEFAULT_GRID, 60)
    assert set(grid) == {"trend_reversal", "pullback", "breakout", "composite_signal"}
    assert passes(grid) == 4  # composite_signal: 2 rsi levels x 2 body shares
    assert len(grid["composite_signal"].settings()) == 4 * 2 * 2 * 2 * 2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"composite_signal": {"rsi_levl": [50]}}, "unknown threshold"),
        ({"composite_signal": {"rsi_level": ["high"]}}, "'high' is not a number"),
        ({"composite_signal": {"cooldown_minutes": [1.5]}}, "not a whole number"),
        ({"composite_signal": {"rsi_level": []}}, "empty list"),
        ({"divergence": {"bars_ago": [5]}}, "cannot be calibrated"),
        ({"nonsense": {}}, "cannot be calibrated"),
        ({"composite_signal": {"stop_loss_pips": [0]}}, "above 0"),
        ({"pullback": {"h1_rsi_min": [40]}}, "must not exceed"),
        ([], "JSON object"),
        ({"composite_signal": {"timeframes": [["4h", "2h"]]}}, "distinct timeframes"),
        ({"composite_signal": {"timeframes": [[]]}}, "distinct timeframes"),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "cooldown",
        "empty",
        "no-levels",
        "unknown",
        "sl0",
        "band",
        "list",
        "bad-timeframe",
        "no-timeframe",
    ],
)
def test_bad_grid_is_one_clear_configuration_error(raw, message):
    with pytest.raises(ConfigurationError, match=message):
        build_grid(raw, 60)


def test_grid_file_errors_name_the_file(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"--grid .*grid.json: not JSON"):
        load_grid(path, 60)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_grid(tmp_path / "missing.json", 60)


def test_passes_share_one_engine_pass_across_patterns():
    grid = build_grid(
        {
            "composite_signal": {"rsi_level": [50, 55, 60]},
            "breakout": {"d1_rsi_max": [70, 80]},
        },
        60,
    )
    made = cal.grid_passes(grid, 60)
    assert [slot for slot, _, _ in made] == [-1, 0, 1, 2]
    assert made[3][1] == {"composite_signal": {"rsi_level": 60}}
    assert {v.pattern for v in made[2][2]} == {"composite_signal", "breakout"}


def test_walk_forward_windows_roll_by_the_test_length():
    wins = windows(pd.Timestamp("2026-01-05", tz="UTC"), pd.Timestamp("2026-04-01", tz="UTC"), 8, 2)
    assert len(wins) == 2
    assert wins[0].test_start == pd.Timestamp("2026-03-02", tz="UTC")
    assert wins[1].train_start == pd.Timestamp("2026-01-19", tz="UTC")
    assert wins[1].test_end < pd.Timestamp("2026-04-01", tz="UTC")
    assert all(w.train_end < w.test_start for w in wins)


def _row(window, slot, variant, signals, expectancy, setting):
    figures = {"signals": signals, "take_profit": 1, "stop_loss": 1, "r_total": 0.0}
    return {
        "pair": "USD/CHF",
        "pattern": "composite_signal",
        "direction": "BUY",
        "window": window,
        "slot": slot,
        "variant": variant,
        "setting": setting,
        "train": {**figures, "expectancy_r": expectancy},
        "test": {**figures, "expectancy_r": -expectancy if expectancy else None},
        "test_baseline": {**figures, "expectancy_r": 0.1},
    }


def test_choice_uses_training_expectancy_and_the_minimum_signal_count():
    a, b, c = {"rsi_level": 50}, {"rsi_level": 55}, {"rsi_level": 60}
    rows = [
        _row(0, -1, -1, 30, 0.0, {}),
        _row(0, 0, 0, 30, 0.2, a),
        _row(0, 1, 1, 5, 0.9, b),  # best expectancy but too few signals
        _row(0, 2, 2, 30, 0.2, c),  # tie with a: the earlier setting wins
        _row(1, 0, 0, 3, 0.5, a),
        _row(1, 1, 1, 2, 0.5, b),
    ]
    chosen = cal.choose(rows, min_signals=10)
    assert chosen[0]["chosen"] == a
    assert chosen[0]["out_of_sample"]["expectancy_r"] == -0.2
    assert chosen[0]["seed_in_sample"]["expectancy_r"] == 0.0
    assert chosen[1]["chosen"] is None  # nothing qualified in window 1
    settings = cal.chosen_settings(chosen)
    assert settings == {"composite_signal": {"setting": a, "chosen_in": 1}}


def test_thresholds_file_is_accepted_unchanged_by_pattern_thresholds(tmp_path):
    chosen = {
        "composite_signal": {
            "setting": {
                "rsi_level": 55,
                "take_profit_pips": 60.0,
                "stop_loss_pips": 30.0,
                "cooldown_minutes": 240,
            },
            "chosen_in": 3,
        }
    }
    text = cal.thresholds_file(chosen)
    assert "\n" not in text.rstrip("\n") and "cooldown" not in text
    settings = load_settings(
        {"EXCHANGE_ANALYTICS_HOME": str(tmp_path), "PATTERN_THRESHOLDS": text.strip()},
        env_file=False,
    )
    thresholds = build_thresholds(settings.pattern_thresholds)
    assert thresholds.composite_signal.rsi_level == 55
    assert thresholds.composite_signal.take_profit_pips == 60.0
    assert json.loads(text)["composite_signal.stop_loss_pips"] == 30.0
