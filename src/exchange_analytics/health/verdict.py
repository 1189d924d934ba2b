"""The vocabulary of the health check: statuses, component verdicts, the report, thresholds.

Pure and tiny, shared by the system checks (``checks``) and the pipeline checks
(``pipeline_checks``). The overall status is the worst component; the exit code follows it
(0 healthy, 1 degraded, 2 unhealthy: SPEC §2).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from exchange_analytics.health import runstats
from exchange_analytics.jsontypes import JSONObject

if TYPE_CHECKING:
    from exchange_analytics.config.settings import Settings

MB = 1024 * 1024
#: SPEC §9.1: a cycle longer than 10 minutes is CRITICAL.
CRITICAL_PROCESSING_SECONDS = 600.0


class Status(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.OK: 0, Status.DEGRADED: 1, Status.UNHEALTHY: 2}
_OVERALL = {Status.OK: "healthy", Status.DEGRADED: "degraded", Status.UNHEALTHY: "unhealthy"}


@dataclass(frozen=True)
class Component:
    name: str
    status: Status
    reason: str
    #: What ``health --json`` prints under the component's ``details`` (figures behind the
    #: reason); only passed through to the document.
    details: JSONObject = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    checked_at: datetime
    components: tuple[Component, ...]
    duration_ms: float | None = None

    @property
    def worst(self) -> Status:
        return worst(c.status for c in self.components)

    @property
    def status(self) -> str:
        """'healthy', 'degraded' or 'unhealthy'."""
        return _OVERALL[self.worst]

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 degraded, 2 unhealthy (SPEC §2)."""
        return self.worst.rank

    def component(self, name: str) -> Component:
        for item in self.components:
            if item.name == name:
                return item
        raise KeyError(name)


def worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True)
class HealthThresholds:
    interval_minutes: int = 5
    min_success_rate: float = 0.95
    max_error_count: int = 5
    max_processing_time: float = 300.0
    disk_usage_max_percent: float = 80.0
    memory_rss_max_mb: float = 2048.0
    stale_degraded_intervals: int = 3
    stale_unhealthy_intervals: int = 12
    weekly_open_grace: timedelta = timedelta(minutes=30)
    db_latency_degraded_ms: float = 500.0
    #: Above this the file system is about to refuse writes, whatever the configured limit.
    disk_unhealthy_percent: float = 98.0
    memory_available_min_percent: float = 5.0
    notification_backlog_max: int = 50
    pending_max_age: timedelta = timedelta(minutes=30)
    claim_max_age: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthThresholds:
        return cls(
            interval_minutes=settings.interval_minutes,
            min_success_rate=settings.min_success_rate,
            max_error_count=settings.max_error_count,
            max_processing_time=settings.max_processing_time,
            disk_usage_max_percent=settings.disk_usage_max_percent,
            memory_rss_max_mb=settings.memory_rss_max_mb,
        )

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.interval_minutes)

    @property
    def stale_after(self) -> timedelta:
        return runstats.abandoned_after(self.max_processing_time)


def duration(seconds: float) -> str:
    """Short human duration: 45s, 3m10s, 2h05m, 3d04h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
