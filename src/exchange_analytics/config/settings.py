"""The one settings object (SPEC §11), built by ``load_settings`` from the environment + ``.env``.

Nothing else in the package reads ``os.environ``. Every invalid variable is reported at once,
with the accepted form, as a single ``ConfigurationError`` (exit 2). Secrets are ``repr=False``
and registered with the redactor so they are masked wherever they appear.

Paths: ``.env``, the default SQLite file and the log directory are relative to the
*installation* (the directory holding pyproject.toml, or ``EXCHANGE_ANALYTICS_HOME``), not to
the working directory, because cron starts jobs in ``$HOME``.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from exchange_analytics.config.notify_policy import POLICY_FORM, parse_policy
from exchange_analytics.config.redact import redact, register_secret
from exchange_analytics.domain import CurrencyPair, DayBoundary
from exchange_analytics.errors import ConfigurationError

T = TypeVar("T")

PROVIDERS = ("yahoo", "oanda", "demo", "csv")
# Checked here by shape only, so loading settings never imports TA-Lib (the health check
# must stay light); indicators.parse_indicator_extras builds the real specs in the cycle.
_INDICATOR_ITEM = r"(?:(?:SMA|EMA|WMA|ATR|RSI):\d+|STOCH:\d+:\d+:\d+)"
_INDICATORS_RE = re.compile(rf"^{_INDICATOR_ITEM}(?:,{_INDICATOR_ITEM})*$", re.IGNORECASE)
DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./data/exchange_analytics.db"
_SSLMODES = {
    "disable": False,
    "allow": "allow",
    "prefer": "prefer",
    "require": "require",
    "verify-ca": "verify-ca",
    "verify-full": "verify-full",
}


def installation_home(environ: Mapping[str, str] | None = None) -> Path:
    """The directory the installation lives in (where .env, data/ and logs/ are found)."""
    env = os.environ if environ is None else environ
    override = env.get("EXCHANGE_ANALYTICS_HOME")
    if override:
        return Path(override).expanduser().resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src").is_dir():
            return parent
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Typed, frozen configuration. Field names mirror the environment variables."""

    home: Path
    database_url: str = field(repr=False)
    database_connect_args: dict[str, Any] = field(repr=False)
    currency_pairs: tuple[str, ...]
    market_data_provider: str
    yahoo_base_url: str
    oanda_api_token: str | None = field(repr=False)
    oanda_environment: str
    oanda_base_url: str
    day_boundary: DayBoundary
    discord_webhook_url: str | None = field(repr=False)
    discord_bot_token: str | None = field(repr=False)
    discord_channel_id: str | None
    discord_alert_webhook_url: str | None = field(repr=False)
    discord_admin_user_id: str | None
    discord_api_base: str
    discord_attach_chart: bool
    max_processing_time: float
    min_success_rate: float
    max_error_count: int
    log_level: str
    log_dir: Path
    interval_minutes: int
    batch_size: int
    max_retries: int
    notify_cooldown_minutes: int
    notify_max_attempts: int
    alert_repeat_minutes: int
    provider_concurrency: int
    min_bars: int
    indicators: str
    pattern_thresholds: dict[str, Any]
    backfill_days_5m: int
    backfill_days_1h: int
    backfill_days_4h: int
    backfill_days_1d: int
    retention_days_5m: int
    retention_days_1h: int
    retention_days_runs: int
    retention_days_notifications: int
    disk_usage_max_percent: float
    memory_rss_max_mb: float
    env_file: Path | None
    run_lock_scope: str = "global"
    host_id: str = ""
    csv_dir: Path | None = None
    csv_tz: str | None = None
    #: Required to serve the dashboard beyond 127.0.0.1 (SPEC §18); a secret.
    dashboard_token: str | None = field(default=None, repr=False)
    #: SPEC §3.5: a bar whose close moves further than this (percent) from the previous stored
    #: close of its pair and timeframe is held back, not stored.
    max_bar_jump_percent: float = 5.0
    #: SPEC issue 16: node_exporter textfile-collector output, written after every run.
    metrics_textfile: Path | None = None
    #: SPEC §17 notification policy: pattern -> immediate | digest | edge | off.
    notify_policy: dict[str, str] = field(default_factory=dict)
    notify_min_confidence: float = 0.0
    #: Immediate pattern messages per pair and UTC day; 0 = no budget.
    notify_max_per_pair_per_day: int = 0
    notify_digest_hours: int = 4
    notify_outcomes: bool = True
    track_record_days: int = 90
    #: SPEC §16/§19: Dask scheduler for ``patterns calibrate`` (``--dask`` overrides it).
    dask_scheduler_address: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def redacted_database_url(self) -> str:
        return redact(self.database_url)

    @property
    def pairs(self) -> tuple[CurrencyPair, ...]:
        return tuple(CurrencyPair.parse(p) for p in self.currency_pairs)

    @property
    def notifications_enabled(self) -> bool:
        return bool(
            self.discord_webhook_url or (self.discord_bot_token and self.discord_channel_id)
        )

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = urlsplit(self.database_url).path
        return Path(path[1:]) if path.startswith("/") else Path(path)

    def with_overrides(self, **changes: Any) -> Settings:
        from dataclasses import replace

        return replace(self, **changes)


