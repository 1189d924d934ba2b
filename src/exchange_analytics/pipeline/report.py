"""What a cycle did, for the summary log line, ``--json`` and the processing_runs row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from exchange_analytics.jsontypes import JSONObject

#: The per-pair counters summed in ``totals`` (and the summary log line).
TOTALS = (
    "rows_fetched",
    "rows_written",
    "rejected_bars",
    "held_back_bars",
    "bars_aggregated",
    "indicator_rows_written",
    "patterns_detected",
    "notifications_queued",
)


@dataclass
class PairReport:
    pair: str
    action: str = "none"  # backfill | continuous | skipped_locked | error
    rows_fetched: int = 0
    rows_written: int = 0
    rejected_bars: int = 0
    null_rows: int = 0
    #: Bars held back by the jump guard (SPEC §3.5); kept in processing_runs.details.
    held_back_bars: int = 0
    bars_aggregated: int = 0
    indicator_rows_written: int = 0
    patterns_detected: int = 0
    notifications_queued: int = 0
    error: str | None = None
    #: A problem that makes the run partial without failing the pair (a stuck feed).
    warning: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class CycleReport:
    mode: str
    provider: str
    started_at: datetime
    as_of: datetime
    run_id: int | None = None
    status: str = "running"
    processing_time: float = 0.0
    stage_timings: dict[str, float] = field(default_factory=dict)
    pairs: list[PairReport] = field(default_factory=list)
    notifications_sent: int = 0
    notifications_pending: int = 0
    #: The messages queued this run as ``--json`` shows them (with their Discord payload).
    messages: list[JSONObject] = field(default_factory=list)
    error_message: str | None = None
    dry_run: bool = False

    def total(self, name: str) -> int:
        return sum(int(getattr(p, name)) for p in self.pairs)

    @property
    def error_count(self) -> int:
        problems = sum(1 for p in self.pairs if p.error or p.warning)
        return problems + (1 if self.error_message else 0)

    def totals(self) -> dict[str, int]:
        """Every counter of ``TOTALS`` summed over the pairs."""
        return {name: self.total(name) for name in TOTALS}

    def to_dict(self) -> JSONObject:
        """The cycle's ``--json`` document."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["as_of"] = self.as_of.isoformat()
        data["totals"] = self.totals()
        data["error_count"] = self.error_count
        return data

    def summary_fields(self) -> dict[str, object]:
        """Fields of the one canonical per-cycle log line (``grep processing_time``)."""
        totals = self.totals()
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "status": self.status,
            "provider": self.provider,
            "pairs": len(self.pairs),
            "processing_time": round(self.processing_time, 3),
            **{f"{k}_s": round(v, 3) for k, v in self.stage_timings.items()},
            **totals,
            "notifications_sent": self.notifications_sent,
            "error_count": self.error_count,
        }
