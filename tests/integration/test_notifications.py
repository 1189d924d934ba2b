"""The outbox against a local Discord stand-in and real databases: never lost, never doubled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from exchange_analytics.notifications import outbox
from exchange_analytics.notifications.formatting import REPEAT_MARK, alert_message
from exchange_analytics.pipeline.notify import send_outbox
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.models import Notification
from tests.support.fake_discord import FakeDiscord

NOW = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)
TABLE = Notification.__table__


async def _queue(settings, count: int, *, text: str = "") -> None:
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            for i in range(count):
                payload = alert_message(
                    "INFO", f"message {i:02d}", text or f"body {i}", None, at=NOW
                )
                await outbox.enqueue(
                    conn,
                    kind="pattern",
                    channel="patterns",
                    dedupe_key=f"test:{i:02d}",
                    payload={"discord": payload},
                )
    finally:
        await engine.dispose()


async def _rows(settings) -> list[dict[str, Any]]:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(TABLE).order_by(TABLE.c.id))
            return [dict(r) for r in rows.mappings()]
    finally:
        await engine.dispose()


async def _send(settings, now: datetime, deadline: float) -> outbox.SendReport:
    engine = build_engine(settings)
    try:
        return await send_outbox(engine, settings, now, deadline)
    finally:
        await engine.dispose()


def _titles(fake: FakeDiscord) -> list[str]:
    """Titles as queued ("message 07"), without the severity prefix the formatter adds."""
    return [m.embeds[0]["title"].rsplit(": ", 1)[-1] for m in fake.messages]


def _webhook_settings(make_settings, db_url, server, **extra):
    return make_settings(
        db_url,
        DISCORD_WEBHOOK_URL=FakeDiscord.webhook_url(server.base_url),
        DISCORD_ATTACH_CHART="false",
        **extra,
    )


async def test_thirty_messages_arrive_once_each_in_order(db_url, make_settings, local_server):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = _webhook_settings(make_settings, db_url, server)
    await _queue(settings, 30)
    report = await _send(settings, NOW, time.monotonic() + 120)
    assert report.sent == 30
    assert _titles(fake) == [f"message {i:02d}" for i in range(30)]
    assert fake.statuses().count(429) == 0  # paced by X-RateLimit headers
    assert all(r["status"] == "sent" and r["discord_message_id"] for r in await _rows(settings))


async def test_discord_failing_for_three_runs_then_back(db_url, make_settings, local_server):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = _webhook_settings(make_settings, db_url, server)
    await _queue(settings, 5)
    now = NOW
    for _ in range(3):  # three cron runs, 5 minutes apart, Discord answering 502
        fake.fail_next(10)
        report = await _send(settings, now, time.monotonic() + 30)
        assert report.sent == 0
        now += timedelta(minutes=5)
        fake.fail_next(0)
        fake._fail.clear()
    report = await _send(settings, now, time.monotonic() + 60)
    assert report.sent == 5
    assert _titles(fake) == [f"message {i:02d}" for i in range(5)]
    rows = await _rows(settings)
    assert all(r["status"] == "sent" for r in rows)
    # One attempt per run for the head message, not one per message: the channel was down.
    assert rows[0]["attempts"] == 4 and rows[1]["attempts"] == 1


async def test_discord_dropping_connections_then_back_resends_marked_as_possible_repeat(
    sqlite_url, make_settings, local_server
):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = _webhook_settings(make_settings, sqlite_url, server)
    await _queue(settings, 2)
    fake.go_down()
    await _send(settings, NOW, time.monotonic() + 30)
    fake.come_back()
    report = await _send(settings, NOW + timedelta(minutes=5), time.monotonic() + 30)
    assert report.sent == 2
    first, second = fake.messages
    # The first one may have reached Discord while the connection dropped: marked.
    assert REPEAT_MARK in (first.embeds[0].get("description") or "")
    assert REPEAT_MARK not in (second.embeds[0].get("description") or "")


async def test_two_senders_at_once_never_post_twice(db_url, make_settings, local_server):
    fake = FakeDiscord(rate_limit=50)
    server = local_server(fake)
    settings = _webhook_settings(make_settings, db_url, server)
    await _queue(settings, 20)
    reports = await asyncio.gather(
        _send(settings, NOW, time.monotonic() + 60),
        _send(settings, NOW, time.monotonic() + 60),
    )
    assert sum(r.sent for r in reports) == 20
    titles = _titles(fake)
    assert len(titles) == 20 and len(set(titles)) == 20


async def test_interrupted_send_with_webhook_is_resent_marked(
    sqlite_url, make_settings, local_server
):
    """A process killed between claim and record: the documented webhook policy."""
    fake = FakeDiscord()
    server = local_server(fake)
    settings = _webhook_settings(make_settings, sqlite_url, server)
    await _queue(settings, 1)
    engine = build_engine(settings)
    async with engine.begin() as conn:  # what a killed sender leaves behind
        await conn.execute(
            update(TABLE).values(status="sending", claimed_at=NOW - timedelta(minutes=30))
        )
    await engine.dispose()
    report = await _send(settings, NOW, time.monotonic() + 30)
    assert report.sent == 1
    assert REPEAT_MARK in (fake.messages[0].embeds[0].get("description") or "")


async def test_interrupted_send_with_bot_api_finds_the_message_instead_of_reposting(
    sqlite_url, make_settings, local_server
):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = make_settings(
        sqlite_url,
        DISCORD_BOT_TOKEN="bot-SECRET-token-do-not-log-abcdef",
        DISCORD_CHANNEL_ID="1300000000000000001",
        DISCORD_API_BASE=FakeDiscord.api_base(server.base_url),
        DISCORD_ATTACH_CHART="false",
    )
    await _queue(settings, 1)
    engine = build_engine(settings)
    # First delivery succeeds, then we pretend the process died before recording it.
    await _send(settings, NOW, time.monotonic() + 30)
    assert len(fake.messages) == 1
    async with engine.begin() as conn:
        await conn.execute(
            update(TABLE).values(
                status="sending", sent_at=None, claimed_at=NOW - timedelta(minutes=30)
            )
        )
    await engine.dispose()
    report = await _send(settings, NOW + timedelta(minutes=5), time.monotonic() + 30)
    assert report.recovered == 1
    assert len(fake.messages) == 1  # not posted again
    assert (await _rows(settings))[0]["status"] == "sent"


async def test_deleted_webhook_fails_with_reason_and_no_retry(
    sqlite_url, make_settings, local_server
):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = _webhook_settings(make_settings, sqlite_url, server)
    await _queue(settings, 1)
    fake.delete_webhook()
    report = await _send(settings, NOW, time.monotonic() + 30)
    assert report.failed == 1
    row = (await _rows(settings))[0]
    assert row["status"] == "failed" and "deleted" in row["last_error"]
    assert fake.statuses().count(404) == 1


async def test_oversized_content_is_cut_not_rejected(sqlite_url, make_settings, local_server):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = _webhook_settings(make_settings, sqlite_url, server)
    await _queue(settings, 1, text="x" * 20000)
    report = await _send(settings, NOW, time.monotonic() + 30)
    assert report.sent == 1
    assert 400 not in fake.statuses()
    assert len(fake.messages[0].embeds[0]["description"]) <= 4096


async def test_deadline_leaves_the_rest_pending(sqlite_url, make_settings, local_server):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = _webhook_settings(make_settings, sqlite_url, server)
    await _queue(settings, 3)
    report = await _send(settings, NOW, time.monotonic() - 1)
    assert report.sent == 0 and report.pending_left == 3
    assert {r["status"] for r in await _rows(settings)} == {"pending"}


async def test_wrong_bot_token_fails_the_message_not_the_run(
    sqlite_url, make_settings, local_server
):
    fake = FakeDiscord()
    server = local_server(fake)
    settings = make_settings(
        sqlite_url,
        DISCORD_BOT_TOKEN="not-the-right-bot-token-123456",
        DISCORD_CHANNEL_ID="1300000000000000001",
        DISCORD_API_BASE=FakeDiscord.api_base(server.base_url),
        DISCORD_ATTACH_CHART="false",
    )
    await _queue(settings, 2)
    report = await _send(settings, NOW, time.monotonic() + 30)
    assert report.failed == 2 and report.sent == 0
    rows = await _rows(settings)
    assert {r["status"] for r in rows} == {"failed"}
    assert "401" in rows[0]["last_error"]
    assert "not-the-right-bot-token" not in rows[0]["last_error"]
