"""SPEC §17 pure parts: NOTIFY_POLICY parsing, the delivery decision, the track-record text,
the outcome follow-up and the digest (split on line boundaries within Discord's limits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange_analytics.notifications.followup_format import (
    digest_messages,
    duration_text,
    outcome_message,
)
from exchange_analytics.notifications.formatting_fields import track_record_text
from exchange_analytics.notifications.limits import violations
from exchange_analytics.notifications.policy import (
    PATTERNS,
    beats_baseline,
    decide_delivery,
    parse_policy,
    period_of,
    policy_summary,
)

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
RECORD = {
    "signals": 41,
    "take_profit": 13,
    "stop_loss": 19,
    "hit_rate": 13 / 32,
    "baseline_hit_rate": 0.53,
    "expectancy_r": -0.21,
    "computed_at": NOW - timedelta(hours=5),
}


def test_policy_defaults_to_immediate_and_a_bare_policy_sets_the_rest() -> None:
    assert parse_policy("") == dict.fromkeys(PATTERNS, "immediate")
    policy = parse_policy("digest, breakout=immediate")
    assert policy["breakout"] == "immediate"
    assert {policy[p] for p in PATTERNS if p != "breakout"} == {"digest"}
    assert policy_summary(policy) == "breakout=immediate, others digest"
    assert policy_summary(parse_policy("")) == "immediate"


@pytest.mark.parametrize(
    ("text", "named"), [("composite_signal=loud", "'loud'"), ("candles=digest", "'candles'")]
)
def test_unknown_names_in_the_policy_are_named(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_policy(text)


def _decide(policy: str, **over: object) -> tuple[str, str | None]:
    args: dict[str, object] = {
        "policy": policy,
        "confidence": 0.7,
        "min_confidence": 0.0,
        "record": None,
        "sent_today": 0,
        "max_per_day": 0,
    }
    args.update(over)
    delivery = decide_delivery(**args)  # type: ignore[arg-type]
    return delivery.status, delivery.reason


def test_each_policy_picks_its_delivery() -> None:
    assert _decide("immediate") == ("pending", None)
    assert _decide("digest")[0] == "held"
    assert _decide("off")[0] == "suppressed"
    assert _decide("immediate", confidence=0.4, min_confidence=0.5)[0] == "suppressed"
    # Over the daily budget: to the digest; under it: at once.
    assert _decide("immediate", sent_today=3, max_per_day=3)[0] == "held"
    assert _decide("immediate", sent_today=2, max_per_day=3)[0] == "pending"


def test_edge_sends_at_once_only_with_a_winning_record_of_at_least_20() -> None:
    winning = {**RECORD, "take_profit": 20, "stop_loss": 10, "hit_rate": 20 / 30}
    assert beats_baseline(winning)
    assert _decide("edge", record=winning) == ("pending", None)
    assert _decide("edge", record=RECORD)[0] == "held"  # below the baseline
    small = {**winning, "take_profit": 12, "stop_loss": 7}  # n = 19
    assert not beats_baseline(small)
    assert _decide("edge", record=small)[0] == "held"
    assert _decide("edge", record=None)[0] == "held"


def test_track_record_text_says_figures_missing_small_or_stale() -> None:
    text = track_record_text(RECORD, 90, NOW)
    assert text == "signals 41 · hit 41 % vs baseline 53 % · expectancy −0.21 R (90 d)"
    assert track_record_text({**RECORD, "stop_loss": 2}, 90, NOW).startswith(
        "no record yet (n < 20)"
    )
    assert "no record stored yet" in track_record_text(None, 90, NOW)
    stale = track_record_text({**RECORD, "computed_at": NOW - timedelta(days=4)}, 90, NOW)
    assert "stale: computed 2026-03-27 (4 d ago)" in stale


def test_outcome_message_names_outcome_pips_time_and_the_original() -> None:
    signal = {
        "currency_pair": "USD/CHF",
        "pattern_type": "composite_signal",
        "direction": "BUY",
        "bar_timestamp": datetime(2026, 3, 4, 8, 35, tzinfo=UTC),
        "entry_price": 0.78227,
    }
    message = outcome_message(signal, "stop_loss", -60.0, timedelta(hours=3, minutes=25))
    embed = message["embeds"][0]
    assert embed["title"] == "❌ USD/CHF · Composite signal · BUY: SL"
    assert "−60 pips" in embed["description"] and "after 3 h 25 min" in embed["description"]
    assert "signal of 2026-03-04 08:40 UTC at 0.78227" in embed["description"]
    assert "http" not in str(message)
    assert violations(message) == []
    assert duration_text(timedelta(days=2, hours=4, minutes=3)) == "2 d 4 h"


def _items(count: int) -> list[dict[str, object]]:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    return [
        {
            "currency_pair": "USD/CHF",
            "direction": "BUY" if i % 2 else "SELL",
            "bar_timestamp": start + timedelta(minutes=5 * i),
            "entry_price": 0.78 + i / 1e5,
            "confidence_score": 0.66,
            "outcome": ("take_profit", "stop_loss", "open")[i % 3],
            "pips": (120.0, -60.0, 3.0)[i % 3],
            "took": timedelta(hours=i % 7),
        }
        for i in range(count)
    ]


def test_a_short_digest_is_one_message() -> None:
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, 4, tzinfo=UTC)
    messages = digest_messages("composite_signal", start, end, _items(3))
    assert len(messages) == 1
    description = messages[0]["embeds"][0]["description"]
    assert description.startswith("3 signals 2026-03-02 00:00–04:00 UTC (TP 1, SL 1, open 1)")
    assert "→ TP +120 pips" in description and "→ open so far" in description


def test_a_long_digest_splits_between_lines_within_discord_limits() -> None:
    items = _items(400)
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, 4, tzinfo=UTC)
    messages = digest_messages("composite_signal", start, end, items)
    assert len(messages) > 1
    lines: list[str] = []
    for index, message in enumerate(messages, start=1):
        assert violations(message) == []
        embed = message["embeds"][0]
        assert embed["title"].endswith(f"({index}/{len(messages)})")
        assert "…" not in embed["description"]  # nothing was cut
        lines += [line for line in embed["description"].splitlines() if line.startswith("• ")]
    assert len(lines) == len(items)  # every signal once, in order
    assert lines[0].startswith("• 03-02 00:05 USD/CHF SELL")


def test_periods_align_to_utc_midnight_by_bar_close() -> None:
    assert period_of(datetime(2026, 3, 2, 3, 50, tzinfo=UTC), 4) == (
        datetime(2026, 3, 2, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 4, tzinfo=UTC),
    )
    # The bar 03:55-04:00 closes on the boundary: it belongs to the period it ends.
    assert period_of(datetime(2026, 3, 2, 3, 55, tzinfo=UTC), 4)[1] == datetime(
        2026, 3, 2, 4, tzinfo=UTC
    )
    assert period_of(datetime(2026, 3, 2, 4, 0, tzinfo=UTC), 4)[0] == datetime(
        2026, 3, 2, 4, tzinfo=UTC
    )


def test_health_shows_the_policy_and_flags_a_digest_overdue_by_two_periods() -> None:
    from exchange_analytics.health.notify_policy import NotifyPolicyFacts, check_notify_policy
    from exchange_analytics.health.verdict import Status

    facts = NotifyPolicyFacts(
        policy="composite_signal=digest, others immediate",
        digest_hours=4,
        outcomes=True,
        last_digest_at=NOW - timedelta(hours=3),
        oldest_held_bar=NOW - timedelta(hours=2),  # its period has not ended yet
    )
    ok = check_notify_policy(facts, NOW)
    assert ok.status is Status.OK
    assert ok.reason.startswith("policy composite_signal=digest, others immediate; digest every")
    # Held bar 11:55 on day -1 -> period ends at 12:00; 8 h later is exactly two periods: still ok.
    held = NOW - timedelta(days=1, minutes=5)
    edge = NotifyPolicyFacts("digest", 4, True, None, held)
    assert check_notify_policy(edge, held + timedelta(minutes=5, hours=8)).status is Status.OK
    late = check_notify_policy(edge, held + timedelta(minutes=6, hours=8))
    assert late.status is Status.DEGRADED and "digest overdue" in late.reason
    assert "last never" in late.reason
