"""DiscordTransport against the Discord stand-in over a real socket (SPEC §8, §14).

Nothing is mocked: every request crosses 127.0.0.1 to ``FakeDiscord``, which enforces the
documented limits and rate-limit headers, so these tests fail if pacing, retries, cutting or
redaction stop working.
"""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from exchange_analytics.errors import ConfigurationError, NotifierRejected, NotifierUnavailable
from exchange_analytics.notifications.discord import (
    DeliveryUnknown,
    DiscordRejected,
    DiscordTransport,
    RateLimited,
    RetryPolicy,
    SentMessage,
)
from exchange_analytics.notifications.formatting import dedupe_marker, marker_text
from exchange_analytics.notifications.limits import violations
from tests.support.fake_discord import (
    BOT_TOKEN,
    CHANNEL_ID,
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    FakeDiscord,
)
from tests.support.http_server import LocalServer, serve

FAST = RetryPolicy(backoff_base_s=0.05, backoff_max_s=0.2)


def _message(text: str) -> dict[str, Any]:
    return {"embeds": [{"title": text, "description": f"body of {text}", "color": 0x3498DB}]}


@pytest.fixture
def fake() -> FakeDiscord:
    return FakeDiscord()


@pytest.fixture
def server(fake: FakeDiscord) -> Iterator[LocalServer]:
    with serve(fake) as running:
        yield running


@pytest.fixture
async def webhook(server: LocalServer) -> AsyncIterator[DiscordTransport]:
    transport = DiscordTransport(webhook_url=FakeDiscord.webhook_url(server.base_url), policy=FAST)
    yield transport
    await transport.aclose()


@pytest.fixture
async def bot(server: LocalServer) -> AsyncIterator[DiscordTransport]:
    transport = DiscordTransport(
        bot_token=BOT_TOKEN,
        channel_id=CHANNEL_ID,
        api_base=FakeDiscord.api_base(server.base_url),
        policy=FAST,
    )
    yield transport
    await transport.aclose()


def _titles(fake: FakeDiscord) -> list[str]:
    return [m.embeds[0]["title"] for m in fake.messages]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"


# --- pacing and rate limits -----------------------------------------------------------------


async def test_thirty_messages_arrive_once_each_in_order_paced_by_the_headers(
    webhook: DiscordTransport, fake: FakeDiscord
) -> None:
    started = time.monotonic()
    with capture_logs() as logs:
        for i in range(30):
            await webhook.send(_message(f"signal {i:02d}"), dedupe_key=f"k{i}")
    elapsed = time.monotonic() - started
    assert _titles(fake) == [f"signal {i:02d}" for i in range(30)]
    assert fake.statuses().count(429) == 0  # paced by X-RateLimit-Remaining, never refused
    assert fake.statuses() == [200] * 30
    # 5 posts per 2 s window: 30 posts need at least five full waits
    assert elapsed >= 5 * 2.0
    assert sum(e["event"] == "discord.post" for e in logs) == 30


async def test_a_429_with_fractional_retry_after_is_waited_out_and_retried(
    webhook: DiscordTransport, fake: FakeDiscord, server: LocalServer
) -> None:
    fake.rate_limit_next(1, retry_after=0.35)  # Retry-After header says 1 (rounded up)
    with capture_logs() as logs:
        sent = await webhook.send(_message("after 429"), dedupe_key="k")
    assert fake.statuses() == [429, 200]
    assert _titles(fake) == ["after 429"]
    first, second = (r.received_at for r in server.received("POST"))
    assert 0.35 <= second - first < 0.9  # the body's fractional retry_after, not the header's 1 s
    assert sent.attempts == 2
    assert sent.waited_s >= 0.35
    limited = [e for e in logs if e["event"] == "discord.rate_limited"]
    assert limited[0]["status"] == 429
    assert limited[0]["wait_s"] >= 0.35


async def test_a_global_429_blocks_and_is_honoured(
    webhook: DiscordTransport, fake: FakeDiscord
) -> None:
    fake.rate_limit_next(1, retry_after=0.2, is_global=True)
    await webhook.send(_message("after global"), dedupe_key="g")
    assert fake.statuses() == [429, 200]


async def test_a_wait_beyond_the_deadline_raises_quickly_instead_of_sleeping(
    webhook: DiscordTransport, fake: FakeDiscord
) -> None:
    fake.rate_limit_next(1, retry_after=5.0)
    started = time.monotonic()
    with pytest.raises(RateLimited, match=r"rate limited until .* UTC") as caught:
        await webhook.send(_message("late"), dedupe_key="k", deadline=started + 0.5)
    assert time.monotonic() - started < 0.5
    assert caught.value.retry_after_s >= 5.0
    assert isinstance(caught.value, NotifierUnavailable)  # temporary: stays pending
    assert fake.messages == []


