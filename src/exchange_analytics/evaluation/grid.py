"""The settings ``patterns calibrate`` tries: a small grid per pattern (SPEC §16).

A grid maps a pattern to axes; each axis is a threshold of that pattern (any field of its
``patterns.thresholds`` class, e.g. ``rsi_level``, ``take_profit_pips``) or ``cooldown_minutes``,
with a list of values (a single value is a one-value axis). Every combination of the axes is one
*setting*. Only the patterns with take-profit/stop-loss can be calibrated (the others have no
expectancy to maximise). A grid file is JSON in that shape::

    {"composite_signal": {"rsi_level": [50, 55], "take_profit_pips": [60, 120],
                          "stop_loss_pips": [60], "cooldown_minutes": [60, 240]}}

:data:`DEFAULT_GRID` (below) is the documented default: around the SPEC §7 seed values, small
enough that one pair-window needs at most four detection passes.

``timeframes`` lists which timeframes' conditions a detection requires, e.g.
``[["1d", "4h", "1h", "5m"], ["4h", "1h", "5m"]]`` (the SPEC requires all four; dropping one
asks whether that timeframe earns its place). It is read from the engine's per-timeframe
condition masks (``patterns.engine.detect_columns``), so it costs no extra engine pass.

Axes split in two kinds. *Detection* axes (thresholds that change which bars fire) need a pass
of the pattern engine each; *trade* axes (``take_profit_pips``, ``stop_loss_pips``,
``cooldown_minutes``, ``timeframes``) only re-score the same pass. One engine pass evaluates
every pattern, and the patterns do not read each other's thresholds, so detection setting ``k``
of every pattern shares pass ``k``: the passes per window are the largest number of detection
settings of any one pattern, not their product.

``cooldown_minutes`` and ``timeframes`` are not thresholds (``NOTIFY_COOLDOWN_MINUTES`` is
global; the live cycle always requires all four timeframes): the report shows their choice,
the ``--out`` file cannot carry it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exchange_analytics.domain import Timeframe
from exchange_analytics.errors import ConfigurationError, ExchangeAnalyticsError
from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.patterns.thresholds import (
    DEFAULT_THRESHOLDS,
    ThresholdValue,
    build_thresholds,
)

TRADE_AXES = ("take_profit_pips", "stop_loss_pips", "cooldown_minutes", "timeframes")
ALL_TIMEFRAMES = (Timeframe.D1, Timeframe.H4, Timeframe.H1, Timeframe.M5)
CALIBRATED = ("trend_reversal", "pullback", "breakout", "composite_signal")

#: One detection setting: threshold name → value (as the grid gives it; checked).
Overrides = dict[str, ThresholdValue]
#: A grid as its JSON file holds it: pattern → axis → values.
GridDocument = JSONObject

DEFAULT_GRID: GridDocument = {
    "trend_reversal": {
        "rsi_level": [70, 65],
        "take_profit_pips": [50, 100],
        "stop_loss_pips": [30],
        "cooldown_minutes": [60, 240],
    },
    "pullback": {
        "m5_rsi_level": [30, 35],
        "take_profit_pips": [80, 40],
        "stop_loss_pips": [40],
        "cooldown_minutes": [60, 240],
    },
    "breakout": {
        "d1_rsi_max": [70, 80],
        "take_profit_pips": [100, 50],
        "stop_loss_pips": [50],
        "cooldown_minutes": [60, 240],
    },
    "composite_signal": {
        "rsi_level": [50, 55],
        "body_range_share": [0.5, 0.7],
        "take_profit_pips": [120, 60],
        "stop_loss_pips": [60, 30],
        "cooldown_minutes": [60, 240],
        "timeframes": [["1d", "4h", "1h", "5m"], ["4h", "1h", "5m"]],
    },
}


@dataclass(frozen=True, slots=True)
class Trade:
    """The trade axes of one setting."""

    take_profit_pips: float
    stop_loss_pips: float
    cooldown_minutes: int
    timeframes: tuple[Timeframe, ...] = ALL_TIMEFRAMES


@dataclass(frozen=True)
class PatternGrid:
    """One pattern's settings: detection overrides (one engine pass each) × trade settings."""

    pattern: str
    detection: tuple[Overrides, ...]
    trades: tuple[Trade, ...]

    def settings(self) -> list[tuple[int, Overrides, Trade]]:
        return [
            (k, overrides, trade)
            for k, overrides in enumerate(self.detection)
            for trade in self.trades
        ]


@dataclass
class _Axes:
    """One pattern's checked axes, by kind: thresholds, cooldowns, required timeframes."""

    thresholds: dict[str, list[ThresholdValue]] = field(default_factory=dict)
    cooldowns: list[int] | None = None
    timeframes: list[tuple[Timeframe, ...]] | None = None


def _values(pattern: str, key: str, value: JSONValue) -> list[JSONValue]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigurationError(f"grid: {pattern}.{key} is an empty list: give at least one value")
    return values


