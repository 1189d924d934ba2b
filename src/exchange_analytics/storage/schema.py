"""Migrations: ``db upgrade`` and the "is the schema at head?" check the cycle and health use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange_analytics.config.settings import Settings
from exchange_analytics.errors import NeedsInterventionError

if TYPE_CHECKING:  # alembic is imported only by the commands that migrate
    from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(settings: Settings) -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["settings"] = settings
    return config


def head_revision() -> str:
    """The newest migration, read from the versions folder without importing alembic."""
    revisions: dict[str, str | None] = {}
    for path in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"):
        rev = down = None
        for line in path.read_text().splitlines():
            if line.startswith("revision"):
                rev = line.split("=", 1)[1].strip().strip("'\"")
            elif line.startswith("down_revision"):
                value = line.split("=", 1)[1].strip()
                down = None if value == "None" else value.strip("'\"")
        if rev:
            revisions[rev] = down
    parents = {d for d in revisions.values() if d}
    heads = [r for r in revisions if r not in parents]
    return heads[0] if heads else ""


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception:  # a missing table means "never migrated"
            return None


async def ensure_migrated(engine: AsyncEngine) -> None:
    current = await current_revision(engine)
    head = head_revision()
    if current != head:
        raise NeedsInterventionError(
            f"database schema is at {current or 'nothing'}, code expects {head}: "
            "run `exchange-analytics db upgrade`"
        )


def upgrade(settings: Settings, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(settings), revision)
