"""When the FX market is closed, so that a quiet weekend is not reported as stale data.

The spot FX week runs from Sunday 17:00 to Friday 17:00 America/New_York (the New York close).
Expressed in UTC that is 21:00 or 22:00 depending on US daylight saving time, so every
computation goes through ``zoneinfo`` rather than a fixed UTC hour.

Not modelled: exchange holidays (25 December, 1 January), when liquidity disappears but the
week is formally open. A feed that is quiet on those days shows up as stale; the operations
manual says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
_CLOSE_WEEKDAY = 4  # Friday
_ROLLOVER = time(17, 0)  # New York close / weekly open


def _new_york(on: date) -> datetime:
    """17:00 New York on ``on``, as an aware UTC datetime (DST-aware)."""
    return datetime.combine(on, _ROLLOVER, tzinfo=NEW_YORK).astimezone(UTC)


def is_market_open(at: datetime) -> bool:
    """True unless ``at`` lies inside the weekend closure [Fri 17:00, Sun 17:00) New York."""
    local = at.astimezone(NEW_YORK)
    weekday = local.weekday()
    if weekday == 5:
        return False
    if weekday == 4 and local.time() >= _ROLLOVER:
        return False
    return not (weekday == 6 and local.time() < _ROLLOVER)


def weekend_closures(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The closures ``(closed_at, reopened_at)`` in UTC that overlap ``[start, end)``."""
    if end <= start:
        return
    local = start.astimezone(NEW_YORK)
    friday = local.date() - timedelta(days=(local.weekday() - _CLOSE_WEEKDAY) % 7)
    while True:
        closed_at = _new_york(friday)
        if closed_at >= end:
            return
        reopened_at = _new_york(friday + timedelta(days=2))
        if reopened_at > start:
            yield closed_at, reopened_at
        friday += timedelta(days=7)


def open_seconds_between(start: datetime, end: datetime) -> float:
    """Seconds of ``[start, end)`` during which the market was open (0 if end <= start).

    This is how "stale" is measured: the open-market time that passed without a new bar.
    """
    if end <= start:
        return 0.0
    total = (end - start).total_seconds()
    for closed_at, reopened_at in weekend_closures(start, end):
        overlap = (min(end, reopened_at) - max(start, closed_at)).total_seconds()
        total -= max(0.0, overlap)
    return total


def last_weekly_open(at: datetime) -> datetime:
    """The most recent Sunday 17:00 New York at or before ``at`` (the start of this FX week)."""
    local = at.astimezone(NEW_YORK)
    sunday = local.date() - timedelta(days=(local.weekday() - 6) % 7)
    opened = _new_york(sunday)
    if opened > at:
        opened = _new_york(sunday - timedelta(days=7))
    return opened


def last_close(at: datetime) -> datetime:
    """The most recent Friday 17:00 New York at or before ``at`` (when the weekend began)."""
    local = at.astimezone(NEW_YORK)
    friday = local.date() - timedelta(days=(local.weekday() - _CLOSE_WEEKDAY) % 7)
    closed = _new_york(friday)
    if closed > at:
        closed = _new_york(friday - timedelta(days=7))
    return closed
