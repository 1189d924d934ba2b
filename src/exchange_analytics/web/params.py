"""Query parameters of the dashboard, checked before any query runs (pure: no I/O, no clock).

A bad value raises ``BadParameter`` (HTTP 400) or ``NotFound`` (HTTP 404) whose message is the
one line the person must read: which parameter, what was given, what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from exchange_analytics.domain import ALL_TIMEFRAMES, CurrencyPair, Timeframe
from exchange_analytics.errors import ConfigurationError

#: Bars drawn when no range is asked for: two days of 5m, about a month of 1h.
DEFAULT_BARS = 600
#: The most bars one /api/candles answer carries, whatever the range (the newest are kept).
MAX_BARS = 5000
#: One page of detections / signals at most.
MAX_PAGE = 500
DIRECTIONS = ("BUY", "SELL", "NEUTRAL")


class BadParameter(ValueError):
    """A query parameter the dashboard cannot use (HTTP 400)."""


class NotFound(LookupError):
    """Something named in the request does not exist here (HTTP 404)."""


def timeframe(value: str | None, default: Timeframe = Timeframe.H1) -> Timeframe:
    if value is None or value == "":
        return default
    try:
        return Timeframe(value)
    except ValueError:
        accepted = ", ".join(t.value for t in ALL_TIMEFRAMES)
        raise BadParameter(f"tf={value!r} is not a timeframe: use one of {accepted}") from None


def instant(name: str, value: str | None) -> datetime | None:
    """ISO-8601 date or date-time (UTC when no offset), or Unix seconds."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadParameter(
            f"{name}={value!r} is not a date: use ISO-8601 like 2026-06-01 or "
            "2026-06-01T12:00:00Z, or Unix seconds"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def time_range(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """``from``/``to``; a bare date as ``to`` means the end of that day (as a person means it)."""
    start = instant("from", query.get("from"))
    end = instant("to", query.get("to"))
    raw_end = (query.get("to") or "").strip()
    if end is not None and len(raw_end) == 10 and raw_end[4] == "-":
        end += timedelta(days=1) - timedelta(microseconds=1)
    if start is not None and end is not None and start > end:
        raise BadParameter(f"from={query['from']} is after to={query['to']}")
    return start, end


def integer(name: str, value: str | None, default: int, minimum: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(f"{name}={value!r} is not a whole number") from None
    if not minimum <= number <= maximum:
        raise BadParameter(f"{name}={number} is out of range: use {minimum} to {maximum}")
    return number


def pair(value: str | None, known: list[str]) -> str:
    """A pair in any accepted spelling (USD/JPY, usdjpy, USD_JPY) that this database knows."""
    if value is None or value == "":
        raise BadParameter("pair is missing: give it like pair=USD/JPY")
    try:
        name = str(CurrencyPair.parse(value))
    except (ValueError, ConfigurationError):
        raise NotFound(f"unknown pair {value!r}: known pairs are {', '.join(known)}") from None
    if name not in known:
        raise NotFound(f"unknown pair {name}: known pairs are {', '.join(known) or 'none'}")
    return name


def choice(name: str, value: str | None, accepted: list[str] | tuple[str, ...]) -> str | None:
    """An optional filter value that must be one of ``accepted`` (empty means any)."""
    if value is None or value == "":
        return None
    if value not in accepted:
        raise BadParameter(
            f"{name}={value!r} is not known here: use one of {', '.join(accepted) or '(none yet)'}"
        )
    return value


def slug(name: str) -> str:
    """USD/JPY → USD_JPY, for page URLs (a slash does not belong in a path segment)."""
    return name.replace("/", "_")
