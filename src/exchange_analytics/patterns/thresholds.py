"""Every number behind the six patterns of SPEC §7, in one frozen configuration object.

The thresholds are written in the *table direction* of each pattern (the direction the SPEC §7
table describes: trend_reversal SELL, pullback BUY, divergence SELL, breakout BUY,
composite_signal BUY). The mirror direction is derived, not configured: an RSI level ``L`` mirrors
to ``2 × rsi_centre − L`` (70 ↔ 30, 30–40 ↔ 60–70, …) and every price inequality flips. Deriving
the mirror keeps the two directions symmetric when someone changes one number, which is what the
SPEC means by "thresholds live in one place".

Overrides come from a mapping (the ``PATTERN_THRESHOLDS`` JSON object), either nested
(``{"trend_reversal": {"rsi_level": 75}}``) or dotted (``{"trend_reversal.rsi_level": 75}``).
:func:`build_thresholds` reports every bad key or value at once in one
:class:`~exchange_analytics.errors.ConfigurationError` naming the accepted form.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from exchange_analytics.errors import ConfigurationError
from exchange_analytics.jsontypes import JSONObject, JSONValue

PRIORITIES = ("low", "medium", "high", "very_high")


@dataclass(frozen=True, slots=True)
class TrendReversalThresholds:
    """#1, table direction SELL: RSI > 70 everywhere, MACD cross on 1d, band touch, long wick."""

    rsi_level: float = 70.0
    #: 1d: hist < 0 now and hist > 0 in one of this many bars before.
    macd_cross_bars: int = 3
    #: 5m: upper wick ≥ this × body …
    wick_body_ratio: float = 2.0
    #: … and ≥ this share of the range.
    wick_range_share: float = 0.30
    take_profit_pips: float = 50.0
    stop_loss_pips: float = 30.0
    priority: str = "high"


@dataclass(frozen=True, slots=True)
class PullbackThresholds:
    """#2, table direction BUY: a dip inside an uptrend, then a rebound."""

    d1_rsi_min: float = 30.0
    d1_rsi_max: float = 50.0
    h4_rsi_min: float = 30.0
    h4_rsi_max: float = 40.0
    h1_rsi_min: float = 30.0
    h1_rsi_max: float = 35.0
    #: 5m: RSI ≤ this on the latest bar or one of the ``m5_rsi_bars − 1`` bars before.
    m5_rsi_level: float = 30.0
    m5_rsi_bars: int = 2
    #: 5m rebound: lower wick ≥ this × body.
    rebound_wick_body_ratio: float = 1.0
    take_profit_pips: float = 80.0
    stop_loss_pips: float = 40.0
    priority: str = "medium"


@dataclass(frozen=True, slots=True)
class DivergenceThresholds:
    """#3, table direction SELL (bearish): price makes a new extreme that RSI does not confirm."""

    #: 1d: close is the highest of this many bars (the latest included) …
    d1_lookback_bars: int = 20
    #: 4h/1h/5m: compare with the bar this many bars ago.
    bars_ago: int = 5
    priority: str = "medium"


@dataclass(frozen=True, slots=True)
class BreakoutThresholds:
    """#4, table direction BUY: close beyond the band on 4h/1h, momentum on 1d and 5m."""

    d1_rsi_min: float = 50.0
    d1_rsi_max: float = 70.0
    #: 5m: the last this-many bars all close > open with rising closes.
    m5_bars: int = 3
    take_profit_pips: float = 100.0
    stop_loss_pips: float = 50.0
    priority: str = "medium"


@dataclass(frozen=True, slots=True)
class RsiBattleThresholds:
    """#5, NEUTRAL: RSI pinned around 50 on every timeframe; no direction, so no mirror."""

    rsi_min: float = 45.0
    rsi_max: float = 55.0
    #: 1d: abs(MACD) ≤ this × close.
    macd_close_ratio: float = 0.0005
    #: 4h: abs(close − BB middle) ≤ this × (BB upper − BB middle).
    bb_middle_share: float = 0.25
    #: 1h: BB width now > BB width this many bars ago.
    bb_width_bars_ago: int = 5
    #: 5m: RSI crossed ``cross_level`` at least ``min_crosses`` times within ``cross_bars`` bars.
    cross_level: float = 50.0
    cross_bars: int = 12
    min_crosses: int = 2
    priority: str = "low"


