"""HistData's real clock: UTC-5 in winter, UTC-4 during EU summer time (PROVENANCE §F).

HistData documents its timestamps as "EST without daylight saving", but its files do not run
on that clock: against a broker's EET/EEST file the closes agree at a constant +7 h through
both DST changes, the weekly session opens Sun 17:00 file time in winter and in summer, the
EU spring-forward Sunday misses the 19:00-19:59 file hour and the EU fall-back Sunday has it
twice. So the file clock is UTC-4 from the last Sunday of March to the last Sunday of
October (EU dates) and UTC-5 otherwise, and it switches at 00:00 UTC at the end of those
Sundays (19:00 or 20:00 file time, inside the Sunday session). Read as fixed EST, every
summer bar would land an hour late.

At the switch:

* spring: file times 19:00-19:59 on that Sunday do not exist (no UTC minute is missing:
  18:59 is 23:59 UTC at UTC-5 and 20:00 is 00:00 UTC at UTC-4); such a row is a bad row;
* autumn: file times 19:00-19:59 on that Sunday occur twice. The first copy is UTC-4
  (23:00-23:59 UTC), the second UTC-5 (00:00-00:59 UTC). Resolved by occurrence, not by the
  previous row, so a file whose day blocks are stored out of order still reads right.

Pure: ``HistDataClock`` holds only the set of ambiguous times already seen in one file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

SUMMER = timedelta(hours=-4)
WINTER = timedelta(hours=-5)


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def summer_time_bounds(year: int) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC during which the file clock is UTC-4 in ``year``: from 00:00
    UTC after the EU spring-forward Sunday to 00:00 UTC after the EU fall-back Sunday."""
    start = _last_sunday(year, 3) + timedelta(days=1)
    end = _last_sunday(year, 10) + timedelta(days=1)
    return (
        datetime(start.year, start.month, start.day, tzinfo=UTC),
        datetime(end.year, end.month, end.day, tzinfo=UTC),
    )


class HistDataClock:
    """Turns naive HistData file times into UTC, one file at a time (see the module doc)."""

    name = "HistData (UTC-5, UTC-4 in EU summer time)"

    def __init__(self) -> None:
        self._bounds: dict[int, tuple[datetime, datetime]] = {}
        self._seen_twice: set[datetime] = set()

    def __str__(self) -> str:
        return self.name

    def _summer(self, instant: datetime) -> bool:
        bounds = self._bounds.get(instant.year)
        if bounds is None:
            bounds = self._bounds[instant.year] = summer_time_bounds(instant.year)
        return bounds[0] <= instant < bounds[1]

    def to_utc(self, naive: datetime) -> datetime:
        """UTC instant of the file time ``naive``; ValueError for the missing spring hour."""
        wall = naive.replace(tzinfo=UTC)
        as_summer = wall - SUMMER
        as_winter = wall - WINTER
        summer_ok = self._summer(as_summer)
        winter_ok = not self._summer(as_winter)
        if summer_ok and winter_ok:  # the doubled autumn hour
            if naive in self._seen_twice:
                return as_winter
            self._seen_twice.add(naive)
            return as_summer
        if summer_ok:
            return as_summer
        if winter_ok:
            return as_winter
        raise ValueError(
            f"nonexistent time {naive.isoformat(sep=' ')} on HistData's clock (the hour skipped "
            "when EU summer time starts); pass --tz to read the file on another clock"
        )
