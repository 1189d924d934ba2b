"""Statistics over ``processing_runs`` rows, shared by the health check, the alert rules and
the performance reports, so that "success rate" means the same thing everywhere.

Definitions (documented in docs/OPERATIONS.md):

* a run *succeeded* when its status is ``success``; ``partial`` (some pair failed) completed
  but does not count as a success for the rate, because part of the work was not done;
* a run *failed* when its status is ``error``, ``timeout`` or ``interrupted``, or when it is
  still ``running`` long after any run could have finished (``abandoned``: the process was
  killed before it could record itself);
* ``skipped`` runs (another run held the lock) and ``running`` runs that may still be alive
  are neither: they are left out of rates and streaks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from exchange_analytics.jsontypes import JSONValue, as_object

SUCCESS = "success"
PARTIAL = "partial"
RUNNING = "running"
SKIPPED = "skipped"
COMPLETED_STATUSES = frozenset({SUCCESS, PARTIAL})
FAILED_STATUSES = frozenset({"error", "timeout", "interrupted"})
T = TypeVar("T")


class RunMapping(Protocol):
    """A ``processing_runs`` row as storage hands it over (a row mapping or a dict), read by
    column name."""

    def __getitem__(self, key: str, /) -> object: ...

    def __contains__(self, key: object, /) -> bool: ...

    def get(self, key: str, /) -> object: ...


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The columns of one ``processing_runs`` row that monitoring reads."""

    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    processing_time: float | None = None
    mode: str = "system_cycle"
    rows_fetched: int = 0
    bars_aggregated: int = 0
    indicator_rows_written: int = 0
    patterns_detected: int = 0
    notifications_sent: int = 0
    error_count: int = 0
    error_message: str | None = None
    host: str = ""
    pid: int = 0
    #: processing_runs.details, the JSON column as read (per-pair figures with no column of
    #: their own, e.g. the bars held back by the jump guard); only ``held_back_bars`` looks
    #: inside, checking each level's type. Not part of equality. ``object``, not ``JSONValue``:
    #: proving a whole column value JSON means walking all of it (~0.2 ms a row, seconds for a
    #: month of runs) for one counter that is narrowed where it is read anyway.
    details: object = field(default=None, compare=False)

    @property
    def held_back_bars(self) -> int:
        """Bars the jump guard held back in this run (summed over its pairs)."""
        pairs = self.details.get("pairs") if isinstance(self.details, dict) else None
        if not isinstance(pairs, list):
            return 0
        return sum(_count(p.get("held_back_bars")) for p in pairs if isinstance(p, dict))

    @classmethod
    def from_mapping(cls, row: RunMapping) -> RunRecord:
        """Build from a row mapping of ``processing_runs`` (missing columns take their
        defaults; the counters read NULL as 0)."""
        return cls(
            id=_required(row, "id", int),
            status=_required(row, "status", str),
            started_at=_required(row, "started_at", datetime),
            finished_at=_optional(row, "finished_at", datetime),
            processing_time=_seconds(row.get("processing_time")),
            mode=_required(row, "mode", str) if "mode" in row else "system_cycle",
            rows_fetched=_count(row.get("rows_fetched")),
            bars_aggregated=_count(row.get("bars_aggregated")),
            indicator_rows_written=_count(row.get("indicator_rows_written")),
            patterns_detected=_count(row.get("patterns_detected")),
            notifications_sent=_count(row.get("notifications_sent")),
            error_count=_count(row.get("error_count")),
            error_message=_optional(row, "error_message", str),
            host=_required(row, "host", str) if "host" in row else "",
            pid=_required(row, "pid", int) if "pid" in row else 0,
            details=row.get("details"),
        )


