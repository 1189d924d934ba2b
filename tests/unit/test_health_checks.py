"""Health evaluation (SPEC §9.2) from hand-built facts and an explicit clock: no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from exchange_analytics.config.redact import register_secret
from exchange_analytics.health import market_hours
from exchange_analytics.health.checks import (
    Component,
    HealthReport,
    HealthThresholds,
    Status,
    check_database,
    check_disk,
    check_env_file,
    check_freshness,
    check_last_run,
    check_memory,
    check_notifications,
    check_processing_time,
    check_provider,
    check_success_rate,
    evaluate,
)
from exchange_analytics.health.facts import (
    DatabaseFacts,
    DiskFacts,
    EnvFileFacts,
    HealthFacts,
    MemoryFacts,
    NotificationFacts,
    PairFacts,
    ProcessMemory,
    ProviderFacts,
    RunFacts,
)
from exchange_analytics.health.report import render_table, to_dict
from exchange_analytics.health.runstats import RunRecord, percentile

TH = HealthThresholds()
WEDNESDAY = datetime(2026, 7, 1, 12, 2, tzinfo=UTC)  # summer: New York close = 21:00 UTC
SATURDAY = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)
SUNDAY_OPEN_SUMMER = datetime(2026, 7, 5, 21, 0, tzinfo=UTC)  # Sun 17:00 New York (EDT)
SUNDAY_OPEN_WINTER = datetime(2026, 1, 11, 22, 0, tzinfo=UTC)  # Sun 17:00 New York (EST)
FRIDAY_LAST_BAR = datetime(2026, 7, 3, 20, 55, tzinfo=UTC)  # closes 21:00 UTC = the close


# --- market hours ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        pytest.param(datetime(2026, 7, 3, 20, 59, tzinfo=UTC), True, id="fri-16:59-NY-summer"),
        pytest.param(datetime(2026, 7, 3, 21, 0, tzinfo=UTC), False, id="fri-17:00-NY-summer"),
        pytest.param(datetime(2026, 1, 9, 21, 30, tzinfo=UTC), True, id="fri-16:30-NY-winter"),
        pytest.param(datetime(2026, 1, 9, 22, 0, tzinfo=UTC), False, id="fri-17:00-NY-winter"),
        pytest.param(SATURDAY, False, id="saturday"),
        pytest.param(SUNDAY_OPEN_SUMMER - timedelta(minutes=1), False, id="sun-before-open"),
        pytest.param(SUNDAY_OPEN_SUMMER, True, id="sun-open-summer"),
        pytest.param(SUNDAY_OPEN_WINTER, True, id="sun-open-winter"),
        pytest.param(WEDNESDAY, True, id="wednesday"),
    ],
)
def test_market_open_follows_new_york_time_across_dst(moment: datetime, is_open: bool) -> None:
    assert market_hours.is_market_open(moment) is is_open


def test_open_seconds_skip_the_weekend_closure() -> None:
    start = datetime(2026, 7, 3, 20, 0, tzinfo=UTC)  # Fri, 1 h before the close
    end = datetime(2026, 7, 5, 22, 0, tzinfo=UTC)  # Sun, 1 h after the open
    assert market_hours.open_seconds_between(start, end) == 2 * 3600
    assert market_hours.open_seconds_between(end, start) == 0
    three_weeks = market_hours.open_seconds_between(start, end + timedelta(days=14))
    assert three_weeks == 2 * 3600 + 2 * 5 * 86400


def test_last_weekly_open_and_close() -> None:
    assert market_hours.last_weekly_open(WEDNESDAY) == datetime(2026, 6, 28, 21, 0, tzinfo=UTC)
    assert market_hours.last_weekly_open(SUNDAY_OPEN_SUMMER) == SUNDAY_OPEN_SUMMER
    assert market_hours.last_close(SATURDAY) == datetime(2026, 7, 3, 21, 0, tzinfo=UTC)


# --- data freshness -------------------------------------------------------------------


def fresh(pair_latest: datetime | None, now: datetime, init: str | None = "complete") -> Component:
    return check_freshness(PairFacts("USD/JPY", pair_latest, init), now, TH)


def test_fresh_bar_on_a_weekday_is_ok() -> None:
    result = fresh(datetime(2026, 7, 1, 11, 55, tzinfo=UTC), WEDNESDAY)
    assert result.status == Status.OK
    assert result.details["market_open"] is True


@pytest.mark.parametrize(
    ("stale_minutes", "expected"),
    [
        pytest.param(15, Status.OK, id="3-intervals-is-the-limit"),
        pytest.param(20, Status.DEGRADED, id="4-intervals"),
        pytest.param(60, Status.DEGRADED, id="12-intervals"),
        pytest.param(65, Status.UNHEALTHY, id="13-intervals"),
    ],
)
def test_stale_data_on_a_weekday(stale_minutes: int, expected: Status) -> None:
    latest = WEDNESDAY - timedelta(minutes=stale_minutes + 5)  # bar closes stale_minutes ago
    result = fresh(latest, WEDNESDAY)
    assert result.status == expected, result.reason
    if expected != Status.OK:
        assert "no new bar for" in result.reason


def test_weekend_is_not_stale_data() -> None:
    result = fresh(FRIDAY_LAST_BAR, SATURDAY)
    assert result.status == Status.OK
    assert "market closed" in result.reason
    assert result.details["open_market_stale_seconds"] == 0


def test_feed_that_stopped_midweek_is_still_unhealthy_on_the_weekend() -> None:
    result = fresh(datetime(2026, 7, 1, 9, 0, tzinfo=UTC), SATURDAY)
    assert result.status == Status.UNHEALTHY


def test_grace_after_the_sunday_open_then_alarm() -> None:
    within = fresh(FRIDAY_LAST_BAR, SUNDAY_OPEN_SUMMER + timedelta(minutes=20))
    assert within.status == Status.OK
    assert "reopened" in within.reason
    after = fresh(FRIDAY_LAST_BAR, SUNDAY_OPEN_SUMMER + timedelta(minutes=40))
    assert after.status == Status.DEGRADED
    much_later = fresh(FRIDAY_LAST_BAR, SUNDAY_OPEN_SUMMER + timedelta(hours=2))
    assert much_later.status == Status.UNHEALTHY


@pytest.mark.parametrize(
    ("init", "text"),
    [
        pytest.param("in_progress", "backfill in progress", id="backfilling"),
        pytest.param(None, "next cycle backfills", id="never-run"),
    ],
)
def test_pair_without_bars_is_degraded(init: str | None, text: str) -> None:
    result = fresh(None, WEDNESDAY, init)
    assert result.status == Status.DEGRADED
    assert text in result.reason


def test_bar_in_the_future_points_at_the_clock() -> None:
    result = fresh(WEDNESDAY + timedelta(hours=1), WEDNESDAY)
    assert result.status == Status.DEGRADED
    assert "clock" in result.reason


# --- runs -------------------------------------------------------------------------------


def run(
    run_id: int,
    status: str,
    minutes_ago: float,
    seconds: float | None = 1.0,
    error: str | None = None,
    now: datetime = WEDNESDAY,
) -> RunRecord:
    started = now - timedelta(minutes=minutes_ago)
    finished = None if status == "running" else started + timedelta(seconds=seconds or 0)
    return RunRecord(
        id=run_id,
        status=status,
        started_at=started,
        finished_at=finished,
        processing_time=None if status == "running" else seconds,
        error_message=error,
        host="box",
        pid=4242,
    )


def run_facts(runs: list[RunRecord], now: datetime = WEDNESDAY) -> RunFacts:
    ordered = sorted(runs, key=lambda r: r.started_at)
    completed = [r for r in ordered if r.status in ("success", "partial")]
    return RunFacts(
        recent=tuple(r for r in ordered if r.started_at >= now - timedelta(hours=24)),
        latest=tuple(reversed(ordered)),
        last_completed=completed[-1] if completed else None,
        first_started_at=ordered[0].started_at if ordered else None,
    )


def test_never_ran_is_degraded_with_the_fix() -> None:
    result = check_last_run(run_facts([]), WEDNESDAY, TH)
    assert result.status == Status.DEGRADED
    assert "exchange-analytics crontab" in result.reason


@pytest.mark.parametrize(
    ("minutes_ago", "expected"),
    [
        pytest.param(4, Status.OK, id="just-now"),
        pytest.param(20, Status.DEGRADED, id="over-3-intervals"),
        pytest.param(61, Status.UNHEALTHY, id="over-12-intervals"),
    ],
)
def test_last_completed_run_age(minutes_ago: float, expected: Status) -> None:
    facts = run_facts([run(1, "success", minutes_ago + 1, 60)])
    assert check_last_run(facts, WEDNESDAY, TH).status == expected


def test_a_run_stuck_in_running_is_reported_with_its_pid() -> None:
    facts = run_facts([run(1, "success", 3), run(2, "running", 30)])
    result = check_last_run(facts, WEDNESDAY, TH)
    assert result.status == Status.DEGRADED
    assert "pid 4242" in result.reason
    assert result.details["stuck_runs"] == [{"id": 2, "host": "box", "pid": 4242}]


def test_only_failed_runs_since_the_first_one() -> None:
    facts = run_facts([run(i, "error", 120 - i * 5) for i in range(3)])
    assert check_last_run(facts, WEDNESDAY, TH).status == Status.UNHEALTHY


def test_consecutive_errors_reach_max_error_count() -> None:
    runs = [run(1, "success", 60)] + [
        run(i, "error", 30 - i, error=f"boom {i}") for i in range(2, 7)
    ]
    result = check_success_rate(run_facts(runs), WEDNESDAY, TH)
    assert result.status == Status.UNHEALTHY
    assert "5 failed runs in a row" in result.reason
    assert "boom 6" in result.reason  # the newest error


def test_skipped_and_live_runs_do_not_break_a_streak_or_count() -> None:
    runs = [run(i, "error", 40 - i) for i in range(1, 6)]
    runs += [run(10, "skipped", 2), run(11, "running", 1)]
    result = check_success_rate(run_facts(runs), WEDNESDAY, TH)
    assert result.details["consecutive_errors"] == 5
    assert result.details["finished"] == 5


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param(["success"] * 20, Status.OK, id="all-good"),
        pytest.param(["success"] * 19 + ["error"], Status.OK, id="95-percent"),
        pytest.param(["success"] * 18 + ["partial", "success"], Status.OK, id="one-partial"),
        pytest.param(["success"] * 17 + ["error", "timeout", "success"], Status.DEGRADED, id="90"),
    ],
)
def test_success_rate_against_min_success_rate(statuses: list[str], expected: Status) -> None:
    runs = [run(i, status, 200 - i * 5) for i, status in enumerate(statuses)]
    result = check_success_rate(run_facts(runs), WEDNESDAY, TH)
    assert result.status == expected, result.reason


def test_processing_time_thresholds() -> None:
    quick = run_facts([run(i, "success", 100 - i, seconds=1.0 + i / 10) for i in range(20)])
    result = check_processing_time(quick, TH)
    assert result.status == Status.OK
    assert result.details["count"] == 20
    assert result.details["p95"] == pytest.approx(percentile([1.0 + i / 10 for i in range(20)], 95))
    timeout = run_facts([run(1, "success", 30), run(2, "timeout", 10, seconds=301)])
    assert check_processing_time(timeout, TH).status == Status.DEGRADED
    near = run_facts([run(i, "success", 100 - i, seconds=250) for i in range(5)])
    assert check_processing_time(near, TH).status == Status.DEGRADED
    critical = run_facts([run(i, "success", 100 - i, seconds=700) for i in range(5)])
    assert check_processing_time(critical, TH).status == Status.UNHEALTHY


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == pytest.approx(9.55)


# --- system components --------------------------------------------------------------------


GB = 1024**3


@pytest.mark.parametrize(
    ("used", "limit", "expected"),
    [
        pytest.param(50, 80.0, Status.OK, id="half"),
        pytest.param(85, 80.0, Status.DEGRADED, id="over-limit"),
        pytest.param(99, 80.0, Status.UNHEALTHY, id="nearly-full"),
        pytest.param(50, 1.0, Status.DEGRADED, id="limit-1-percent"),
    ],
)
def test_disk_usage(used: int, limit: float, expected: Status) -> None:
    disk = DiskFacts("data, logs", "/srv", 100 * GB, used * GB, (100 - used) * GB)
    result = check_disk([disk], replace(TH, disk_usage_max_percent=limit))
    assert result.status == expected
    assert "/srv" in result.reason


def test_memory_rss_and_available() -> None:
    mem = MemoryFacts((ProcessMemory(1, "health", 50 * 1024**2),), 16 * GB, 8 * GB)
    assert check_memory(mem, TH).status == Status.OK
    hungry = replace(mem, processes=(*mem.processes, ProcessMemory(2, "cycle", 3 * GB)))
    result = check_memory(hungry, TH)
    assert result.status == Status.DEGRADED
    assert "cycle pid 2" in result.reason
    starved = replace(mem, system_available_bytes=GB // 2)
    assert check_memory(starved, TH).status == Status.DEGRADED


def test_notifications() -> None:
    disabled = check_notifications(NotificationFacts(False, pending=3), WEDNESDAY, TH)
    assert disabled.status == Status.OK
    assert disabled.reason.startswith("disabled")
    assert disabled.details["enabled"] is False
    fine = NotificationFacts(True, pending=1, oldest_pending_at=WEDNESDAY - timedelta(minutes=2))
    assert check_notifications(fine, WEDNESDAY, TH).status == Status.OK
    stuck = replace(fine, oldest_pending_at=WEDNESDAY - timedelta(hours=2), last_retry_error="503")
    result = check_notifications(stuck, WEDNESDAY, TH)
    assert result.status == Status.DEGRADED
    assert "oldest for 2h00m" in result.reason
    failed = replace(fine, failed_recent=2, last_failure_error="Discord webhook timed out")
    assert check_notifications(failed, WEDNESDAY, TH).status == Status.DEGRADED
    deleted = replace(
        fine, failed_recent=1, last_failure_error="Discord webhook refused (HTTP 404): deleted"
    )
    assert check_notifications(deleted, WEDNESDAY, TH).status == Status.UNHEALTHY
    claimed = replace(fine, sending=1, oldest_claim_at=WEDNESDAY - timedelta(minutes=30))
    assert check_notifications(claimed, WEDNESDAY, TH).status == Status.DEGRADED


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param(0o600, Status.OK, id="600"),
        pytest.param(0o400, Status.OK, id="400"),
        pytest.param(0o644, Status.DEGRADED, id="644"),
        pytest.param(0o640, Status.DEGRADED, id="640"),
    ],
)
def test_env_file_permissions(mode: int, expected: Status) -> None:
    result = check_env_file(EnvFileFacts("/srv/ea/.env", mode))
    assert result.status == expected
    if expected == Status.DEGRADED:
        assert "chmod 600 /srv/ea/.env" in result.reason
    assert check_env_file(EnvFileFacts(None)).status == Status.OK


def test_database_verdicts() -> None:
    good = DatabaseFacts(
        "db:5432/fx", "postgresql", True, latency_ms=0.4, revision="0001", head="0001"
    )
    assert check_database(good, TH).status == Status.OK
    down = DatabaseFacts("db:5432/fx", "postgresql", False, "database unreachable at db:5432/fx")
    assert check_database(down, TH).status == Status.UNHEALTHY
    empty = replace(good, revision=None)
    assert "db upgrade" in check_database(empty, TH).reason
    behind = replace(good, revision="0000")
    assert check_database(behind, TH).status == Status.UNHEALTHY
    slow = replace(good, latency_ms=900.0)
    assert check_database(slow, TH).status == Status.DEGRADED


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(ProviderFacts("demo", False, True), Status.OK, id="demo"),
        pytest.param(ProviderFacts("yahoo", True, True, 200, 80.0), Status.OK, id="200"),
        pytest.param(ProviderFacts("oanda", True, False, 401), Status.UNHEALTHY, id="401"),
        pytest.param(ProviderFacts("yahoo", True, False, 404), Status.UNHEALTHY, id="404"),
        pytest.param(ProviderFacts("yahoo", True, False, 429), Status.DEGRADED, id="429"),
        pytest.param(ProviderFacts("yahoo", True, False, 503), Status.DEGRADED, id="503"),
        pytest.param(
            ProviderFacts("yahoo", True, False, error="ConnectTimeout: timed out"),
            Status.DEGRADED,
            id="timeout",
        ),
    ],
)
def test_provider_verdicts(facts: ProviderFacts, expected: Status) -> None:
    assert check_provider(facts).status == expected


# --- the whole report ------------------------------------------------------------------


def healthy_facts(now: datetime = WEDNESDAY) -> HealthFacts:
    return HealthFacts(
        now=now,
        database=DatabaseFacts(
            "/srv/ea.db", "sqlite", True, latency_ms=0.3, revision="1", head="1"
        ),
        provider=ProviderFacts("demo", False, True),
        disks=(DiskFacts("data, logs", "/srv", 100 * GB, 20 * GB, 80 * GB),),
        memory=MemoryFacts((ProcessMemory(1, "health", 50 * 1024**2),), 16 * GB, 8 * GB),
        env_file=EnvFileFacts("/srv/.env", 0o600),
        pairs=(PairFacts("USD/JPY", now - timedelta(minutes=7), "complete"),),
        runs=run_facts([run(i, "success", 60 - i * 5) for i in range(12)], now),
        notifications=NotificationFacts(False),
        pair_names=("USD/JPY",),
    )


def test_healthy_report_exits_zero() -> None:
    report = evaluate(healthy_facts(), TH, duration_ms=12.5)
    assert report.status == "healthy"
    assert report.exit_code == 0
    names = [c.name for c in report.components]
    assert names == [
        "database",
        "provider",
        "data_freshness[USD/JPY]",
        "last_run",
        "success_rate",
        "processing_time",
        "disk",
        "memory",
        "notifications",
        "env_file",
    ]


def test_worst_component_decides_status_and_exit_code() -> None:
    facts = replace(healthy_facts(), env_file=EnvFileFacts("/srv/.env", 0o644))
    report = evaluate(facts, TH)
    assert (report.status, report.exit_code) == ("degraded", 1)
    down = replace(
        healthy_facts(),
        database=DatabaseFacts("db:1/x", "postgresql", False, "database unreachable at db:1/x"),
        pairs=None,
        runs=None,
        notifications=None,
        unread_reason="database down",
    )
    report = evaluate(down, TH)
    assert (report.status, report.exit_code) == ("unhealthy", 2)
    freshness = report.component("data_freshness[USD/JPY]")
    assert freshness.status == Status.UNHEALTHY
    assert freshness.reason == "not checked: database down"


def test_json_and_table_rendering_redact_secrets() -> None:
    register_secret("hunter2-secret-token")
    leaking = Component("database", Status.UNHEALTHY, "login failed for hunter2-secret-token")
    report = HealthReport(WEDNESDAY, (leaking,), duration_ms=3.0)
    data = to_dict(report)
    assert data["status"] == "unhealthy"
    assert data["exit_code"] == 2
    assert data["checked_at"] == "2026-07-01T12:02:00Z"
    assert data["components"]["database"]["status"] == "unhealthy"
    assert "hunter2" not in str(data)
    table = render_table(report)
    assert "UNHEALTHY" in table
    assert "hunter2" not in table
