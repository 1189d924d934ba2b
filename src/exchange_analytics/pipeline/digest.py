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
from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
import structlog

from exchange_analytics.notifications import outbox
from exchange_analytics.notifications.followup_format import digest_messages
from exchange_analytics.notifications.policy import period_of
from exchange_analytics.pipeline.followups import bars_after, resolve
from exchange_analytics.storage.engine import Database
from exchange_analytics.storage.signal_delivery import DeliveredSignal, held_signals, release_held

log = structlog.get_logger(__name__)


class _Raced(Exception):
    """Another process digested some of these rows first."""


async def _queue_one(
    engine: Database,
    pattern: str,
    period: tuple[datetime, datetime],
    signals: Sequence[DeliveredSignal],
    items: Sequence[Mapping[str, object]],
) -> int:
    """Release the held ``signals`` and queue their digest (``items``) in one transaction."""
    start, end = period
    base = f"digest:{pattern}:{start.isoformat()}:{min(s['notification_id'] for s in signals)}"
    messages = digest_messages(pattern, start, end, items)
    try:
        async with engine.begin() as conn:
            ids = [int(s["notification_id"]) for s in signals]
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


def _digest_item(signal: DeliveredSignal, bars: pd.DataFrame, end: datetime) -> dict[str, object]:
    """The signal as its digest lists it: with its outcome so far at the period's end when it
    has both levels (a replay shows what a reader would have seen then)."""
    item: dict[str, object] = {**signal, "period_end": end}
    if signal["take_profit"] is not None and signal["stop_loss"] is not None:
        res = resolve(signal, bars, end)
        item.update(outcome=res.result, pips=res.pips, took=res.took)
    return item


async def queue_digests(engine: Database, *, as_of: datetime, hours: int) -> int:
    """Queue the digests of every ended period with held signals; returns messages queued."""
    async with engine.connect() as conn:
        held = await held_signals(conn)
    groups: dict[tuple[str, datetime], list[DeliveredSignal]] = defaultdict(list)
    ends: dict[datetime, datetime] = {}
    for signal in held:
        start, end = period_of(signal["bar_timestamp"], hours)
        if end <= as_of:
            groups[(signal["pattern_type"], start)].append(signal)
            ends[start] = end
    if not groups:
        return 0
    frames = await bars_after(engine, [s for g in groups.values() for s in g], as_of)
    queued = 0
    for (pattern, start), signals in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        end = ends[start]
        items = [_digest_item(s, frames[s["currency_pair"]], end) for s in signals]
        queued += await _queue_one(engine, pattern, (start, end), signals, items)
    if queued:
        log.info("digest.queued", messages=queued, groups=len(groups))
    return queued
