"""Pattern thresholds: the SPEC §7 defaults, overrides from PATTERN_THRESHOLDS, and errors."""

from __future__ import annotations

import dataclasses

import pytest

from exchange_analytics.errors import ConfigurationError
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, build_thresholds


def test_defaults_are_the_spec_table() -> None:
    th = DEFAULT_THRESHOLDS
    assert th.trend_reversal.rsi_level == 70
    assert (th.trend_reversal.wick_body_ratio, th.trend_reversal.wick_range_share) == (2.0, 0.30)
    assert th.trend_reversal.macd_cross_bars == 3
    assert (th.pullback.d1_rsi_min, th.pullback.d1_rsi_max) == (30, 50)
    assert (th.pullback.h4_rsi_min, th.pullback.h4_rsi_max) == (30, 40)
    assert (th.pullback.h1_rsi_min, th.pullback.h1_rsi_max) == (30, 35)
    assert th.divergence.d1_lookback_bars == 20 and th.divergence.bars_ago == 5
    assert (th.breakout.d1_rsi_min, th.breakout.d1_rsi_max, th.breakout.m5_bars) == (50, 70, 3)
    assert (th.rsi_battle.rsi_min, th.rsi_battle.rsi_max) == (45, 55)
    assert th.rsi_battle.macd_close_ratio == 0.0005 and th.rsi_battle.bb_middle_share == 0.25
    assert (th.rsi_battle.cross_bars, th.rsi_battle.min_crosses) == (12, 2)
    assert th.composite_signal.body_range_share == 0.5
    pips = {
        name: (getattr(th, name).take_profit_pips, getattr(th, name).stop_loss_pips)
        for name in ("trend_reversal", "pullback", "breakout", "composite_signal")
    }
    assert pips == {
        "trend_reversal": (50, 30),
        "pullback": (80, 40),
        "breakout": (100, 50),
        "composite_signal": (120, 60),
    }


def test_mirror_reflects_around_the_centre() -> None:
    assert DEFAULT_THRESHOLDS.mirror_rsi(70) == 30
    assert DEFAULT_THRESHOLDS.mirror_rsi(35) == 65


@pytest.mark.parametrize(
    "overrides",
    [
        {"trend_reversal.rsi_level": 75},
        {"trend_reversal": {"rsi_level": 75}},
        {"trend_reversal.rsi_level": "75"},
    ],
    ids=["dotted", "nested", "string-from-env"],
)
def test_overrides_in_every_accepted_form(overrides: dict[str, object]) -> None:
    th = build_thresholds(overrides)
    assert th.trend_reversal.rsi_level == 75.0
    assert th.pullback == DEFAULT_THRESHOLDS.pullback


def test_int_fields_stay_int_and_priorities_are_checked() -> None:
    th = build_thresholds({"divergence.d1_lookback_bars": "30", "rsi_battle.priority": "medium"})
    assert th.divergence.d1_lookback_bars == 30 and isinstance(th.divergence.d1_lookback_bars, int)
    assert th.rsi_battle.priority == "medium"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_thresholds(
            {
                "trend_reversal.rsi_levle": 75,
                "nosuch.rsi_level": 1,
                "pullback.d1_rsi_min": "abc",
                "breakout.m5_bars": 2.5,
                "composite_signal.priority": "urgent",
                "divergence.bars_ago": True,
            }
        )
    message = str(caught.value)
    for fragment in (
        "PATTERN_THRESHOLDS",
        "trend_reversal.rsi_levle: unknown threshold",
        "unknown pattern 'nosuch'",
        "pullback.d1_rsi_min: 'abc' is not a number",
        "breakout.m5_bars: 2.5 is not a whole number",
        "composite_signal.priority: 'urgent'",
        "divergence.bars_ago: True is not a number",
        "accepted form",
    ):
        assert fragment in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"pullback": {"h4_rsi_min": 45}}, "pullback.h4_rsi_min (45.0) must not exceed"),
        ({"trend_reversal.rsi_level": 120}, "not an RSI value"),
        ({"rsi_battle.min_crosses": 13}, "must not exceed rsi_battle.cross_bars"),
        ({"rsi_centre": 0}, "strictly between 0 and 100"),
        ({"breakout.take_profit_pips": -5}, "must not be negative"),
        ({"breakout.take_profit_pips": "inf"}, "not a finite number"),
    ],
    ids=["band-inverted", "rsi-out-of-range", "crosses-beyond-window", "centre", "negative", "inf"],
)
def test_inconsistent_values_are_refused(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match="PATTERN_THRESHOLDS") as caught:
        build_thresholds(overrides)
    assert fragment in str(caught.value)


def test_thresholds_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_THRESHOLDS.trend_reversal.rsi_level = 10  # type: ignore[misc]


def test_no_overrides_gives_the_defaults() -> None:
    assert build_thresholds(None) == DEFAULT_THRESHOLDS == build_thresholds({})
    assert build_thresholds({}).as_dict()["composite_signal"]["priority"] == "very_high"
