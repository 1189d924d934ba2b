"""The one settings object (SPEC §11), built by ``load_settings`` from the environment + ``.env``.

Nothing else in the package reads ``os.environ``. Every invalid variable is reported at once,
with the accepted form, as a single ``ConfigurationError`` (exit 2). Secrets are ``repr=False``
and registered with the redactor so they are masked wherever they appear.

Paths: ``.env``, the default SQLite file and the log directory are relative to the
*installation* (the directory holding pyproject.toml, or ``EXCHANGE_ANALYTICS_HOME``), not to
the working directory, because cron starts jobs in ``$HOME``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from exchange_analytics.config.database_url import (
    DEFAULT_SQLITE_URL,
    ConnectArgs,
    database_password,
    normalize_database_url,
)
from exchange_analytics.config.env_values import EnvReader
from exchange_analytics.config.redact import redact, register_secret
from exchange_analytics.config.settings_groups import (
    PROVIDERS,
    OandaEnvironment,
    Provider,
    RunLockScope,
    joined_rule_errors,
    read_analysis,
    read_database,
    read_discord,
    read_health_thresholds,
    read_market_data,
    read_notification_policy,
    read_operations,
)
from exchange_analytics.domain import CurrencyPair, DayBoundary
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.jsontypes import JSONObject

#: Kept importable from here (``cycle`` takes its --provider choices, tests the URL mapping).
__all__ = [
    "DEFAULT_SQLITE_URL",
    "PROVIDERS",
    "ConnectArgs",
    "Settings",
    "installation_home",
    "load_settings",
    "normalize_database_url",
]


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
    database_connect_args: ConnectArgs = field(repr=False)
    currency_pairs: tuple[str, ...]
    market_data_provider: Provider
    yahoo_base_url: str
    oanda_api_token: str | None = field(repr=False)
    oanda_environment: OandaEnvironment
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
    pattern_thresholds: JSONObject
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
    run_lock_scope: RunLockScope = "global"
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

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (the health check's shorter connect timeout, the
        dashboard's read-only sessions, a test's token); an unknown name is a TypeError."""
        return _replace(self, **changes)


#: ``dataclasses.replace`` as typeshed declares it (``**changes`` passed through): mypy's
#: per-field check of a direct call cannot take the ``object`` values ``with_overrides`` relays.
_replace = dataclasses.replace


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | bool | None = True
) -> Settings:
    """Build Settings from ``environ`` (default: os.environ) plus ``.env`` (the process wins).

    ``env_file=True`` looks for ``<home>/.env``; a Path uses that file; False/None skips it.
    Every invalid variable is collected first, then reported in one ConfigurationError.
    """
    process_env = dict(os.environ if environ is None else environ)
    home = installation_home(process_env)
    env_path = _existing_env_file(process_env, home, env_file)
    merged = _read_env_file(env_path) if env_path is not None else {}
    merged.update(process_env)
    c = EnvReader(merged)
    database = read_database(c, home)
    market = read_market_data(c, home)
    analysis = read_analysis(c)
    settings = Settings(
        home=home,
        env_file=env_path,
        **database,
        **market,
        **analysis,
        **read_discord(c),
        **read_notification_policy(c),
        **read_health_thresholds(c),
        **read_operations(c, home),
    )
    c.errors += joined_rule_errors(market, analysis)
    if c.errors:
        raise ConfigurationError("invalid configuration: " + "; ".join(c.errors))
    _register_secrets(settings)
    return settings


def _existing_env_file(
    process_env: Mapping[str, str], home: Path, env_file: Path | bool | None
) -> Path | None:
    """The ``.env`` to read: ENV_FILE or ``<home>/.env`` for True, a given Path, or none;
    a file that does not exist is no file (settings then come from the process alone)."""
    path: Path | None
    if env_file is True:
        path = Path(process_env.get("ENV_FILE") or home / ".env")
    elif isinstance(env_file, Path):
        path = env_file
    else:
        path = None
    return path if path is not None and path.exists() else None


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


def _register_secrets(settings: Settings) -> None:
    """Every secret the settings hold, masked by the redactor wherever it would appear."""
    for secret in (
        settings.oanda_api_token,
        settings.discord_bot_token,
        settings.dashboard_token,
        database_password(settings.database_url),
        _webhook_token(settings.discord_webhook_url),
        _webhook_token(settings.discord_alert_webhook_url),
    ):
        register_secret(secret)


def _webhook_token(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url).path.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and "webhooks" in parts else None
