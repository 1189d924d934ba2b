"""``exchange-analytics serve`` (SPEC §18): the read-only dashboard on the configured database.

Safe by default: it listens on 127.0.0.1. Any address that is not loopback needs
``DASHBOARD_TOKEN`` (exit 2 otherwise, with one line), and every request then carries it.
"""

from __future__ import annotations

import ipaddress
import socket

import click

from exchange_analytics.cli.runtime import fail
from exchange_analytics.config.settings import load_settings
from exchange_analytics.errors import ConfigurationError

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8050, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
def serve(host: str, port: int) -> None:
    """Serve the read-only dashboard: overview, pair charts, pattern track records, JSON API.

    Binding anything but 127.0.0.1 (or another loopback address) requires DASHBOARD_TOKEN;
    requests must then send it (Authorization: Bearer TOKEN, or the /login form).

    \b
    Example:
        exchange-analytics serve                     # http://127.0.0.1:8050
        DASHBOARD_TOKEN=$(openssl rand -hex 32) exchange-analytics serve --host 0.0.0.0
        curl -s 'http://127.0.0.1:8050/api/candles?pair=USD/JPY&tf=1h' | jq '.candles[-1]'
    """
    settings = load_settings()
    if not is_loopback(host) and not settings.dashboard_token:
        raise ConfigurationError(
            f"--host {host} exposes the dashboard beyond this machine: set DASHBOARD_TOKEN "
            "(e.g. `openssl rand -hex 32`) or keep the default --host 127.0.0.1"
        )
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)", 1)

    import uvicorn

    from exchange_analytics.storage.engine import describe_database
    from exchange_analytics.web.app import create_app

    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"dashboard on http://{shown}:{port} (read-only, database {describe_database(settings)}"
        f"{', token required' if settings.dashboard_token else ''}); Ctrl+C stops it",
        err=True,
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
    )
