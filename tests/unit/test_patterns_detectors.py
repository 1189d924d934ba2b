"""The six patterns of SPEC §7, both directions: inputs that fire, and near-misses that must not.

Windows are built directly from arrays with chosen indicator values (``make_window``), so each
case states exactly the numbers the SPEC table talks about. Every pattern is described once in
its table direction (``SCENARIOS``); the mirror direction is tested on the *mirrored* market
(``mirror_window``: prices reflected around 150, RSI around 50, MACD negated), which must fire the
mirror pattern and not the table one. A near-miss changes one condition by one small step past
its threshold and asserts that exactly that condition, and nothing else, fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.detectors import COMBINATIONS, TABLE_DIRECTION
from exchange_analytics.patterns.evaluate import evaluate_all, evaluate_pattern
from exchange_analytics.patterns.inputs import FIELDS, TimeframeWindow
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS, build_thresholds

D1, H4, H1, M5 = Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5
CENTRE = 150.0
BASE = {
    "open": 150.0,
    "high": 150.05,
    "low": 149.95,
    "close": 150.0,
    "rsi": 50.0,
    "macd": 0.0,
    "macd_signal": 0.0,
    "macd_hist": 0.0,
    "bb_upper": 150.5,
    "bb_middle": 150.0,
    "bb_lower": 149.5,
}
Spec = Mapping[str, Any]


def make_window(tf: Timeframe, spec: Spec | None = None, bars: int = 40) -> TimeframeWindow:
    """A window of ``bars`` quiet bars whose trailing values are replaced by ``spec``.

    ``spec`` maps a field to a scalar (the latest bar) or a list (the last len(list) bars).
    Keys ``bar`` / ``bars`` set (open, high, low, close) of the latest bar / the last bars.
    """
    spec = dict(spec or {})
    arrays = {name: np.full(bars, value, dtype=np.float64) for name, value in BASE.items()}
    shapes = spec.pop("bars", None) or ([spec.pop("bar")] if "bar" in spec else [])
    for k, (o, h, lo, c) in enumerate(shapes):
        i = len(shapes) - k
        arrays["open"][-i], arrays["high"][-i], arrays["low"][-i], arrays["close"][-i] = o, h, lo, c
    for name, value in spec.items():
        values = value if isinstance(value, list) else [value]
        arrays[name][-len(values) :] = values
    step = tf.seconds * 1_000_000_000
    stamps = (
        np.arange(bars, dtype=np.int64) * step + 1_780_000_000 // tf.seconds * tf.seconds * 10**9
    )
    return TimeframeWindow(timeframe=tf, timestamps=stamps, **arrays)


def mirror_window(w: TimeframeWindow) -> TimeframeWindow:
    """The same market upside down: prices reflected around 150, RSI around 50, MACD negated."""
    flip = 2.0 * CENTRE
    return TimeframeWindow(
        timeframe=w.timeframe,
        timestamps=w.timestamps,
        open=flip - w.open,
        high=flip - w.low,
        low=flip - w.high,
        close=flip - w.close,
        rsi=100.0 - w.rsi,
        macd=-w.macd,
        macd_signal=-w.macd_signal,
        macd_hist=-w.macd_hist,
        bb_upper=flip - w.bb_lower,
        bb_middle=flip - w.bb_middle,
        bb_lower=flip - w.bb_upper,
    )


def windows_for(
    specs: Mapping[Timeframe, Spec], mirrored: bool = False
) -> dict[Timeframe, TimeframeWindow]:
    built = {tf: make_window(tf, specs.get(tf)) for tf in (D1, H4, H1, M5)}
    return {tf: mirror_window(w) for tf, w in built.items()} if mirrored else built


def with_change(
    specs: Mapping[Timeframe, Spec], tf: Timeframe, change: Spec
) -> dict[Timeframe, Spec]:
    out = {k: dict(v) for k, v in specs.items()}
    out[tf] = {**out.get(tf, {}), **change}
    return out


# Each scenario fires its pattern in the table direction (SPEC §7 table) and nothing more.
DIV_CLOSES = [149.0 + 0.05 * i for i in range(19)] + [151.0]  # last = highest of 20
DIV_RSI = [55.0] * 9 + [70.0] + [55.0] * 9 + [60.0]  # now below the highest RSI before
SCENARIOS: dict[str, dict[Timeframe, Spec]] = {
    "trend_reversal": {
        D1: {"rsi": 75.0, "macd_hist": [0.2, -0.05, -0.1]},
        H4: {"rsi": 75.0, "bar": (150.2, 150.5, 150.1, 150.3)},  # high == BB upper
        H1: {"rsi": 75.0, "bar": (150.2, 150.6, 150.1, 150.3)},
        M5: {"rsi": 75.0, "bar": (150.0, 150.1, 149.98, 149.99)},  # wick 0.10, body 0.01
    },
    "pullback": {
        D1: {"rsi": 40.0, "macd": [0.4, 0.5], "macd_signal": 0.3},
        H4: {"rsi": 35.0, "bar": (149.7, 149.8, 149.5, 149.6)},  # low == BB lower
        H1: {"rsi": 32.0, "bar": (149.7, 149.8, 149.4, 149.6)},
        M5: {"rsi": [28.0, 33.0], "bar": (150.0, 150.03, 149.97, 150.02)},  # wick .03 ≥ body .02
    },
    "divergence": {
        D1: {"close": DIV_CLOSES, "rsi": DIV_RSI},
        H4: {
            "close": [150.0, 150.1, 150.1, 150.1, 150.1, 150.2],
            "rsi": [65.0] + [62.0] * 4 + [60.0],
        },
        H1: {
            "close": [150.0, 150.1, 150.1, 150.1, 150.1, 150.2],
            "rsi": [65.0] + [62.0] * 4 + [60.0],
        },
        M5: {
            "close": [150.0, 150.1, 150.1, 150.1, 150.1, 150.2],
            "rsi": [65.0] + [62.0] * 4 + [60.0],
        },
    },
    "breakout": {
        D1: {"rsi": 60.0, "macd": 0.5, "macd_signal": 0.3},
        H4: {"bar": (150.3, 150.7, 150.2, 150.6)},
        H1: {"bar": (150.3, 150.7, 150.2, 150.6)},
        M5: {
            "bars": [
                (150.0, 150.03, 149.99, 150.02),
                (150.02, 150.05, 150.01, 150.04),
                (150.04, 150.07, 150.03, 150.06),
            ]
        },
    },
    "rsi_battle": {
        D1: {"rsi": 50.0, "macd": 0.05},  # limit 0.0005 × 150 = 0.075
        H4: {"rsi": 52.0, "close": 150.1},  # limit 0.25 × 0.5 = 0.125
        H1: {"rsi": 48.0, "bb_upper": 150.6, "bb_lower": 149.4},  # width 1.2 > 1.0
        M5: {"rsi": [55.0] + [45.0] * 11 + [55.0]},  # two crosses in the last 12 bars
    },
    "composite_signal": {
        D1: {"rsi": 55.0, "macd": 0.5, "macd_signal": 0.3, "close": 150.2},
        H4: {"rsi": 55.0, "close": 150.2},
        H1: {"rsi": 55.0, "close": 150.2},
        M5: {"rsi": 55.0, "bar": (150.0, 150.08, 149.98, 150.06)},  # body .06 of range .10
    },
}

# (pattern, id, timeframe, change, index of the one check that must fail on that timeframe)
NEAR_MISSES: list[tuple[str, str, Timeframe, Spec, int]] = [
    ("trend_reversal", "1d-rsi-at-70", D1, {"rsi": 70.0}, 0),
    ("trend_reversal", "1d-hist-zero-now", D1, {"macd_hist": [0.2, -0.05, 0.0]}, 1),
    (
        "trend_reversal",
        "1d-cross-4-bars-ago",
        D1,
        {"macd_hist": [0.2, -0.05, -0.05, -0.05, -0.1]},
        2,
    ),
    ("trend_reversal", "4h-rsi-at-70", H4, {"rsi": 70.0}, 0),
    ("trend_reversal", "4h-high-below-band", H4, {"bar": (150.2, 150.499, 150.1, 150.3)}, 1),
    ("trend_reversal", "1h-rsi-at-70", H1, {"rsi": 70.0}, 0),
    ("trend_reversal", "1h-high-below-band", H1, {"bar": (150.2, 150.499, 150.1, 150.3)}, 1),
    ("trend_reversal", "5m-rsi-at-70", M5, {"rsi": 70.0}, 0),
    ("trend_reversal", "5m-wick-under-2x-body", M5, {"bar": (150.0, 150.0999, 149.94, 149.95)}, 1),
    ("trend_reversal", "5m-wick-under-30pct", M5, {"bar": (150.0, 150.03, 149.9, 149.999)}, 2),
    ("pullback", "1d-rsi-above-50", D1, {"rsi": 50.01}, 0),
    ("pullback", "1d-rsi-below-30", D1, {"rsi": 29.99}, 0),
    ("pullback", "1d-macd-at-signal", D1, {"macd": [0.2, 0.3]}, 1),
    ("pullback", "1d-macd-flat", D1, {"macd": [0.5, 0.5]}, 2),
    ("pullback", "4h-rsi-above-40", H4, {"rsi": 40.01}, 0),
    ("pullback", "4h-low-above-band", H4, {"bar": (149.7, 149.8, 149.501, 149.6)}, 1),
    ("pullback", "1h-rsi-above-35", H1, {"rsi": 35.01}, 0),
    ("pullback", "1h-low-above-band", H1, {"bar": (149.7, 149.8, 149.501, 149.6)}, 1),
    ("pullback", "5m-rsi-above-30", M5, {"rsi": [30.01, 33.0]}, 0),
    ("pullback", "5m-rsi-low-2-bars-ago", M5, {"rsi": [28.0, 31.0, 33.0]}, 0),
    ("pullback", "5m-no-rebound-body", M5, {"bar": (150.0, 150.03, 149.97, 150.0)}, 1),
    ("pullback", "5m-lower-wick-under-body", M5, {"bar": (150.0, 150.03, 149.9801, 150.02)}, 2),
    ("divergence", "1d-close-below-high", D1, {"close": [*DIV_CLOSES[:-1], 149.899]}, 0),
    ("divergence", "1d-earlier-high-in-window", D1, {"close": [151.2, *DIV_CLOSES[1:]]}, 0),
    ("divergence", "1d-rsi-at-high", D1, {"rsi": [*DIV_RSI[:-1], 70.0]}, 1),
    ("divergence", "4h-close-flat", H4, {"close": [150.0, 150.1, 150.1, 150.1, 150.1, 150.0]}, 0),
    ("divergence", "4h-rsi-flat", H4, {"rsi": [65.0] + [62.0] * 4 + [65.0]}, 1),
    ("divergence", "1h-close-flat", H1, {"close": [150.0, 150.1, 150.1, 150.1, 150.1, 150.0]}, 0),
    ("divergence", "1h-rsi-flat", H1, {"rsi": [65.0] + [62.0] * 4 + [65.0]}, 1),
    ("divergence", "5m-close-flat", M5, {"close": [150.0, 150.1, 150.1, 150.1, 150.1, 150.0]}, 0),
    ("divergence", "5m-rsi-flat", M5, {"rsi": [65.0] + [62.0] * 4 + [65.0]}, 1),
    ("breakout", "1d-rsi-below-50", D1, {"rsi": 49.99}, 0),
    ("breakout", "1d-rsi-above-70", D1, {"rsi": 70.01}, 0),
    ("breakout", "1d-macd-at-signal", D1, {"macd": 0.3}, 1),
    ("breakout", "4h-close-at-band", H4, {"bar": (150.3, 150.7, 150.2, 150.5)}, 0),
    ("breakout", "1h-close-at-band", H1, {"bar": (150.3, 150.7, 150.2, 150.5)}, 0),
    (
        "breakout",
        "5m-doji-in-run",
        M5,
        {
            "bars": [
                (150.02, 150.03, 150.01, 150.02),
                (150.02, 150.05, 150.01, 150.04),
                (150.04, 150.07, 150.03, 150.06),
            ]
        },
        0,
    ),
    (
        "breakout",
        "5m-closes-not-rising",
        M5,
        {
            "bars": [
                (150.0, 150.04, 149.99, 150.03),
                (150.01, 150.06, 150.0, 150.05),
                (150.02, 150.06, 150.01, 150.05),
            ]
        },
        1,
    ),
    ("rsi_battle", "1d-rsi-below-45", D1, {"rsi": 44.99}, 0),
    ("rsi_battle", "1d-macd-over-limit", D1, {"macd": 0.0751}, 1),
    ("rsi_battle", "4h-rsi-above-55", H4, {"rsi": 55.01}, 0),
    ("rsi_battle", "4h-close-far-from-middle", H4, {"close": 150.126}, 1),
    ("rsi_battle", "1h-rsi-above-55", H1, {"rsi": 55.01}, 0),
    ("rsi_battle", "1h-width-not-growing", H1, {"bb_upper": 150.5, "bb_lower": 149.5}, 1),
    (
        "rsi_battle",
        "5m-first-cross-13-bars-ago",
        M5,
        {"rsi": [55.0, 45.0] + [45.0] * 11 + [55.0]},
        0,
    ),
    ("composite_signal", "1d-rsi-at-50", D1, {"rsi": 50.0}, 0),
    ("composite_signal", "1d-macd-at-signal", D1, {"macd": 0.3}, 1),
    ("composite_signal", "1d-close-at-middle", D1, {"close": 150.0}, 2),
    ("composite_signal", "4h-rsi-at-50", H4, {"rsi": 50.0}, 0),
    ("composite_signal", "4h-close-at-middle", H4, {"close": 150.0}, 1),
    ("composite_signal", "1h-rsi-at-50", H1, {"rsi": 50.0}, 0),
    ("composite_signal", "1h-close-at-middle", H1, {"close": 150.0}, 1),
    ("composite_signal", "5m-rsi-at-50", M5, {"rsi": 50.0}, 0),
    ("composite_signal", "5m-bearish-body", M5, {"bar": (150.06, 150.08, 149.98, 150.0)}, 1),
    ("composite_signal", "5m-body-under-half", M5, {"bar": (150.0, 150.07, 149.97, 150.0499)}, 2),
]


def _directions(pattern: str) -> list[tuple[str, bool]]:
    """(direction, mirrored market?) pairs to test for a pattern."""
    table = TABLE_DIRECTION.get(pattern)
    if table is None:
        return [("NEUTRAL", False)]
    mirror = "BUY" if table == "SELL" else "SELL"
    return [(table, False), (mirror, True)]


FIRE_CASES = [
    pytest.param(pattern, direction, mirrored, id=f"{pattern}-{direction}")
    for pattern in SCENARIOS
    for direction, mirrored in _directions(pattern)
]


@pytest.mark.parametrize(("pattern", "direction", "mirrored"), FIRE_CASES)
def test_scenario_fires_its_pattern(pattern: str, direction: str, mirrored: bool) -> None:
    windows = windows_for(SCENARIOS[pattern], mirrored)
    result = evaluate_pattern(pattern, direction, windows, _pair(), DEFAULT_THRESHOLDS)
    assert result.status == "detected", result.conditions
    assert 0.0 <= result.confidence <= 1.0
    for tf in ("1d", "4h", "1h", "5m"):
        reading = result.conditions[tf]
        assert reading["met"] and all(c["met"] for c in reading["checks"])


@pytest.mark.parametrize(("pattern", "direction", "mirrored"), FIRE_CASES)
def test_scenario_does_not_fire_the_opposite_direction(
    pattern: str, direction: str, mirrored: bool
) -> None:
    windows = windows_for(SCENARIOS[pattern], mirrored)
    fired = {(r.pattern_type, r.direction) for r in evaluate_all(windows, "USD/JPY") if r.detected}
    assert (pattern, direction) in fired
    opposite = [d for d, _ in _directions(pattern) if d != direction]
    for other in opposite:
        assert (pattern, other) not in fired


NEAR_MISS_CASES = [
    pytest.param(
        pattern, direction, mirrored, tf, change, index, id=f"{direction}-{pattern}-{case}"
    )
    for pattern, case, tf, change, index in NEAR_MISSES
    for direction, mirrored in _directions(pattern)
]


@pytest.mark.parametrize(
    ("pattern", "direction", "mirrored", "tf", "change", "index"), NEAR_MISS_CASES
)
def test_near_miss_fails_exactly_one_condition(
    pattern: str, direction: str, mirrored: bool, tf: Timeframe, change: Spec, index: int
) -> None:
    windows = windows_for(with_change(SCENARIOS[pattern], tf, change), mirrored)
    result = evaluate_pattern(pattern, direction, windows, _pair(), DEFAULT_THRESHOLDS)
    assert result.status == "not_met"
    failed = [
        (name, i)
        for name, reading in result.conditions.items()
        for i, check in enumerate(reading["checks"])
        if not check["met"]
    ]
    assert failed == [(tf.value, index)], result.conditions


def test_every_condition_has_a_near_miss() -> None:
    """The near-miss table covers each check of each timeframe of each pattern at least once."""
    covered = {(p, tf.value, i) for p, _, tf, _, i in NEAR_MISSES}
    for pattern, specs in SCENARIOS.items():
        direction = _directions(pattern)[0][0]
        result = evaluate_pattern(
            pattern, direction, windows_for(specs), _pair(), DEFAULT_THRESHOLDS
        )
        for tf, reading in result.conditions.items():
            for i in range(len(reading["checks"])):
                assert (pattern, tf, i) in covered, (pattern, tf, i, reading["checks"][i])


def test_boundaries_are_inclusive_where_the_table_says_so() -> None:
    """≥ / ≤ conditions hold at equality: high == BB upper, body == 50 % of range, RSI == 30."""
    specs = with_change(
        SCENARIOS["composite_signal"], M5, {"bar": (150.0, 150.0625, 149.9375, 150.0625)}
    )
    assert evaluate_pattern("composite_signal", "BUY", windows_for(specs), _pair()).detected
    specs = with_change(SCENARIOS["pullback"], D1, {"rsi": 30.0})
    assert evaluate_pattern("pullback", "BUY", windows_for(specs), _pair()).detected
    specs = with_change(SCENARIOS["pullback"], M5, {"rsi": [30.0, 33.0]})
    assert evaluate_pattern("pullback", "BUY", windows_for(specs), _pair()).detected


def test_last_20_bars_include_the_latest() -> None:
    """A higher close 20 bars back (inside the window) blocks the 1d divergence; 21 back not."""
    inside = with_change(SCENARIOS["divergence"], D1, {"close": [151.2, *DIV_CLOSES[1:]]})
    outside = with_change(SCENARIOS["divergence"], D1, {"close": [151.2, *DIV_CLOSES]})
    assert not evaluate_pattern("divergence", "SELL", windows_for(inside), _pair()).detected
    assert evaluate_pattern("divergence", "SELL", windows_for(outside), _pair()).detected


def test_rsi_exactly_50_counts_as_the_upper_side_for_crosses() -> None:
    specs = with_change(SCENARIOS["rsi_battle"], M5, {"rsi": [50.0] + [45.0] * 11 + [50.0]})
    assert evaluate_pattern("rsi_battle", "NEUTRAL", windows_for(specs), _pair()).detected


def test_zero_range_bar_fails_wick_and_body_conditions() -> None:
    flat = (150.0, 150.0, 150.0, 150.0)
    for pattern, direction in (("trend_reversal", "SELL"), ("composite_signal", "BUY")):
        specs = with_change(SCENARIOS[pattern], M5, {"bar": flat})
        result = evaluate_pattern(pattern, direction, windows_for(specs), _pair())
        assert result.status == "not_met"
        failed = [c for c in result.conditions["5m"]["checks"] if not c["met"]]
        assert any("of range" in c["condition"] and c["values"]["range"] == 0 for c in failed)


def test_thresholds_override_moves_both_directions() -> None:
    stricter = build_thresholds({"trend_reversal": {"rsi_level": 76}})
    for direction, mirrored in _directions("trend_reversal"):
        windows = windows_for(SCENARIOS["trend_reversal"], mirrored)
        assert evaluate_pattern("trend_reversal", direction, windows, _pair()).detected
        result = evaluate_pattern("trend_reversal", direction, windows, _pair(), stricter)
        assert result.status == "not_met"
        names = {c["condition"] for c in result.conditions["1d"]["checks"]}
        assert ("RSI > 76" if direction == "SELL" else "RSI < 24") in names


def test_all_eleven_combinations_are_evaluated() -> None:
    results = evaluate_all(windows_for({}), "USD/JPY")
    assert [(r.pattern_type, r.direction) for r in results] == list(COMBINATIONS)
    assert len(results) == 11
    assert {r.priority for r in results} == {"high", "medium", "low", "very_high"}


def test_detection_data_is_plain_json() -> None:
    import json

    windows = windows_for(SCENARIOS["divergence"])
    for result in evaluate_all(windows, "USD/JPY"):
        data = result.to_detection_data()
        assert json.loads(json.dumps(data, allow_nan=False)) == data
        assert set(data["timeframes"]) == {"1d", "4h", "1h", "5m"}


def test_window_fields_are_the_documented_ones() -> None:
    assert set(FIELDS) == set(BASE)


def _pair() -> Any:
    from exchange_analytics.domain import CurrencyPair

    return CurrencyPair.parse("USD/JPY")
