"""Rows in, JSON-ready dicts out: what every page and endpoint shows (pure: no I/O, no clock).

Times leave as ISO-8601 UTC strings for people and as Unix seconds (``time``) for the chart,
which wants numbers. Nothing here formats a secret: the rows it receives carry none, and the
free-text columns (errors, alert messages) still pass through the redactor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from exchange_analytics.config.redact import redact
from exchange_analytics.jsontypes import JSONMapping, JSONObject, JSONValue
from exchange_analytics.storage.dashboard_rows import (
    ActiveAlertRow,
    CandleRow,
    DetectionRow,
    IndicatorRow,
    OpenNotificationRow,
    PairLastBar,
    RunRow,
    TrackRecordRow,
)

FIVE_MINUTES = timedelta(minutes=5)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def human_age(seconds: float | None) -> str:
    """45s, 12m, 3h05m, 2d04h: short enough for a table cell."""
    if seconds is None:
        return "never"
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


#: A lone run draws as one slim bar, not a block filling the chart.
MIN_SLOTS = 30


def sparkline(runs: Sequence[RunRow], width: int = 240, height: int = 40) -> list[JSONObject]:
    """One SVG bar per run (oldest first): height = processing time, class = run status.

    Bars rather than a line, so a single run still shows and a failed run stands out.
    """
    if not runs:
        return []
    times = [float(r["processing_time"] or 0.0) for r in runs]
    top = max(times) or 1.0
    slot = width / max(len(runs), MIN_SLOTS)
    bars: list[JSONObject] = []
    for i, (run, seconds) in enumerate(zip(runs, times, strict=True)):
        tall = max(1.0, seconds / top * (height - 2))
        bars.append(
            {
                "x": round(i * slot + slot * 0.15, 2),
                "y": round(height - tall, 2),
                "w": round(max(0.5, slot * 0.7), 2),
                "h": round(tall, 2),
                "status": run["status"],
                "label": f"run {run['id']}: {run['status']}, {seconds:.2f} s",
            }
        )
    return bars


def pair_rows(found: dict[str, PairLastBar], now: datetime) -> list[JSONObject]:
    rows: list[JSONObject] = []
    for name, facts in found.items():
        last = facts["last_bar"]
        # Counted from the bar's close, as the health check counts it.
        age = None if last is None else (now - last - FIVE_MINUTES).total_seconds()
        rows.append(
            {
                "pair": name,
                "slug": name.replace("/", "_"),
                "last_bar": iso(last),
                "age_seconds": None if age is None else round(age),
                "age": human_age(age),
                "last_close": facts["last_close"],
                "initialization": facts["initialization"],
            }
        )
    return rows


def chart_payload(candles: Sequence[CandleRow], indicators: Sequence[IndicatorRow]) -> JSONObject:
    """Candles plus the BB, RSI and MACD series lightweight-charts draws beside them."""
    r = _round
    bb: list[JSONValue] = []
    rsi: list[JSONValue] = []
    macd: list[JSONValue] = []
    for stamp, kind, value, extra in indicators:
        data = extra or {}
        t = epoch(stamp)
        if kind == "RSI":
            rsi.append({"time": t, "value": r(value)})
        elif kind == "BB" and "upper" in data and "lower" in data:
            bb.append(
                {
                    "time": t,
                    "upper": r(_number(data["upper"])),
                    "middle": r(value),
                    "lower": r(_number(data["lower"])),
                }
            )
        elif kind == "MACD" and "signal" in data:
            signal = _number(data["signal"])
            macd.append(
                {
                    "time": t,
                    "macd": r(value),
                    "signal": r(signal),
                    "histogram": r(_number(data.get("histogram", value - signal))),
                }
            )
    return {
        "candles": [
            {
                "time": epoch(t),
                "open": r(o),
                "high": r(h),
                "low": r(lo),
                "close": r(c),
                "complete": done,
            }
            for t, o, h, lo, c, done in candles
        ],
        "bb": bb,
        "rsi": rsi,
        "macd": macd,
    }


def _round(value: float) -> float:
    """Seven decimals: beyond any FX quote's precision (5), and a third less JSON to send."""
    return round(value, 7)


def _number(value: JSONValue) -> float:
    """A number from an indicator's ``additional_data``, as stored (an integer stays one, so
    the JSON sent is the same); anything else is a TypeError, as rounding it always was."""
    if not isinstance(value, int | float):
        raise TypeError(f"indicator value {value!r} is not a number")
    return value


