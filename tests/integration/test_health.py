"""The health check against real databases (SQLite and PostgreSQL) in healthy, degraded and
broken setups. Rows are inserted with SQLAlchemy Core; the clock is passed to ``gather_facts``
(the CLI always uses the real clock, so it is driven only where the clock does not matter).
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
from sqlalchemy import insert

from exchange_analytics.config.settings import Settings
from exchange_analytics.health.checks import HealthReport, HealthThresholds, Status, evaluate
from exchange_analytics.health.gather import gather_facts, provider_facts
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import (
    Notification,
    PairInitialization,
    PriceData,
    ProcessingRun,
)
from tests.support.http_server import Request, Response

WEDNESDAY = datetime(2026, 7, 1, 12, 2, tzinfo=UTC)
SATURDAY = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)
FRIDAY_LAST_BAR = datetime(2026, 7, 3, 20, 55, tzinfo=UTC)  # closes at the New York close
PROJECT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


async def insert_rows(settings: Settings, table: Any, rows: list[dict[str, Any]]) -> None:
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows)
    finally:
        await engine.dispose()


def bar(pair: str, at: datetime) -> dict[str, Any]:
    return {
        "currency_pair": pair,
        "timeframe": "5m",
        "timestamp": at,
        "open": 150.0,
        "high": 150.2,
        "low": 149.9,
        "close": 150.1,
        "volume": 0.0,
        "source": "test",
        "bar_count": 1,
        "is_complete": True,
    }


def runs(now: datetime, statuses: list[str], spacing: float = 5.0) -> list[dict[str, Any]]:
    """Runs oldest first, the newest started ``spacing`` minutes before ``now``."""
    rows = []
    for index, status in enumerate(statuses):
        started = now - timedelta(minutes=spacing * (len(statuses) - index))
        rows.append(
            {
                "mode": "system_cycle",
                "started_at": started,
                "finished_at": started + timedelta(seconds=1.5),
                "status": status,
                "processing_time": 1.5,
                "error_count": 0 if status == "success" else 1,
                "error_message": None if status == "success" else f"provider down ({index})",
                "host": "test-host",
                "pid": 1000 + index,
            }
        )
    return rows


async def healthy_database(settings: Settings, now: datetime) -> None:
    await insert_rows(settings, PriceData, [bar("USD/JPY", now - timedelta(minutes=7))])
    await insert_rows(
        settings,
        PairInitialization,
        [
            {
                "currency_pair": "USD/JPY",
                "status": "complete",
                "provider": "demo",
                "started_at": now - timedelta(days=1),
                "completed_at": now - timedelta(days=1),
            }
        ],
    )
    await insert_rows(settings, ProcessingRun, runs(now, ["success"] * 12))


async def check(settings: Settings, now: datetime) -> HealthReport:
    facts = await gather_facts(settings, now)
    return evaluate(facts, HealthThresholds.from_settings(settings))


def statuses(report: HealthReport) -> dict[str, str]:
    return {c.name: str(c.status) for c in report.components}


async def test_healthy_installation(db_url: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(db_url)
    await healthy_database(settings, WEDNESDAY)
    report = await check(settings, WEDNESDAY)
    assert report.status == "healthy", [(c.name, c.reason) for c in report.components]
    assert report.exit_code == 0
    database = report.component("database")
    assert database.details["revision"] == database.details["head"]
    assert database.details["latency_ms"] is not None
    assert report.component("notifications").reason.startswith("disabled")


@pytest.mark.postgres
async def test_postgres_down_is_unhealthy_not_a_traceback(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings("postgresql://postgres:s3cret-pw@127.0.0.1:1/postgres")
    report = await check(settings, WEDNESDAY)
    assert report.exit_code == 2
    database = report.component("database")
    assert database.status == Status.UNHEALTHY
    assert "127.0.0.1:1/postgres" in database.reason
    assert "s3cret-pw" not in database.reason
    assert report.component("last_run").reason.startswith("not checked")
    assert report.component("disk").status == Status.OK  # the rest is still checked


def test_cli_database_down_exits_2_with_json(tmp_path: Path) -> None:
    env = cli_env(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:1/postgres")
    done = subprocess.run(
        [PYTHON, "-m", "exchange_analytics", "health", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "unhealthy"
    assert data["components"]["database"]["status"] == "unhealthy"
    assert "127.0.0.1:1" in data["components"]["database"]["reason"]


async def test_missing_sqlite_file_is_reported_not_created(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    path = tmp_path / "nowhere" / "fx.db"
    report = await check(make_settings(f"sqlite+aiosqlite:///{path}"), WEDNESDAY)
    assert report.component("database").status == Status.UNHEALTHY
    assert "db upgrade" in report.component("database").reason
    assert not path.exists()


async def test_stale_data_on_a_weekday_but_not_on_the_weekend(
    db_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(db_url, CURRENCY_PAIRS="USD/JPY,EUR/USD")
    await insert_rows(
        settings,
        PriceData,
        [bar("USD/JPY", FRIDAY_LAST_BAR), bar("EUR/USD", WEDNESDAY - timedelta(hours=2))],
    )
    weekend = await check(settings, SATURDAY)
    assert weekend.component("data_freshness[USD/JPY]").status == Status.OK
    assert "market closed" in weekend.component("data_freshness[USD/JPY]").reason
    # EUR/USD stopped on Wednesday: still stale on the weekend.
    assert weekend.component("data_freshness[EUR/USD]").status == Status.UNHEALTHY
    friday_evening = await check(settings, FRIDAY_LAST_BAR + timedelta(minutes=25))
    assert friday_evening.component("data_freshness[USD/JPY]").status == Status.OK
    thursday = await check(settings, WEDNESDAY + timedelta(days=1))
    assert thursday.component("data_freshness[EUR/USD]").status == Status.UNHEALTHY
    monday = datetime(2026, 7, 6, 9, 0, tzinfo=UTC)
    stale = await check(settings, monday)
    assert stale.component("data_freshness[USD/JPY]").status == Status.UNHEALTHY


async def test_run_of_failures(db_url: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(db_url, MAX_ERROR_COUNT=5)
    await healthy_database(settings, WEDNESDAY - timedelta(hours=2))
    await insert_rows(settings, ProcessingRun, runs(WEDNESDAY, ["error"] * 6))
    report = await check(settings, WEDNESDAY)
    result = report.component("success_rate")
    assert result.status == Status.UNHEALTHY
    assert "6 failed runs in a row" in result.reason
    assert "provider down" in result.reason
    assert report.component("last_run").status == Status.UNHEALTHY  # last success 2 h ago
    assert report.exit_code == 2


async def test_full_disk_through_the_threshold(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(sqlite_url, DISK_USAGE_MAX_PERCENT=1)
    await healthy_database(settings, WEDNESDAY)
    report = await check(settings, WEDNESDAY)
    disk = report.component("disk")
    assert disk.status in (Status.DEGRADED, Status.UNHEALTHY)
    assert "above 1%" in disk.reason or "writes will fail" in disk.reason
    assert report.exit_code >= 1


async def test_pending_and_failed_notifications(
    db_url: str, make_settings: Callable[..., Settings]
) -> None:
    webhook = "http://127.0.0.1:9/api/webhooks/123/tok-en"
    settings = make_settings(db_url, DISCORD_WEBHOOK_URL=webhook)
    await healthy_database(settings, WEDNESDAY)
    note = {"kind": "pattern", "channel": "main", "payload": {"content": "x"}, "attempts": 2}
    await insert_rows(
        settings,
        Notification,
        [
            {
                **note,
                "dedupe_key": "a",
                "status": "pending",
                "created_at": WEDNESDAY - timedelta(hours=2),
                "last_error": "Discord unavailable: HTTP 503",
            },
            {
                **note,
                "dedupe_key": "b",
                "status": "sent",
                "created_at": WEDNESDAY,
                "last_error": None,
            },
        ],
    )
    report = await check(settings, WEDNESDAY)
    notes = report.component("notifications")
    assert notes.status == Status.DEGRADED
    assert "1 pending, oldest for 2h00m" in notes.reason
    assert "HTTP 503" in notes.reason
    await insert_rows(
        settings,
        Notification,
        [
            {
                **note,
                "dedupe_key": "c",
                "status": "failed",
                "created_at": WEDNESDAY - timedelta(minutes=30),
                "last_error": "Discord webhook refused (HTTP 404): the webhook was deleted",
            }
        ],
    )
    report = await check(settings, WEDNESDAY)
    assert report.component("notifications").status == Status.UNHEALTHY
    assert "HTTP 404" in report.component("notifications").reason
    disabled = await check(make_settings(db_url), WEDNESDAY)
    assert disabled.component("notifications").status == Status.OK
    assert disabled.component("notifications").details["pending"] == 1


@pytest.mark.parametrize(("mode", "expected"), [(0o644, Status.DEGRADED), (0o600, Status.OK)])
async def test_env_file_mode(
    tmp_path: Path,
    sqlite_url: str,
    make_settings: Callable[..., Settings],
    mode: int,
    expected: Status,
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MARKET_DATA_PROVIDER=demo\n")
    env_file.chmod(mode)
    settings = make_settings(sqlite_url).with_overrides(env_file=env_file)
    report = await check(settings, WEDNESDAY)
    result = report.component("env_file")
    assert result.status == expected
    if expected == Status.DEGRADED:
        assert f"chmod 600 {env_file}" in result.reason


async def test_provider_reachability_against_a_local_stand_in(
    local_server: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    def yahoo(request: Request) -> Response:
        return Response(200, {"chart": {"result": [], "error": None}})

    server = local_server(yahoo)
    settings = make_settings(MARKET_DATA_PROVIDER="yahoo", YAHOO_BASE_URL=server.base_url)
    facts = await provider_facts(settings)
    assert (facts.reachable, facts.status_code) == (True, 200)
    assert server.requests[0].path == "/v8/finance/chart/USDJPY=X"
    assert server.requests[0].param("interval") == "5m"

    oanda = local_server(lambda request: Response(401, {"errorMessage": "Insufficient auth"}))
    settings = make_settings(
        MARKET_DATA_PROVIDER="oanda", OANDA_BASE_URL=oanda.base_url, OANDA_API_TOKEN="tok-123456"
    )
    facts = await provider_facts(settings)
    assert facts.status_code == 401
    assert oanda.requests[0].headers["authorization"] == "Bearer tok-123456"
    slow = local_server(lambda request: Response(200, {}, delay=3.0))
    settings = make_settings(MARKET_DATA_PROVIDER="yahoo", YAHOO_BASE_URL=slow.base_url)
    facts = await provider_facts(settings, budget=0.3)
    assert facts.reachable is False
    assert facts.error


# --- the command as cron and a user run it ----------------------------------------------


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DISCORD_"))}
    env.update(
        {
            "EXCHANGE_ANALYTICS_HOME": str(home),
            "LOG_FILE": str(home / "logs"),
            "MARKET_DATA_PROVIDER": "demo",
            **extra,
        }
    )
    return env


PROBE = """
import sys
from exchange_analytics.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "numpy", "talib"))
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize(
    ("provider", "argv"),
    [
        pytest.param("demo", ["health", "--json"], id="demo"),
        pytest.param("yahoo", ["health", "--json"], id="yahoo"),
        # The cron line: the cycle entry point with --health-check-only must stay light too.
        pytest.param("demo", ["cycle", "--health-check-only", "--json"], id="cron-line"),
    ],
)
def test_health_process_imports_neither_pandas_numpy_nor_talib(
    tmp_path: Path,
    sqlite_url: str,
    local_server: Callable[..., Any],
    provider: str,
    argv: list[str],
) -> None:
    server = local_server(lambda request: Response(200, {"chart": {"result": []}}))
    env = cli_env(
        tmp_path,
        DATABASE_URL=sqlite_url,
        MARKET_DATA_PROVIDER=provider,
        YAHOO_BASE_URL=server.base_url,
    )
    done = subprocess.run(
        [PYTHON, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=60
    )
    heavy = [line for line in done.stderr.splitlines() if line.startswith("HEAVY=")]
    assert heavy == ["HEAVY="], done.stderr
    data = json.loads(done.stdout)
    assert data["components"]["provider"]["status"] == "ok"
    assert done.returncode == data["exit_code"]


def test_health_writes_the_health_log_and_exit_code_follows_status(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = cli_env(tmp_path, DATABASE_URL=sqlite_url)
    done = subprocess.run(
        [PYTHON, "-m", "exchange_analytics", "health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # A fresh database: no run yet and no bars -> degraded, exit 1.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Exchange Analytics health: DEGRADED" in done.stdout
    assert "no cycle has run yet" in done.stdout
    lines = (tmp_path / "logs" / "health_check_cron.log").read_text().splitlines()
    event = json.loads(lines[-1])
    assert event["event"] == "health.check"
    assert event["status"] == "degraded"
    assert event["components"]["last_run"]["status"] == "degraded"


def test_configuration_error_is_exit_2_with_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path, MAX_ERROR_COUNT="many")
    done = subprocess.run(
        [PYTHON, "-m", "exchange_analytics", "health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "MAX_ERROR_COUNT" in done.stderr


def test_cycle_health_check_only_runs_the_health_check(tmp_path: Path, sqlite_url: str) -> None:
    env = cli_env(tmp_path, DATABASE_URL=sqlite_url)
    done = subprocess.run(
        [
            PYTHON,
            str(PROJECT / "scripts/cron/continuous_processing_cron.py"),
            "--health-check-only",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(done.stdout)
    assert done.returncode == data["exit_code"] == 1
    assert set(data["components"]) >= {"database", "last_run", "env_file"}
