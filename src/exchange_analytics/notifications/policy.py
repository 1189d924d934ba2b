"""Who hears about a signal, and how (SPEC §17): pure decisions, no I/O, no clock.

A *signal* is a detection decided ``new`` by the §7 newness and cooldown rules; the policy only
chooses its delivery, never whether it is stored. The delivery is recorded on the signal's
outbox row, so ``pattern_detections`` (and everything reading it: replay, evaluate, reports)
stays the same whatever the policy:

``pending``
    sent at once (``immediate``; ``edge`` while the track record beats the baseline).
``held``
    waits for the pattern's next digest (``digest``; ``edge`` without a winning record; any
    signal over ``NOTIFY_MAX_PER_PAIR_PER_DAY``). The digest stage then marks it
    ``suppressed`` with the digest's key, so retention cleans it like any unsent row.
``suppressed``
    stored, never sent (``off``; confidence under ``NOTIFY_MIN_CONFIDENCE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from exchange_analytics.config.notify_policy import (
    DEFAULT_POLICY as DEFAULT_POLICY,
)
from exchange_analytics.config.notify_policy import PATTERNS as PATTERNS
from exchange_analytics.config.notify_policy import POLICIES as POLICIES
from exchange_analytics.config.notify_policy import POLICY_FORM as POLICY_FORM
from exchange_analytics.config.notify_policy import parse_policy as parse_policy
from exchange_analytics.config.notify_policy import policy_summary as policy_summary

if TYPE_CHECKING:
    from exchange_analytics.storage.track_records import TrackRecord

#: A track record speaks only once this many signals were decided (TP first or SL first).
MIN_RECORD_SIGNALS = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def record_decided(record: TrackRecord | None) -> int:
    """Signals the record's hit rate rests on (TP first + SL first)."""
    if not record:
        return 0
    return int(record.get("take_profit") or 0) + int(record.get("stop_loss") or 0)


def beats_baseline(record: TrackRecord | None) -> bool:
    """True when the record has n >= 20 decided signals and a hit rate above its baseline."""
    if record_decided(record) < MIN_RECORD_SIGNALS or record is None:
        return False
    hit, base = record.get("hit_rate"), record.get("baseline_hit_rate")
    if hit is None or base is None:
        return False
    return float(hit) > float(base)


@dataclass(frozen=True)
class Delivery:
    """The outbox status for a signal and, when it is not sent now, why (shown in the row)."""

    status: str
    reason: str | None = None


def decide_delivery(
    *,
    policy: str,
    confidence: float,
    min_confidence: float,
    record: TrackRecord | None,
    sent_today: int,
    max_per_day: int,
) -> Delivery:
    """The delivery of one signal; ``max_per_day`` 0 means no budget.

    Order: ``off`` and the confidence floor drop a signal; then the policy picks immediate or
    digest; an immediate signal over the pair's daily budget goes to the digest instead.
    """
    if policy == "off":
        return Delivery("suppressed", "not sent: NOTIFY_POLICY off")
    if confidence < min_confidence:
        return Delivery("suppressed", f"not sent: confidence under {min_confidence:g}")
    if policy == "digest":
        return Delivery("held", "digest: NOTIFY_POLICY digest")
    if policy == "edge" and not beats_baseline(record):
        return Delivery("held", "digest: track record does not beat the baseline (edge)")
    if max_per_day and sent_today >= max_per_day:
        return Delivery("held", f"digest: over NOTIFY_MAX_PER_PAIR_PER_DAY={max_per_day}")
    return Delivery("pending")


def period_of(bar_timestamp: datetime, hours: int) -> tuple[datetime, datetime]:
    """The digest period [start, end) containing the close of the 5m bar opened at ``bar``."""
    period = timedelta(hours=hours)
    close = bar_timestamp + timedelta(minutes=5)
    start = EPOCH + ((close - EPOCH) // period) * period
    if start == close:  # a bar closing exactly on a boundary belongs to the period it ends
        start -= period
    return start, start + period
