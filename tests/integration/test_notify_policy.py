"""SPEC §17 on real USD/CHF bars, through the outbox and the Discord stand-in, on both engines.

Each test imports real history, replays three March days with ``--notify`` semantics under
one policy, and sends with the real sender: what reaches the stand-in is what a channel
would show. Counts come from the database (detections are stored whatever the policy).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.track_records import upsert_track_records
from tests.support.fake_discord import FakeDiscord
from tests.support.notify_month import LATER, PAIR, prepare, replay_notify, rows, send, stages

SIGNALS = (
    "SELECT d.pattern_type, d.direction, d.bar_timestamp, n.status, n.dedupe_key "
    "FROM notifications n JOIN pattern_detections d ON d.id = n.pattern_detection_id "
    "WHERE n.kind = 'pattern' ORDER BY d.bar_timestamp"
)


def _kind(message) -> str:
    footer = str((message.embeds[0].get("footer") or {}).get("text"))
    return (
        "digest" if "· digest ·" in footer else "outcome" if "· outcome ·" in footer else "pattern"
    )


def _setup(db_url, make_settings, local_server, tmp_path, **env):
    prepare(tmp_path, db_url)
    fake = FakeDiscord(rate_limit=1000)
    server = local_server(fake)
    settings = make_settings(
        db_url,
        DAY_BOUNDARY="new_york",
        CURRENCY_PAIRS=PAIR,
        DISCORD_WEBHOOK_URL=FakeDiscord.webhook_url(server.base_url),
        DISCORD_ATTACH_CHART="false",
        **env,
    )
    return settings, fake


async def test_default_sends_each_signal_once_with_its_record_then_one_followup_each(
    db_url, make_settings, local_server, tmp_path
):
    settings, fake = _setup(db_url, make_settings, local_server, tmp_path)
    record = {
        "currency_pair": PAIR,
        "pattern_type": "composite_signal",
        "direction": "BUY",
        "window_days": 90,
        "period_from": datetime(2025, 12, 1, tzinfo=UTC),
        "period_to": datetime(2026, 3, 1, tzinfo=UTC),
        "computed_at": datetime.now(UTC),
        "signals": 41,
        "take_profit": 13,
        "stop_loss": 19,
        "hit_rate": 13 / 32,
        "baseline_hit_rate": 0.53,
        "expectancy_r": -0.21,
    }
    engine = build_engine(settings)
    async with engine.begin() as conn:
        await upsert_track_records(conn, [record])
    await engine.dispose()

    await replay_notify(settings)
    signals = await rows(settings, SIGNALS)
    assert len(signals) >= 5 and {s.status for s in signals} == {"pending"}
    await send(settings)
    patterns = [m for m in fake.messages if _kind(m) == "pattern"]
    assert len(patterns) == len(signals)  # defaults keep today's behaviour: all at once
    fields = [{f["name"]: f["value"] for f in m.embeds[0]["fields"]} for m in patterns]
    composite_buy = [
        f
        for f, m in zip(fields, patterns, strict=True)
        if "Composite signal · BUY" in m.embeds[0]["title"]
    ]
    assert composite_buy, "expected composite BUY signals in early March"
    assert all(
        f["Track record"] == "signals 41 · hit 41 % vs baseline 53 % · expectancy −0.21 R (90 d)"
        for f in composite_buy
    )
    assert all("Track record" in f for f in fields)

    followups = [m for m in fake.messages if _kind(m) == "outcome"]
    assert followups, "USD/CHF moved 60+ pips within days: some signals resolved"
    outcome_rows = await rows(
        settings, "SELECT pattern_detection_id FROM notifications WHERE kind = 'outcome'"
    )
    assert len(outcome_rows) == len({r[0] for r in outcome_rows}) == len(followups)
    for message in followups:  # each names its original by time and price, no link
        assert "Outcome of the signal of 2026-03-0" in message.embeds[0]["description"]
        assert "http" not in str(message.payload)

    # Later runs (replay again, the cycle's stage) queue nothing twice and post nothing twice.
    before = len(fake.messages)
    await replay_notify(settings)
    await stages(settings, datetime(2026, 3, 13, tzinfo=UTC))
    await send(settings, datetime.now(UTC) + LATER)
    after = await rows(
        settings, "SELECT pattern_detection_id FROM notifications WHERE kind = 'outcome'"
    )
    assert len(after) == len({r[0] for r in after}) >= len(outcome_rows)
    assert len(fake.messages) == before + len(after) - len(outcome_rows)
    refs = Counter(m.embeds[0]["footer"]["text"].rsplit("ref ", 1)[1] for m in fake.messages)
    assert max(refs.values()) == 1


async def test_followups_survive_a_discord_outage_exactly_once(
    db_url, make_settings, local_server, tmp_path
):
    settings, fake = _setup(db_url, make_settings, local_server, tmp_path)
    fake.go_down()
    await replay_notify(settings)
    report = await send(settings)
    assert report.sent == 0 and report.deferred >= 1 and fake.messages == []
    queued = await rows(settings, "SELECT count(*) FROM notifications WHERE kind = 'outcome'")
    assert queued[0][0] >= 1
    # Still down at the next run: the follow-up stage runs again, nothing is queued twice.
    await stages(settings, datetime(2026, 3, 5, tzinfo=UTC))
    again = await rows(settings, "SELECT count(*) FROM notifications WHERE kind = 'outcome'")
    assert again == queued
    fake.come_back()
    now = datetime.now(UTC)
    for step in range(1, 8):  # backoff: each run sends what is due
        await send(settings, now + step * LATER)
    statuses = await rows(settings, "SELECT kind, status FROM notifications")
    assert {s for _, s in statuses} == {"sent"}
    outcomes = [m for m in fake.messages if _kind(m) == "outcome"]
    assert len(outcomes) == queued[0][0]
    refs = Counter(m.embeds[0]["footer"]["text"].rsplit("ref ", 1)[1] for m in fake.messages)
    assert max(refs.values()) == 1  # every outbox row posted once (its dedupe marker)
    # Outbox order: every follow-up after the pattern messages it follows up.
    kinds = [_kind(m) for m in fake.messages]
    assert kinds.index("outcome") > max(i for i, k in enumerate(kinds) if k == "pattern")


async def test_digest_policy_holds_composite_and_sends_the_others_at_once(
    db_url, make_settings, local_server, tmp_path
):
    settings, fake = _setup(
        db_url, make_settings, local_server, tmp_path, NOTIFY_POLICY="composite_signal=digest"
    )
    await replay_notify(settings)
    await send(settings)
    signals = await rows(settings, SIGNALS)
    composite = [s for s in signals if s.pattern_type == "composite_signal"]
    others = [s for s in signals if s.pattern_type != "composite_signal"]
    assert composite and others
    assert all(s.status == "suppressed" for s in composite)  # delivered in a digest
    assert all(s.status == "sent" for s in others)
    patterns = [m for m in fake.messages if _kind(m) == "pattern"]
    assert all("Composite" not in m.embeds[0]["title"] for m in patterns)
    assert len(patterns) == len(others)
    digests = [m for m in fake.messages if _kind(m) == "digest"]
    assert digests and all("Composite signal" in m.embeds[0]["title"] for m in digests)
    listed = [
        line
        for m in digests
        for line in m.embeds[0]["description"].splitlines()
        if line.startswith("• ")
    ]
    assert len(listed) == len(composite)  # each held signal in exactly one digest
    reasons = await rows(
        settings,
        "SELECT last_error FROM notifications n JOIN pattern_detections d "
        "ON d.id = n.pattern_detection_id WHERE d.pattern_type = 'composite_signal'",
    )
    assert all(r[0].startswith("sent in digest digest:composite_signal:") for r in reasons)
    # Stored and visible: the detections themselves are untouched by the policy.
    new = await rows(
        settings, "SELECT count(*) FROM pattern_detections WHERE notify_decision = 'new'"
    )
    assert new[0][0] == len(signals)
    # Health names the policy and the last digest; nothing is overdue.
    from exchange_analytics.health.gather import check_health

    report = await check_health(settings, datetime.now(UTC))
    policy = next(c for c in report.components if c.name == "notification_policy")
    assert policy.status.value == "ok", policy.reason
    assert policy.reason.startswith("policy composite_signal=digest, others immediate")
    assert policy.details["last_digest_at"] is not None


async def test_off_and_the_confidence_floor_store_but_never_send(
    db_url, make_settings, local_server, tmp_path
):
    settings, fake = _setup(
        db_url,
        make_settings,
        local_server,
        tmp_path,
        NOTIFY_POLICY="off,breakout=immediate",
        NOTIFY_MIN_CONFIDENCE="0.99",
    )
    await replay_notify(settings)
    await send(settings)
    signals = await rows(settings, SIGNALS)
    assert signals and {s.status for s in signals} == {"suppressed"}
    assert fake.messages == []
    reasons = await rows(settings, "SELECT DISTINCT last_error FROM notifications")
    assert {r[0] for r in reasons} <= {
        "not sent: NOTIFY_POLICY off",
        "not sent: confidence under 0.99",
    }


async def test_daily_budget_sends_the_first_and_digests_the_rest(
    db_url, make_settings, local_server, tmp_path
):
    settings, fake = _setup(
        db_url, make_settings, local_server, tmp_path, NOTIFY_MAX_PER_PAIR_PER_DAY="2"
    )
    await replay_notify(settings)
    await send(settings)
    signals = await rows(settings, SIGNALS)
    per_day: Counter[str] = Counter()
    for s in signals:
        if s.status == "sent":
            per_day[str(s.bar_timestamp)[:10]] += 1
    assert per_day and max(per_day.values()) == 2
    assert len(signals) > sum(per_day.values())  # the rest went to digests
    patterns = [m for m in fake.messages if _kind(m) == "pattern"]
    assert len(patterns) == sum(per_day.values())
    assert any(_kind(m) == "digest" for m in fake.messages)


async def test_edge_sends_only_the_pattern_whose_record_beats_its_baseline(
    db_url, make_settings, local_server, tmp_path
):
    settings, fake = _setup(db_url, make_settings, local_server, tmp_path, NOTIFY_POLICY="edge")
    base = {
        "currency_pair": PAIR,
        "window_days": 90,
        "period_from": datetime(2025, 12, 1, tzinfo=UTC),
        "period_to": datetime(2026, 3, 1, tzinfo=UTC),
        "computed_at": datetime.now(UTC),
        "baseline_hit_rate": 0.4,
    }
    winning = {
        **base,
        "pattern_type": "composite_signal",
        "direction": "BUY",
        "signals": 30,
        "take_profit": 15,
        "stop_loss": 10,
        "hit_rate": 0.6,
    }
    losing = {
        **base,
        "pattern_type": "breakout",
        "direction": "BUY",
        "signals": 30,
        "take_profit": 5,
        "stop_loss": 20,
        "hit_rate": 0.2,
    }
    engine = build_engine(settings)
    async with engine.begin() as conn:
        await upsert_track_records(conn, [winning, losing])
    await engine.dispose()
    await replay_notify(settings)
    await send(settings)
    signals = await rows(settings, SIGNALS)
    for s in signals:
        expected = (
            "sent"
            if (s.pattern_type, s.direction) == ("composite_signal", "BUY")
            else ("suppressed")
        )
        assert s.status == expected, s
    patterns = [m for m in fake.messages if _kind(m) == "pattern"]
    assert patterns and all("Composite signal · BUY" in m.embeds[0]["title"] for m in patterns)


async def test_the_cycle_holds_signals_and_sends_their_digest_after_the_period(
    db_url, make_settings, local_server, tmp_path
):
    """The live path: cycles detect and hold; the first cycle after 04:00 sends the digest."""
    import shutil

    from tests.support.cycle import SMALL_BACKFILL, cycle
    from tests.support.paths import REAL_DATA

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
        DISCORD_ATTACH_CHART="false",
        NOTIFY_POLICY="digest",
        **{**SMALL_BACKFILL, "BACKFILL_DAYS_5M": 20, "BACKFILL_DAYS_1H": 120},
    )
    start = datetime(2026, 6, 22, 0, 2, tzinfo=UTC)  # USD/JPY climbing: composite BUY
    for i in range(6):
        assert (await cycle(settings, start + timedelta(minutes=5 * i))).status == "success"
    held = await rows(settings, "SELECT count(*) FROM notifications WHERE status = 'held'")
    assert held[0][0] >= 1 and fake.messages == []  # held, nothing sent yet
    assert (await cycle(settings, datetime(2026, 6, 22, 4, 2, tzinfo=UTC))).status == "success"
    digests = [m for m in fake.messages if _kind(m) == "digest"]
    assert digests and all(_kind(m) != "pattern" for m in fake.messages)
    assert "2026-06-22 00:00–04:00 UTC" in digests[0].embeds[0]["description"]
    left = await rows(
        settings,
        "SELECT count(*) FROM notifications n JOIN pattern_detections d "
        "ON d.id = n.pattern_detection_id WHERE n.status = 'held' AND d.bar_timestamp < :cut",
        cut=datetime(2026, 6, 22, 3, 55, tzinfo=UTC),
    )
    assert left[0][0] == 0


async def test_a_failing_track_record_read_never_costs_a_message(
    db_url, make_settings, local_server, tmp_path
):
    """The record table unreadable (dropped): every signal still goes out, saying so."""
    from sqlalchemy import text

    settings, fake = _setup(db_url, make_settings, local_server, tmp_path)
    engine = build_engine(settings)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE pattern_track_records"))
    await engine.dispose()
    await replay_notify(settings)
    await send(settings)
    signals = await rows(settings, SIGNALS)
    assert signals and {s.status for s in signals} == {"sent"}
    patterns = [m for m in fake.messages if _kind(m) == "pattern"]
    assert len(patterns) == len(signals)
    for message in patterns:
        fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
        assert fields["Track record"] == "track record unavailable right now"
