"""What the health check gathers (``gather``) and evaluates (``checks``): plain frozen data.

Keeping the facts separate from their evaluation is what lets the unit tests build any
situation (a weekend, a disk at 99 %, a streak of failures) without a database or a clock.
``None`` for a section means it could not be read; ``HealthFacts.unread_reason`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from exchange_analytics.health.notify_policy import NotifyPolicyFacts
from exchange_analytics.health.runstats import RunRecord


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    target: str  #: host:port/database or the SQLite file, never the password
    dialect: str
    reachable: bool
    error: str | None = None
    latency_ms: float | None = None
    revision: str | None = None
    head: str = ""


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    name: str
    #: False for providers with nothing to reach (demo, csv).
    checked: bool
    reachable: bool
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    url: str | None = None  #: redacted


@dataclass(frozen=True, slots=True)
class PairFacts:
    pair: str
    #: Open time of the newest stored 5m bar.
    latest_5m: datetime | None
    #: pair_initialization.status ('in_progress', 'complete') or None if never started.
    init_status: str | None = None
    #: When the newest 5m bar was stored: before its own open time means bad data (a bar
    #: dated in the future), not a wrong clock (SPEC §3.5).
    latest_stored_at: datetime | None = None
    #: Consecutive open-market runs without a new bar (``health.feed_watch``).
    stale_runs: int = 0


@dataclass(frozen=True, slots=True)
class RunFacts:
    #: Runs started within the last 24 h.
    recent: tuple[RunRecord, ...]
    #: The newest runs regardless of age (at least MAX_ERROR_COUNT of them, for streaks).
    latest: tuple[RunRecord, ...]
    #: The newest run with status success or partial.
    last_completed: RunRecord | None
    #: When the very first run was recorded (None: the cycle never ran).
    first_started_at: datetime | None


@dataclass(frozen=True, slots=True)
class DiskFacts:
    label: str  #: what lives there: "data", "logs" or "data, logs"
    path: str
    total_bytes: int = 0
    used_bytes: int = 0
    free_bytes: int = 0
    error: str | None = None

    @property
    def percent(self) -> float:
        """Used share as ``df`` shows it (blocks reserved for root excluded)."""
        usable = self.used_bytes + self.free_bytes
        return 100.0 * self.used_bytes / usable if usable else 0.0


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    pid: int
    role: str  #: "health" (this process) or "cycle"
    rss_bytes: int
    age_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class MemoryFacts:
    processes: tuple[ProcessMemory, ...]
    system_total_bytes: int = 0
    system_available_bytes: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationFacts:
    enabled: bool
    pending: int = 0
    sending: int = 0
    failed_total: int = 0
    #: Failed messages created within the last 24 h.
    failed_recent: int = 0
    oldest_pending_at: datetime | None = None
    oldest_claim_at: datetime | None = None
    last_failure_error: str | None = None
    last_failure_at: datetime | None = None
    #: The newest error recorded on a message that is still pending (being retried).
    last_retry_error: str | None = None


@dataclass(frozen=True, slots=True)
class EnvFileFacts:
    path: str | None
    mode: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class HealthFacts:
    now: datetime
    database: DatabaseFacts
    provider: ProviderFacts
    disks: tuple[DiskFacts, ...]
    memory: MemoryFacts
    env_file: EnvFileFacts
    #: Sections read from the database; None when it could not be read.
    pairs: tuple[PairFacts, ...] | None = None
    runs: RunFacts | None = None
    notifications: NotificationFacts | None = None
    #: SPEC §17: the notification policy in force and its digests.
    notify_policy: NotifyPolicyFacts | None = None
    unread_reason: str | None = None
    pair_names: tuple[str, ...] = field(default_factory=tuple)
