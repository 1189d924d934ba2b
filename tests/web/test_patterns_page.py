"""The patterns page shows each stored §16 record beside its baseline, with intervals."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from exchange_analytics.config.settings import Settings
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.track_records import upsert_track_records
from tests.web.conftest import AS_OF, PAIR

RECORD = {
    "currency_pair": PAIR,
    "pattern_type": "composite_signal",
    "direction": "BUY",
    "window_days": 90,
    "period_from": AS_OF - timedelta(days=90),
    "period_to": AS_OF,
    "computed_at": AS_OF,
    "signals": 41,
    "take_profit": 14,
    "stop_loss": 21,
    "ambiguous": 2,
    "open": 4,
    "hit_rate": 0.4,
    "hit_rate_low": 0.255,
    "hit_rate_high": 0.565,
    "expectancy_r": 0.12,
    "baseline_entries": 18000,
    "baseline_hit_rate": 0.46,
    "baseline_expectancy_r": 0.31,
    "edge": -0.06,
    "edge_low": -0.21,
    "edge_high": 0.09,
}


@pytest.fixture
def recorded(fresh_filled: Settings) -> Settings:
    async def store() -> None:
        engine = build_engine(fresh_filled)
        try:
            async with engine.begin() as conn:
                await upsert_track_records(conn, [RECORD])
        finally:
            await engine.dispose()

    asyncio.run(store())
    return fresh_filled


async def test_record_beside_its_baseline(recorded: Settings, client_for) -> None:  # type: ignore[no-untyped-def]
    async with client_for(recorded) as http:
        body = (await http.get("/api/patterns/record", params={"pair": "usd_jpy"})).json()
        page = await http.get("/patterns")
        other = (await http.get("/api/patterns/record", params={"pair": PAIR})).json()
    assert body["available"] is True and len(body["records"]) == 1
    record = body["records"][0]
    assert record["hit_rate_low"] == 0.255 and record["baseline_hit_rate"] == 0.46
    assert record["period_to"] == "2026-07-01T12:02:00Z"
    assert other == body
    assert page.status_code == 200
    text = page.text
    assert "composite_signal" in text and "40 %" in text and "[26–56]" in text
    assert "46 %" in text and "n=18000" in text
    assert "-6 pp" in text and "[-21, +9]" in text
    assert "+0.12" in text and "+0.31" in text


async def test_no_record_yet_is_said(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/patterns/record")).json()
    assert body == {"available": True, "reason": "no track record computed yet", "records": []}
    assert "no track record computed yet" in (await client.get("/patterns")).text


async def test_a_database_without_migration_0003_says_so(  # type: ignore[no-untyped-def]
    fresh_filled: Settings, client_for
) -> None:
    filled = fresh_filled
    from sqlalchemy import text

    engine = build_engine(filled)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE pattern_track_records"))
    finally:
        await engine.dispose()
    async with client_for(filled) as http:
        body = (await http.get("/api/patterns/record")).json()
        page = await http.get("/patterns")
    assert body["available"] is False and "migration 0003" in body["reason"]
    assert page.status_code == 200 and "no pattern_track_records table" in page.text