@dataclass(frozen=True, slots=True)
class CompositeThresholds:
    """#6, table direction BUY: every timeframe agrees (RSI, MACD, middle band, strong 5m body)."""

    rsi_level: float = 50.0
    #: 5m: body ≥ this share of the range.
    body_range_share: float = 0.50
    take_profit_pips: float = 120.0
    stop_loss_pips: float = 60.0
    priority: str = "very_high"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """All pattern thresholds; build with :func:`build_thresholds` to apply overrides."""

    #: The RSI value mirrors reflect around (70 ↔ 30 when this is 50).
    rsi_centre: float = 50.0
    trend_reversal: TrendReversalThresholds = field(default_factory=TrendReversalThresholds)
    pullback: PullbackThresholds = field(default_factory=PullbackThresholds)
    divergence: DivergenceThresholds = field(default_factory=DivergenceThresholds)
    breakout: BreakoutThresholds = field(default_factory=BreakoutThresholds)
    rsi_battle: RsiBattleThresholds = field(default_factory=RsiBattleThresholds)
    composite_signal: CompositeThresholds = field(default_factory=CompositeThresholds)

    def mirror_rsi(self, level: float) -> float:
        """The RSI level of the mirror direction (70 → 30 with the default centre)."""
        return 2.0 * self.rsi_centre - level

    @property
    def bars_needed(self) -> int:
        """The longest lookback any rule reads, in bars of one timeframe (latest included).

        Windows must hold at least this many bars or every pattern reading that far back is
        "not evaluable" (``snapshots`` keeps enough whatever the configuration).
        """
        return max(
            self.trend_reversal.macd_cross_bars + 1,
            self.pullback.m5_rsi_bars,
            self.divergence.d1_lookback_bars,
            self.divergence.bars_ago + 1,
            self.breakout.m5_bars,
            self.rsi_battle.bb_width_bars_ago + 1,
            self.rsi_battle.cross_bars + 1,
        )

    def as_dict(self) -> JSONObject:
        """Plain nested dict (JSON-serialisable) for logs and ``patterns explain``."""
        return dataclasses.asdict(self)


DEFAULT_THRESHOLDS = Thresholds()

#: One pattern's thresholds (a field of :class:`Thresholds`).
PatternThresholds = (
    TrendReversalThresholds
    | PullbackThresholds
    | DivergenceThresholds
    | BreakoutThresholds
    | RsiBattleThresholds
    | CompositeThresholds
)
#: A threshold's value once checked: a number, or a priority name.
ThresholdValue = float | int | str

_GROUPS: dict[str, type[PatternThresholds]] = {
    f.name: type(getattr(DEFAULT_THRESHOLDS, f.name))
    for f in dataclasses.fields(Thresholds)
    if f.name != "rsi_centre"
}


def _coerce(
    key: str, kind: type[object], value: JSONValue, errors: list[str]
) -> ThresholdValue | None:
    """Turn a JSON/env value into the field's type, or record why it cannot be."""
    if kind is str:
        if not isinstance(value, str) or value not in PRIORITIES:
            errors.append(f"{key}: {value!r} is not one of {', '.join(PRIORITIES)}")
            return None
        return value
    number = _number(value)
    if number is None:
        errors.append(f"{key}: {value!r} is not a number")
        return None
    if not math.isfinite(number):
        errors.append(f"{key}: {value!r} is not a finite number")
        return None
    if kind is int:
        if number != int(number) or number < 1:
            errors.append(f"{key}: {value!r} is not a whole number ≥ 1")
            return None
        return int(number)
    if number < 0:
        errors.append(f"{key}: {value!r} must not be negative")
        return None
    return number