async def test_an_exhausted_bucket_is_not_even_tried_past_the_deadline(
    server: LocalServer,
) -> None:
    slow_window = FakeDiscord(rate_limit=1, window_s=5.0)
    with serve(slow_window) as strict:
        async with DiscordTransport(webhook_url=FakeDiscord.webhook_url(strict.base_url)) as t:
            await t.send(_message("first"), dedupe_key="1")
            started = time.monotonic()
            with pytest.raises(RateLimited):
                await t.send(_message("second"), dedupe_key="2", deadline=started + 1.0)
            assert time.monotonic() - started < 0.5
        assert len(strict.received("POST")) == 1  # the second post never left the process


# --- server errors and refusals -------------------------------------------------------------


async def test_502_twice_then_success(webhook: DiscordTransport, fake: FakeDiscord) -> None:
    fake.fail_next(2, status=502)
    with capture_logs() as logs:
        sent = await webhook.send(_message("eventually"), dedupe_key="k")
    assert fake.statuses() == [502, 502, 200]
    assert sent.attempts == 3
    assert _titles(fake) == ["eventually"]
    assert [e["attempt"] for e in logs if e["event"] == "discord.retry"] == [1, 2]


async def test_persistent_5xx_gives_up_after_the_bounded_attempts(
    server: LocalServer, fake: FakeDiscord
) -> None:
    fake.fail_next(10, status=503)
    policy = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)
    async with DiscordTransport(
        webhook_url=FakeDiscord.webhook_url(server.base_url), policy=policy
    ) as transport:
        with pytest.raises(NotifierUnavailable, match="unavailable after 3 attempts: HTTP 503"):
            await transport.send(_message("never"), dedupe_key="k")
    assert fake.statuses() == [503, 503, 503]


async def test_backoff_that_would_pass_the_deadline_gives_up_at_once(
    server: LocalServer, fake: FakeDiscord
) -> None:
    fake.fail_next(5, status=502)
    policy = RetryPolicy(backoff_base_s=3.0, backoff_max_s=3.0)
    async with DiscordTransport(
        webhook_url=FakeDiscord.webhook_url(server.base_url), policy=policy
    ) as transport:
        started = time.monotonic()
        with pytest.raises(NotifierUnavailable, match="HTTP 502 until"):
            await transport.send(_message("x"), dedupe_key="k", deadline=started + 0.5)
        assert time.monotonic() - started < 0.5
    assert fake.statuses() == [502]


async def test_a_deleted_webhook_is_rejected_once_with_the_fix(
    webhook: DiscordTransport, fake: FakeDiscord
) -> None:
    fake.delete_webhook()
    with capture_logs() as logs, pytest.raises(NotifierRejected) as caught:
        await webhook.send(_message("lost"), dedupe_key="k")
    assert "webhook was deleted or the URL is wrong — update DISCORD_WEBHOOK_URL" in str(
        caught.value
    )
    assert isinstance(caught.value, DiscordRejected)
    assert caught.value.status_code == 404
    assert caught.value.discord_code == 10015
    assert fake.statuses() == [404]  # no retry
    rejected = [e for e in logs if e["event"] == "discord.rejected"]
    assert rejected[0]["status"] == 404
    assert rejected[0]["log_level"] == "error"


async def test_a_wrong_webhook_token_is_rejected_without_showing_it(server: LocalServer) -> None:
    url = FakeDiscord.webhook_url(server.base_url, token="wrong-SECRET-token")
    async with DiscordTransport(webhook_url=url) as transport:
        with pytest.raises(NotifierRejected, match=r"HTTP 401.*unauthorized") as caught:
            await transport.send(_message("x"), dedupe_key="k")
    assert "wrong-SECRET-token" not in str(caught.value)


async def test_discords_400_reason_is_in_the_error(
    webhook: DiscordTransport, fake: FakeDiscord
) -> None:
    with pytest.raises(NotifierRejected) as caught:
        await webhook.send({"embeds": [{"title": "x", "color": 0x1000000}]}, dedupe_key="k")
    text = str(caught.value)
    assert "HTTP 400" in text
    assert "Invalid Form Body (code 50035)" in text
    assert "embeds.0.color: int value should be less than or equal to 16777215." in text
    assert fake.statuses() == [400]


