"""``exchange-analytics db``: migrations."""

from __future__ import annotations

import click

from exchange_analytics.config.settings import load_settings


@click.group("db", context_settings={"help_option_names": ["-h", "--help"]})
def db() -> None:
    """Database schema management (alembic)."""


@db.command("upgrade", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply migrations to the configured database (alembic upgrade head).

    \b
    Example:
        DATABASE_URL=postgresql://user@localhost/fx exchange-analytics db upgrade
    """
    from exchange_analytics.cli.runtime import run_async
    from exchange_analytics.storage.engine import build_engine, describe_database, ping
    from exchange_analytics.storage.schema import upgrade as do_upgrade

    settings = load_settings()

    async def check() -> None:
        engine = build_engine(settings)
        try:
            await ping(engine, settings)
        finally:
            await engine.dispose()

    run_async(check)
    do_upgrade(settings, revision)
    click.echo(f"database {describe_database(settings)} is at revision {revision}")
