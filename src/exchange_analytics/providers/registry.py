"""``MARKET_DATA_PROVIDER`` name -> provider instance, the one place that knows every provider.

Imports are lazy so that choosing ``demo`` never imports httpx-based code paths it does not
use, and ``demo`` (numpy) is not imported for the HTTP providers.
"""

from __future__ import annotations

from collections.abc import Callable

from exchange_analytics.errors import ConfigurationError
from exchange_analytics.providers.base import MarketDataProvider
from exchange_analytics.providers.http import MAX_RETRIES

PROVIDER_NAMES = ("yahoo", "oanda", "demo")


def build_provider(
    name: str,
    *,
    yahoo_base_url: str | None = None,
    oanda_base_url: str | None = None,
    oanda_token: str | None = None,
    oanda_environment: str = "practice",
    max_retries: int = MAX_RETRIES,
    demo_factory: Callable[[], MarketDataProvider] | None = None,
) -> MarketDataProvider:
    """The provider called ``name``; ConfigurationError (exit 2) for an unknown name or for
    missing settings (an OANDA token), before any network traffic."""
    key = (name or "").strip().lower()
    if key == "yahoo":
        from exchange_analytics.providers.yahoo import DEFAULT_BASE_URL, YahooProvider

        return YahooProvider(base_url=yahoo_base_url or DEFAULT_BASE_URL, max_retries=max_retries)
    if key == "oanda":
        from exchange_analytics.providers.oanda import OandaProvider

        return OandaProvider(
            base_url=oanda_base_url or None,
            token=oanda_token,
            environment=oanda_environment,
            max_retries=max_retries,
        )
    if key == "demo":
        if demo_factory is not None:
            return demo_factory()
        from exchange_analytics.providers.demo import DemoProvider

        provider: MarketDataProvider = DemoProvider()
        return provider
    if key == "csv":
        raise ConfigurationError(
            "MARKET_DATA_PROVIDER=csv is not a live source: load history with "
            "`exchange-analytics import FILE --pair P --timeframe 5m` and run with one of: "
            + ", ".join(PROVIDER_NAMES)
        )
    raise ConfigurationError(
        f"MARKET_DATA_PROVIDER={name!r} is not a known provider; accepted: "
        + ", ".join(PROVIDER_NAMES)
    )
