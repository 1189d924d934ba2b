"""The building blocks of a report: the period it covers and its sections (a leaf module, so
that every section module and the report that assembles them import it, not each other)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from exchange_analytics.storage.engine import Connection


@dataclass(frozen=True)
class ReportPeriod:
    """[start, end) in UTC; ``label`` like 2026-07."""

    start: datetime
    end: datetime
    label: str

    @classmethod
    def month(cls, year: int, month: int) -> ReportPeriod:
        start = datetime(year, month, 1, tzinfo=UTC)
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return cls(start, following, f"{year:04d}-{month:02d}")

    @classmethod
    def parse(cls, text: str, now: datetime) -> ReportPeriod:
        """'YYYY-MM', 'current' (month to date) or 'previous' (the last complete month)."""
        if text == "current":
            return cls.month(now.year, now.month)
        if text == "previous":
            last = now.replace(day=1) - timedelta(days=1)
            return cls.month(last.year, last.month)
        try:
            year, month = (int(part) for part in text.split("-"))
            return cls.month(year, month)
        except ValueError as exc:
            raise ValueError(f"--month {text!r}: use YYYY-MM, 'current' or 'previous'") from exc

    def days(self) -> list[date]:
        span = (self.end - self.start).days
        return [(self.start + timedelta(days=i)).date() for i in range(span)]


@dataclass
class Section:
    """One part of a report: ``data`` its rows, put into the ``--json`` document as they are
    (each section has its own row type, a TypedDict), ``lines`` their text rendering."""

    key: str
    title: str
    data: Sequence[Mapping[str, object]]
    lines: list[str] = field(default_factory=list)


SectionBuilder = Callable[[Connection, ReportPeriod], Awaitable[Section]]
