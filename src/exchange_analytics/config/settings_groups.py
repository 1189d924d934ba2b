"""The settings read group by group: each reader takes the variables of one concern.

``load_settings`` builds the one flat :class:`~exchange_analytics.config.settings.Settings`
from these groups (``Settings(**database, **market_data, ...)``); each group is a TypedDict
so the checker holds every name and type to the field it fills. Every bad value lands in
the reader's error list; ``joined_rule_errors`` adds the rules that join variables (OANDA
needs its token; INDICATORS has a shape), and the loader reports them all in one line.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Literal, TypedDict

from exchange_analytics.config.database_url import (
    DEFAULT_SQLITE_URL,
    ConnectArgs,
    normalize_database_url,
)
from exchange_analytics.config.env_values import EnvReader
from exchange_analytics.config.notify_policy import POLICY_FORM, parse_policy
from exchange_analytics.domain import CurrencyPair, DayBoundary
from exchange_analytics.jsontypes import JSONObject

Provider = Literal["yahoo", "oanda", "demo", "csv"]
OandaEnvironment = Literal["practice", "live"]
RunLockScope = Literal["global", "host"]
PROVIDERS: tuple[Provider, ...] = ("yahoo", "oanda", "demo", "csv")
_OANDA_ENVIRONMENTS: tuple[OandaEnvironment, ...] = ("practice", "live")
_LOCK_SCOPES: tuple[RunLockScope, ...] = ("global", "host")
# Checked here by shape only, so loading settings never imports TA-Lib (the health check
# must stay light); indicators.parse_indicator_extras builds the real specs in the cycle.
_INDICATOR_ITEM = r"(?:(?:SMA|EMA|WMA|ATR|RSI):\d+|STOCH:\d+:\d+:\d+)"
_INDICATORS_RE = re.compile(rf"^{_INDICATOR_ITEM}(?:,{_INDICATOR_ITEM})*$", re.IGNORECASE)
_DATABASE_FORM = (
    "postgresql+asyncpg://user:password@host:5432/dbname (postgresql:// and ?sslmode= are "
    "accepted) or sqlite+aiosqlite:///path/to/file.db"
)


class DatabaseFields(TypedDict):
    database_url: str
    database_connect_args: ConnectArgs
    run_lock_scope: RunLockScope
    host_id: str


class MarketDataFields(TypedDict):
    currency_pairs: tuple[str, ...]
    market_data_provider: Provider
    yahoo_base_url: str
    oanda_api_token: str | None
    oanda_environment: OandaEnvironment
    oanda_base_url: str
    provider_concurrency: int
    csv_dir: Path | None
    csv_tz: str | None
    max_bar_jump_percent: float
    backfill_days_5m: int
    backfill_days_1h: int
    backfill_days_4h: int
    backfill_days_1d: int


class AnalysisFields(TypedDict):
    day_boundary: DayBoundary
    min_bars: int
    indicators: str
    pattern_thresholds: JSONObject
    dask_scheduler_address: str | None


class DiscordFields(TypedDict):
    discord_webhook_url: str | None
    discord_bot_token: str | None
    discord_channel_id: str | None
    discord_alert_webhook_url: str | None
    discord_admin_user_id: str | None
    discord_api_base: str
    discord_attach_chart: bool


class NotificationFields(TypedDict):
    notify_cooldown_minutes: int
    notify_max_attempts: int
    alert_repeat_minutes: int
    notify_policy: dict[str, str]
    notify_min_confidence: float
    notify_max_per_pair_per_day: int
    notify_digest_hours: int
    notify_outcomes: bool
    track_record_days: int


class HealthFields(TypedDict):
    max_processing_time: float
    min_success_rate: float
    max_error_count: int
    disk_usage_max_percent: float
    memory_rss_max_mb: float


class OperationsFields(TypedDict):
    log_level: str
    log_dir: Path
    interval_minutes: int
    batch_size: int
    max_retries: int
    retention_days_5m: int
    retention_days_1h: int
    retention_days_runs: int
    retention_days_notifications: int
    dashboard_token: str | None
    metrics_textfile: Path | None


def read_database(c: EnvReader, home: Path) -> DatabaseFields:
    """DATABASE_URL (a relative SQLite path is the installation's) and the run lock."""
    url, connect_args = c.parse(
        "DATABASE_URL",
        normalize_database_url(DEFAULT_SQLITE_URL, home),
        lambda v: normalize_database_url(v, home),
        _DATABASE_FORM,
    )
    return {
        "database_url": url,
        "database_connect_args": connect_args,
        "run_lock_scope": c.choice("RUN_LOCK_SCOPE", "global", _LOCK_SCOPES),
        "host_id": c.raw("HOST_ID") or socket.gethostname(),
    }


def read_market_data(c: EnvReader, home: Path) -> MarketDataFields:
    """Pairs, the provider and its endpoints, CSV input, the jump guard and backfill depth."""
    environment = c.choice("OANDA_ENVIRONMENT", "practice", _OANDA_ENVIRONMENTS)
    oanda_default = (
        "https://api-fxtrade.oanda.com"
        if environment == "live"
        else "https://api-fxpractice.oanda.com"
    )
    return {
        "currency_pairs": c.parse(
            "CURRENCY_PAIRS", ("USD/JPY",), _pairs, "comma-separated pairs like USD/JPY,EUR/USD"
        ),
        "market_data_provider": c.choice("MARKET_DATA_PROVIDER", "yahoo", PROVIDERS),
        "yahoo_base_url": c.https_url("YAHOO_BASE_URL", "https://query1.finance.yahoo.com"),
        "oanda_api_token": c.raw("OANDA_API_TOKEN"),
        "oanda_environment": environment,
        "oanda_base_url": c.https_url("OANDA_BASE_URL", oanda_default),
        "provider_concurrency": c.integer("PROVIDER_CONCURRENCY", 4, minimum=1, maximum=64),
        "csv_dir": resolve(home, c.raw("CSV_DIR", "./data/csv") or "./data/csv"),
        "csv_tz": c.raw("CSV_TZ"),
        "max_bar_jump_percent": c.number("MAX_BAR_JUMP_PERCENT", 5.0, minimum=0.01, maximum=100.0),
        "backfill_days_5m": c.integer("BACKFILL_DAYS_5M", 7, minimum=1, maximum=3650),
        "backfill_days_1h": c.integer("BACKFILL_DAYS_1H", 30, minimum=1, maximum=3650),
        "backfill_days_4h": c.integer("BACKFILL_DAYS_4H", 60, minimum=1, maximum=3650),
        "backfill_days_1d": c.integer("BACKFILL_DAYS_1D", 365, minimum=1, maximum=7300),
    }


def read_analysis(c: EnvReader) -> AnalysisFields:
    """The day boundary, indicator and pattern configuration, the calibration scheduler."""
    return {
        "day_boundary": c.choice("DAY_BOUNDARY", DayBoundary.UTC, tuple(DayBoundary)),
        "min_bars": c.integer("MIN_BARS", 100, minimum=1),
        "indicators": c.raw("INDICATORS", "") or "",
        "pattern_thresholds": c.parse(
            "PATTERN_THRESHOLDS",
            {},
            _json_object,
            'a JSON object, e.g. {"trend_reversal.rsi_level": 75}',
        ),
        "dask_scheduler_address": c.raw("DASK_SCHEDULER_ADDRESS") or None,
    }


def read_discord(c: EnvReader) -> DiscordFields:
    """Where messages and alerts go (webhook or bot + channel) and how they look."""
    return {
        "discord_webhook_url": c.url("DISCORD_WEBHOOK_URL", None),
        "discord_bot_token": c.raw("DISCORD_BOT_TOKEN"),
        "discord_channel_id": c.parse(
            "DISCORD_CHANNEL_ID", None, _snowflake, "a numeric Discord channel id"
        ),
        "discord_alert_webhook_url": c.url("DISCORD_ALERT_WEBHOOK_URL", None),
        "discord_admin_user_id": c.parse(
            "DISCORD_ADMIN_USER_ID", None, _snowflake, "a numeric Discord user id"
        ),
        "discord_api_base": c.https_url("DISCORD_API_BASE", "https://discord.com/api/v10"),
        "discord_attach_chart": c.boolean("DISCORD_ATTACH_CHART", True),
    }


def read_notification_policy(c: EnvReader) -> NotificationFields:
    """SPEC §17: cooldowns, retries, the per-pattern policy, budgets, digests, follow-ups."""
    return {
        "notify_cooldown_minutes": c.integer("NOTIFY_COOLDOWN_MINUTES", 60, minimum=0),
        "notify_max_attempts": c.integer("NOTIFY_MAX_ATTEMPTS", 10, minimum=1),
        "alert_repeat_minutes": c.integer("ALERT_REPEAT_MINUTES", 60, minimum=0),
        "notify_policy": c.parse("NOTIFY_POLICY", parse_policy(""), parse_policy, POLICY_FORM),
        "notify_min_confidence": c.number("NOTIFY_MIN_CONFIDENCE", 0.0, minimum=0.0, maximum=1.0),
        "notify_max_per_pair_per_day": c.integer("NOTIFY_MAX_PER_PAIR_PER_DAY", 0, minimum=0),
        "notify_digest_hours": c.integer("NOTIFY_DIGEST_HOURS", 4, minimum=1, maximum=168),
        "notify_outcomes": c.boolean("NOTIFY_OUTCOMES", True),
        "track_record_days": c.integer("TRACK_RECORD_DAYS", 90, minimum=1, maximum=3650),
    }


def read_health_thresholds(c: EnvReader) -> HealthFields:
    """The limits the health verdict and the run status compare against."""
    return {
        "max_processing_time": c.number("MAX_PROCESSING_TIME", 300.0, minimum=1.0),
        "min_success_rate": c.number("MIN_SUCCESS_RATE", 0.95, minimum=0.0, maximum=1.0),
        "max_error_count": c.integer("MAX_ERROR_COUNT", 5, minimum=1),
        "disk_usage_max_percent": c.number("DISK_USAGE_MAX_PERCENT", 80.0, minimum=1, maximum=100),
        "memory_rss_max_mb": c.number("MEMORY_RSS_MAX_MB", 2048.0, minimum=16),
    }


def read_operations(c: EnvReader, home: Path) -> OperationsFields:
    """Logging, the cron cadence, batches and retries, retention, dashboard and metrics."""
    levels = ("debug", "info", "warning", "error", "critical")
    metrics = c.raw("METRICS_TEXTFILE")
    return {
        "log_level": c.choice("LOG_LEVEL", "info", levels).upper(),
        "log_dir": _log_dir(home, c.raw("LOG_FILE", "./logs/") or "./logs/"),
        "interval_minutes": c.integer("INTERVAL_MINUTES", 5, minimum=1, maximum=1440),
        "batch_size": c.integer("BATCH_SIZE", 1000, minimum=1, maximum=1_000_000),
        "max_retries": c.integer("MAX_RETRIES", 3, minimum=0, maximum=20),
        "retention_days_5m": c.integer("RETENTION_DAYS_5M", 90, minimum=1),
        "retention_days_1h": c.integer("RETENTION_DAYS_1H", 730, minimum=1),
        "retention_days_runs": c.integer("RETENTION_DAYS_RUNS", 180, minimum=1),
        "retention_days_notifications": c.integer("RETENTION_DAYS_NOTIFICATIONS", 90, minimum=1),
        "dashboard_token": c.raw("DASHBOARD_TOKEN"),
        "metrics_textfile": resolve(home, metrics) if metrics else None,
    }


def joined_rule_errors(market: MarketDataFields, analysis: AnalysisFields) -> list[str]:
    """The rules no single value can break: checked once every group is read, and reported
    after the invalid values."""
    errors: list[str] = []
    if market["market_data_provider"] == "oanda" and not market["oanda_api_token"]:
        errors.append("OANDA_API_TOKEN is required when MARKET_DATA_PROVIDER=oanda")
    indicators = analysis["indicators"]
    if indicators and not _INDICATORS_RE.match(indicators.replace(" ", "")):
        errors.append(
            f"INDICATORS={indicators!r} is invalid: expected a comma-separated list like "
            "SMA:20,SMA:50,EMA:20,ATR:14,STOCH:14:3:3"
        )
    return errors


def resolve(home: Path, path: str) -> Path:
    """A configured path: ``~`` expanded, relative to the installation when not absolute."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else home / candidate


def _log_dir(home: Path, text: str) -> Path:
    """LOG_FILE names the log directory; a ``….log`` file name means its directory."""
    path = resolve(home, text)
    return path.parent if path.suffix == ".log" else path


def _pairs(text: str) -> tuple[str, ...]:
    pairs = [str(CurrencyPair.parse(p)) for p in text.split(",") if p.strip()]
    if not pairs:
        raise ValueError(text)
    return tuple(dict.fromkeys(pairs))


def _json_object(text: str) -> JSONObject:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(text)
    return value


def _snowflake(text: str) -> str:
    if not text.isdigit():
        raise ValueError(text)
    return text