class _Collector:
    """Reads variables from a mapping, collecting every error instead of stopping at one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[str] = []

    def raw(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def parse(self, name: str, default: T, convert: Callable[[str], T], form: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return convert(value)
        except (ValueError, ConfigurationError):
            self.errors.append(f"{name}={redact(value)!r} is invalid: expected {form}")
            return default

    def number(
        self, name: str, default: float, *, minimum: float, maximum: float | None = None
    ) -> float:
        def convert(text: str) -> float:
            number = float(text)
            if number != number or number < minimum or (maximum is not None and number > maximum):
                raise ValueError(text)
            return number

        top = f" and <= {maximum:g}" if maximum is not None else ""
        return self.parse(name, default, convert, f"a number >= {minimum:g}{top}")

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        def convert(text: str) -> int:
            number = int(text)
            if number < minimum or (maximum is not None and number > maximum):
                raise ValueError(text)
            return number

        top = f" and <= {maximum}" if maximum is not None else ""
        return self.parse(name, default, convert, f"a whole number >= {minimum}{top}")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def convert(text: str) -> str:
            if text.lower() not in choices:
                raise ValueError(text)
            return text.lower()

        return self.parse(name, default, convert, "one of " + ", ".join(choices))

    def boolean(self, name: str, default: bool) -> bool:
        def convert(text: str) -> bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)

        return self.parse(name, default, convert, "true or false")

    def url(self, name: str, default: str | None) -> str | None:
        def convert(text: str) -> str:
            parts = urlsplit(text)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(text)
            return text.rstrip("/")

        return self.parse(name, default, convert, "an http(s):// URL")


def _pairs(text: str) -> tuple[str, ...]:
    pairs = [str(CurrencyPair.parse(p)) for p in text.split(",") if p.strip()]
    if not pairs:
        raise ValueError(text)
    return tuple(dict.fromkeys(pairs))


def normalize_database_url(url: str, home: Path) -> tuple[str, dict[str, Any]]:
    """Map libpq-style URLs onto SQLAlchemy's async drivers; resolve relative SQLite paths.

    ``postgresql://`` and ``postgres://`` become ``postgresql+asyncpg://``; ``sslmode`` (which
    asyncpg does not take in the URL) becomes the ``ssl`` connect argument.
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    connect_args: dict[str, Any] = {}
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        sslmode = query.pop("sslmode", None)
        if sslmode is not None:
            if sslmode not in _SSLMODES:
                raise ValueError(url)
            connect_args["ssl"] = _SSLMODES[sslmode]
        if not parts.hostname and not query.get("host"):
            raise ValueError(url)
        if not parts.path.strip("/"):
            raise ValueError(url)
        rebuilt = urlunsplit(
            ("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), parts.fragment)
        )
        return rebuilt, connect_args
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":
            raise ValueError(url)
        file_path = Path(path)
        if not file_path.is_absolute():
            file_path = (home / file_path).resolve()
        return f"sqlite+aiosqlite:///{file_path}", connect_args
    raise ValueError(url)


def _read_env_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    try:
        with path.open(encoding="utf-8") as handle:
            values = dotenv_values(stream=handle)
    except PermissionError as exc:
        raise ConfigurationError(
            f"cannot read {path}: permission denied (chmod 600 {path} and run as its owner)"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    return {k: v for k, v in values.items() if v is not None}


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | bool | None = True
) -> Settings:
    """Build Settings from ``environ`` (default: os.environ) plus ``.env`` (the process wins).

    ``env_file=True`` looks for ``<home>/.env``; a Path uses that file; False/None skips it.
    """
    process_env = dict(os.environ if environ is None else environ)
    home = installation_home(process_env)
    env_path: Path | None
    if env_file is True:
        env_path = Path(process_env.get("ENV_FILE") or home / ".env")
    elif isinstance(env_file, Path):
        env_path = env_file
    else:
        env_path = None
    merged: dict[str, str] = {}
    if env_path is not None and env_path.exists():
        merged.update(_read_env_file(env_path))
    else:
        env_path = None
    merged.update(process_env)

    c = _Collector(merged)
    database_url, connect_args = c.parse(
        "DATABASE_URL",
        normalize_database_url(DEFAULT_SQLITE_URL, home),
        lambda v: normalize_database_url(v, home),
        "postgresql+asyncpg://user:password@host:5432/dbname (postgresql:// and ?sslmode= are "
        "accepted) or sqlite+aiosqlite:///path/to/file.db",
    )
    oanda_environment = c.choice("OANDA_ENVIRONMENT", "practice", ("practice", "live"))
    oanda_default = (
        "https://api-fxtrade.oanda.com"
        if oanda_environment == "live"
        else "https://api-fxpractice.oanda.com"
    )
    log_raw = c.raw("LOG_FILE", "./logs/") or "./logs/"
    log_path = Path(log_raw).expanduser()
    if not log_path.is_absolute():
        log_path = home / log_path
    if log_path.suffix == ".log":
        log_path = log_path.parent

    def thresholds(text: str) -> dict[str, Any]:
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError(text)
        return value

    settings = Settings(
        home=home,
        database_url=database_url,
        database_connect_args=connect_args,
        currency_pairs=c.parse(
            "CURRENCY_PAIRS", ("USD/JPY",), _pairs, "comma-separated pairs like USD/JPY,EUR/USD"
        ),
        market_data_provider=c.choice("MARKET_DATA_PROVIDER", "yahoo", PROVIDERS),
        yahoo_base_url=c.url("YAHOO_BASE_URL", "https://query1.finance.yahoo.com")
        or "https://query1.finance.yahoo.com",
        oanda_api_token=c.raw("OANDA_API_TOKEN"),
        oanda_environment=oanda_environment,
        oanda_base_url=c.url("OANDA_BASE_URL", oanda_default) or oanda_default,
        day_boundary=DayBoundary(c.choice("DAY_BOUNDARY", "utc", tuple(DayBoundary))),
        discord_webhook_url=c.url("DISCORD_WEBHOOK_URL", None),
        discord_bot_token=c.raw("DISCORD_BOT_TOKEN"),
        discord_channel_id=c.parse(
            "DISCORD_CHANNEL_ID", None, _snowflake, "a numeric Discord channel id"
        ),
        discord_alert_webhook_url=c.url("DISCORD_ALERT_WEBHOOK_URL", None),
        discord_admin_user_id=c.parse(
            "DISCORD_ADMIN_USER_ID", None, _snowflake, "a numeric Discord user id"
        ),
        discord_api_base=c.url("DISCORD_API_BASE", "https://discord.com/api/v10")
        or "https://discord.com/api/v10",
        discord_attach_chart=c.boolean("DISCORD_ATTACH_CHART", True),
        max_processing_time=c.number("MAX_PROCESSING_TIME", 300.0, minimum=1.0),
        min_success_rate=c.number("MIN_SUCCESS_RATE", 0.95, minimum=0.0, maximum=1.0),
        max_error_count=c.integer("MAX_ERROR_COUNT", 5, minimum=1),
        log_level=c.choice(
            "LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")
        ).upper(),
        log_dir=log_path,
        interval_minutes=c.integer("INTERVAL_MINUTES", 5, minimum=1, maximum=1440),
        batch_size=c.integer("BATCH_SIZE", 1000, minimum=1, maximum=1_000_000),
        max_retries=c.integer("MAX_RETRIES", 3, minimum=0, maximum=20),
        notify_cooldown_minutes=c.integer("NOTIFY_COOLDOWN_MINUTES", 60, minimum=0),
        notify_max_attempts=c.integer("NOTIFY_MAX_ATTEMPTS", 10, minimum=1),
        alert_repeat_minutes=c.integer("ALERT_REPEAT_MINUTES", 60, minimum=0),
        provider_concurrency=c.integer("PROVIDER_CONCURRENCY", 4, minimum=1, maximum=64),
        min_bars=c.integer("MIN_BARS", 100, minimum=1),
        indicators=c.raw("INDICATORS", "") or "",
        pattern_thresholds=c.parse(
            "PATTERN_THRESHOLDS",
            {},
            thresholds,
            'a JSON object, e.g. {"trend_reversal.rsi_level": 75}',
        ),
        backfill_days_5m=c.integer("BACKFILL_DAYS_5M", 7, minimum=1, maximum=3650),
        backfill_days_1h=c.integer("BACKFILL_DAYS_1H", 30, minimum=1, maximum=3650),
        backfill_days_4h=c.integer("BACKFILL_DAYS_4H", 60, minimum=1, maximum=3650),
        backfill_days_1d=c.integer("BACKFILL_DAYS_1D", 365, minimum=1, maximum=7300),
        retention_days_5m=c.integer("RETENTION_DAYS_5M", 90, minimum=1),
        retention_days_1h=c.integer("RETENTION_DAYS_1H", 730, minimum=1),
        retention_days_runs=c.integer("RETENTION_DAYS_RUNS", 180, minimum=1),
        retention_days_notifications=c.integer("RETENTION_DAYS_NOTIFICATIONS", 90, minimum=1),
        disk_usage_max_percent=c.number("DISK_USAGE_MAX_PERCENT", 80.0, minimum=1, maximum=100),
        memory_rss_max_mb=c.number("MEMORY_RSS_MAX_MB", 2048.0, minimum=16),
        env_file=env_path,
        run_lock_scope=c.choice("RUN_LOCK_SCOPE", "global", ("global", "host")),
        host_id=c.raw("HOST_ID") or socket.gethostname(),
        csv_dir=_resolve(home, c.raw("CSV_DIR", "./data/csv") or "./data/csv"),
        csv_tz=c.raw("CSV_TZ"),
        dashboard_token=c.raw("DASHBOARD_TOKEN"),
        max_bar_jump_percent=c.number("MAX_BAR_JUMP_PERCENT", 5.0, minimum=0.01, maximum=100.0),
        metrics_textfile=(
            _resolve(home, c.raw("METRICS_TEXTFILE") or "") if c.raw("METRICS_TEXTFILE") else None
        ),
        notify_policy=c.parse("NOTIFY_POLICY", parse_policy(""), parse_policy, POLICY_FORM),
        notify_min_confidence=c.number("NOTIFY_MIN_CONFIDENCE", 0.0, minimum=0.0, maximum=1.0),
        notify_max_per_pair_per_day=c.integer("NOTIFY_MAX_PER_PAIR_PER_DAY", 0, minimum=0),
        notify_digest_hours=c.integer("NOTIFY_DIGEST_HOURS", 4, minimum=1, maximum=168),
        notify_outcomes=c.boolean("NOTIFY_OUTCOMES", True),
        track_record_days=c.integer("TRACK_RECORD_DAYS", 90, minimum=1, maximum=3650),
        dask_scheduler_address=c.raw("DASK_SCHEDULER_ADDRESS") or None,
    )
    if settings.market_data_provider == "oanda" and not settings.oanda_api_token:
        c.errors.append("OANDA_API_TOKEN is required when MARKET_DATA_PROVIDER=oanda")
    if settings.indicators and not _INDICATORS_RE.match(settings.indicators.replace(" ", "")):
        c.errors.append(
            f"INDICATORS={settings.indicators!r} is invalid: expected a comma-separated list like "
            "SMA:20,SMA:50,EMA:20,ATR:14,STOCH:14:3:3"
        )
    if c.errors:
        raise ConfigurationError("invalid configuration: " + "; ".join(c.errors))
    for secret in (
        settings.oanda_api_token,
        settings.discord_bot_token,
        settings.dashboard_token,
        _password(settings.database_url),
        _webhook_token(settings.discord_webhook_url),
        _webhook_token(settings.discord_alert_webhook_url),
    ):
        register_secret(secret)
    return settings


def _resolve(home: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else home / candidate


def _snowflake(text: str) -> str:
    if not text.isdigit():
        raise ValueError(text)
    return text


def _password(url: str) -> str | None:
    return urlsplit(url).password


def _webhook_token(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url).path.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and "webhooks" in parts else None
