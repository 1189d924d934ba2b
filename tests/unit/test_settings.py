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


#: One non-default value per variable and the field it must land in (each settings group).
EVERY_VARIABLE = [
    ("CURRENCY_PAIRS", "eur/usd, EUR/USD,GBP/JPY", "currency_pairs", ("EUR/USD", "GBP/JPY")),
    ("MARKET_DATA_PROVIDER", "DEMO", "market_data_provider", "demo"),
    ("YAHOO_BASE_URL", "http://127.0.0.1:9/", "yahoo_base_url", "http://127.0.0.1:9"),
    ("OANDA_ENVIRONMENT", "live", "oanda_base_url", "https://api-fxtrade.oanda.com"),
    ("OANDA_BASE_URL", "http://127.0.0.1:8", "oanda_base_url", "http://127.0.0.1:8"),
    ("PROVIDER_CONCURRENCY", "9", "provider_concurrency", 9),
    ("CSV_TZ", "Europe/Athens", "csv_tz", "Europe/Athens"),
    ("MAX_BAR_JUMP_PERCENT", "2.5", "max_bar_jump_percent", 2.5),
    ("BACKFILL_DAYS_5M", "8", "backfill_days_5m", 8),
    ("BACKFILL_DAYS_1H", "31", "backfill_days_1h", 31),
    ("BACKFILL_DAYS_4H", "61", "backfill_days_4h", 61),
    ("BACKFILL_DAYS_1D", "366", "backfill_days_1d", 366),
    ("DAY_BOUNDARY", "new_york", "day_boundary", "new_york"),
    ("MIN_BARS", "7", "min_bars", 7),
    ("INDICATORS", "SMA:20,STOCH:14:3:3", "indicators", "SMA:20,STOCH:14:3:3"),
    ("PATTERN_THRESHOLDS", '{"rsi_centre": 51}', "pattern_thresholds", {"rsi_centre": 51}),
    ("DASK_SCHEDULER_ADDRESS", "tcp://h:8786", "dask_scheduler_address", "tcp://h:8786"),
    ("DISCORD_CHANNEL_ID", "123", "discord_channel_id", "123"),
    ("DISCORD_ADMIN_USER_ID", "456", "discord_admin_user_id", "456"),
    ("DISCORD_API_BASE", "http://127.0.0.1:7/api", "discord_api_base", "http://127.0.0.1:7/api"),
    ("DISCORD_ATTACH_CHART", "off", "discord_attach_chart", False),
    ("NOTIFY_COOLDOWN_MINUTES", "0", "notify_cooldown_minutes", 0),
    ("NOTIFY_MAX_ATTEMPTS", "2", "notify_max_attempts", 2),
    ("ALERT_REPEAT_MINUTES", "15", "alert_repeat_minutes", 15),
    ("NOTIFY_MIN_CONFIDENCE", "0.5", "notify_min_confidence", 0.5),
    ("NOTIFY_MAX_PER_PAIR_PER_DAY", "3", "notify_max_per_pair_per_day", 3),
    ("NOTIFY_DIGEST_HOURS", "6", "notify_digest_hours", 6),
    ("NOTIFY_OUTCOMES", "no", "notify_outcomes", False),
    ("TRACK_RECORD_DAYS", "30", "track_record_days", 30),
    ("MAX_PROCESSING_TIME", "60", "max_processing_time", 60.0),
    ("MIN_SUCCESS_RATE", "0.5", "min_success_rate", 0.5),
    ("MAX_ERROR_COUNT", "2", "max_error_count", 2),
    ("DISK_USAGE_MAX_PERCENT", "90", "disk_usage_max_percent", 90.0),
    ("MEMORY_RSS_MAX_MB", "512", "memory_rss_max_mb", 512.0),
    ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("INTERVAL_MINUTES", "15", "interval_minutes", 15),
    ("BATCH_SIZE", "10", "batch_size", 10),
    ("MAX_RETRIES", "0", "max_retries", 0),
    ("RETENTION_DAYS_5M", "10", "retention_days_5m", 10),
    ("RETENTION_DAYS_1H", "20", "retention_days_1h", 20),
    ("RETENTION_DAYS_RUNS", "30", "retention_days_runs", 30),
    ("RETENTION_DAYS_NOTIFICATIONS", "40", "retention_days_notifications", 40),
    ("RUN_LOCK_SCOPE", "host", "run_lock_scope", "host"),
    ("HOST_ID", "box-1", "host_id", "box-1"),
]


@pytest.mark.parametrize(
    ("variable", "value", "name", "expected"), EVERY_VARIABLE, ids=[v[0] for v in EVERY_VARIABLE]
)
def test_every_variable_lands_in_its_field(variable, value, name, expected, tmp_path):
    s = load_settings({"EXCHANGE_ANALYTICS_HOME": str(tmp_path), variable: value}, env_file=False)
    assert getattr(s, name) == expected


def test_paths_are_the_installations_and_a_log_file_names_its_directory(tmp_path):
    s = load_settings(
        {
            "EXCHANGE_ANALYTICS_HOME": str(tmp_path),
            "LOG_FILE": "var/app.log",
            "CSV_DIR": "in",
            "METRICS_TEXTFILE": "m/ea.prom",
        },
        env_file=False,
    )
    assert s.log_dir == tmp_path / "var"
    assert s.csv_dir == tmp_path / "in"
    assert s.metrics_textfile == tmp_path / "m" / "ea.prom"
    assert (
        load_settings({"EXCHANGE_ANALYTICS_HOME": str(tmp_path)}, env_file=False).metrics_textfile
        is None
    )


def test_rules_joining_variables_are_reported_with_the_rest(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            {
                "EXCHANGE_ANALYTICS_HOME": str(tmp_path),
                "MARKET_DATA_PROVIDER": "oanda",
                "INDICATORS": "SMA:x",
                "MIN_BARS": "0",
            },
            env_file=False,
        )
    message = str(caught.value)
    assert "OANDA_API_TOKEN is required when MARKET_DATA_PROVIDER=oanda" in message
    assert "INDICATORS='SMA:x' is invalid" in message
    assert "MIN_BARS='0' is invalid" in message


def test_with_overrides_replaces_named_fields_only(tmp_path):
    s = load_settings({"EXCHANGE_ANALYTICS_HOME": str(tmp_path)}, env_file=False)
    changed = s.with_overrides(min_bars=3, database_connect_args={"timeout": 1.0})
    assert (changed.min_bars, changed.database_connect_args) == (3, {"timeout": 1.0})
    assert (s.min_bars, s.database_connect_args) == (100, {})
    with pytest.raises(TypeError):
        s.with_overrides(no_such_field=1)
