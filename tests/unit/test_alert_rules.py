"""The operations alert rules of SPEC §9.1 and their repeat/resolve plan (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange_analytics.health.alert_rules import (
    ALERT_KEYS,
    CONSECUTIVE_ERRORS,
    CRITICAL,
    PROCESSING_TIME_CRITICAL,
    RUN_TIMEOUT,
    SUCCESS_RATE_LOW,
    WARNING,
    Alert,
    AlertRules,
    AlertState,
    evaluate_alerts,
    plan_alerts,
)
from exchange_analytics.health.runstats import RunRecord

NOW = datetime(2026, 7, 1, 12, 2, tzinfo=UTC)
RULES = AlertRules(max_error_count=5, max_processing_time=300)


def run(
    run_id: int, status: str, minutes_ago: float, seconds: float = 1.0, error: str | None = None
) -> RunRecord:
    started = NOW - timedelta(minutes=minutes_ago)
    live = status == "running"
    return RunRecord(
        id=run_id,
        status=status,
        started_at=started,
        finished_at=None if live else started + timedelta(seconds=seconds),
        processing_time=None if live else seconds,
        error_message=error,
        host="box",
        pid=99,
    )


def history(*statuses: str, spacing: float = 5) -> list[RunRecord]:
    """Runs oldest first, the last one ``spacing`` minutes ago."""
    count = len(statuses)
    return [run(i + 1, s, (count - i) * spacing) for i, s in enumerate(statuses)]


def keys(alerts: list[Alert]) -> list[str]:
    return [a.alert_key for a in alerts]


def test_quiet_history_raises_nothing() -> None:
    assert evaluate_alerts(history(*["success"] * 30), NOW, RULES) == []


def test_processing_time_over_ten_minutes_is_critical() -> None:
    runs = [*history("success", "success"), run(3, "success", 1, seconds=601)]
    alerts = evaluate_alerts(runs, NOW, RULES)
    assert keys(alerts) == [PROCESSING_TIME_CRITICAL]
    assert alerts[0].severity == CRITICAL
    assert "10.0 min" in alerts[0].text
    assert "grep processing_time" in alerts[0].text


def test_exactly_ten_minutes_is_not_critical() -> None:
    assert evaluate_alerts([run(1, "success", 11, seconds=600)], NOW, RULES) == []


def test_a_run_still_running_after_ten_minutes_is_critical() -> None:
    # The stuck run holds the lock, so the cron starts after it record themselves skipped.
    runs = [
        run(1, "success", 20),
        run(2, "running", 12),
        run(3, "skipped", 7),
        run(4, "skipped", 2),
    ]
    alerts = evaluate_alerts(runs, NOW, RULES)
    assert keys(alerts) == [PROCESSING_TIME_CRITICAL]
    assert "pid 99" in alerts[0].text
    assert evaluate_alerts([run(1, "success", 20), run(2, "running", 3)], NOW, RULES) == []


def test_a_stuck_run_followed_by_a_finished_one_is_history() -> None:
    runs = [run(1, "running", 30), run(2, "success", 5)]
    assert evaluate_alerts(runs, NOW, RULES) == []


def test_slow_run_followed_by_a_fast_one_clears() -> None:
    runs = [run(1, "success", 20, seconds=700), run(2, "success", 5, seconds=2)]
    assert evaluate_alerts(runs, NOW, RULES) == []


@pytest.mark.parametrize(
    ("failures", "raised"),
    [pytest.param(4, False, id="four"), pytest.param(5, True, id="five")],
)
def test_max_error_count_consecutive_failures_is_critical(failures: int, raised: bool) -> None:
    runs = history(*(["success"] * 20 + ["error"] * failures))
    found = {a.alert_key: a for a in evaluate_alerts(runs, NOW, RULES)}
    assert (CONSECUTIVE_ERRORS in found) is raised
    if raised:
        assert found[CONSECUTIVE_ERRORS].severity == CRITICAL
        assert "MAX_ERROR_COUNT=5" in found[CONSECUTIVE_ERRORS].text


def test_failure_streak_counts_timeouts_and_ignores_skipped_runs() -> None:
    runs = history("success", "error", "timeout", "skipped", "error", "interrupted", "error")
    assert CONSECUTIVE_ERRORS in keys(evaluate_alerts(runs, NOW, RULES))


def test_a_partial_run_breaks_the_streak() -> None:
    runs = history("error", "error", "error", "partial", "error", "error")
    assert CONSECUTIVE_ERRORS not in keys(evaluate_alerts(runs, NOW, RULES))


@pytest.mark.parametrize(
    ("statuses", "raised"),
    [
        pytest.param(["success"] * 9 + ["error"], False, id="90-percent"),
        pytest.param(["error", "success"] * 3 + ["success"] * 14, True, id="85-percent"),
        pytest.param(["error", "success"], False, id="too-few-runs"),
    ],
)
def test_success_rate_below_90_percent_is_a_warning(statuses: list[str], raised: bool) -> None:
    found = {a.alert_key: a for a in evaluate_alerts(history(*statuses), NOW, RULES)}
    assert (SUCCESS_RATE_LOW in found) is raised
    if raised:
        assert found[SUCCESS_RATE_LOW].severity == WARNING
        assert "85%" in found[SUCCESS_RATE_LOW].title


def test_success_rate_only_counts_the_last_24_hours() -> None:
    old_failures = [run(i, "error", 60 * 30 + i) for i in range(10)]
    recent = [run(20 + i, "success", 15 - i * 5) for i in range(3)]
    assert evaluate_alerts(old_failures + recent, NOW, RULES) == []
    assert SUCCESS_RATE_LOW in keys(
        evaluate_alerts(
            old_failures + recent[:1], NOW, AlertRules(min_runs=1, window=timedelta(days=3))
        )
    )


def test_timeout_run_is_a_warning_until_the_next_run_finishes() -> None:
    runs = [*history(*["success"] * 20, spacing=10), run(30, "timeout", 6, seconds=305)]
    alerts = evaluate_alerts(runs, NOW, RULES)
    assert keys(alerts) == [RUN_TIMEOUT]
    assert alerts[0].severity == WARNING
    later = [*runs, run(31, "success", 1)]
    assert evaluate_alerts(later, NOW, RULES) == []


def test_alert_keys_are_stable_and_listed() -> None:
    assert ALERT_KEYS == (
        "processing_time_critical",
        "consecutive_errors",
        "success_rate_low",
        "run_timeout",
        "bars_held_back",
    )


def test_held_back_bars_are_a_warning_while_the_newest_run_has_them() -> None:
    details = {"pairs": [{"pair": "USD/JPY", "held_back_bars": 2}]}
    held = RunRecord(
        id=40,
        status="success",
        started_at=NOW - timedelta(minutes=1),
        finished_at=NOW,
        processing_time=1.0,
        details=details,
    )
    runs = [*history(*["success"] * 20, spacing=10), held]
    alerts = evaluate_alerts(runs, NOW, RULES)
    assert keys(alerts) == ["bars_held_back"]
    assert alerts[0].severity == WARNING and "2 bars held back" in alerts[0].title
    later = [*runs, run(41, "success", 0)]
    assert evaluate_alerts(later, NOW, RULES) == []


def test_rules_from_settings(make_settings) -> None:  # type: ignore[no-untyped-def]
    rules = AlertRules.from_settings(make_settings(MAX_ERROR_COUNT=3, MAX_PROCESSING_TIME=120))
    assert (rules.max_error_count, rules.max_processing_time) == (3, 120.0)
    assert CONSECUTIVE_ERRORS in keys(
        evaluate_alerts(history("error", "error", "error"), NOW, rules)
    )


# --- repeat and resolve ----------------------------------------------------------------

CRIT = Alert(CONSECUTIVE_ERRORS, CRITICAL, "5 failed runs in a row", "details")


def test_new_alert_is_sent() -> None:
    plan = plan_alerts([CRIT], {}, NOW, repeat_minutes=60)
    assert plan.send == [CRIT]
    assert plan.resolved == []


def test_repeat_only_after_alert_repeat_minutes() -> None:
    recent = {CRIT.alert_key: AlertState(CRIT.alert_key, True, NOW - timedelta(minutes=59))}
    plan = plan_alerts([CRIT], recent, NOW, repeat_minutes=60)
    assert plan.send == []
    assert plan.still_active == [CRIT]
    due = {CRIT.alert_key: AlertState(CRIT.alert_key, True, NOW - timedelta(minutes=60))}
    assert plan_alerts([CRIT], due, NOW, repeat_minutes=60).send == [CRIT]


def test_cleared_condition_is_resolved_once() -> None:
    states = {
        CRIT.alert_key: AlertState(CRIT.alert_key, True, NOW - timedelta(minutes=5)),
        RUN_TIMEOUT: AlertState(RUN_TIMEOUT, False, NOW - timedelta(days=1)),
    }
    plan = plan_alerts([], states, NOW, repeat_minutes=60)
    assert plan.resolved == [CONSECUTIVE_ERRORS]
    assert plan.send == []


def test_condition_returning_after_resolution_is_sent_again() -> None:
    states = {CRIT.alert_key: AlertState(CRIT.alert_key, False, NOW - timedelta(minutes=5))}
    assert plan_alerts([CRIT], states, NOW, repeat_minutes=60).send == [CRIT]
