"""``scripts/test/api_connection_test.py``: can we reach the provider and Discord?"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import PROVIDERS, Settings, load_settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.errors import ConfigurationError, ExchangeAnalyticsError


async def check_provider(
    settings: Settings, name: str, pairs: list[CurrencyPair]
) -> list[dict[str, Any]]:
    from exchange_analytics.pipeline.runner import make_provider

    provider = make_provider(settings, name)
    results = []
    try:
        for pair in pairs:
            started = time.perf_counter()
            entry: dict[str, Any] = {"check": f"provider {name}", "pair": str(pair)}
            try:
                candle = await provider.ping(pair, datetime.now(UTC))
                entry.update(
                    ok=True,
                    latest_bar=candle.timestamp.isoformat() if candle else None,
                    close=candle.close if candle else None,
                    detail="no closed 5m bar in the last days (market closed?)"
                    if candle is None
                    else "",
                )
            except ExchangeAnalyticsError as exc:
                entry.update(ok=False, detail=redact(str(exc)))
            entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            results.append(entry)
    finally:
        await provider.aclose()
    return results


async def check_discord(settings: Settings) -> list[dict[str, Any]]:
    from exchange_analytics.pipeline.notify import build_transports

    transports = build_transports(settings)
    if not transports:
        return [
            {"check": "discord", "ok": True, "detail": "not configured: notifications disabled"}
        ]
    results = []
    try:
        for channel, transport in transports.items():
            started = time.perf_counter()
            entry: dict[str, Any] = {
                "check": f"discord {channel}",
                "destination": transport.destination,
            }
            try:
                info = await transport.validate_webhook(deadline=time.monotonic() + 15)
                entry.update(ok=True, detail=f"valid: {info.get('name') or info.get('id')}")
            except ExchangeAnalyticsError as exc:
                entry.update(ok=False, detail=redact(str(exc)))
            entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            results.append(entry)
    finally:
        for t in {id(t): t for t in transports.values()}.values():
            await t.aclose()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="api_connection_test.py",
        description="Provider reachability per pair and Discord webhook validity (posts nothing).",
    )
    parser.add_argument("--provider", choices=PROVIDERS, help="default: MARKET_DATA_PROVIDER")
    parser.add_argument("--pairs", help="comma-separated, default: CURRENCY_PAIRS")
    parser.add_argument("--skip-discord", action="store_true")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        pairs = [
            CurrencyPair.parse(p)
            for p in (args.pairs.split(",") if args.pairs else settings.currency_pairs)
        ]

        async def run() -> list[dict[str, Any]]:
            results = await check_provider(
                settings, args.provider or settings.market_data_provider, pairs
            )
            if not args.skip_discord:
                results += await check_discord(settings)
            return results

        results = asyncio.run(run())
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            mark = "ok  " if r["ok"] else "FAIL"
            where = r.get("pair") or r.get("destination") or ""
            latency = r.get("latency_ms", "")
            detail = f"{r.get('detail', '')} {r.get('latest_bar') or ''}".strip()
            print(f"{mark} {r['check']:<18} {where:<22} {latency:>8} ms  {detail}")
    sys.exit(0 if all(r["ok"] for r in results) else 1)
