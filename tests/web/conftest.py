"""Dashboard fixtures: a database filled by real demo cycles plus a replay (so it holds
detections and signals), and the real app driven through httpx."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.patterns.thresholds import build_thresholds
from exchange_analytics.pipeline.replay import replay
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.web.app import create_app
from tests.conftest import _pg_execute, _with_db
from tests.support.cycle import SMALL_BACKFILL, cycle

AS_OF = datetime(2026, 7, 1, 12, 2, tzinfo=UTC)  # a Wednesday
PAIR = "USD/JPY"


async def fill(settings: Settings) -> None:
    """One demo backfill cycle and a two-day replay: bars, indicators, runs, detections."""
    await cycle(settings, AS_OF)
    await cycle(settings, AS_OF + timedelta(minutes=5))
    engine = build_engine(settings)
    try:
        await replay(
            engine,
            pair=PAIR,
            start=AS_OF - timedelta(days=2),
            end=AS_OF,
            day_boundary=settings.day_boundary,
            thresholds=build_thresholds(settings.pattern_thresholds),
            cooldown_minutes=settings.notify_cooldown_minutes,
            notify=False,
            is_demo=True,
        )
    finally:
        await engine.dispose()


def _settings(url: str, home: Path) -> Settings:
    environ = {
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "LOG_FILE": str(home / "logs"),
        "MARKET_DATA_PROVIDER": "demo",
        "DATABASE_URL": url,
        **{k: str(v) for k, v in SMALL_BACKFILL.items()},
    }
    return load_settings(environ, env_file=False)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared_filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """One filled database per engine for the whole session: the dashboard cannot write, so
    tests that only read share it (tests that change the database use ``fresh_filled``)."""
    home = tmp_path_factory.mktemp(f"dashboard_{request.param}")
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = home / "data" / "exchange_analytics.db"
        target.parent.mkdir(parents=True)
        shutil.copyfile(template, target)
        settings = _settings(f"sqlite+aiosqlite:///{target}", home)
        asyncio.run(fill(settings))
        yield settings
        return
    admin: str = request.getfixturevalue("pg_admin_url")
    name = f"ea_dash_{uuid.uuid4().hex[:10]}"
    statement = f'CREATE DATABASE "{name}" TEMPLATE "{request.getfixturevalue("pg_template")}"'
    asyncio.run(_pg_execute(admin, statement))
    try:
        settings = _settings(_with_db(admin, name), home)
        asyncio.run(fill(settings))
        yield settings
    finally:
        asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def filled(shared_filled: Settings) -> Settings:
    return shared_filled


@pytest.fixture
def fresh_filled(db_url: str, make_settings: Callable[..., Settings]) -> Settings:
    """A filled database of the test's own, for tests that change it."""
    settings = make_settings(db_url, **SMALL_BACKFILL)
    asyncio.run(fill(settings))
    return settings


def fixed_clock() -> datetime:
    return AS_OF + timedelta(minutes=7)


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Build httpx clients on the real app; their read-only engines are disposed after."""
    apps: list[Any] = []

    def build(settings: Settings, **headers: str) -> httpx.AsyncClient:
        app = create_app(settings, clock=fixed_clock)
        apps.append(app)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://dashboard", headers=headers
        )

    yield build
    for app in apps:
        await app.state.store.dispose()


@pytest.fixture
async def client(
    filled: Settings, client_for: Callable[..., httpx.AsyncClient]
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(filled) as http:
        yield http
