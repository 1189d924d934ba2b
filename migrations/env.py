"""Alembic environment (async template): migrates the database the settings point at."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import schema_metadata

config = context.config
target_metadata = schema_metadata()


def _settings() -> Settings:
    """The settings ``db upgrade`` passed in, else the environment's."""
    given = config.attributes.get("settings")
    return given if isinstance(given, Settings) else load_settings()


def run_migrations_offline() -> None:
    context.configure(
        url=_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _do_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        await connection.run_sync(_do_run)
        return
    engine = build_engine(_settings())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_do_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(_run_async())
