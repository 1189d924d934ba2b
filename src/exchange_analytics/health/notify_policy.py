"""Health of the notification policy (SPEC §17): which policy is in force, when the last
digest went out, and whether held signals wait too long.

A digest is *overdue* when a held signal's period ended more than two digest periods ago and
it is still held: the digest stage is not running (the cycle is down, or the stage keeps
failing). An empty period sends no digest, so "last digest long ago" alone is not a problem.
``check_notify_policy`` is pure; ``read_notify_policy`` asks the storage layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from exchange_analytics.health.verdict import Component, Status, duration, stamp
from exchange_analytics.jsontypes import JSONObject

if TYPE_CHECKING:
    from exchange_analytics.config.settings import Settings
    from exchange_analytics.storage.engine import Connection

NAME = "notification_policy"


@dataclass(frozen=True, slots=True)
class NotifyPolicyFacts:
    policy: str
    digest_hours: int
    outcomes: bool
    last_digest_at: datetime | None = None
    #: The 5m bar (open time) of the oldest signal still waiting for a digest.
    oldest_held_bar: datetime | None = None


def check_notify_policy(facts: NotifyPolicyFacts, now: datetime) -> Component:
    """OK with the policy and last digest; degraded when a digest is overdue by > 2 periods."""
    from exchange_analytics.notifications.policy import period_of

    details: JSONObject = {
        "policy": facts.policy,
        "digest_hours": facts.digest_hours,
        "outcome_followups": facts.outcomes,
        "last_digest_at": stamp(facts.last_digest_at),
        "oldest_held_bar": stamp(facts.oldest_held_bar),
    }
    last = stamp(facts.last_digest_at) or "never"
    reason = f"policy {facts.policy}; digest every {facts.digest_hours} h, last {last}"
    if facts.oldest_held_bar is not None:
        due = period_of(facts.oldest_held_bar, facts.digest_hours)[1]
        late = now - due
        if late > 2 * timedelta(hours=facts.digest_hours):
            reason += (
                f"; digest overdue: a held signal's period ended {duration(late.total_seconds())}"
                " ago (is the cycle running?)"
            )
            return Component(NAME, Status.DEGRADED, reason, details)
    return Component(NAME, Status.OK, reason, details)


async def read_notify_policy(conn: Connection, settings: Settings) -> NotifyPolicyFacts:
    """The facts above, from the outbox (two indexed aggregates)."""
    from exchange_analytics.notifications.policy import policy_summary
    from exchange_analytics.storage.signal_delivery import last_digest_at, oldest_held_bar

    return NotifyPolicyFacts(
        policy=policy_summary(settings.notify_policy),
        digest_hours=settings.notify_digest_hours,
        outcomes=settings.notify_outcomes,
        last_digest_at=await last_digest_at(conn),
        oldest_held_bar=await oldest_held_bar(conn),
    )