def _required(row: RunMapping, key: str, kind: type[T]) -> T:
    value = row[key]
    if not isinstance(value, kind):
        raise TypeError(f"processing_runs.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _optional(row: RunMapping, key: str, kind: type[T]) -> T | None:
    return None if row.get(key) is None else _required(row, key, kind)


def _seconds(value: object) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    raise TypeError(f"processing_runs.processing_time: expected seconds, got {value!r}")


def _count(value: object) -> int:
    """A counter column (NULL or absent reads as 0, as ``int(value or 0)``)."""
    if isinstance(value, int | float | str) or value is None:
        return int(value or 0)
    raise TypeError(f"processing_runs counter: expected a number, got {value!r}")


def stage_seconds(stage_timings: JSONValue) -> dict[str, float]:
    """The numeric entries of a run's ``stage_timings`` JSON (stage -> seconds); anything
    else in the column (or no column value at all) is left out."""
    timings = as_object(stage_timings)
    if timings is None:
        return {}
    return {
        stage: seconds for stage, seconds in timings.items() if isinstance(seconds, int | float)
    }


def abandoned_after(max_processing_time: float) -> timedelta:
    """How long a ``running`` row may stay so before it counts as a crashed run.

    A run stops itself after MAX_PROCESSING_TIME plus the step in progress, so twice that
    (and never less than ten minutes) is well past anything a live run can take.
    """
    return timedelta(seconds=max(2 * max_processing_time, 600.0))


def outcome(run: RunRecord, now: datetime, stale_after: timedelta) -> str:
    """'success', 'partial', 'failed', 'running' (may still be alive) or 'ignored' (skipped)."""
    if run.status == SUCCESS:
        return SUCCESS
    if run.status == PARTIAL:
        return PARTIAL
    if run.status in FAILED_STATUSES:
        return "failed"
    if run.status == RUNNING:
        return "failed" if now - run.started_at > stale_after else RUNNING
    return "ignored"


@dataclass(frozen=True, slots=True)
class SuccessRate:
    finished: int
    succeeded: int
    partial: int
    failed: int

    @property
    def rate(self) -> float | None:
        return self.succeeded / self.finished if self.finished else None


def success_rate(runs: Iterable[RunRecord], now: datetime, stale_after: timedelta) -> SuccessRate:
    """Successes among finished runs (success, partial and failed; not skipped or live)."""
    counts = {SUCCESS: 0, PARTIAL: 0, "failed": 0}
    for run in runs:
        kind = outcome(run, now, stale_after)
        if kind in counts:
            counts[kind] += 1
    finished = sum(counts.values())
    return SuccessRate(finished, counts[SUCCESS], counts[PARTIAL], counts["failed"])


def newest_first(runs: Iterable[RunRecord]) -> list[RunRecord]:
    return sorted(runs, key=lambda r: (r.started_at, r.id), reverse=True)


def consecutive_failures(
    runs: Iterable[RunRecord], now: datetime, stale_after: timedelta
) -> list[RunRecord]:
    """The unbroken streak of failed runs ending with the newest finished run."""
    streak: list[RunRecord] = []
    for run in newest_first(runs):
        kind = outcome(run, now, stale_after)
        if kind in ("ignored", RUNNING):
            continue
        if kind != "failed":
            break
        streak.append(run)
    return streak


def latest_finished(
    runs: Iterable[RunRecord], now: datetime, stale_after: timedelta
) -> RunRecord | None:
    for run in newest_first(runs):
        if outcome(run, now, stale_after) in (SUCCESS, PARTIAL, "failed"):
            return run
    return None


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), q in [0, 100]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class TimingStats:
    count: int
    avg: float
    p50: float
    p95: float
    max: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "avg": round(self.avg, 3),
            "p50": round(self.p50, 3),
            "p95": round(self.p95, 3),
            "max": round(self.max, 3),
        }


def timing_stats(runs: Iterable[RunRecord]) -> TimingStats | None:
    """avg / p50 / p95 / max of processing_time over runs that recorded one (not skipped)."""
    values = [
        float(r.processing_time)
        for r in runs
        if r.processing_time is not None and r.status not in (SKIPPED, RUNNING)
    ]
    if not values:
        return None
    return TimingStats(
        count=len(values),
        avg=sum(values) / len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        max=max(values),
    )
