"""Dashboard fixtures: a database filled by real demo cycles plus a replay (so it holds
detections and signals), and the real app driven through httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from exchange_analytics.config.settings import Settings
from exchange_analytics.patterns.thresholds import build_thresholds
from exchange_analytics.pipeline.replay import replay
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.web.app import create_app
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


@pytest.fixture
def filled(db_url: str, make_settings: Callable[..., Settings]) -> Settings:
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
