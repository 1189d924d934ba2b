"""What to compute: indicator specifications and the ``INDICATORS`` setting (SPEC §6).

An ``IndicatorSpec`` names one TA-Lib indicator with its parameters and derives everything
downstream code keys on from them: the DataFrame column names (``rsi``, ``sma_20``,
``stoch_k``...) and the ``technical_indicators.indicator_type`` (``RSI``, ``SMA_20``,
``STOCH``...). The defaults (RSI 14, MACD 12/26/9, Bollinger 20/2/SMA, and STOCH 14/3/3)
get plain names; any other parameters are spelled into the name, so two configured variants
never share a column or a database row, and ``indicator_rows`` can recover every parameter
from a column name alone.

This module does not import TA-Lib, so configuration can be checked cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast, get_args

from exchange_analytics.errors import ConfigurationError

IndicatorKind = Literal["RSI", "MACD", "BB", "SMA", "EMA", "WMA", "ATR", "STOCH"]
INDICATOR_KINDS: tuple[str, ...] = get_args(IndicatorKind)

#: Parameters per kind, in the order they are written (``STOCH:14:3:3``).
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "RSI": ("period",),
    "MACD": ("fast", "slow", "signal_period"),
    "BB": ("period", "std_dev"),
    "SMA": ("period",),
    "EMA": ("period",),
    "WMA": ("period",),
    "ATR": ("period",),
    "STOCH": ("fastk_period", "slowk_period", "slowd_period"),
}
#: Output columns per kind, as suffixes of the spec's base name.
_OUTPUT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "MACD": ("", "_signal", "_hist"),
    "BB": ("_upper", "_middle", "_lower"),
    "STOCH": ("_k", "_d"),
}
#: The column holding ``technical_indicators.value`` (SPEC §4.2: RSI; MACD line; BB middle).
_VALUE_SUFFIX: dict[str, str] = {"BB": "_middle", "STOCH": "_k"}
#: Kinds that need high and low as well as close.
HIGH_LOW_KINDS: frozenset[str] = frozenset({"ATR", "STOCH"})
#: TA-Lib's own bound on every period.
_MAX_PERIOD = 100_000
_MIN_PERIOD = {"RSI": 2, "SMA": 2, "EMA": 2, "WMA": 2, "ATR": 1, "MACD": 2, "BB": 2, "STOCH": 1}

Param = int | float


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """One indicator and its parameters; validated on construction.

    ``params`` follow ``PARAMETER_NAMES[kind]``: periods are ints, Bollinger's ``std_dev``
    a float. Build specs with ``parse_indicator_extras`` from configuration, or directly.
    """

    kind: IndicatorKind
    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        if self.kind not in INDICATOR_KINDS:
            raise ValueError(f"unknown indicator kind {self.kind!r}; use one of {INDICATOR_KINDS}")
        names = PARAMETER_NAMES[self.kind]
        if len(self.params) != len(names):
            raise ValueError(
                f"{self.kind} takes {len(names)} parameter(s) ({', '.join(names)}), "
                f"got {self.params!r}"
            )
        for name, value in zip(names, self.params, strict=True):
            if name == "std_dev":
                if not (isinstance(value, int | float) and 0 < value <= 10):
                    raise ValueError(f"{self.kind} std_dev must be in (0, 10], got {value!r}")
                continue
            smoothing = name in ("signal_period", "slowk_period", "slowd_period")
            low = 1 if smoothing else _MIN_PERIOD[self.kind]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{self.kind} {name} must be an integer, got {value!r}")
            if not low <= value <= _MAX_PERIOD:
                raise ValueError(
                    f"{self.kind} {name} must be in [{low}, {_MAX_PERIOD}], got {value}"
                )
        if self.kind == "MACD" and not self.params[0] < self.params[1]:
            raise ValueError(f"MACD fast period must be below the slow one, got {self.params}")

    @property
    def is_plain(self) -> bool:
        """The default parameters: named without them (``rsi``, ``RSI``, ``stoch_k``)."""
        return (self.kind, self.params) in _PLAIN

    @property
    def base_name(self) -> str:
        if self.is_plain:
            return self.kind.lower()
        return "_".join([self.kind.lower(), *(_fmt(p) for p in self.params)])

    @property
    def columns(self) -> tuple[str, ...]:
        """The DataFrame columns ``compute_indicators`` produces for this spec, in order."""
        return tuple(self.base_name + s for s in _OUTPUT_SUFFIXES.get(self.kind, ("",)))

    @property
    def value_column(self) -> str:
        return self.base_name + _VALUE_SUFFIX.get(self.kind, "")

    @property
    def indicator_type(self) -> str:
        """The ``technical_indicators.indicator_type`` value: ``RSI``, ``SMA_20``, ``STOCH``."""
        return self.base_name.upper()

    @property
    def parameters(self) -> dict[str, Param]:
        return dict(zip(PARAMETER_NAMES[self.kind], self.params, strict=True))

    @property
    def needs_high_low(self) -> bool:
        return self.kind in HIGH_LOW_KINDS

    def __str__(self) -> str:
        return ":".join([self.kind, *(_fmt(p) for p in self.params)])


def _fmt(value: Param) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


RSI_DEFAULT = IndicatorSpec("RSI", (14,))
MACD_DEFAULT = IndicatorSpec("MACD", (12, 26, 9))
BB_DEFAULT = IndicatorSpec("BB", (20, 2.0))
STOCH_DEFAULT = IndicatorSpec("STOCH", (14, 3, 3))
#: Always computed (SPEC §6); the pattern rules (SPEC §7) read these columns.
DEFAULT_INDICATORS: tuple[IndicatorSpec, ...] = (RSI_DEFAULT, MACD_DEFAULT, BB_DEFAULT)
_PLAIN = frozenset((s.kind, s.params) for s in (*DEFAULT_INDICATORS, STOCH_DEFAULT))

#: The accepted ``INDICATORS`` form, quoted in every error about it.
INDICATORS_FORM = (
    "a comma-separated list of SMA:<period>, EMA:<period>, WMA:<period>, ATR:<period>, "
    "RSI:<period> or STOCH:<fastk>:<slowk>:<slowd>, e.g. SMA:20,SMA:50,SMA:200,EMA:20,ATR:14,"
    "STOCH:14:3:3"
)
_EXTRA_ITEM = re.compile(r"^(SMA|EMA|WMA|ATR|RSI):(\d+)$|^(STOCH):(\d+):(\d+):(\d+)$")


def parse_indicator_extras(text: str) -> tuple[IndicatorSpec, ...]:
    """Parse the ``INDICATORS`` setting into extra specs (beyond ``DEFAULT_INDICATORS``).

    Case and spaces are ignored; an empty value means no extras. An item equal to a default
    (``RSI:14``) or listed twice is dropped, because its rows exist once already. Every bad
    item is reported in one ConfigurationError that names INDICATORS and the accepted form.
    """
    cleaned = "".join(text.split()).upper()
    if not cleaned:
        return ()
    specs: list[IndicatorSpec] = []
    problems: list[str] = []
    for item in cleaned.split(","):
        match = _EXTRA_ITEM.match(item)
        if not match:
            problems.append(f"{item!r} is not understood" if item else "an empty item")
            continue
        kind = match.group(1) or "STOCH"
        groups = (2,) if match.group(1) else (4, 5, 6)
        numbers = tuple(int(match.group(i)) for i in groups)
        try:
            spec = IndicatorSpec(cast(IndicatorKind, kind), numbers)
        except ValueError as error:
            problems.append(f"{item!r}: {error}")
            continue
        if spec not in specs and spec not in DEFAULT_INDICATORS:
            specs.append(spec)
    if problems:
        raise ConfigurationError(
            f"INDICATORS={text!r} is invalid ({'; '.join(problems)}); expected {INDICATORS_FORM}"
        )
    return tuple(specs)


_COLUMN = re.compile(
    r"^(?P<kind>rsi|macd|bb|sma|ema|wma|atr|stoch)(?P<params>(?:_\d+(?:\.\d+)?)*)"
    r"(?P<suffix>_signal|_hist|_upper|_middle|_lower|_k|_d)?$"
)
_PLAIN_BY_KIND: dict[str, tuple[Param, ...]] = {kind: params for kind, params in _PLAIN}


def spec_for_column(column: str) -> IndicatorSpec | None:
    """The spec that produces ``column`` (e.g. ``stoch_5_3_3_d``), or None if none does."""
    match = _COLUMN.match(column)
    if not match:
        return None
    kind = cast(IndicatorKind, match.group("kind").upper())
    raw = [p for p in match.group("params").split("_") if p]
    try:
        if raw:
            params: tuple[Param, ...] = tuple(
                float(p) if name == "std_dev" else int(p)
                for name, p in zip(PARAMETER_NAMES[kind], raw, strict=True)
            )
        else:
            params = _PLAIN_BY_KIND[kind]
        spec = IndicatorSpec(kind, params)
    except (KeyError, ValueError):
        return None
    return spec if column in spec.columns else None
