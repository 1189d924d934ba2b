"""``MARKET_DATA_PROVIDER`` name -> provider instance, the one place that knows every provider.

Imports are lazy: each provider module is imported only when it is chosen, so ``demo``
(numpy) is not loaded for the HTTP providers and a module that fails to import cannot break
the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from exchange_analytics.errors import ConfigurationError
from exchange_analytics.providers.base import MarketDataProvider
from exchange_analytics.providers.http import MAX_RETRIES

PROVIDER_NAMES = ("yahoo", "oanda", "demo", "csv")


def build_provider(
    name: str,
    *,
    yahoo_base_url: str | None = None,
    oanda_base_url: str | None = None,
    oanda_token: str | None = None,
    oanda_environment: str = "practice",
    max_retries: int = MAX_RETRIES,
    demo_factory: Callable[[], MarketDataProvider] | None = None,
    csv_dir: str | Path | None = None,
    csv_tz: str | None = None,
) -> MarketDataProvider:
    """The provider called ``name``; ConfigurationError (exit 2) for an unknown name or for
    missing settings (an OANDA token, a CSV directory), before any network traffic.

    ``csv_dir`` holds files named like ``USDJPY_5m.csv`` (see ``csv_import.CsvProvider``);
    ``csv_tz`` is the zone of their naive timestamps.
    """
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
        if csv_dir is None:
            raise ConfigurationError(
                "MARKET_DATA_PROVIDER=csv needs a directory of CSV files named like "
                "USDJPY_5m.csv and USDJPY_1h.csv (or load history once with "
                "`exchange-analytics import FILE`)"
            )
        from exchange_analytics.providers.csv_import import CsvProvider

        return CsvProvider(csv_dir, tz=csv_tz)
    raise ConfigurationError(
        f"MARKET_DATA_PROVIDER={name!r} is not a known provider; accepted: "
        + ", ".join(PROVIDER_NAMES)
    )
