"""``ops test-api`` (``scripts/test/api_connection_test.py``): can we reach the provider and
Discord?

It lives in ``pipeline`` because it builds the same provider and Discord transports the cycle
builds (``runner.make_provider``, ``notify.build_transports``). The Discord check is a GET of
the webhook URL (or the bot's channel), which posts nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Required, TypedDict

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.errors import ConfigurationError, ExchangeAnalyticsError
from exchange_analytics.render import Column, table

if TYPE_CHECKING:
    from exchange_analytics.notifications.discord import DiscordTransport
    from exchange_analytics.providers.base import MarketDataProvider


class ConnectionCheck(TypedDict, total=False):
    """One check's result, printed as it is by ``--json`` (keys in this order, as set)."""

    check: Required[str]
    pair: str
    destination: str
    ok: Required[bool]
    latest_bar: str | None
    close: float | None
    detail: Required[str]
    latency_ms: float


async def check_provider(
    settings: Settings, name: str, pairs: Sequence[CurrencyPair]
) -> list[ConnectionCheck]:
    from exchange_analytics.pipeline.runner import make_provider

    provider = make_provider(settings, name)
    try:
        return [await _ping(provider, name, pair) for pair in pairs]
    finally:
        await provider.aclose()


async def _ping(provider: MarketDataProvider, name: str, pair: CurrencyPair) -> ConnectionCheck:
    """The latest closed 5m candle of ``pair``, timed."""
    check, started = f"provider {name}", time.perf_counter()
    try:
        candle = await provider.ping(pair, datetime.now(UTC))
    except ExchangeAnalyticsError as exc:
        entry = ConnectionCheck(check=check, pair=str(pair), ok=False, detail=redact(str(exc)))
    else:
        entry = ConnectionCheck(
            check=check,
            pair=str(pair),
            ok=True,
            latest_bar=candle.timestamp.isoformat() if candle else None,
            close=candle.close if candle else None,
            detail="no closed 5m bar in the last days (market closed?)" if candle is None else "",
        )
    entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return entry


async def check_discord(settings: Settings) -> list[ConnectionCheck]:
    from exchange_analytics.pipeline.notify import build_transports

    transports = build_transports(settings)
    if not transports:
        return [
            ConnectionCheck(
                check="discord", ok=True, detail="not configured: notifications disabled"
            )
        ]
    try:
        return [await _validate(channel, t) for channel, t in transports.items()]
    finally:
        for t in {id(t): t for t in transports.values()}.values():
            await t.aclose()


async def _validate(channel: str, transport: DiscordTransport) -> ConnectionCheck:
    """A GET of the channel's webhook (or the bot's channel), timed; posts nothing."""
    check, started = f"discord {channel}", time.perf_counter()
    try:
        info = await transport.validate_webhook(deadline=time.monotonic() + 15)
    except ExchangeAnalyticsError as exc:
        detail, ok = redact(str(exc)), False
    else:
        detail, ok = f"valid: {info.get('name') or info.get('id')}", True
    entry = ConnectionCheck(check=check, destination=transport.destination, ok=ok, detail=detail)
    entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return entry


def parse_pairs(text: str | None, settings: Settings) -> list[CurrencyPair]:
    """``--pairs P,Q`` (default: CURRENCY_PAIRS); a bad pair is a usage error naming it."""
    names = text.split(",") if text else list(settings.currency_pairs)
    try:
        return [CurrencyPair.parse(name) for name in names]
    except ConfigurationError as exc:
        raise ConfigurationError(f"--pairs: {exc}") from exc


async def check_connections(
    settings: Settings,
    provider: str | None,
    pairs: Sequence[CurrencyPair],
    *,
    skip_discord: bool = False,
) -> list[ConnectionCheck]:
    """One entry per check (``ok``, ``detail``, ``latency_ms``): provider per pair, Discord."""
    results = await check_provider(settings, provider or settings.market_data_provider, pairs)
    if not skip_discord:
        results += await check_discord(settings)
    return results


def all_ok(results: Sequence[ConnectionCheck]) -> bool:
    return all(r["ok"] for r in results)


#: mark, check, where, latency, detail: no header, one space apart (the detail two).
_COLUMNS = [
    Column("", min_width=4),
    Column("", min_width=18),
    Column("", min_width=22),
    Column("", align="right", min_width=11),
    Column(""),
]


def render(results: Sequence[ConnectionCheck]) -> str:
    rows = []
    for r in results:
        detail = f"{r.get('detail', '')} {r.get('latest_bar') or ''}".strip()
        rows.append(
            [
                "ok" if r["ok"] else "FAIL",
                r["check"],
                r.get("pair") or r.get("destination") or "",
                f"{r.get('latency_ms', '')} ms",
                f" {detail}",
            ]
        )
    return table(rows, _COLUMNS, gap=" ", header=False)
