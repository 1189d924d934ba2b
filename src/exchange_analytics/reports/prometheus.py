"""The run's figures in the Prometheus text format (node_exporter textfile collector). Pure:
the figures come in as values, a ``CollectorRegistry`` goes out; ``pipeline.metrics`` reads
the database and writes the file.

Metric names (all prefixed ``exchange_analytics_``), one sample per pair where labelled:

    last_run_timestamp_seconds       when the last run finished (Unix time)
    last_run_status{status}          1 for the last run's status, 0 for the others
    last_run_processing_seconds      how long the last run took
    bars_fetched{pair}               bars the last run received from the provider
    bars_rejected{pair}              bars refused by validation (bad data, future bars)
    bars_held_back{pair}             bars held back by the jump guard (MAX_BAR_JUMP_PERCENT)
    feed_stuck{pair}                 1 while the pair's feed is stuck (SPEC §3.5)
    last_bar_age_seconds{pair}       age of the newest stored 5m bar's close at the run's clock
    notifications{status}            outbox messages pending and failed
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge

PREFIX = "exchange_analytics"
STATUSES = ("success", "partial", "error", "timeout", "interrupted", "skipped")


@dataclass(frozen=True, slots=True)
class PairFigures:
    pair: str
    fetched: int = 0
    rejected: int = 0
    held_back: int = 0
    stuck: bool = False
    #: Open time of the newest stored 5m bar (None: nothing stored).
    latest_bar: datetime | None = None


@dataclass(frozen=True)
class RunFigures:
    status: str
    finished_at: datetime
    processing_seconds: float
    #: The run's clock (``--as-of`` or now): bar ages are measured against it.
    clock: datetime | None = None
    pairs: Sequence[PairFigures] = ()
    notifications: Mapping[str, int] = field(default_factory=dict)


def build_registry(run: RunFigures) -> CollectorRegistry:
    """A registry holding the figures of ``run`` (a fresh one each time: no global state)."""
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", doc, list(labels), registry=registry)

    gauge("last_run_timestamp_seconds", "When the last run finished (Unix time).").set(
        run.finished_at.timestamp()
    )
    status = gauge("last_run_status", "1 for the last run's status.", ["status"])
    for name in sorted({*STATUSES, run.status}):
        status.labels(status=name).set(1 if name == run.status else 0)
    gauge("last_run_processing_seconds", "Processing time of the last run.").set(
        run.processing_seconds
    )
    per_pair = {
        "bars_fetched": ("Bars the last run received from the provider.", "fetched"),
        "bars_rejected": ("Bars refused by validation in the last run.", "rejected"),
        "bars_held_back": ("Bars held back by the jump guard in the last run.", "held_back"),
    }
    for name, (doc, attr) in per_pair.items():
        metric = gauge(name, doc, ["pair"])
        for pair in run.pairs:
            metric.labels(pair=pair.pair).set(getattr(pair, attr))
    stuck = gauge("feed_stuck", "1 while the provider sends no new bars (market open).", ["pair"])
    age = gauge("last_bar_age_seconds", "Age of the newest stored 5m bar's close.", ["pair"])
    for pair in run.pairs:
        stuck.labels(pair=pair.pair).set(1 if pair.stuck else 0)
        if pair.latest_bar is not None:
            closed = pair.latest_bar.timestamp() + 300
            clock = (run.clock or run.finished_at).timestamp()
            age.labels(pair=pair.pair).set(max(0.0, clock - closed))
    notes = gauge("notifications", "Outbox messages by status.", ["status"])
    for name in ("pending", "failed"):
        notes.labels(status=name).set(run.notifications.get(name, 0))
    return registry
