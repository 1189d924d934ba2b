"""The shared retry loop and redaction (SPEC §3.2, §14), against a real local HTTP server."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from structlog.testing import capture_logs

from exchange_analytics.errors import ConfigurationError, NotifierUnavailable, ProviderUnavailable
from exchange_analytics.providers.http import (
    DEFAULT_TIMEOUT,
    RetryPolicy,
    build_client,
    parse_retry_after,
    redact_url,
    scrub,
    send_with_retry,
)
from tests.support.http_server import LocalServer, Request, Response, serve

FAST = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.05)


def scripted(*responses: Response) -> Callable[[Request], Response]:
    """Answer with ``responses`` in order, then 200 "ok" forever."""
    queue = list(responses)
    return lambda request: queue.pop(0) if queue else Response(200, {"ok": True})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client(timeout=httpx.Timeout(2.0, connect=1.0)) as c:
        yield c


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LocalServer]:
    """One real server for the module (starting and stopping one costs ~0.5 s)."""
    with serve(lambda r: Response(200, {"ok": True})) as server:
        yield server


@pytest.fixture
def server(shared_server: LocalServer) -> LocalServer:
    """The shared server with a fresh request log; tests set ``server.handler``."""
    shared_server.requests.clear()
    return shared_server


# --- backoff and Retry-After -------------------------------------------------------------


def test_default_timeouts_are_the_spec_values() -> None:
    assert DEFAULT_TIMEOUT.connect == 5.0
    assert DEFAULT_TIMEOUT.read == 15.0


@pytest.mark.parametrize("retry", range(8))
def test_full_jitter_stays_within_zero_and_the_capped_exponential(retry: int) -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=20.0)
    ceiling = min(20.0, 0.5 * 2**retry)
    rng = random.Random(retry)
    waits = [policy.backoff(retry, rng.random) for _ in range(2000)]
    assert all(0.0 <= w <= ceiling for w in waits)
    # full jitter really spreads over the whole range (not a fixed delay plus a little noise)
    assert min(waits) < 0.05 * ceiling
    assert max(waits) > 0.95 * ceiling
    assert policy.backoff(retry, lambda: 1.0) == pytest.approx(ceiling)
    assert policy.backoff(retry, lambda: 0.0) == 0.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("120", 120.0, id="seconds"),
        pytest.param("0.1", 0.1, id="fractional"),
        pytest.param(" 7 ", 7.0, id="whitespace"),
        pytest.param("-5", 0.0, id="negative-means-now"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
        pytest.param("nan", None, id="nan"),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date_is_relative_to_now() -> None:
    now = datetime(2025, 11, 20, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    earlier = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now) == pytest.approx(90.0)
    assert parse_retry_after(earlier, now) == 0.0


def test_negative_policy_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="MAX_RETRIES"):
        RetryPolicy(max_retries=-1)


# --- redaction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://api.example.com/v1/x?symbol=USDJPY%3DX&token=s3cr3t&period1=1",
            "https://api.example.com/v1/x?symbol=USDJPY%3DX&token=***&period1=1",
            id="query-token",
        ),
        pytest.param(
            "https://h/p?apikey=abc&access_token=def&crumb=ghi&interval=5m",
            "https://h/p?apikey=***&access_token=***&crumb=***&interval=5m",
            id="several-keys",
        ),
        pytest.param(
            "postgresql://user:hunter2@db:5432/fx",
            "postgresql://user:***@db:5432/fx",
            id="userinfo-password",
        ),
        pytest.param(
            "https://discord.com/api/webhooks/123456/AbC-def_ghi?wait=true",
            "https://discord.com/api/webhooks/123456/***?wait=true",
            id="discord-webhook",
        ),
        pytest.param(
            "https://query1.finance.yahoo.com/v8/finance/chart/USDJPY=X?interval=5m",
            "https://query1.finance.yahoo.com/v8/finance/chart/USDJPY=X?interval=5m",
            id="nothing-secret",
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_scrub_masks_known_secrets_and_ignores_short_or_missing_ones() -> None:
    text = "token abcd-1234-efgh leaked, also x"
    assert scrub(text, ["abcd-1234-efgh", None, "x"]) == "token *** leaked, also x"


# --- the retry loop against a real server -----------------------------------------------


async def test_429_is_retried_after_retry_after(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = scripted(Response(429, "slow down", {"Retry-After": "0.1"}))
    with capture_logs() as logs:
        sent = await send_with_retry(
            client, "GET", f"{server.base_url}/chart", policy=FAST, context="yahoo USD/JPY 5m"
        )
    assert sent.response.status_code == 200
    assert sent.attempts == 2
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.1
    retry = [e for e in logs if e["event"] == "provider.retry"]
    assert retry == [
        {
            "event": "provider.retry",
            "log_level": "warning",
            "url": f"{server.base_url}/chart",
            "attempt": 1,
            "status": 429,
            "error": "HTTP 429",
            "wait_s": 0.1,
            "retry_after": 0.1,
        }
    ]


async def test_5xx_every_time_gives_up_after_max_retries_with_the_count(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = lambda r: Response(503, "down")
    with pytest.raises(ProviderUnavailable) as caught:
        await send_with_retry(
            client, "GET", f"{server.base_url}/x", policy=FAST, context="yahoo USD/JPY 5m"
        )
    assert len(server.requests) == 4  # the first try plus MAX_RETRIES=3
    message = str(caught.value)
    assert message.startswith("yahoo USD/JPY 5m: HTTP 503 after 4 attempt(s) (MAX_RETRIES=3)")


async def test_zero_retries_means_one_attempt(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = lambda r: Response(500, "boom")
    with pytest.raises(ProviderUnavailable, match="after 1 attempt"):
        await send_with_retry(client, "GET", server.base_url, policy=RetryPolicy(max_retries=0))
    assert len(server.requests) == 1


async def test_client_errors_are_returned_not_retried(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = lambda r: Response(404, {"error": "no such symbol"})
    sent = await send_with_retry(client, "GET", server.base_url, policy=FAST)
    assert sent.response.status_code == 404
    assert sent.attempts == 1
    assert len(server.requests) == 1


async def test_timeouts_are_retried_then_reported(server: LocalServer) -> None:
    server.handler = lambda r: Response(200, "late", delay=1.0)
    async with build_client(timeout=httpx.Timeout(0.2)) as short:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match=r"timed out \(ReadTimeout\) after 2"):
            await send_with_retry(short, "GET", server.base_url, policy=RetryPolicy(1, 0.01, 0.01))
        assert time.monotonic() - started < 0.9
    assert len(server.requests) == 2


async def test_dropped_connection_is_retried(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = scripted(Response(drop=True))
    sent = await send_with_retry(client, "GET", server.base_url, policy=FAST)
    assert sent.response.status_code == 200
    assert sent.attempts == 2


async def test_connection_refused_is_provider_unavailable(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderUnavailable, match=r"connection failed \(ConnectError"):
        await send_with_retry(client, "GET", f"http://127.0.0.1:{port}/", policy=FAST)


async def test_retry_after_longer_than_we_wait_stops_at_once(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = lambda r: Response(429, "", {"Retry-After": "3600"})
    with pytest.raises(ProviderUnavailable, match="retry after 3600 s, longer than the 60 s"):
        await send_with_retry(client, "GET", server.base_url, policy=FAST)
    assert len(server.requests) == 1


async def test_a_wait_that_would_pass_the_deadline_is_not_started(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = lambda r: Response(502, "bad gateway")
    policy = RetryPolicy(max_retries=5, base_delay_s=5.0, max_delay_s=5.0)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="would pass the time budget"):
        await send_with_retry(
            client,
            "GET",
            server.base_url,
            policy=policy,
            deadline=time.monotonic() + 1.0,
            rng=lambda: 1.0,
        )
    assert time.monotonic() - started < 0.9
    assert len(server.requests) == 1


async def test_one_attempt_cannot_outlive_the_deadline(server: LocalServer) -> None:
    server.handler = lambda r: Response(200, "late", delay=3.0)
    async with build_client() as production:  # the SPEC's 15 s read timeout
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            await send_with_retry(
                production, "GET", server.base_url, policy=FAST, deadline=time.monotonic() + 0.3
            )
        assert time.monotonic() - started < 1.5


async def test_secret_query_values_never_reach_messages_or_logs(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = lambda r: Response(500, "boom")
    with capture_logs() as logs, pytest.raises(ProviderUnavailable) as caught:
        await send_with_retry(
            client,
            "GET",
            f"{server.base_url}/q",
            params={"apikey": "SECRET-VALUE-123"},
            policy=FAST,
        )
    assert "SECRET-VALUE-123" not in str(caught.value)
    assert "apikey=***" in str(caught.value)
    assert logs
    assert all("SECRET-VALUE-123" not in repr(event) for event in logs)


async def test_the_unavailable_class_is_chosen_by_the_caller(
    client: httpx.AsyncClient, server: LocalServer
) -> None:
    server.handler = lambda r: Response(500, "boom")
    with capture_logs() as logs, pytest.raises(NotifierUnavailable):
        await send_with_retry(
            client,
            "POST",
            server.base_url,
            policy=RetryPolicy(max_retries=1, base_delay_s=0.01),
            unavailable=NotifierUnavailable,
            event_prefix="discord",
        )
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["discord.retry"]


async def test_an_unusable_url_is_a_configuration_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="check the base URL setting"):
        await send_with_retry(client, "GET", "ftp://example.invalid/x", policy=FAST)
