"""The human table behind ``exchange-analytics patterns explain`` (SPEC §2).

For each of the eleven pattern/direction results: its status and confidence, then one line per
condition per timeframe with the values behind it and whether it held. A timeframe that could
not be evaluated shows the reason instead. Rendering reads the result's readings through the
same conversions as ``PatternResult.conditions`` (the document ``detection_data`` stores: the
values as :meth:`~exchange_analytics.patterns.confidence.Check.json_values` gives them), so what a
user sees here is what a stored detection records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from exchange_analytics.jsontypes import JSONValue
from exchange_analytics.patterns.evaluate import PatternResult, Reading

_MARK = {True: "yes", False: "no"}
_JST = "Asia/Tokyo"


def _number(value: JSONValue) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return _MARK[value]
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-3 or value == 0.0 else f"{value:.3e}"
    if isinstance(value, list):
        inner = ", ".join(_number(v) for v in value[-6:])
        return f"[{'…, ' if len(value) > 6 else ''}{inner}]"
    return str(value)


def format_values(values: Mapping[str, JSONValue]) -> str:
    """``rsi=72.31 threshold=70`` — compact, in the order the detector recorded them."""
    return " ".join(f"{name}={_number(value)}" for name, value in values.items())


def _bar_label(reading: Reading) -> str:
    stamp = reading.bar_timestamp
    if not stamp:
        return "-"
    text = f"{pd.Timestamp(stamp):%Y-%m-%d %H:%M}"
    return text + (" (forming)" if reading.bar_complete is False else "")


def _header(result: PatternResult) -> str:
    title = f"{result.pattern_type} {result.direction}"
    parts = [f"{title:<26}", f"[{result.priority}]", result.status]
    if result.status != "not_evaluable":
        parts.append(f"confidence {result.confidence:.2f}")
    if result.take_profit is not None and result.stop_loss is not None:
        parts.append(
            f"entry {_number(result.entry_price)} TP {_number(result.take_profit)} "
            f"({result.take_profit_pips:g} pips) SL {_number(result.stop_loss)} "
            f"({result.stop_loss_pips:g} pips)"
        )
    elif result.advice:
        parts.append(f"advice: {result.advice}" + (f", risk: {result.risk}" if result.risk else ""))
    return "  ".join(parts)


def render_result(result: PatternResult) -> list[str]:
    """The lines of one pattern/direction: a header, then one line per condition."""
    lines = [_header(result)]
    rows: list[tuple[str, str, str, str, str]] = []
    for reading in result.readings:
        tf, bar = reading.timeframe.value, _bar_label(reading)
        if not reading.evaluable:
            rows.append((tf, bar, "not evaluable", "-", reading.reason or ""))
            continue
        for check in reading.checks:
            rows.append((tf, bar, check.name, _MARK[check.met], format_values(check.json_values())))
    widths = [max(len(row[i]) for row in rows) for i in range(4)] if rows else [0] * 4
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
        lines.append("    " + "  ".join(cells) + "  " + row[4])
    return lines


def render_explain(
    results: Sequence[PatternResult], pair: str, at: pd.Timestamp | None = None
) -> str:
    """The full ``patterns explain`` text for one pair at one moment.

    The header names the 5m bar the results describe (open and close, in UTC and in JST, the
    users' local time) and, when given, the moment ``at`` that was asked for, since a moment
    between closes is read at the last bar that had closed by then.
    """
    bars = [r.bar_timestamp for r in results if r.bar_timestamp is not None]
    lines = [f"{pair}  patterns at the 5m bar " + _moment(pd.Timestamp(bars[0]) if bars else None)]
    if at is not None:
        lines.append(f"asked for {_clock(at)}")
    detected = [r for r in results if r.detected]
    names = ", ".join(f"{r.pattern_type} {r.direction}" for r in detected)
    lines.append(f"{len(detected)} of {len(results)} detected" + (f": {names}" if names else ""))
    for result in results:
        lines.append("")
        lines.extend(render_result(result))
    return "\n".join(lines) + "\n"


def _clock(stamp: pd.Timestamp) -> str:
    utc = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return f"{utc:%Y-%m-%d %H:%M} UTC ({utc.tz_convert(_JST):%Y-%m-%d %H:%M} JST)"


def _moment(stamp: pd.Timestamp | None) -> str:
    if stamp is None:
        return "(none: no 5m bars)"
    return f"opening {_clock(stamp)}, closed {_clock(stamp + pd.Timedelta(minutes=5))}"
