"""The dashboard only reads, only answers GET, sends its security headers, and with
DASHBOARD_TOKEN lets nobody in without it; a database that is down is a 503 with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import text

from exchange_analytics.config.settings import Settings
from exchange_analytics.storage.dashboard_queries import DashboardStore, is_read_only
from exchange_analytics.web.security import COOKIE

TOKEN = "dash-0123456789abcdef-secret"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_only_get_is_answered(client: httpx.AsyncClient, method: str) -> None:
    for path in ("/", "/api/candles?pair=USD/JPY", "/login", "/static/dashboard.css"):
        response = await client.request(method, path)
        assert response.status_code == 405, path
        assert response.headers["allow"] == "GET, HEAD"


async def test_security_headers_on_pages_api_errors_and_static(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/api/pairs", "/api/candles?pair=EUR/USD", "/static/pair.js", "/x"):
        headers = (await client.get(path)).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        cached = path.startswith("/static/")
        assert (headers.get("cache-control") == "no-store") is not cached, path


async def test_the_engine_cannot_write(filled: Settings) -> None:
    store = DashboardStore(filled)
    try:
        async with store.connect() as conn:
            assert await is_read_only(conn)
            before = (await conn.execute(text("SELECT count(*) FROM processing_runs"))).scalar()
        with pytest.raises(sqlalchemy.exc.DBAPIError) as refused:
            async with store.engine.begin() as conn:
                await conn.execute(text("DELETE FROM processing_runs"))
        assert "read" in str(refused.value).lower()  # read-only database / transaction
        async with store.connect() as conn:
            after = (await conn.execute(text("SELECT count(*) FROM processing_runs"))).scalar()
        assert after == before > 0
    finally:
        await store.dispose()


def _unreachable(make_settings: Callable[..., Settings], kind: str, tmp_path: Path) -> Settings:
    if kind == "sqlite":
        return make_settings(f"sqlite+aiosqlite:///{tmp_path}/missing/none.db")
    return make_settings("postgresql+asyncpg://nobody:pw-hidden@127.0.0.1:1/none")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_database_down_is_503_with_one_line(
    make_settings: Callable[..., Settings], client_for: Any, tmp_path: Path, kind: str
) -> None:
    async with client_for(_unreachable(make_settings, kind, tmp_path)) as http:
        api = await http.get("/api/pairs")
        page = await http.get("/")
        chart = await http.get("/pairs/USD_JPY")
    assert api.status_code == page.status_code == chart.status_code == 503
    reason = api.json()["error"]
    assert "\n" not in reason and ("none.db" in reason or "127.0.0.1:1/none" in reason)
    assert "pw-hidden" not in reason and "pw-hidden" not in page.text
    assert reason.split(":")[0] in page.text


async def test_a_token_is_required_for_every_request(
    filled: Settings, client_for: Any, make_settings: Callable[..., Settings]
) -> None:
    guarded = filled.with_overrides(dashboard_token=TOKEN)
    async with client_for(guarded) as anonymous:
        api = await anonymous.get("/api/pairs")
        page = await anonymous.get("/pairs/USD_JPY")
        script = await anonymous.get("/static/pair.js")
        wrong = await anonymous.get("/api/pairs", headers={"Authorization": "Bearer nope"})
        login = await anonymous.get("/login")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert script.status_code == 303
    assert wrong.status_code == 401
    assert login.status_code == 200 and 'name="token"' in login.text
    async with client_for(guarded, Authorization=f"Bearer {TOKEN}") as bearer:
        overview = await bearer.get("/")
        pairs = await bearer.get("/api/pairs")
    assert overview.status_code == 200 and pairs.status_code == 200
    assert TOKEN not in overview.text and TOKEN not in pairs.text


async def test_the_login_form_sets_an_httponly_samesite_cookie(
    filled: Settings, client_for: Any
) -> None:
    guarded = filled.with_overrides(dashboard_token=TOKEN)
    async with client_for(guarded) as http:
        refused = await http.post("/login", data={"token": "guess"})
        assert refused.status_code == 303 and refused.headers["location"] == "/login?failed=1"
        assert "set-cookie" not in refused.headers
        failed_page = await http.get("/login?failed=1")
        assert failed_page.status_code == 401 and "not the one configured" in failed_page.text
        accepted = await http.post("/login", data={"token": TOKEN})
        assert accepted.status_code == 303 and accepted.headers["location"] == "/"
        cookie = accepted.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie and TOKEN not in cookie
        assert (await http.get("/")).status_code == 200  # the client keeps the cookie
        assert (await http.get("/api/runs")).status_code == 200
    async with client_for(guarded, Cookie=f"{COOKIE}=forged") as forged:
        assert (await forged.get("/api/runs")).status_code == 401


async def test_without_a_token_login_is_not_a_way_to_post(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/login", data={"token": "x"})).status_code == 405
    assert (await client.get("/login")).status_code == 303


def test_settings_never_show_the_dashboard_token(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(DASHBOARD_TOKEN=TOKEN)
    assert settings.dashboard_token == TOKEN
    assert TOKEN not in repr(settings)
    from exchange_analytics.config.redact import redact

    assert TOKEN not in redact(f"echoed {TOKEN}")


def test_read_only_flag_is_the_databases_word(filled: Settings) -> None:
    async def check() -> bool:
        store = DashboardStore(filled)
        try:
            async with store.connect() as conn:
                return await is_read_only(conn)
        finally:
            await store.dispose()

    assert asyncio.run(check())


async def test_head_is_answered_like_get(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/pairs")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["x-frame-options"] == "DENY"
