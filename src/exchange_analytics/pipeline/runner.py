"""Builds what a cycle needs (engine, provider), runs it, and always disposes of them."""

from __future__ import annotations

from exchange_analytics.config.settings import Settings
from exchange_analytics.pipeline.cycle import Cycle, CycleOptions, ProgressCallback
from exchange_analytics.pipeline.report import CycleReport
from exchange_analytics.providers.base import MarketDataProvider
from exchange_analytics.storage.engine import (
    CONNECTION_ERRORS,
    build_engine,
    ping,
    translate_db_error,
)
from exchange_analytics.storage.schema import ensure_migrated


def make_provider(settings: Settings, name: str | None = None) -> MarketDataProvider:
    from exchange_analytics.providers.registry import build_provider

    return build_provider(
        name or settings.market_data_provider,
        yahoo_base_url=settings.yahoo_base_url,
        oanda_base_url=settings.oanda_base_url,
        oanda_token=settings.oanda_api_token,
        oanda_environment=settings.oanda_environment,
        max_retries=settings.max_retries,
        csv_dir=settings.csv_dir,
        csv_tz=settings.csv_tz,
    )


async def run_cycle(
    settings: Settings,
    options: CycleOptions,
    *,
    provider: MarketDataProvider | None = None,
    progress: ProgressCallback | None = None,
    cycle_class: type[Cycle] | None = None,
) -> CycleReport:
    engine = build_engine(settings)
    own_provider = provider is None
    provider = provider or make_provider(settings, options.provider)
    try:
        await ping(engine, settings)
        try:
            await ensure_migrated(engine)
        except CONNECTION_ERRORS as exc:
            raise translate_db_error(settings, exc) from exc
        cls = cycle_class or default_cycle_class()
        return await cls(settings, options, engine, provider, progress).run()
    finally:
        if own_provider:
            await provider.aclose()
        await engine.dispose()


def default_cycle_class() -> type[Cycle]:
    return Cycle
