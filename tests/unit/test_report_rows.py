"""The typed edges of the health check and the operations reports (issue 15): how a
``processing_runs`` row becomes a ``RunRecord``, which stage timings count, what a gap is, and
how the reports print the same data as ``--json``. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange_analytics.domain import Timeframe
from exchange_analytics.health.runstats import RunRecord, stage_seconds
from exchange_analytics.maintenance.retention import Optimization, RetentionStep, render
from exchange_analytics.pipeline.connection_check import ConnectionCheck, all_ok
from exchange_analytics.pipeline.connection_check import render as render_checks
from exchange_analytics.reports.market_gaps import is_gap

STARTED = datetime(2026, 7, 14, 9, 0, tzinfo=UTC)  # a Tuesday


def test_a_partial_row_takes_the_defaults_and_null_counters_read_as_zero() -> None:
    run = RunRecord.from_mapping(
        {"id": 7, "status": "success", "started_at": STARTED, "rows_fetched": None}
    )
    assert run == RunRecord(id=7, status="success", started_at=STARTED)
    assert run.mode == "system_cycle" and run.host == "" and run.pid == 0
    assert run.rows_fetched == 0 and run.details is None


def test_a_full_row_keeps_every_column() -> None:
    row = {
        "id": 3,
        "status": "partial",
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(seconds=4),
        "processing_time": 4.25,
        "mode": "system_cycle",
        "rows_fetched": 12,
        "bars_aggregated": 3,
        "indicator_rows_written": 40,
        "patterns_detected": 1,
        "notifications_sent": 1,
        "error_count": 1,
        "error_message": "EUR/USD: timeout",
        "host": "box",
        "pid": 99,
        "details": {"pairs": [{"held_back_bars": 2}, {"held_back_bars": 1}]},
        "stage_timings": {"fetch": 1.5},
    }
    run = RunRecord.from_mapping(row)
    assert (run.id, run.status, run.processing_time, run.error_message) == (
        3,
        "partial",
        4.25,
        "EUR/USD: timeout",
    )
    assert (run.rows_fetched, run.indicator_rows_written, run.host, run.pid) == (12, 40, "box", 99)
    assert run.held_back_bars == 3


def test_a_column_of_the_wrong_type_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="started_at"):
        RunRecord.from_mapping({"id": 1, "status": "success", "started_at": "yesterday"})


def test_stage_seconds_keeps_the_numbers_only() -> None:
    assert stage_seconds({"fetch": 1.5, "derive": 2, "note": "slow", "x": None}) == {
        "fetch": 1.5,
        "derive": 2,
    }
    assert stage_seconds(None) == {}
    assert stage_seconds(["fetch", 1.0]) == {}


def test_a_missing_weekday_bar_is_a_gap_the_weekend_is_not() -> None:
    gap = is_gap(Timeframe.M5, STARTED, STARTED + timedelta(minutes=15))
    assert gap is not None
    assert gap.timeframe is Timeframe.M5 and gap.missing_bars == 2
    friday_close = datetime(2026, 7, 17, 20, 55, tzinfo=UTC)  # 16:55 New York (EDT)
    sunday_open = datetime(2026, 7, 19, 21, 0, tzinfo=UTC)  # 17:00 New York
    assert is_gap(Timeframe.M5, friday_close, sunday_open) is None
    assert is_gap(Timeframe.H1, STARTED, STARTED + timedelta(hours=1)) is None


def test_connection_checks_print_one_line_each_and_fail_as_one() -> None:
    checks = [
        ConnectionCheck(
            check="provider demo",
            pair="USD/JPY",
            ok=True,
            latest_bar="2026-07-14T09:00:00+00:00",
            close=150.1,
            detail="",
            latency_ms=3.2,
        ),
        ConnectionCheck(check="discord", ok=True, detail="not configured: notifications disabled"),
    ]
    lines = render_checks(checks).splitlines()
    assert lines[0].split() == [
        "ok",
        "provider",
        "demo",
        "USD/JPY",
        "3.2",
        "ms",
        lines[0].split()[-1],
    ]
    assert lines[1].split()[:2] == ["ok", "discord"] and "not configured" in lines[1]
    assert all_ok(checks)
    assert not all_ok([*checks, ConnectionCheck(check="discord main", ok=False, detail="401")])


def test_optimization_json_keeps_its_key_order() -> None:
    step = RetentionStep("price_data 5m", STARTED, 288, 0.01)
    dry = Optimization("db", True, STARTED, [step], 100, 100)
    assert list(dry.to_dict()) == [
        "database",
        "dry_run",
        "now",
        "retention",
        "vacuum",
        "size_before",
        "size_after",
    ]
    done = Optimization("db", False, STARTED, [step], 100, 80, ["VACUUM"], 0.5)
    assert list(done.to_dict())[-2:] == ["vacuum_seconds", "size_after"]
    assert done.to_dict()["retention"] == [
        {"target": "price_data 5m", "older_than": STARTED, "rows": 288, "seconds": 0.01}
    ]
    text = render(done)
    assert "VACUUM (0.5 s)" in text and "size before 100 B, after 80 B" in text
    assert "--dry-run: nothing deleted" in render(dry)