def _number(value: JSONValue) -> float | None:
    """``value`` as ``float()`` reads it (a JSON number, or a numeric string as an environment
    value may give it); None for ``true``/``false``, null, arrays, objects and other text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _flatten(overrides: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    flat: dict[str, JSONValue] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            for sub, sub_value in value.items():
                flat[f"{key}.{sub}"] = sub_value
        else:
            flat[str(key)] = value
    return flat


def _field_types(group_cls: type[PatternThresholds]) -> dict[str, type[object]]:
    defaults = group_cls()
    return {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(group_cls)}


def _validate(th: Thresholds) -> list[str]:
    """Cross-field rules a single value cannot break on its own."""
    errors: list[str] = []
    c = th.rsi_centre
    if not 0.0 < c < 100.0:
        errors.append(f"rsi_centre: {c} must be strictly between 0 and 100")
    rsi_values = {
        "trend_reversal.rsi_level": th.trend_reversal.rsi_level,
        "pullback.m5_rsi_level": th.pullback.m5_rsi_level,
        "composite_signal.rsi_level": th.composite_signal.rsi_level,
        "rsi_battle.cross_level": th.rsi_battle.cross_level,
    }
    bands = {
        "pullback.d1_rsi": (th.pullback.d1_rsi_min, th.pullback.d1_rsi_max),
        "pullback.h4_rsi": (th.pullback.h4_rsi_min, th.pullback.h4_rsi_max),
        "pullback.h1_rsi": (th.pullback.h1_rsi_min, th.pullback.h1_rsi_max),
        "breakout.d1_rsi": (th.breakout.d1_rsi_min, th.breakout.d1_rsi_max),
        "rsi_battle.rsi": (th.rsi_battle.rsi_min, th.rsi_battle.rsi_max),
    }
    for name, (low, high) in bands.items():
        rsi_values[f"{name}_min"] = low
        rsi_values[f"{name}_max"] = high
        if low > high:
            errors.append(f"{name}_min ({low}) must not exceed {name}_max ({high})")
    for name, value in rsi_values.items():
        if not 0.0 <= value <= 100.0:
            errors.append(f"{name}: {value} is not an RSI value between 0 and 100")
    battle = th.rsi_battle
    if battle.min_crosses > battle.cross_bars:
        errors.append(
            f"rsi_battle.min_crosses ({battle.min_crosses}) must not exceed "
            f"rsi_battle.cross_bars ({battle.cross_bars})"
        )
    if th.divergence.d1_lookback_bars < 2:
        errors.append("divergence.d1_lookback_bars must be at least 2")
    return errors


def build_thresholds(overrides: Mapping[str, JSONValue] | None = None) -> Thresholds:
    """Apply ``overrides`` to the SPEC §7 defaults; raise one error listing every problem.

    Accepted keys: ``rsi_centre``, ``<pattern>.<field>`` or ``{"<pattern>": {"<field>": …}}``,
    where ``<pattern>`` is one of trend_reversal, pullback, divergence, breakout, rsi_battle,
    composite_signal and ``<field>`` a field of that pattern's thresholds class.
    """
    errors: list[str] = []
    # The checked values, still as the PATTERN_THRESHOLDS object holds them: per group, and
    # the top-level rsi_centre.
    group_changes: dict[str, dict[str, ThresholdValue | None]] = {}
    rsi_centre: ThresholdValue | None = None
    for key, value in _flatten(overrides or {}).items():
        if key == "rsi_centre":
            rsi_centre = _coerce(key, float, value, errors)
            continue
        group, _, name = key.partition(".")
        if group not in _GROUPS:
            errors.append(f"{key}: unknown pattern {group!r} (known: {', '.join(_GROUPS)})")
            continue
        types = _field_types(_GROUPS[group])
        if name not in types:
            errors.append(f"{key}: unknown threshold (known for {group}: {', '.join(types)})")
            continue
        group_changes.setdefault(group, {})[name] = _coerce(key, types[name], value, errors)
    if errors:
        raise ConfigurationError(_message(errors))
    result = DEFAULT_THRESHOLDS
    if isinstance(rsi_centre, float):  # always, when given: _coerce(…, float, …) gives a float
        result = dataclasses.replace(result, rsi_centre=rsi_centre)
    for group, fields in group_changes.items():
        changed = dataclasses.replace(getattr(DEFAULT_THRESHOLDS, group), **fields)
        result = dataclasses.replace(result, **{group: changed})
    errors = _validate(result)
    if errors:
        raise ConfigurationError(_message(errors))
    return result


def _message(errors: list[str]) -> str:
    return (
        "PATTERN_THRESHOLDS is invalid: "
        + "; ".join(errors)
        + ' (accepted form: a JSON object such as {"trend_reversal.rsi_level": 75})'
    )
