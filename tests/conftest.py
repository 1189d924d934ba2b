"""Fixtures every test layer uses: real databases (PostgreSQL and SQLite), migrated with
alembic, settings pointing at a temporary installation, and real local HTTP servers.

PostgreSQL: ``TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres).
Without a server the PostgreSQL tests skip with the reason, unless ``REQUIRE_POSTGRES=1``
(CI), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from exchange_analytics.config.settings import Settings, load_settings
from tests.support.http_server import Handler, LocalServer, serve

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Real FX candles (copied byte for byte from ../shared/data/real; see PROVENANCE.md there),
#: kept in the repository so a clean clone anywhere has them.
REAL_DATA = PROJECT_ROOT / "tests" / "data" / "real"
os.environ.setdefault("EXCHANGE_ANALYTICS_REAL_DATA", str(REAL_DATA))
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


async def _pg_execute(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _migrate(url: str, home: Path) -> None:
    from exchange_analytics.storage.schema import upgrade

    settings = load_settings(
        {"DATABASE_URL": url, "EXCHANGE_ANALYTICS_HOME": str(home)}, env_file=False
    )
    upgrade(settings)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        asyncio.run(_pg_execute(url, "SELECT 1"))
    except Exception as exc:  # any failure means "no server here"
        message = (
            f"PostgreSQL not reachable at {urlsplit(url).hostname}:{urlsplit(url).port}: {exc}"
        )
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(f"{message} (set TEST_POSTGRES_URL, or REQUIRE_POSTGRES=1 to fail instead)")
    return url


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per session; each test gets a copy (CREATE ... TEMPLATE)."""
    name = f"ea_tmpl_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_execute(pg_admin_url, f'CREATE DATABASE "{name}"'))
    _migrate(_with_db(pg_admin_url, name), tmp_path_factory.mktemp("pgtmpl"))
    yield name
    asyncio.run(_pg_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"ea_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_execute(pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _with_db(pg_admin_url, name)
    asyncio.run(_pg_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("sqlitetmpl")
    path = home / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}", home)
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database file for one test."""
    target = tmp_path / "data" / "exchange_analytics.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a temporary installation at ``tmp_path`` (no .env unless written)."""

    def build(database_url: str | None = None, **env: Any) -> Settings:
        environ = {
            "EXCHANGE_ANALYTICS_HOME": str(tmp_path),
            "LOG_FILE": str(tmp_path / "logs"),
            "MARKET_DATA_PROVIDER": "demo",
            **({"DATABASE_URL": database_url} if database_url else {}),
            **{k: str(v) for k, v in env.items()},
        }
        return load_settings(environ, env_file=False)

    return build


@pytest.fixture(autouse=True)
def isolated_logging_config() -> Iterator[None]:
    """Every test starts from the same structlog configuration.

    Commands run in-process (CliRunner, the dashboard app) call ``configure_logging``, which
    installs an INFO-level filtering logger; a later test that captures DEBUG events (the
    providers' ``provider.request``) then saw nothing, depending on test order.
    """
    import structlog

    from exchange_analytics.logs import setup

    saved, configured = structlog.get_config(), setup._configured
    yield
    structlog.configure(**saved)
    setup._configured = configured


@pytest.fixture
def local_server() -> Iterator[Callable[[Handler], LocalServer]]:
    """Start real HTTP servers on 127.0.0.1; all are stopped after the test."""
    servers: list[LocalServer] = []

    def start(handler: Handler) -> LocalServer:
        server = LocalServer(handler).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


__all__ = ["PROJECT_ROOT", "REAL_DATA", "serve"]
