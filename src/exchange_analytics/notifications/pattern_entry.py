"""The outbox row of a pattern message: the Discord payload plus what its chart needs.

Split out of ``outbox`` (which sends rows) because this builds them: the detection as the
formatter reads it, the readings per timeframe, and the chart's levels and trend title.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

from exchange_analytics.jsontypes import JSONMapping, JSONObject, JSONValue, as_list, as_object

if TYPE_CHECKING:
    from exchange_analytics.domain import Timeframe
    from exchange_analytics.patterns.evaluate import PatternResult
    from exchange_analytics.patterns.inputs import TimeframeWindow

#: One timeframe's latest close and indicator values (None where not defined yet).
Reading = Mapping[str, float | None]


class OutboxEntry(TypedDict):
    """What ``outbox.enqueue`` takes for a pattern message (besides its status)."""

    kind: str
    channel: str
    dedupe_key: str
    payload: JSONObject
    pattern_detection_id: int


def pattern_outbox_entry(
    pair: str,
    result: PatternResult,
    *,
    detection_id: int,
    is_demo: bool,
    readings: Mapping[str, Reading],
    track_record: str | None = None,
) -> OutboxEntry:
    """The outbox row for a detection: the Discord payload plus what a chart needs.

    ``track_record`` is the stored record's text (SPEC §17), read when the row is written.
    """
    from exchange_analytics.notifications.formatting import pattern_message

    bar = result.bar_timestamp
    if bar is None:  # a detection always has its bar; its message could not name it
        raise ValueError(f"{pair} {result.pattern_type}: detection without a bar time")
    detection: dict[str, object] = {
        "currency_pair": pair,
        "pattern_type": result.pattern_type,
        "direction": result.direction,
        "bar_timestamp": bar,
        "confidence_score": result.confidence,
        "priority": result.priority,
        "entry_price": result.entry_price,
        "take_profit": result.take_profit,
        "stop_loss": result.stop_loss,
        "detection_data": detection_view(
            {**result.to_detection_data(), "readings": _readings_json(readings)}
        ),
        "is_demo": is_demo,
        "track_record": track_record,
    }
    return {
        "kind": "pattern",
        "channel": "patterns",
        "dedupe_key": f"pattern:{pair}:{result.pattern_type}:{result.direction}:{bar.isoformat()}",
        "payload": {
            "discord": pattern_message(detection, chart_filename="chart.png"),
            "chart": {
                "pair": pair,
                "bar_timestamp": bar.isoformat(),
                "pattern_type": result.pattern_type,
                "direction": result.direction,
                "entry_price": result.entry_price,
                "take_profit": result.take_profit,
                "stop_loss": result.stop_loss,
                "trend": trend_arrows(readings),
            },
            "is_demo": is_demo,
        },
        "pattern_detection_id": detection_id,
    }


def trend_arrows(readings: Mapping[str, Reading]) -> str:
    """``1d ↑ 4h ↑ 1h ↓`` from each higher timeframe's close against its Bollinger middle."""
    parts = []
    for timeframe in ("1d", "4h", "1h"):
        reading = readings.get(timeframe) or {}
        close, middle = reading.get("close"), reading.get("bb_middle")
        if close is None or middle is None:
            arrow = "?"
        else:
            arrow = "↑" if close > middle else "↓" if close < middle else "→"
        parts.append(f"{timeframe} {arrow}")
    return " ".join(parts)


def _readings_json(readings: Mapping[str, Reading]) -> JSONObject:
    """The readings as a JSON object (copies: the values are floats or None already)."""
    return {timeframe: dict(reading) for timeframe, reading in readings.items()}


def _condition_view(check: JSONObject) -> JSONValue:
    return {
        "name": check.get("condition"),
        "met": check.get("met"),
        "values": check.get("values", {}),
    }


def detection_view(data: JSONMapping) -> JSONObject:
    """Adapt stored detection_data to the formatter's shape (conditions + readings).

    ``data`` is ``PatternResult.to_detection_data()``: a block or list of another shape
    (never written) is read as empty, as the formatter reads any odd value.
    """
    timeframes = as_object(data.get("timeframes")) or {}
    conditions: JSONObject = {}
    for tf, block in timeframes.items():
        checks = as_list((as_object(block) or {}).get("checks")) or []
        conditions[tf] = [_condition_view(c) for c in checks if isinstance(c, dict)]
    return {
        "conditions": conditions,
        "readings": dict(as_object(data.get("readings")) or {}),
        "take_profit_pips": data.get("take_profit_pips"),
        "stop_loss_pips": data.get("stop_loss_pips"),
        "advice": data.get("advice"),
        "risk": data.get("risk"),
    }


def readings_at(
    windows: Mapping[Timeframe, TimeframeWindow | None],
) -> dict[str, dict[str, float | None]]:
    """The latest close, RSI, MACD and Bollinger values per timeframe, for the message."""
    out: dict[str, dict[str, float | None]] = {}
    for timeframe, window in windows.items():
        if window is None or not len(window.close):
            continue
        values: dict[str, float | None] = {}
        for name in (
            "close",
            "rsi",
            "macd",
            "macd_signal",
            "macd_hist",
            "bb_upper",
            "bb_middle",
            "bb_lower",
        ):
            value = float(getattr(window, name)[-1])
            values[name] = None if value != value else round(value, 6)
        out[str(getattr(timeframe, "value", timeframe))] = values
    return out
