"""The digest stage (SPEC §17): one message per pattern and period for the held signals.

A signal the policy holds (``digest``, ``edge`` without a winning record, over the daily
budget) waits as a ``held`` outbox row. Periods are ``NOTIFY_DIGEST_HOURS`` long and aligned
to UTC midnight (4 h: 00:00, 04:00, …); a signal belongs to the period in which its 5m bar
closed. Once a period has ended, its held signals of one pattern become one digest (split
into numbered messages when long), listing each with its outcome so far (bars up to the
period's end, so a replay shows what a reader would have seen then).

Exactly once: the digest rows are inserted and the held rows released in one transaction;
the digest's key names the pattern, the period and its first held row, so two processes
building the same digest collide on the unique key and one rolls back. A signal that arrives
after its period's digest went out (a late bar) gets a digest of its own, never a repeat.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import structlog

from exchange_analytics.notifications import outbox
from exchange_analytics.notifications.followup_format import digest_messages
from exchange_analytics.notifications.policy import period_of
from exchange_analytics.pipeline.followups import bars_after, resolve
from exchange_analytics.storage.engine import Database
from exchange_analytics.storage.signal_delivery import held_signals, release_held

log = structlog.get_logger(__name__)


class _Raced(Exception):
    """Another process digested some of these rows first."""


async def _queue_one(
    engine: Database, pattern: str, start: datetime, items: list[dict[str, Any]]
) -> int:
    end = items[0]["period_end"]
    base = f"digest:{pattern}:{start.isoformat()}:{min(i['notification_id'] for i in items)}"
    messages = digest_messages(pattern, start, end, items)
    try:
        async with engine.begin() as conn:
            ids = [int(i["notification_id"]) for i in items]
            if await release_held(conn, ids, base) != len(ids):
                raise _Raced
            for index, message in enumerate(messages, start=1):
                key = base if len(messages) == 1 else f"{base}:{index}/{len(messages)}"
                if not await outbox.enqueue(
                    conn,
                    kind="digest",
                    channel="patterns",
                    dedupe_key=key,
                    payload={"discord": message},
                ):
                    raise _Raced
    except _Raced:
        log.info("digest.raced", pattern=pattern, period=start.isoformat())
        return 0
    return len(messages)


async def queue_digests(engine: Database, *, as_of: datetime, hours: int) -> int:
    """Queue the digests of every ended period with held signals; returns messages queued."""
    async with engine.connect() as conn:
        held = await held_signals(conn)
    groups: dict[tuple[str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for signal in held:
        start, end = period_of(signal["bar_timestamp"], hours)
        if end <= as_of:
            groups[(signal["pattern_type"], start)].append({**signal, "period_end": end})
    if not groups:
        return 0
    frames = await bars_after(engine, [i for g in groups.values() for i in g], as_of)
    queued = 0
    for (pattern, start), items in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        for item in items:
            if item["take_profit"] is not None and item["stop_loss"] is not None:
                res = resolve(item, frames[item["currency_pair"]], item["period_end"])
                item.update(outcome=res.result, pips=res.pips, took=res.took)
        queued += await _queue_one(engine, pattern, start, items)
    if queued:
        log.info("digest.queued", messages=queued, groups=len(groups))
    return queued