async def test_an_oversized_payload_arrives_cut_instead_of_refused(
    webhook: DiscordTransport, fake: FakeDiscord, server: LocalServer
) -> None:
    huge = {
        "content": "c" * 3000,
        "embeds": [
            {
                "title": "T " * 400,
                "description": "word " * 3000,
                "fields": [{"name": f"f{i}", "value": "v " * 900} for i in range(40)],
                "footer": {"text": "f " * 2000},
            }
        ],
    }
    # the stand-in refuses the raw payload, exactly as Discord would ...
    raw = httpx.post(f"{FakeDiscord.webhook_url(server.base_url)}?wait=true", json=huge)
    assert raw.status_code == 400
    assert raw.json()["code"] == 50035
    # ... and takes the one the transport sends
    await webhook.send(huge, dedupe_key="big")
    assert fake.statuses() == [400, 200]
    (received,) = fake.messages
    embed = received.embeds[0]
    assert violations(received.payload) == []
    assert embed["title"].endswith("…")
    assert len(embed["fields"]) == 25
    assert embed["footer"]["text"].endswith(marker_text(dedupe_marker("big")))


# --- network failures and duplicates --------------------------------------------------------


async def test_connection_refused_is_retried_then_reported_as_unavailable() -> None:
    policy = RetryPolicy(max_attempts=2, backoff_base_s=0.01)
    async with DiscordTransport(webhook_url=_closed_port_url(), policy=policy) as transport:
        with pytest.raises(NotifierUnavailable, match="unavailable after 2 attempts: Connect"):
            await transport.send(_message("x"), dedupe_key="k")


async def test_a_webhook_post_without_an_answer_is_not_repeated(
    server: LocalServer, fake: FakeDiscord
) -> None:
    fake.slow(0.6, count=1)
    client = httpx.AsyncClient(timeout=0.3)
    url = FakeDiscord.webhook_url(server.base_url)
    async with client, DiscordTransport(webhook_url=url, client=client) as transport:
        with pytest.raises(DeliveryUnknown, match="may or may not have been posted"):
            await transport.send(_message("maybe"), dedupe_key="k")
    assert len(server.received("POST")) == 1
    # Discord did post it: a blind retry would have made a duplicate
    assert _titles(fake) == ["maybe"]


async def test_a_dropped_connection_is_delivery_unknown_for_a_webhook(
    webhook: DiscordTransport, fake: FakeDiscord, server: LocalServer
) -> None:
    fake.go_down()
    with pytest.raises(DeliveryUnknown):
        await webhook.send(_message("down"), dedupe_key="k")
    fake.come_back()
    await webhook.send(_message("up again"), dedupe_key="k2")
    assert _titles(fake) == ["up again"]
    assert len(server.received("POST")) == 2


async def test_a_bot_post_is_retried_after_a_timeout_and_the_nonce_prevents_a_duplicate(
    server: LocalServer, fake: FakeDiscord
) -> None:
    fake.slow(0.6, count=1)
    client = httpx.AsyncClient(timeout=0.3)
    async with (
        client,
        DiscordTransport(
            bot_token=BOT_TOKEN,
            channel_id=CHANNEL_ID,
            api_base=FakeDiscord.api_base(server.base_url),
            client=client,
            policy=FAST,
        ) as transport,
    ):
        sent = await transport.send(_message("once"), dedupe_key="k")
    assert len(server.received("POST")) == 2
    assert _titles(fake) == ["once"]
    assert sent.message_id == fake.messages[0].id


# --- bot API --------------------------------------------------------------------------------


async def test_bot_api_sends_nonce_and_dedupes_a_repeat(
    bot: DiscordTransport, fake: FakeDiscord, server: LocalServer
) -> None:
    first = await bot.send(_message("bot message"), dedupe_key="pattern:1")
    again = await bot.send(_message("bot message"), dedupe_key="pattern:1")
    assert isinstance(first, SentMessage)
    assert first.message_id == again.message_id
    assert len(fake.messages) == 1
    assert fake.messages[0].nonce == dedupe_marker("pattern:1")
    body = server.received("POST")[0].json()
    assert body["enforce_nonce"] is True
    assert body["allowed_mentions"] == {"parse": []}
    assert server.received("POST")[0].headers["authorization"] == f"Bot {BOT_TOKEN}"


async def test_find_recent_message_finds_the_marker_after_the_fact(
    bot: DiscordTransport, fake: FakeDiscord
) -> None:
    for i in range(3):
        await bot.send(_message(f"m{i}"), dedupe_key=f"key-{i}")
    found = await bot.find_recent_message(dedupe_marker("key-1"))
    assert found == fake.messages[1].id
    assert await bot.find_recent_message(dedupe_marker("never-sent")) is None


async def test_find_recent_message_needs_the_bot_api(webhook: DiscordTransport) -> None:
    with pytest.raises(ConfigurationError, match="needs the bot API"):
        await webhook.find_recent_message("abc")


