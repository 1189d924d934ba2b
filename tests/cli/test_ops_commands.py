"""``exchange-analytics ops ...`` run like a user runs them (``CliRunner``), against a populated
SQLite and PostgreSQL database: the text view and the ``--json`` view show the same data, and
errors name what to fix. The same commands run as cron runs them (scripts by path,
subprocesses) in tests/integration/test_ops_scripts.py, whose data this module reuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from exchange_analytics.cli.main import cli
from exchange_analytics.config.settings import Settings
from exchange_analytics.errors import ConfigurationError, NeedsInterventionError
from exchange_analytics.logs import setup as log_setup
from exchange_analytics.render import cell
from tests.integration.test_ops_scripts import (
    OLD_1H,
    OLD_5M,
    RECENT_5M,
    RUNS_OLD,
    populate,
)
from tests.support.fake_discord import WEBHOOK_TOKEN, FakeDiscord
from tests.support.http_server import LocalServer, serve


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The commands configure structlog in this process (level INFO, files under tmp_path);
    put the configuration back so later tests that capture debug events still see them."""
    saved = structlog.get_config()
    monkeypatch.setattr(log_setup, "_configured", log_setup.is_configured())
    yield
    structlog.configure(**saved)


def invoke(home: Path, database_url: str, *args: str, **env: str) -> Result:
    environ = {
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "LOG_FILE": str(home / "logs"),
        "DATABASE_URL": database_url,
        "MARKET_DATA_PROVIDER": "demo",
        "DISCORD_WEBHOOK_URL": "",
        "DISCORD_BOT_TOKEN": "",
        "DISCORD_ALERT_WEBHOOK_URL": "",
        **env,
    }
    return CliRunner().invoke(cli, ["ops", *args], env=environ)


def json_of(result: Result) -> Any:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output)


