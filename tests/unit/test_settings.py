"""Settings: one frozen object, every bad variable reported at once, secrets never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import load_settings, normalize_database_url
from exchange_analytics.errors import ConfigurationError


def test_defaults_are_the_operations_manual_values(tmp_path):
    s = load_settings({"EXCHANGE_ANALYTICS_HOME": str(tmp_path)}, env_file=False)
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path}/data/exchange_analytics.db"
    assert s.currency_pairs == ("USD/JPY",)
    assert s.market_data_provider == "yahoo"
    assert (s.max_processing_time, s.min_success_rate, s.max_error_count) == (300.0, 0.95, 5)
    assert (s.notify_cooldown_minutes, s.notify_max_attempts, s.alert_repeat_minutes) == (
        60,
        10,
        60,
    )
    assert (s.provider_concurrency, s.min_bars, s.max_retries) == (4, 100, 3)
    assert s.log_dir == tmp_path / "logs"
    assert s.day_boundary == "utc"


def test_every_invalid_variable_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            {
                "EXCHANGE_ANALYTICS_HOME": str(tmp_path),
                "MAX_RETRIES": "-1",
                "MIN_SUCCESS_RATE": "2",
                "DAY_BOUNDARY": "tokyo",
                "CURRENCY_PAIRS": "USDJPYX",
                "DISCORD_WEBHOOK_URL": "ftp://nope",
            },
            env_file=False,
        )
    message = str(caught.value)
    for name in (
        "MAX_RETRIES",
        "MIN_SUCCESS_RATE",
        "DAY_BOUNDARY",
        "CURRENCY_PAIRS",
        "DISCORD_WEBHOOK_URL",
    ):
        assert name in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("url", "expected", "ssl"),
    [
        pytest.param(
            "postgresql://u:p@db:5432/fx", "postgresql+asyncpg://u:p@db:5432/fx", None, id="libpq"
        ),
        pytest.param(
            "postgres://u@db/fx", "postgresql+asyncpg://u@db/fx", None, id="postgres-scheme"
        ),
        pytest.param(
            "postgresql://u@db/fx?sslmode=require",
            "postgresql+asyncpg://u@db/fx",
            "require",
            id="sslmode",
        ),
        pytest.param(
            "postgresql://u@db/fx?sslmode=disable",
            "postgresql+asyncpg://u@db/fx",
            False,
            id="ssl-off",
        ),
    ],
)
def test_postgres_urls_map_to_asyncpg(url, expected, ssl):
    rebuilt, args = normalize_database_url(url, Path("/x"))
    assert rebuilt == expected
    assert args.get("ssl") == ssl


def test_relative_sqlite_path_is_relative_to_the_installation(tmp_path):
    rebuilt, _ = normalize_database_url("sqlite+aiosqlite:///./data/x.db", tmp_path)
    assert rebuilt == f"sqlite+aiosqlite:///{tmp_path}/data/x.db"


def test_process_environment_wins_over_dotenv(tmp_path):
    (tmp_path / ".env").write_text("CURRENCY_PAIRS=EUR/USD\nMIN_BARS=7\n")
    s = load_settings({"EXCHANGE_ANALYTICS_HOME": str(tmp_path), "MIN_BARS": "9"})
    assert s.currency_pairs == ("EUR/USD",)
    assert s.min_bars == 9
    assert s.env_file == tmp_path / ".env"


def test_unreadable_dotenv_is_a_configuration_error(tmp_path):
    (tmp_path / ".env").mkdir()  # unreadable as a file even for root
    with pytest.raises(ConfigurationError, match=r"\.env"):
        load_settings({"EXCHANGE_ANALYTICS_HOME": str(tmp_path)})


def test_secrets_are_not_in_repr_and_are_redacted_everywhere(tmp_path):
    s = load_settings(
        {
            "EXCHANGE_ANALYTICS_HOME": str(tmp_path),
            "DATABASE_URL": "postgresql://fx:pg-secret-pw@db/fx",
            "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/123/hook-secret-token",
            "OANDA_API_TOKEN": "oanda-secret-token",
        },
        env_file=False,
    )
    shown = repr(s)
    for secret in ("pg-secret-pw", "hook-secret-token", "oanda-secret-token"):
        assert secret not in shown
        assert secret not in redact(
            f"something failed near {secret} and postgresql://fx:{secret}@db"
        )
    assert "pg-secret-pw" not in s.redacted_database_url


def test_settings_are_frozen(tmp_path):
    s = load_settings({"EXCHANGE_ANALYTICS_HOME": str(tmp_path)}, env_file=False)
    with pytest.raises(AttributeError):
        s.min_bars = 3  # type: ignore[misc]


def test_nothing_else_reads_the_environment():
    """Only the settings module (and the script bootstrap) may touch os.environ."""
    root = Path(__file__).resolve().parents[2] / "src" / "exchange_analytics"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if ("os.environ" in path.read_text() or "getenv(" in path.read_text())
        and path.name != "settings.py"
    ]
    assert offenders == [], offenders
    assert os.environ is not None
