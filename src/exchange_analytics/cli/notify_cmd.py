"""``exchange-analytics notify``: check the Discord wiring."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from exchange_analytics.cli.runtime import emit_json, run_async
from exchange_analytics.config.settings import load_settings
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.logs import configure_logging

CTX = {"help_option_names": ["-h", "--help"]}


@click.group("notify", context_settings=CTX)
def notify() -> None:
    """Discord notifications."""


@notify.command("test", context_settings=CTX)
@click.option("--alerts", is_flag=True, help="Post to the alert destination instead.")
@click.option("--dry-run", is_flag=True, help="Print the message instead of sending it.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def test(alerts: bool, dry_run: bool, as_json: bool) -> None:
    """Send one test message to the configured Discord channel.

    \b
    Example:
        exchange-analytics notify test
    """
    from exchange_analytics.notifications.formatting import test_message

    settings = load_settings()
    configure_logging(settings.log_dir, "cycle", level=settings.log_level)
    now = datetime.now(UTC)
    payload = test_message(now)
    if dry_run:
        emit_json(payload)
        return
    from exchange_analytics.pipeline.notify import build_transports

    transports = build_transports(settings)
    channel = "alerts" if alerts else "patterns"
    if channel not in transports:
        raise ConfigurationError(
            "no Discord destination configured: set DISCORD_WEBHOOK_URL, or DISCORD_BOT_TOKEN "
            "with DISCORD_CHANNEL_ID"
        )
    transport = transports[channel]

    async def send() -> dict[str, object]:
        try:
            sent = await transport.send(payload, dedupe_key=f"test:{now.isoformat()}")
        finally:
            for t in {id(t): t for t in transports.values()}.values():
                await t.aclose()
        return {
            "sent": True,
            "destination": transport.destination,
            "message_id": sent.message_id,
            "attempts": sent.attempts,
        }

    result = run_async(send)
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"test message posted to {result['destination']} (message id {result['message_id']})"
        )
