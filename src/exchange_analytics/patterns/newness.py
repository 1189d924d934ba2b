"""Whether a detection is worth a notification (SPEC §7, last paragraph).

Three outcomes, stored in ``pattern_detections.notify_decision``:

``repeat``
    The same pair + pattern + direction was also detected at the previous 5m bar: the
    situation is ongoing, not new. Checked first, so a long-lasting pattern is one message.
``cooldown``
    New at this bar, but the same pair + pattern + direction was notified less than
    ``NOTIFY_COOLDOWN_MINUTES`` ago (a pattern that flickers off and on).
``new``
    Neither: notify.

Every detection is stored whatever the decision ("suppressed detections are still stored").
The clock is passed in (``now``): the cycle's clock, ``--as-of``, or in a replay the close of
the bar being replayed, so the same history always gives the same decisions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Decision = Literal["new", "repeat", "cooldown"]
#: (pattern_type, direction) — the pair is implied by whoever holds the state.
Key = tuple[str, str]


def decide(
    key: Key,
    previous_bar_keys: Collection[Key],
    last_notified_at: datetime | None,
    now: datetime,
    cooldown_minutes: int,
) -> Decision:
    """Decide for one detection of one pair at the bar that closes at ``now``.

    ``previous_bar_keys``: the (pattern, direction) detections of the same pair at the
    previous 5m bar (the previous stored bar, so across a weekend gap it is Friday's last).
    ``last_notified_at``: when this pair + pattern + direction was last decided ``new``.
    The cooldown window is half-open: exactly ``cooldown_minutes`` later notifies again.
    """
    if cooldown_minutes < 0:
        raise ValueError(f"cooldown_minutes must not be negative, got {cooldown_minutes}")
    if key in previous_bar_keys:
        return "repeat"
    if last_notified_at is not None and now - last_notified_at < timedelta(
        minutes=cooldown_minutes
    ):
        return "cooldown"
    return "new"


@dataclass
class NewnessTracker:
    """Carries the state :func:`decide` needs from one bar to the next for one pair.

    Used by ``replay`` (walking bars in order) and seeded by the live cycle from the database
    (the previous bar's detections and the last ``new`` time per pattern/direction).
    """

    cooldown_minutes: int
    previous_bar_keys: frozenset[Key] = frozenset()
    last_notified: dict[Key, datetime] = field(default_factory=dict)

    @classmethod
    def seeded(
        cls,
        cooldown_minutes: int,
        previous_bar_keys: Iterable[Key],
        last_notified: Mapping[Key, datetime],
    ) -> NewnessTracker:
        return cls(cooldown_minutes, frozenset(previous_bar_keys), dict(last_notified))

    def step(self, detected: Iterable[Key], now: datetime) -> dict[Key, Decision]:
        """Decide for every detection at the bar closing at ``now``, then advance one bar."""
        keys = list(dict.fromkeys(detected))
        decisions: dict[Key, Decision] = {}
        for key in keys:
            decision = decide(
                key,
                self.previous_bar_keys,
                self.last_notified.get(key),
                now,
                self.cooldown_minutes,
            )
            decisions[key] = decision
            if decision == "new":
                self.last_notified[key] = now
        self.previous_bar_keys = frozenset(keys)
        return decisions