def conditions(detection_data: JSONMapping | None) -> JSONObject:
    """Per timeframe: met or not, and each condition with its values (from detection_data)."""
    found: JSONObject = {}
    timeframes = (detection_data or {}).get("timeframes") or {}
    if not isinstance(timeframes, dict):
        raise AttributeError(f"detection_data.timeframes is not an object: {timeframes!r}")
    for tf, block in timeframes.items():
        if not isinstance(block, dict):
            continue
        found[tf] = {
            "met": block.get("met"),
            "reason": block.get("reason"),
            "checks": [
                {"condition": c.get("condition"), "met": c.get("met"), "values": c.get("values")}
                for c in _checks(block.get("checks"))
                if isinstance(c, dict)
            ],
        }
    return found


def _checks(value: JSONValue) -> list[JSONValue]:
    """A timeframe's ``checks`` array; absent or null is empty, and a string or an object holds
    no check (its items are not objects). A number is a TypeError: it was never iterable."""
    if isinstance(value, int | float) and value:
        raise TypeError(f"checks {value!r} is not a list")
    return value if isinstance(value, list) else []


def detection(row: DetectionRow, result: tuple[str, int | None] | None) -> JSONObject:
    """One detection for the chart tooltip and the signals table."""
    return {
        "id": row["id"],
        "pattern": row["pattern_type"],
        "direction": row["direction"],
        "bar_time": iso(row["bar_timestamp"]),
        "time": epoch(row["bar_timestamp"]),
        "confidence": round(float(row["confidence_score"]), 3),
        "priority": row["priority"],
        "entry": row["entry_price"],
        "take_profit": row["take_profit"],
        "stop_loss": row["stop_loss"],
        "decision": row["notify_decision"],
        "source": row["source"],
        "conditions": conditions(row["detection_data"]),
        "outcome": None if result is None else {"result": result[0], "bars": result[1]},
    }


def run_row(row: RunRow) -> JSONObject:
    return {
        "id": row["id"],
        "mode": row["mode"],
        "status": row["status"],
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
        "processing_time": row["processing_time"],
        "rows_fetched": row["rows_fetched"],
        "patterns_detected": row["patterns_detected"],
        "notifications_sent": row["notifications_sent"],
        "error_count": row["error_count"],
        "error_message": None if row["error_message"] is None else redact(row["error_message"]),
        "provider": row["provider"],
    }


def notification_row(row: OpenNotificationRow) -> JSONObject:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "channel": row["channel"],
        "status": row["status"],
        "attempts": row["attempts"],
        "created_at": iso(row["created_at"]),
        "next_attempt_at": iso(row["next_attempt_at"]),
        "last_error": None if row["last_error"] is None else redact(row["last_error"]),
    }


def alert_row(row: ActiveAlertRow) -> JSONObject:
    return {
        "alert_key": row["alert_key"],
        "severity": row["severity"],
        "first_raised_at": iso(row["first_raised_at"]),
        "last_notified_at": iso(row["last_notified_at"]),
        "message": redact(row["message"]),
    }


def record_row(row: TrackRecordRow) -> JSONObject:
    """A §16 track record with its datetimes as ISO strings (keys in the columns' order)."""
    return {
        "currency_pair": row["currency_pair"],
        "pattern_type": row["pattern_type"],
        "direction": row["direction"],
        "window_days": row["window_days"],
        "period_from": iso(row["period_from"]),
        "period_to": iso(row["period_to"]),
        "computed_at": iso(row["computed_at"]),
        "signals": row["signals"],
        "take_profit": row["take_profit"],
        "stop_loss": row["stop_loss"],
        "ambiguous": row["ambiguous"],
        "open": row["open"],
        "hit_rate": row["hit_rate"],
        "hit_rate_low": row["hit_rate_low"],
        "hit_rate_high": row["hit_rate_high"],
        "expectancy_r": row["expectancy_r"],
        "baseline_entries": row["baseline_entries"],
        "baseline_hit_rate": row["baseline_hit_rate"],
        "baseline_expectancy_r": row["baseline_expectancy_r"],
        "edge": row["edge"],
        "edge_low": row["edge_low"],
        "edge_high": row["edge_high"],
    }