def _axes(pattern: str, axes: Mapping[str, JSONValue]) -> _Axes:
    """Check every axis, in the grid's order (the first problem is the one reported)."""
    out = _Axes()
    for key, value in axes.items():
        values = _values(pattern, key, value)
        if key == "timeframes":
            out.timeframes = [_timeframes(pattern, item) for item in values]
        elif key == "cooldown_minutes":
            out.cooldowns = _cooldowns(pattern, values)
        else:
            out.thresholds[key] = _thresholds(pattern, key, values)
    return out


def _cooldowns(pattern: str, values: list[JSONValue]) -> list[int]:
    cooldowns: list[int] = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise ConfigurationError(
                f"grid: {pattern}.cooldown_minutes {item!r} is not a whole number ≥ 0"
            )
        cooldowns.append(item)
    return cooldowns


def _thresholds(pattern: str, key: str, values: list[JSONValue]) -> list[ThresholdValue]:
    """The values of one threshold axis, each accepted by ``build_thresholds`` on its own."""
    checked: list[ThresholdValue] = []
    for item in values:
        try:
            build_thresholds({f"{pattern}.{key}": item})
        except ExchangeAnalyticsError as exc:
            detail = str(exc).removeprefix("PATTERN_THRESHOLDS is invalid: ")
            raise ConfigurationError(f"grid: {detail}") from exc
        # Accepted, so a number or a priority name (true/false, null, lists are refused).
        if isinstance(item, str | int | float):
            checked.append(item)
    return checked


def _timeframes(pattern: str, item: JSONValue) -> tuple[Timeframe, ...]:
    if not (
        isinstance(item, list)
        and item
        and all(isinstance(tf, str) and tf in ALL_TIMEFRAMES for tf in item)
        and len(set(item)) == len(item)
    ):
        raise ConfigurationError(
            f"grid: {pattern}.timeframes {item!r} is not a list of distinct timeframes "
            f'from {", ".join(ALL_TIMEFRAMES)}, e.g. ["4h", "1h", "5m"]'
        )
    return tuple(tf for tf in ALL_TIMEFRAMES if tf in item)


def pattern_grid(pattern: str, axes: JSONValue, default_cooldown: int) -> PatternGrid:
    """Validate one pattern's axes and expand them into settings."""
    if pattern not in CALIBRATED:
        raise ConfigurationError(
            f"grid: {pattern!r} cannot be calibrated (use one of {', '.join(CALIBRATED)}; "
            "divergence and rsi_battle have no take-profit/stop-loss)"
        )
    if not isinstance(axes, Mapping):
        raise ConfigurationError(f"grid: {pattern} must map threshold names to lists of values")
    checked = _axes(pattern, axes)
    config = getattr(DEFAULT_THRESHOLDS, pattern)
    tps = checked.thresholds.pop("take_profit_pips", [config.take_profit_pips])
    sls = checked.thresholds.pop("stop_loss_pips", [config.stop_loss_pips])
    cooldowns = checked.cooldowns or [default_cooldown]
    required = checked.timeframes or [ALL_TIMEFRAMES]
    if any(float(sl) <= 0 for sl in sls):
        raise ConfigurationError(f"grid: {pattern}.stop_loss_pips must be above 0 (R is the stop)")
    names = sorted(checked.thresholds)
    detection = tuple(
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(checked.thresholds[n] for n in names))
    )
    trades = tuple(
        Trade(float(tp), float(sl), int(cd), tfs)
        for tp, sl, cd, tfs in itertools.product(tps, sls, cooldowns, required)
    )
    for overrides in detection:  # cross-field rules (e.g. a band's min above its max)
        _axis_combination(pattern, overrides)
    return PatternGrid(pattern, detection, trades)


def _axis_combination(pattern: str, overrides: Mapping[str, ThresholdValue]) -> None:
    try:
        build_thresholds({pattern: dict(overrides)})
    except ExchangeAnalyticsError as exc:
        detail = str(exc).removeprefix("PATTERN_THRESHOLDS is invalid: ")
        raise ConfigurationError(f"grid: {detail}") from exc


def build_grid(raw: JSONValue, default_cooldown: int) -> dict[str, PatternGrid]:
    """Validate a whole grid; one :class:`ConfigurationError` naming the first problem."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigurationError("grid: give a JSON object mapping patterns to their axes")
    return {pattern: pattern_grid(pattern, axes, default_cooldown) for pattern, axes in raw.items()}


def load_grid(path: Path | None, default_cooldown: int) -> dict[str, PatternGrid]:
    """The grid in ``path`` (JSON), or :data:`DEFAULT_GRID`."""
    if path is None:
        return build_grid(DEFAULT_GRID, default_cooldown)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"--grid {path}: cannot read it ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"--grid {path}: not JSON ({exc.msg} at line {exc.lineno})"
        ) from exc
    try:
        return build_grid(raw, default_cooldown)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--grid {path}: {exc}") from exc


def passes(grid: Mapping[str, PatternGrid]) -> int:
    """Engine passes one pair-window needs (see the module docstring)."""
    return max(len(g.detection) for g in grid.values())


def overrides_for_pass(grid: Mapping[str, PatternGrid], k: int) -> dict[str, Overrides]:
    """The threshold overrides of pass ``k``: each pattern's ``k``-th detection setting."""
    return {p: dict(g.detection[k]) for p, g in grid.items() if k < len(g.detection)}
