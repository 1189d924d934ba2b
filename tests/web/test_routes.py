"""The dashboard's pages and JSON endpoints on a real database (SQLite and PostgreSQL) filled
by demo cycles and a replay: what they show, and how they refuse bad input."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.web.conftest import AS_OF, PAIR


async def test_overview_shows_pairs_health_runs_and_outbox(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    page = response.text
    assert 'href="/pairs/USD_JPY"' in page
    assert "Health:" in page and "data_freshness[USD/JPY]" in page
    assert "Recent runs" in page and "system_cycle" in page
    assert page.count('<rect class="run-') == 2  # one sparkline bar per run
    assert "Active alerts" in page and "Notifications" in page


async def test_pairs_endpoint_gives_last_bar_and_age(client: httpx.AsyncClient) -> None:
    pairs = (await client.get("/api/pairs")).json()["pairs"]
    assert [p["pair"] for p in pairs] == [PAIR]
    assert pairs[0]["last_bar"] == "2026-07-01T12:00:00Z"
    # the clock is AS_OF + 7 min = 12:09; the 12:00 bar closed at 12:05
    assert pairs[0]["age_seconds"] == 4 * 60 and pairs[0]["age"] == "4m"
    assert pairs[0]["initialization"] == "complete"


@pytest.mark.parametrize("tf", ["5m", "1h", "4h", "1d"])
async def test_candles_come_with_their_indicators(client: httpx.AsyncClient, tf: str) -> None:
    body = (await client.get("/api/candles", params={"pair": PAIR, "tf": tf})).json()
    candles = body["candles"]
    assert body["timeframe"] == tf and len(candles) > 20
    times = [c["time"] for c in candles]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(c["low"] <= min(c["open"], c["close"]) for c in candles)
    assert {r["time"] for r in body["rsi"]} <= set(times)
    assert body["bb"] and body["macd"]
    bb = body["bb"][-1]
    assert bb["lower"] < bb["middle"] < bb["upper"]


async def test_candles_are_bounded_and_keep_the_newest(client: httpx.AsyncClient) -> None:
    full = (await client.get("/api/candles", params={"pair": PAIR, "tf": "5m"})).json()
    few = (await client.get("/api/candles", params={"pair": PAIR, "tf": "5m", "limit": 10})).json()
    assert len(few["candles"]) == 10 and few["truncated"] is True
    assert few["candles"] == full["candles"][-10:]
    too_many = await client.get("/api/candles", params={"pair": PAIR, "limit": 999_999})
    assert too_many.status_code == 400
    assert "limit=999999 is out of range" in too_many.json()["error"]


async def test_candles_honour_the_range(client: httpx.AsyncClient) -> None:
    start, end = "2026-06-30T00:00:00Z", "2026-06-30T06:00:00"
    body = (
        await client.get(
            "/api/candles", params={"pair": "usdjpy", "tf": "1h", "from": start, "to": end}
        )
    ).json()
    assert body["candles"][0]["time"] == int(
        (AS_OF - timedelta(days=1, hours=12, minutes=2)).timestamp()
    )
    assert len(body["candles"]) == 7 and body["truncated"] is False


async def test_detections_carry_conditions_and_signal_outcomes(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/api/detections", params={"pair": PAIR, "limit": 500})).json()
    found = body["detections"]
    assert found, "the replay stored detections"
    stamps = [d["time"] for d in found]
    assert stamps == sorted(stamps, reverse=True)
    first = found[0]
    assert {"pattern", "direction", "confidence", "conditions", "outcome"} <= first.keys()
    assert any(d["conditions"] for d in found)
    signals = [d for d in found if d["decision"] == "new" and d["take_profit"] is not None]
    assert signals and all(
        d["outcome"]["result"] in ("take_profit", "stop_loss", "ambiguous", "open") for d in signals
    )
    assert all(d["outcome"] is None for d in found if d["decision"] != "new")
    only = (
        await client.get("/api/detections", params={"pair": PAIR, "signals": "1", "limit": 500})
    ).json()["detections"]
    assert {d["decision"] for d in only} == {"new"} and len(only) < len(found)


async def test_detections_filter_and_page(client: httpx.AsyncClient) -> None:
    everything = (await client.get("/api/detections", params={"pair": PAIR, "limit": 500})).json()
    pattern = everything["detections"][0]["pattern"]
    filtered = (
        await client.get("/api/detections", params={"pair": PAIR, "pattern": pattern})
    ).json()["detections"]
    assert filtered and {d["pattern"] for d in filtered} == {pattern}
    page = (
        await client.get("/api/detections", params={"pair": PAIR, "limit": 2, "offset": 1})
    ).json()
    assert [d["id"] for d in page["detections"]] == [d["id"] for d in everything["detections"][1:3]]
    assert page["next_offset"] == 3
    unknown = await client.get("/api/detections", params={"pair": PAIR, "pattern": "moon"})
    assert unknown.status_code == 400 and "pattern='moon'" in unknown.json()["error"]


async def test_pair_page_lists_signals_and_filters_them(client: httpx.AsyncClient) -> None:
    page = await client.get("/pairs/USD_JPY", params={"tf": "5m"})
    assert page.status_code == 200
    assert 'data-pair="USD/JPY"' in page.text and 'data-tf="5m"' in page.text
    assert "<script>" not in page.text  # CSP: scripts only from files
    none = await client.get("/pairs/USD_JPY", params={"direction": "SELL", "to": "2000-01-01"})
    assert none.status_code == 200 and "no signal matches" in none.text


async def test_runs_and_health_endpoints(client: httpx.AsyncClient) -> None:
    runs = (await client.get("/api/runs", params={"limit": 1})).json()["runs"]
    assert len(runs) == 1 and runs[0]["status"] == "success"
    health = (await client.get("/api/health")).json()
    assert health["status"] in ("healthy", "degraded", "unhealthy")
    assert {"database", "provider", "last_run"} <= health["components"].keys()


async def test_track_record_endpoint_answers_with_or_without_the_table(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/api/patterns/record")).json()
    assert isinstance(body["records"], list)
    assert body["available"] or "pattern_track_records" in body["reason"]
    page = await client.get("/patterns")
    assert page.status_code == 200 and "Track record" in page.text


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/api/candles?pair=EUR/USD", 404, "unknown pair EUR/USD"),
        ("/api/candles?pair=XXXYYY", 404, "unknown pair"),
        ("/api/candles", 400, "pair is missing"),
        ("/api/candles?pair=USD/JPY&tf=2h", 400, "tf='2h' is not a timeframe"),
        ("/api/candles?pair=USD/JPY&from=yesterday", 400, "from='yesterday' is not a date"),
        ("/api/candles?pair=USD/JPY&from=2026-07-02&to=2026-07-01", 400, "is after"),
        ("/api/detections?pair=USD/JPY&direction=UP", 400, "direction='UP'"),
        ("/api/detections?pair=USD/JPY&limit=x", 400, "limit='x' is not a whole number"),
        ("/api/runs?limit=0", 400, "out of range"),
        ("/api/nothing", 404, "no page at /api/nothing"),
    ],
)
async def test_bad_api_input_is_json_with_the_reason(
    client: httpx.AsyncClient, path: str, status: int, needle: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert needle in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/pairs/EUR_USD", 404, "unknown pair EUR/USD"),
        ("/pairs/USD_JPY?tf=7m", 400, "tf=&#39;7m&#39; is not a timeframe"),
        ("/pairs/USD_JPY?from=31/12/2026", 400, "is not a date"),
        ("/patterns?pair=GBP/USD", 404, "unknown pair GBP/USD"),
        ("/nowhere", 404, "no page at /nowhere"),
    ],
)
async def test_bad_page_input_is_a_page_with_the_reason(
    client: httpx.AsyncClient, path: str, status: int, needle: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert needle in response.text


async def test_signal_outcomes_match_the_bars_after_them(client: httpx.AsyncClient) -> None:
    """Each outcome equals ``evaluation.outcomes.outcome`` over the next 288 5m bars."""
    from exchange_analytics.evaluation.outcomes import DEFAULT_HORIZON, outcome

    signals = (
        await client.get("/api/detections", params={"pair": PAIR, "signals": "1", "limit": 500})
    ).json()["detections"]
    checked = 0
    for signal in signals:
        if signal["take_profit"] is None:
            continue
        bars = (
            await client.get(
                "/api/candles",
                params={
                    "pair": PAIR,
                    "tf": "5m",
                    "from": signal["time"] + 300,
                    "to": signal["time"] + 300 * DEFAULT_HORIZON,
                },
            )
        ).json()["candles"]
        expected = outcome(
            signal["direction"],
            signal["take_profit"],
            signal["stop_loss"],
            [b["high"] for b in bars],
            [b["low"] for b in bars],
        )
        assert (signal["outcome"]["result"], signal["outcome"]["bars"]) == expected
        checked += 1
    assert checked >= 3