@pytest.fixture
async def populated(
    db_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> tuple[str, Path]:
    await populate(make_settings(db_url))
    return db_url, tmp_path


def test_db_stats_text_and_json_show_the_same_series(populated: tuple[str, Path]) -> None:
    url, home = populated
    data = json_of(invoke(home, url, "db-stats", "--json"))
    text = invoke(home, url, "db-stats")
    assert text.exit_code == 0, text.output
    usd_5m = next(s for s in data["series"] if (s["pair"], s["timeframe"]) == ("USD/JPY", "5m"))
    assert usd_5m["rows"] == len(RECENT_5M)
    line = next(x for x in text.output.splitlines() if x.startswith("USD/JPY") and " 5m " in x)
    # The text row carries the JSON's figures, formatted by the one renderer.
    assert cell(usd_5m["rows"]) in line.split()
    assert line.split()[-2:] == [str(usd_5m["gaps"]), str(usd_5m["missing_bars"])]
    assert "Database size:" in text.output


def test_performance_stats_text_matches_json(populated: tuple[str, Path]) -> None:
    url, home = populated
    data = json_of(invoke(home, url, "performance-stats", "--json"))
    text = invoke(home, url, "performance-stats").output
    rate = data["windows"]["24h"]["success_rate"]
    row = next(x for x in text.splitlines() if x.startswith("success rate"))
    assert f"{rate:.1%}" in row
    assert data["windows"]["7d"]["runs"] > data["windows"]["24h"]["runs"]


def test_optimize_dry_run_counts_and_changes_nothing(populated: tuple[str, Path]) -> None:
    url, home = populated
    first = json_of(invoke(home, url, "optimize", "--dry-run", "--json"))
    planned = {r["target"]: r["rows"] for r in first["retention"]}
    assert planned["price_data 5m"] == len(OLD_5M)
    assert planned["price_data 1h"] == len(OLD_1H)
    assert planned["processing_runs"] == len(RUNS_OLD)
    text = invoke(home, url, "optimize", "--dry-run")
    assert "would delete" in text.output and "--dry-run: nothing deleted" in text.output
    again = json_of(invoke(home, url, "optimize", "--dry-run", "--json"))
    assert {r["target"]: r["rows"] for r in again["retention"]} == planned


def test_optimize_for_real_then_nothing_left(populated: tuple[str, Path]) -> None:
    url, home = populated
    done = json_of(invoke(home, url, "optimize", "--no-vacuum", "--json"))
    assert done["vacuum"] == []
    assert sum(r["rows"] for r in done["retention"]) > 0
    after = json_of(invoke(home, url, "optimize", "--dry-run", "--json"))
    assert all(r["rows"] == 0 for r in after["retention"])


def test_db_performance_and_test_db(populated: tuple[str, Path]) -> None:
    url, home = populated
    perf = json_of(invoke(home, url, "db-performance", "--repeat", "1", "--bars", "50", "--json"))
    queries = {q["query"]: q for q in perf["queries"]}
    assert queries["last 50 bars USD/JPY 5m"]["rows"] == 50
    probe = json_of(invoke(home, url, "test-db", "--rounds", "2", "--json"))
    assert probe["at_head"] is True and probe["round_trip_ms"]["rounds"] == 2
    text = invoke(home, url, "test-db")
    assert text.exit_code == 0 and "result     OK" in text.output


def test_analysis_sections_and_bad_month(populated: tuple[str, Path]) -> None:
    url, home = populated
    data = json_of(invoke(home, url, "analysis", "--month", "previous", "--json"))
    assert set(data["sections"]) == {"daily", "slowest_cycles", "patterns", "signal_outcomes"}
    bad = invoke(home, url, "analysis", "--month", "July")
    assert isinstance(bad.exception, ConfigurationError)
    assert "--month" in str(bad.exception)


def test_missing_sqlite_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "none.db"
    result = invoke(tmp_path, f"sqlite+aiosqlite:///{path}", "db-stats")
    assert isinstance(result.exception, NeedsInterventionError)
    assert "does not exist" in str(result.exception)
    assert not path.exists()


@pytest.fixture
def discord() -> Iterator[tuple[FakeDiscord, LocalServer]]:
    fake = FakeDiscord()
    with serve(fake) as running:
        yield fake, running


def test_test_api_demo_provider_and_webhook(
    tmp_path: Path, discord: tuple[FakeDiscord, LocalServer]
) -> None:
    fake, server = discord
    url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
    hook = FakeDiscord.webhook_url(server.base_url)
    args = ("test-api", "--pairs", "USD/JPY,EUR/USD")
    results = json_of(invoke(tmp_path, url, *args, "--json", DISCORD_WEBHOOK_URL=hook))
    checks = [r["check"] for r in results]
    # alerts fall back to the pattern webhook: both destinations are checked
    assert checks == ["provider demo", "provider demo", "discord patterns", "discord alerts"]
    assert all(r["ok"] for r in results)
    text = invoke(tmp_path, url, *args, DISCORD_WEBHOOK_URL=hook)
    assert text.exit_code == 0
    assert text.output.splitlines()[0].split()[:4] == ["ok", "provider", "demo", "USD/JPY"]
    assert WEBHOOK_TOKEN not in text.output
    fake.delete_webhook()
    gone = invoke(tmp_path, url, *args, DISCORD_WEBHOOK_URL=hook)
    assert gone.exit_code == 1
    lines = gone.output.splitlines()
    assert [x.split()[0] for x in lines] == ["ok", "ok", "FAIL", "FAIL"]
    assert "discord patterns" in lines[2]


def test_test_api_bad_pair_is_a_usage_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
    result = invoke(tmp_path, url, "test-api", "--pairs", "USD/XYZW", "--skip-discord")
    assert isinstance(result.exception, ConfigurationError)
    assert str(result.exception).startswith("--pairs")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("db-performance", "--repeat", "0"), id="repeat"),
        pytest.param(("test-db", "--rounds", "0"), id="rounds"),
        pytest.param(("analysis", "--horizon", "0"), id="horizon"),
    ],
)
def test_counts_below_one_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = invoke(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", *args)
    assert result.exit_code == 2
    assert args[1] in result.output
