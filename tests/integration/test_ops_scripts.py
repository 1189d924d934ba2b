"""The operations scripts (SPEC §2) run as cron runs them, as subprocesses by path, against a
populated SQLite and PostgreSQL database: exit codes and the figures they report.

The data is placed relative to the real clock (the scripts read it): a recent USD/JPY 5m
week across a weekend with one missing hour on a weekday, an EUR/USD 5m week 120 days old
(past the 5m retention), 1h bars 800 days old (past the 1h retention), runs in the last 24 h,
7 d and 200 d, notifications sent 100 days ago, and pattern detections yesterday.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from exchange_analytics.config.settings import Settings
from exchange_analytics.health.market_hours import is_market_open
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import (
    Notification,
    PatternDetection,
    PriceData,
    ProcessingRun,
    TechnicalIndicator,
)

PROJECT = Path(__file__).resolve().parents[2]
SCRIPTS = PROJECT / "scripts"
NOW = datetime.now(UTC)


def monday_before(moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


RECENT_THURSDAY = monday_before(NOW - timedelta(days=14)) + timedelta(days=3)
GAP_START = RECENT_THURSDAY + timedelta(hours=10)  # one hour missing on a Thursday
OLD_TUESDAY = monday_before(NOW - timedelta(days=120)) + timedelta(days=1)
YESTERDAY = NOW - timedelta(days=1)


def bars(pair: str, timeframe: str, start: datetime, end: datetime, step: timedelta) -> list[Any]:
    rows = []
    moment = start
    while moment < end:
        skip = pair == "USD/JPY" and GAP_START <= moment < GAP_START + timedelta(hours=1)
        if is_market_open(moment) and not skip:
            rows.append(
                {
                    "currency_pair": pair,
                    "timeframe": timeframe,
                    "timestamp": moment,
                    "open": 150.0,
                    "high": 150.3,
                    "low": 149.8,
                    "close": 150.1,
                    "volume": 1.0,
                    "source": "test",
                    "bar_count": 1,
                    "is_complete": True,
                }
            )
        moment += step
    return rows


def indicator(pair: str, timeframe: str, at: datetime) -> dict[str, Any]:
    return {
        "currency_pair": pair,
        "timeframe": timeframe,
        "timestamp": at,
        "indicator_type": "RSI",
        "value": 55.0,
        "additional_data": {"period": 14},
    }


def run(started: datetime, status: str, seconds: float) -> dict[str, Any]:
    return {
        "mode": "system_cycle",
        "started_at": started,
        "finished_at": started + timedelta(seconds=seconds),
        "status": status,
        "processing_time": seconds,
        "stage_timings": {"fetch": seconds * 0.6, "derive": seconds * 0.3},
        "rows_fetched": 1,
        "bars_aggregated": 3,
        "indicator_rows_written": 9,
        "patterns_detected": 0,
        "notifications_sent": 0,
        "error_count": 1 if status == "error" else 0,
        "error_message": "provider down" if status == "error" else None,
        "host": "test",
        "pid": 1,
    }


def note(key: str, status: str, created: datetime) -> dict[str, Any]:
    return {
        "kind": "pattern",
        "channel": "main",
        "dedupe_key": key,
        "payload": {"content": key},
        "status": status,
        "attempts": 1,
        "created_at": created,
        "sent_at": created if status == "sent" else None,
    }


def detection(pattern: str, direction: str, at: datetime, pair: str = "USD/JPY") -> Any:
    return {
        "currency_pair": pair,
        "pattern_type": pattern,
        "direction": direction,
        "bar_timestamp": at,
        "detected_at": at,
        "confidence_score": 0.7,
        "priority": "high",
        "entry_price": 150.0,
        "take_profit": 150.5,
        "stop_loss": 149.7,
        "detection_data": {"5m": {}},
        "notify_decision": None,
    }


RECENT_5M = bars(
    "USD/JPY",
    "5m",
    RECENT_THURSDAY,
    RECENT_THURSDAY + timedelta(days=4, hours=12),
    timedelta(minutes=5),
)
OLD_5M = bars("EUR/USD", "5m", OLD_TUESDAY, OLD_TUESDAY + timedelta(days=1), timedelta(minutes=5))
OLD_1H = bars(
    "USD/JPY",
    "1h",
    monday_before(NOW - timedelta(days=800)) + timedelta(days=1),
    monday_before(NOW - timedelta(days=800)) + timedelta(days=1, hours=3),
    timedelta(hours=1),
)
RECENT_1H = bars(
    "USD/JPY", "1h", RECENT_THURSDAY, RECENT_THURSDAY + timedelta(days=1), timedelta(hours=1)
)
RUNS_24H = [run(NOW - timedelta(minutes=5 * (i + 1)), "success", 1.0 + i / 10) for i in range(18)]
RUNS_24H += [
    run(NOW - timedelta(hours=2), "error", 0.5),
    run(NOW - timedelta(hours=3), "skipped", 0),
]
RUNS_7D = [run(NOW - timedelta(days=3, minutes=i), "success", 2.0) for i in range(5)]
RUNS_OLD = [run(NOW - timedelta(days=200, minutes=i), "success", 2.0) for i in range(4)]


async def populate(settings: Settings) -> None:
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(PriceData), RECENT_5M + OLD_5M + OLD_1H + RECENT_1H)
            await conn.execute(
                insert(TechnicalIndicator),
                [indicator("EUR/USD", "5m", row["timestamp"]) for row in OLD_5M[:10]]
                + [indicator("USD/JPY", "1h", row["timestamp"]) for row in OLD_1H]
                + [indicator("USD/JPY", "5m", row["timestamp"]) for row in RECENT_5M[:10]],
            )
            await conn.execute(insert(ProcessingRun), RUNS_24H + RUNS_7D + RUNS_OLD)
            await conn.execute(
                insert(Notification),
                [
                    note("old-sent-1", "sent", NOW - timedelta(days=100)),
                    note("old-sent-2", "sent", NOW - timedelta(days=100)),
                    note("recent-sent", "sent", YESTERDAY),
                    note("old-pending", "pending", NOW - timedelta(days=100)),
                    note("old-failed", "failed", NOW - timedelta(days=100)),
                ],
            )
            await conn.execute(
                insert(PatternDetection),
                [
                    {**detection("trend_reversal", "SELL", YESTERDAY), "notify_decision": "new"},
                    detection("trend_reversal", "SELL", YESTERDAY - timedelta(minutes=5)),
                    detection("breakout", "BUY", YESTERDAY, pair="EUR/USD"),
                ],
            )
    finally:
        await engine.dispose()


async def count(settings: Settings, table: Any, *where: Any) -> int:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(table).where(*where)
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


def script(
    path: str, home: Path, database_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(
        {
            "EXCHANGE_ANALYTICS_HOME": str(home),
            "LOG_FILE": str(home / "logs"),
            "DATABASE_URL": database_url,
            "MARKET_DATA_PROVIDER": "demo",
        }
    )
    return subprocess.run(
        [sys.executable, str(SCRIPTS / path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
async def populated(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> tuple[Settings, str, Path]:
    settings = make_settings(db_url)
    await populate(settings)
    return settings, db_url, tmp_path


async def test_database_stats(populated: tuple[Settings, str, Path]) -> None:
    _, url, home = populated
    data = as_json(script("monitoring/database_stats.py", home, url, "--json"))
    series = {(s["pair"], s["timeframe"]): s for s in data["series"]}
    recent = series[("USD/JPY", "5m")]
    assert recent["rows"] == len(RECENT_5M)
    assert recent["gaps"] == 1  # the missing Thursday hour; the weekend is no gap
    assert recent["missing_bars"] == 12
    assert recent["largest_gap_after"].startswith(
        (GAP_START - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M")
    )
    assert series[("EUR/USD", "5m")]["gaps"] == 0
    assert series[("USD/JPY", "1h")]["rows"] == len(OLD_1H) + len(RECENT_1H)
    assert data["table_rows"]["processing_runs"] == len(RUNS_24H + RUNS_7D + RUNS_OLD)
    sizes = {t["table"]: t for t in data["sizes"]["tables"]}
    assert sizes["price_data"]["total_bytes"] > 0
    human = script("monitoring/database_stats.py", home, url)
    assert human.returncode == 0
    assert "USD/JPY" in human.stdout and "gaps" in human.stdout


async def test_performance_stats(populated: tuple[Settings, str, Path]) -> None:
    _, url, home = populated
    data = as_json(script("monitoring/performance_stats.py", home, url, "--json"))
    day = data["windows"]["24h"]
    assert day["runs"] == 20
    assert day["finished"] == 19  # the skipped run is left out
    assert day["success_rate"] == pytest.approx(18 / 19, abs=1e-4)
    assert day["by_status"] == {"error": 1, "skipped": 1, "success": 18}
    assert day["processing_time"]["max"] == pytest.approx(2.7)
    assert day["per_cycle_avg"]["indicator_rows_written"] == 9
    assert day["top_errors"] == [{"message": "provider down", "runs": 1}]
    assert set(day["stage_avg_seconds"]) == {"fetch", "derive"}
    week = data["windows"]["7d"]
    assert week["runs"] == 25
    human = script("monitoring/performance_stats.py", home, url)
    assert "success rate" in human.stdout and "94.7%" in human.stdout


async def test_database_performance(populated: tuple[Settings, str, Path]) -> None:
    _, url, home = populated
    data = as_json(
        script("monitoring/database_performance.py", home, url, "--json", "--repeat", "2")
    )
    queries = {q["query"]: q for q in data["queries"]}
    assert queries["last 200 bars USD/JPY 5m"]["rows"] == 200
    assert queries["runs last 24 h"]["rows"] == 20
    assert all(q["median_ms"] >= 0 for q in data["queries"])
    if data["dialect"] == "postgresql":
        stats = {m["relname"]: m for m in data["maintenance"]}
        assert "n_dead_tup" in stats["price_data"]
        assert "seq_scan" in stats["price_data"] and "idx_scan" in stats["price_data"]
    else:
        assert data["maintenance"]["journal_mode"] == "wal"
    assert script("monitoring/database_performance.py", home, url).returncode == 0


async def test_database_optimization_dry_run_then_for_real(
    populated: tuple[Settings, str, Path],
) -> None:
    settings, url, home = populated
    dry = as_json(script("maintenance/database_optimization.py", home, url, "--dry-run", "--json"))
    planned = {r["target"]: r["rows"] for r in dry["retention"]}
    assert planned == {
        "price_data 5m": len(OLD_5M),
        "technical_indicators 5m": 10,
        "price_data 1h": len(OLD_1H),
        "technical_indicators 1h": len(OLD_1H),
        "processing_runs": len(RUNS_OLD),
        "notifications sent": 2,
    }
    assert dry["vacuum"] == []
    assert await count(settings, PriceData) == len(RECENT_5M + OLD_5M + OLD_1H + RECENT_1H)

    done = as_json(script("maintenance/database_optimization.py", home, url, "--json"))
    assert {r["target"]: r["rows"] for r in done["retention"]} == planned
    assert any("ANALYZE" in statement for statement in done["vacuum"])
    assert await count(settings, PriceData) == len(RECENT_5M) + len(RECENT_1H)
    assert await count(settings, TechnicalIndicator) == 10  # the recent 5m rows
    assert await count(settings, ProcessingRun) == len(RUNS_24H + RUNS_7D)
    assert await count(settings, Notification) == 3  # recent sent, old pending, old failed
    again = as_json(
        script("maintenance/database_optimization.py", home, url, "--dry-run", "--json")
    )
    assert all(r["rows"] == 0 for r in again["retention"])


async def test_performance_analysis_with_plot(populated: tuple[Settings, str, Path]) -> None:
    _, url, home = populated
    month = YESTERDAY.strftime("%Y-%m")
    plot = home / "reports" / "performance_{month}.png"
    data = as_json(
        script(
            "analysis/performance_analysis.py",
            home,
            url,
            "--month",
            month,
            "--plot",
            str(plot),
            "--json",
        )
    )
    assert data["period"]["label"] == month
    sections = data["sections"]
    assert set(sections) == {"daily", "slowest_cycles", "patterns", "signal_outcomes"}
    outcomes = {(o["pattern_type"], o["direction"]): o for o in sections["signal_outcomes"]}
    assert outcomes[("trend_reversal", "SELL")]["signals"] == 1  # the one notified ('new')
    assert sum(day["runs"] for day in sections["daily"]) >= 1
    patterns = {(p["pattern_type"], p["direction"]): p for p in sections["patterns"]}
    assert patterns[("trend_reversal", "SELL")]["detections"] == 2
    assert patterns[("breakout", "BUY")]["pairs"] == 1
    written = Path(data["plot"])
    assert written == home / "reports" / f"performance_{month}.png"
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    human = script("analysis/performance_analysis.py", home, url, "--month", month)
    assert "Slowest 10 cycles" in human.stdout
    bad = script("analysis/performance_analysis.py", home, url, "--month", "July")
    assert bad.returncode == 2
    assert "--month" in bad.stderr


async def test_database_connection_test(populated: tuple[Settings, str, Path]) -> None:
    _, url, home = populated
    data = as_json(script("test/database_connection_test.py", home, url, "--json"))
    assert data["at_head"] is True
    assert data["server"].startswith(("PostgreSQL", "SQLite"))
    assert data["round_trip_ms"]["rounds"] == 5


ALL_SCRIPTS = [
    "monitoring/database_stats.py",
    "monitoring/performance_stats.py",
    "monitoring/database_performance.py",
    "maintenance/database_optimization.py",
    "analysis/performance_analysis.py",
    "test/database_connection_test.py",
]


@pytest.mark.parametrize("path", ALL_SCRIPTS)
def test_help(path: str, tmp_path: Path) -> None:
    done = script(path, tmp_path, "sqlite+aiosqlite:///unused.db", "--help")
    assert done.returncode == 0
    assert "Example:" in done.stdout


@pytest.mark.postgres
@pytest.mark.parametrize("path", ALL_SCRIPTS)
def test_database_down_is_one_line_and_exit_1(path: str, tmp_path: Path) -> None:
    done = script(path, tmp_path, "postgresql://postgres:pw-secret@127.0.0.1:1/postgres")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "127.0.0.1:1/postgres" in lines[0]
    assert "pw-secret" not in lines[0]


@pytest.mark.parametrize("path", ALL_SCRIPTS)
def test_bad_configuration_is_exit_2(path: str, tmp_path: Path) -> None:
    done = script(path, tmp_path, "mysql://nope")
    assert done.returncode == 2
    assert "DATABASE_URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "missing.db"
    done = script("monitoring/database_stats.py", tmp_path, f"sqlite+aiosqlite:///{path}")
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    assert not path.exists()