async def test_a_wrong_bot_token_is_rejected_without_showing_it(server: LocalServer) -> None:
    async with DiscordTransport(
        bot_token="other-SECRET-bot-token",
        channel_id=CHANNEL_ID,
        api_base=FakeDiscord.api_base(server.base_url),
    ) as transport:
        with pytest.raises(NotifierRejected, match="DISCORD_BOT_TOKEN") as caught:
            await transport.send(_message("x"), dedupe_key="k")
    assert "other-SECRET-bot-token" not in str(caught.value)


# --- attachments and validation -------------------------------------------------------------


async def test_a_png_arrives_as_a_multipart_attachment(
    webhook: DiscordTransport, fake: FakeDiscord, server: LocalServer
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    payload = _message("with chart")
    payload["embeds"][0]["image"] = {"url": "attachment://chart.png"}
    await webhook.send(payload, dedupe_key="c", png=png)
    (received,) = fake.messages
    (attachment,) = received.attachments
    assert (attachment.filename, attachment.content_type) == ("chart.png", "image/png")
    assert attachment.data == png
    assert received.payload["attachments"] == [{"id": 0, "filename": "chart.png"}]
    assert received.embeds[0]["image"] == {"url": "attachment://chart.png"}
    assert server.received("POST")[0].headers["content-type"].startswith("multipart/form-data")


async def test_validate_webhook_reads_without_posting(
    webhook: DiscordTransport, fake: FakeDiscord, server: LocalServer
) -> None:
    info = await webhook.validate_webhook()
    assert info == {
        "id": WEBHOOK_ID,
        "name": "FX alerts",
        "type": 1,
        "channel_id": CHANNEL_ID,
        "guild_id": "9",
        "application_id": None,
    }
    assert "token" not in info
    assert server.received("POST") == []
    fake.delete_webhook()
    with pytest.raises(NotifierRejected, match="deleted"):
        await webhook.validate_webhook()


async def test_validate_checks_the_channel_in_bot_mode(bot: DiscordTransport) -> None:
    info = await bot.validate_webhook()
    assert info["id"] == CHANNEL_ID


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"webhook_url": "https://example.com/not-a-webhook"},
        {"webhook_url": "x", "bot_token": "y", "channel_id": "1"},
        {"bot_token": "y", "channel_id": "general"},
    ],
    ids=["nothing", "not-a-webhook-url", "both", "channel-not-numeric"],
)
def test_bad_configuration_is_refused_up_front(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        DiscordTransport(**kwargs)  # type: ignore[arg-type]


# --- secrets --------------------------------------------------------------------------------


async def _collect(errors: list[BaseException], action: Any) -> None:
    try:
        await action
    except (NotifierUnavailable, NotifierRejected) as e:
        errors.append(e)


async def test_tokens_never_appear_in_errors_or_logs(
    server: LocalServer, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    errors: list[BaseException] = []
    policy = RetryPolicy(max_attempts=2, backoff_base_s=0.01)
    webhook_url = FakeDiscord.webhook_url(server.base_url)
    with capture_logs() as logs:
        async with DiscordTransport(webhook_url=webhook_url, policy=policy) as transport:
            await transport.send(_message("ok"), dedupe_key="ok")
            fake.fail_next(2, status=500)
            await _collect(errors, transport.send(_message("5xx"), dedupe_key="a"))
            fake.go_down()
            await _collect(errors, transport.send(_message("dropped"), dedupe_key="b"))
            fake.come_back()
            fake.delete_webhook()
            await _collect(errors, transport.send(_message("deleted"), dedupe_key="c"))
            await _collect(errors, transport.validate_webhook())
        async with DiscordTransport(webhook_url=_closed_port_url(), policy=policy) as refused:
            await _collect(errors, refused.send(_message("refused"), dedupe_key="d"))
        wrong = FakeDiscord.webhook_url(server.base_url, token="other-SECRET-webhook-token")
        async with DiscordTransport(webhook_url=wrong, policy=policy) as unauthorized:
            await _collect(errors, unauthorized.send(_message("401"), dedupe_key="e"))
        async with DiscordTransport(
            bot_token="b0t-SECRET",
            channel_id=CHANNEL_ID,
            api_base=FakeDiscord.api_base(server.base_url),
        ) as bot:
            await _collect(errors, bot.send(_message("bot"), dedupe_key="f"))
            await _collect(errors, bot.validate_webhook())
    assert len(errors) == 8
    rendered = "\n".join("".join(traceback.format_exception(e)) for e in errors)
    everything = rendered + repr(logs) + caplog.text
    for secret in (WEBHOOK_TOKEN, "other-SECRET-webhook-token", "b0t-SECRET"):
        assert secret not in everything
    assert f"/webhooks/{WEBHOOK_ID}/***" in caplog.text  # httpx's own line, redacted
    assert {e["event"] for e in logs} >= {"discord.post", "discord.retry", "discord.rejected"}
