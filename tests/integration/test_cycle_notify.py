"""A pattern found by the cycle on real bars reaches the Discord stand-in once, with its chart."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from tests.support.cycle import SMALL_BACKFILL, cycle, scalar
from tests.support.fake_discord import FakeDiscord
from tests.support.paths import REAL_DATA

START = datetime(2026, 6, 22, 0, 2, tzinfo=UTC)  # USD/JPY was climbing: composite BUY signals


async def test_cycles_on_real_bars_post_each_new_detection_once_with_a_chart(
    db_url, make_settings, local_server, tmp_path
):
    feed = tmp_path / "feed"
    feed.mkdir()
    shutil.copyfile(REAL_DATA / "mt5_USDJPY_M5.csv", feed / "USDJPY_5m.csv")
    shutil.copyfile(REAL_DATA / "mt5_USDJPY_H1.csv", feed / "USDJPY_1h.csv")
    fake = FakeDiscord()
    server = local_server(fake)
    settings = make_settings(
        db_url,
        MARKET_DATA_PROVIDER="csv",
        CSV_DIR=str(feed),
        CSV_TZ="Europe/Athens",
        DISCORD_WEBHOOK_URL=FakeDiscord.webhook_url(server.base_url),
        DISCORD_ATTACH_CHART="true",
        **{**SMALL_BACKFILL, "BACKFILL_DAYS_5M": 20, "BACKFILL_DAYS_1H": 120},
    )
    reports = [await cycle(settings, START + timedelta(minutes=5 * i)) for i in range(6)]
    assert all(r.status == "success" for r in reports), [
        r.to_dict() for r in reports if r.status != "success"
    ]
    new = await scalar(
        settings, "SELECT count(*) FROM pattern_detections WHERE notify_decision = 'new'"
    )
    assert new >= 1, "expected a new detection (composite BUY at 00:05)"
    assert len(fake.messages) == new
    sent = await scalar(settings, "SELECT count(*) FROM notifications WHERE status = 'sent'")
    assert sent == new
    message = fake.messages[0]
    assert "USD/JPY" in message.embeds[0]["title"]
    fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
    for timeframe in ("1d", "4h", "1h", "5m"):
        assert "RSI" in fields[timeframe] and "MACD" in fields[timeframe], fields
    assert message.attachments and message.attachments[0].data.startswith(b"\x89PNG")
    assert message.payload.get("allowed_mentions") == {"parse": []}
    # Running the last moment again changes nothing and posts nothing.
    again = await cycle(settings, START + timedelta(minutes=5 * 5))
    assert again.total("rows_written") == 0 and again.notifications_sent == 0
    assert len(fake.messages) == new
    total = await scalar(settings, "SELECT count(*) FROM pattern_detections")
    distinct = await scalar(
        settings,
        "SELECT count(*) FROM (SELECT DISTINCT currency_pair, pattern_type, direction, "
        "bar_timestamp FROM pattern_detections) d",
    )
    assert total == distinct
