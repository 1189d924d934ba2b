"""Which detections are notified: new vs repeat (previous 5m bar) vs cooldown (SPEC §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange_analytics.patterns.newness import NewnessTracker, decide

T0 = datetime(2026, 6, 3, 10, 5, tzinfo=UTC)
KEY = ("composite_signal", "BUY")
FIVE = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("previous", "last_notified", "now", "expected"),
    [
        ((), None, T0, "new"),
        ((KEY,), None, T0, "repeat"),
        ((KEY,), T0 - timedelta(hours=5), T0, "repeat"),
        ((), T0 - timedelta(minutes=30), T0, "cooldown"),
        ((), T0 - timedelta(minutes=59, seconds=59), T0, "cooldown"),
        ((), T0 - timedelta(minutes=60), T0, "new"),
        ((("composite_signal", "SELL"),), None, T0, "new"),
    ],
    ids=[
        "first-sight",
        "present-at-previous-bar",
        "repeat-wins-over-expired-cooldown",
        "within-cooldown",
        "just-inside-cooldown",
        "cooldown-over-at-exactly-60-minutes",
        "other-direction-is-another-key",
    ],
)
def test_decide(
    previous: tuple[tuple[str, str], ...],
    last_notified: datetime | None,
    now: datetime,
    expected: str,
) -> None:
    assert decide(KEY, set(previous), last_notified, now, 60) == expected


def test_zero_cooldown_never_suppresses_and_negative_is_refused() -> None:
    assert decide(KEY, set(), T0 - timedelta(seconds=1), T0, 0) == "new"
    with pytest.raises(ValueError, match="cooldown_minutes"):
        decide(KEY, set(), None, T0, -1)


def test_tracker_walks_bars_like_replay() -> None:
    """On, on, off, on (15 min after the first: cooldown), off ... on again 60 min later: new."""
    tracker = NewnessTracker(cooldown_minutes=60)
    sell = ("trend_reversal", "SELL")
    timeline = [
        (T0, [KEY], {KEY: "new"}),
        (T0 + FIVE, [KEY, sell], {KEY: "repeat", sell: "new"}),
        (T0 + 2 * FIVE, [], {}),
        (T0 + 3 * FIVE, [KEY], {KEY: "cooldown"}),
        (T0 + 4 * FIVE, [KEY], {KEY: "repeat"}),
        (T0 + 5 * FIVE, [], {}),
        (T0 + 12 * FIVE, [KEY, sell], {KEY: "new", sell: "cooldown"}),
    ]
    for now, detected, expected in timeline:
        assert tracker.step(detected, now) == expected, now
    assert tracker.last_notified[KEY] == T0 + 12 * FIVE
    assert tracker.last_notified[sell] == T0 + FIVE


def test_tracker_seeded_from_the_database_state() -> None:
    """The live cycle seeds the previous bar's detections and the last notification times."""
    tracker = NewnessTracker.seeded(60, [KEY], {("breakout", "BUY"): T0 - timedelta(minutes=10)})
    decisions = tracker.step([KEY, ("breakout", "BUY"), ("pullback", "SELL")], T0)
    assert decisions == {
        KEY: "repeat",
        ("breakout", "BUY"): "cooldown",
        ("pullback", "SELL"): "new",
    }


def test_duplicates_in_one_bar_are_decided_once() -> None:
    tracker = NewnessTracker(cooldown_minutes=60)
    assert tracker.step([KEY, KEY], T0) == {KEY: "new"}
