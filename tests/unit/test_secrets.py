"""Secrets never leave the process in clear (SPEC §14), checked at each place they could.

Four kinds of secret are configured: the database password, the Discord webhook token, the
Discord bot token and the OANDA token. Each must be masked in: the settings object's repr,
configuration error messages (built *before* the secrets are registered, so masking has to
work by shape), database error messages, provider URLs, and every log line (by the structlog
processor, including values nested in dicts and lists and exception text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from exchange_analytics.config.redact import MASK, redact, register_secret
from exchange_analytics.config.settings import load_settings
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.logs import configure_logging
from exchange_analytics.providers.http import redact_url
from exchange_analytics.storage.engine import translate_db_error

DB_PASSWORD = "pw-SECRET-unit-db-4411"
WEBHOOK_TOKEN = "wh-SECRET-unit-token-abcdef0123456789"
BOT_TOKEN = "bot-SECRET-unit-token-9876543210"
OANDA_TOKEN = "oanda-SECRET-unit-token-5555-6666"
SECRETS = (DB_PASSWORD, WEBHOOK_TOKEN, BOT_TOKEN, OANDA_TOKEN)


def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "EXCHANGE_ANALYTICS_HOME": str(tmp_path),
        "DATABASE_URL": f"postgresql://fx:{DB_PASSWORD}@db.internal:6543/fx",
        "DISCORD_WEBHOOK_URL": f"https://discord.com/api/webhooks/1200/{WEBHOOK_TOKEN}",
        "DISCORD_BOT_TOKEN": BOT_TOKEN,
        "DISCORD_CHANNEL_ID": "1300",
        "OANDA_API_TOKEN": OANDA_TOKEN,
        **extra,
    }


def _clean(text: str) -> bool:
    return not any(secret in text for secret in SECRETS)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"postgresql+asyncpg://fx:{DB_PASSWORD}@db:5432/fx", DB_PASSWORD),
        (f"connect to postgresql://fx:{DB_PASSWORD}@db/fx failed", DB_PASSWORD),
        (f"POST https://discord.com/api/webhooks/1200/{WEBHOOK_TOKEN}?wait=true", WEBHOOK_TOKEN),
        (f"POST https://discord.com/api/v10/webhooks/1200/{WEBHOOK_TOKEN}", WEBHOOK_TOKEN),
        (f"Authorization: Bot {BOT_TOKEN}", BOT_TOKEN),
        (f"Authorization: Bearer {OANDA_TOKEN}", OANDA_TOKEN),
    ],
    ids=["db-url", "db-url-in-text", "webhook", "webhook-v10", "bot-header", "bearer-header"],
)
def test_secrets_are_masked_by_shape(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert MASK in masked


def test_a_registered_secret_is_masked_wherever_it_appears() -> None:
    register_secret(OANDA_TOKEN)
    assert redact(f"upstream echoed {OANDA_TOKEN} back") == f"upstream echoed {MASK} back"


def test_settings_repr_shows_no_secret(tmp_path: Path) -> None:
    settings = load_settings(_environ(tmp_path), env_file=False)
    assert _clean(repr(settings)) and _clean(str(settings))
    assert _clean(settings.redacted_database_url)
    assert "db.internal" in settings.redacted_database_url


@pytest.mark.parametrize(
    ("variable", "value", "secret"),
    [
        ("DATABASE_URL", f"mysql://fx:{DB_PASSWORD}@db/fx", DB_PASSWORD),
        ("DISCORD_WEBHOOK_URL", f"discord.com/api/webhooks/1200/{WEBHOOK_TOKEN}", WEBHOOK_TOKEN),
        (
            "DISCORD_ALERT_WEBHOOK_URL",
            f"ftp://discord.com/api/webhooks/9/{WEBHOOK_TOKEN}",
            WEBHOOK_TOKEN,
        ),
    ],
)
def test_configuration_errors_do_not_echo_secrets(
    variable: str, value: str, secret: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(_environ(tmp_path, **{variable: value}), env_file=False)
    message = str(raised.value)
    assert variable in message
    assert secret not in message


def test_database_errors_name_host_port_and_database_but_not_the_password(tmp_path: Path) -> None:
    settings = load_settings(_environ(tmp_path), env_file=False)
    cause = OSError(f"could not connect to postgresql://fx:{DB_PASSWORD}@db.internal:6543/fx")
    message = str(translate_db_error(settings, cause))
    assert "db.internal" in message and "6543" in message and "fx" in message
    assert DB_PASSWORD not in message


def test_provider_urls_are_redacted() -> None:
    shown = redact_url(f"https://api.example.com/v3/candles?token={OANDA_TOKEN}&from=1")
    assert OANDA_TOKEN not in shown and "from=1" in shown
    shown = redact_url(f"https://discord.com/api/webhooks/1200/{WEBHOOK_TOKEN}?wait=true")
    assert WEBHOOK_TOKEN not in shown and "/webhooks/1200/" in shown


def test_oanda_provider_repr_hides_its_token() -> None:
    from exchange_analytics.providers.oanda import OandaProvider

    assert OANDA_TOKEN not in repr(OandaProvider(token=OANDA_TOKEN))


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "logs"
    configure_logging(directory, "cycle", console=False)
    yield directory
    structlog.reset_defaults()


def test_log_lines_are_redacted_in_every_file(log_dir: Path, tmp_path: Path) -> None:
    load_settings(_environ(tmp_path), env_file=False)  # registers the configured secrets
    log = structlog.get_logger("test_secrets")
    log.info("nested", config={"url": f"postgresql://fx:{DB_PASSWORD}@db/fx", "list": [BOT_TOKEN]})
    log.warning("plain", token=OANDA_TOKEN, note=f"Bearer {OANDA_TOKEN}")
    try:
        raise RuntimeError(f"POST https://discord.com/api/webhooks/1200/{WEBHOOK_TOKEN} failed")
    except RuntimeError:
        log.exception("with traceback")
    log.error("alerted", alert=True, message=f"bot {BOT_TOKEN} rejected")
    files = sorted(log_dir.glob("*.log"))
    assert {f.name for f in files} >= {"continuous_processing_cron.log", "error_alert.log"}
    for path in files:
        text = path.read_text()
        assert _clean(text), f"a secret reached {path.name}"
        for line in text.splitlines():
            json.loads(line)  # still valid JSON after masking
    assert "with traceback" in (log_dir / "error_alert.log").read_text()
