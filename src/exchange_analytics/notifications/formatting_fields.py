"""Field builders for the Discord messages: tolerant readers and small formatters.

Split out of ``formatting`` by meaning: these turn one stored value (a price, a reading, a
condition list, a track record) into the text of one embed field, and never raise on odd data
(a missing or malformed value is left out or shown as "n/a"), because a formatter runs after
the detection was committed. Pure: no clock, no I/O, no settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import SupportsFloat
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchange_analytics.domain import CurrencyPair
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.jsontypes import JSONObject

#: Higher timeframes first: a reader checks the trend before the trigger.
TIMEFRAME_ORDER = ("1d", "4h", "1h", "5m")


def _tokyo() -> tzinfo:
    # Japan has had no daylight saving since 1951, so a fixed +09:00 is exact if tzdata is absent.
    try:
        return ZoneInfo("Asia/Tokyo")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=9), "JST")


JST = _tokyo()


# --- tolerant readers ---------------------------------------------------------------------


def number(value: object) -> float | None:
    """A finite float, or None for anything else (None, NaN, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, str | SupportsFloat):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clean_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def when_utc(value: object) -> datetime | None:
    """An aware UTC datetime from a datetime or ISO text; naive values are taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- small formatters ---------------------------------------------------------------------


def price_decimals(pair: str | None) -> int:
    """3 decimals for JPY-quoted pairs, 5 otherwise: one digit finer than a pip."""
    try:
        return 3 if pair and CurrencyPair.parse(pair).quote == "JPY" else 5
    except ConfigurationError:
        return 5


def pip_size(pair: str | None) -> float | None:
    try:
        return CurrencyPair.parse(pair).pip_size if pair else None
    except ConfigurationError:
        return None


def compact(value: float) -> str:
    """Compact number for indicator readings: 4 significant digits, no exponent."""
    if abs(value) >= 1000:
        return f"{value:.1f}"
    text = f"{value:.4g}"
    if "e" in text:
        text = f"{value:.8f}".rstrip("0").rstrip(".")
    return text.replace("-", "−")


def format_times(when: datetime, span: timedelta | None = None) -> str:
    """``2024-05-01 12:35 UTC`` and the same instant in JST, on two lines.

    With ``span`` (a bar's length) each line shows the bar's open and close: ``12:35–12:40``.
    """
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    lines = []
    for zone, label in ((UTC, "UTC"), (JST, "JST")):
        local = when.astimezone(zone)
        text = f"{local:%Y-%m-%d %H:%M}"
        if span is not None:
            text += f"–{local + span:%H:%M}"
        lines.append(f"{text} {label}")
    return "\n".join(lines)


def percent(score: float) -> str:
    # confidence_score is in [0, 1]; a value above 1 is taken to be a percentage already.
    return f"{round(score * 100 if score <= 1 else score)}%"


def bb_position(reading: Mapping[str, object]) -> str | None:
    upper, lower, close = (number(reading.get(k)) for k in ("bb_upper", "bb_lower", "close"))
    if upper is None or lower is None or close is None or upper <= lower:
        return None
    pct = (close - lower) / (upper - lower) * 100
    if pct > 100:
        where = "above upper"
    elif pct >= 80:
        where = "near upper"
    elif pct < 0:
        where = "below lower"
    elif pct <= 20:
        where = "near lower"
    else:
        where = "inside"
    return f"BB {round(pct)}% ({where})"


def reading_line(reading: Mapping[str, object]) -> str:
    parts: list[str] = []
    rsi = number(reading.get("rsi"))
    if rsi is not None:
        parts.append(f"RSI {rsi:.1f}")
    macd, signal, hist = (number(reading.get(k)) for k in ("macd", "macd_signal", "macd_hist"))
    if macd is not None:
        text = f"MACD {compact(macd)}"
        if signal is not None:
            text += (
                f" {'>' if macd > signal else '<' if macd < signal else '='} sig {compact(signal)}"
            )
        if hist is not None:
            text += f" (hist {compact(hist)})"
        parts.append(text)
    bb = bb_position(reading)
    if bb:
        parts.append(bb)
    return " · ".join(parts)


def condition_line(conditions: object) -> str:
    if not isinstance(conditions, list | tuple):
        return ""
    marks = []
    for condition in conditions:
        if not isinstance(condition, Mapping):
            continue
        name = clean_text(condition.get("name")) or "condition"
        met = condition.get("met")
        marks.append(f"{'✓' if met is True else '✗' if met is False else '?'} {name}")
    return " · ".join(marks)


def timeframe_fields(data: Mapping[str, object]) -> list[JSONObject]:
    readings = mapping(data.get("readings"))
    conditions = mapping(data.get("conditions"))
    present = {str(k) for k in (*readings.keys(), *conditions.keys())}
    ordered = [tf for tf in TIMEFRAME_ORDER if tf in present]
    ordered += sorted(present - set(TIMEFRAME_ORDER))
    fields: list[JSONObject] = []
    for tf in ordered:
        lines = [
            reading_line(mapping(readings.get(tf))),
            condition_line(conditions.get(tf)),
        ]
        value = "\n".join(line for line in lines if line)
        if value:
            fields.append({"name": tf, "value": value, "inline": False})
    return fields


def level_field(
    name: str, price: float | None, pips: object, entry: float | None, pair: str | None
) -> JSONObject | None:
    pip_count = number(pips)
    pip = pip_size(pair)
    if pip_count is None and price is not None and entry is not None and pip:
        pip_count = abs(price - entry) / pip
    if price is None and pip_count is None:
        return None
    decimals = price_decimals(pair)
    shown = f"{price:.{decimals}f}" if price is not None else "n/a"
    if pip_count is not None:
        shown += f" ({round(pip_count)} pips)"
    return {"name": name, "value": shown, "inline": True}


#: A stored record older than this is shown as stale (it is refreshed daily).
TRACK_RECORD_STALE_AFTER = timedelta(days=2)
NO_RECORD_YET = "no record yet (n < 20)"


def _rate(value: object) -> str:
    rate = number(value)
    return "n/a" if rate is None else f"{round(rate * 100)} %"


def track_record_text(
    record: Mapping[str, object] | None, window_days: int, now: datetime, *, min_signals: int = 20
) -> str:
    """The track-record field (SPEC §17) from a stored ``pattern_track_records`` row.

    ``signals 41 · hit 41 % vs baseline 53 % · expectancy −0.21 R (90 d)``; fewer than
    ``min_signals`` decided signals give ``no record yet (n < 20)``; a missing row says so, and
    a row older than two days is marked stale, because a reader must know what the figures are.
    """
    if not record:
        return f"no record stored yet ({window_days} d): run `patterns evaluate --store`"
    decided = int(number(record.get("take_profit")) or 0) + int(
        number(record.get("stop_loss")) or 0
    )
    if decided < min_signals:
        text = f"no record yet (n < {min_signals})"
        text += f" · signals {int(number(record.get('signals')) or 0)} ({window_days} d)"
    else:
        expectancy = number(record.get("expectancy_r"))
        shown = "n/a" if expectancy is None else f"{expectancy:+.2f} R".replace("-", "−")
        text = (
            f"signals {int(number(record.get('signals')) or 0)}"
            f" · hit {_rate(record.get('hit_rate'))}"
            f" vs baseline {_rate(record.get('baseline_hit_rate'))}"
            f" · expectancy {shown} ({window_days} d)"
        )
    computed = when_utc(record.get("computed_at"))
    reference = when_utc(now)
    if computed is None:
        return f"{text} · age unknown"
    if reference is not None and reference - computed > TRACK_RECORD_STALE_AFTER:
        days = (reference - computed).days
        text += f" · stale: computed {computed:%Y-%m-%d} ({days} d ago)"
    return text
