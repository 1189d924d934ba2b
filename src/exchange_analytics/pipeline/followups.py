"""Outcome follow-ups (SPEC §17, ``NOTIFY_OUTCOMES``): how each notified signal ended.

A signal sent at once (its pattern message ``pending``/``sending``/``sent``) with take-profit
and stop-loss is walked over the stored 5m bars after it (``evaluation.outcomes.outcome``):
take-profit first, stop-loss first, both in one bar, or ``HORIZON_BARS`` bars without either.
Once resolved, a short message is queued in the outbox, kind ``outcome``, with the dedupe key
``outcome:<pair>:<pattern>:<direction>:<bar>``, pointing at the same detection.

Never lost: nothing but the outbox remembers which signals were followed up, so a run that
dies before its commit is redone by the next run (the lookback covers ``LOOKBACK`` of outage).
Never doubled: the dedupe key is unique, and the outbox sends a key at most once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import structlog

from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.evaluation.outcomes import outcome
from exchange_analytics.notifications import outbox
from exchange_analytics.notifications.followup_format import outcome_message, signed_pips
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import Database
from exchange_analytics.storage.signal_delivery import DeliveredSignal, notified_without_followup

log = structlog.get_logger(__name__)

#: SPEC §16's default horizon: 1,440 5m bars, five trading days.
HORIZON_BARS = 1440
#: How far back unresolved signals are looked for: the horizon plus a long outage.
LOOKBACK = timedelta(days=21)
BAR = Timeframe.M5.duration


@dataclass(frozen=True)
class Resolution:
    """How a signal stood at a moment: its outcome, pips, and the time it took."""

    result: str
    pips: float | None
    took: timedelta | None
    final: bool


def _level(price: float | None, name: str, signal: DeliveredSignal) -> float:
    """One of the signal's prices; a signal without it cannot be resolved."""
    if price is None:
        raise TypeError(f"signal {signal['detection_id']} has no {name}")
    return float(price)


def resolve(
    signal: DeliveredSignal, bars: pd.DataFrame, until: datetime, horizon: int = HORIZON_BARS
) -> Resolution:
    """The signal's outcome using the bars that had closed by ``until`` (pure).

    ``final`` is True once a level was touched or the horizon passed; an ``open`` that is not
    final is "so far" (the digest shows it, a follow-up waits).
    """
    bar = signal["bar_timestamp"]
    after = bars[(bars.index > pd.Timestamp(bar)) & (bars.index <= pd.Timestamp(until - BAR))]
    after = after.iloc[:horizon]
    pair, direction = CurrencyPair.parse(signal["currency_pair"]), signal["direction"]
    entry = _level(signal["entry_price"], "entry price", signal)
    tp = _level(signal["take_profit"], "take-profit", signal)
    sl = _level(signal["stop_loss"], "stop-loss", signal)
    result, count = outcome(direction, tp, sl, after["high"].tolist(), after["low"].tolist())
    if result == "open":
        last_close = float(after["close"].iloc[-1]) if len(after) else entry
        final = len(after) >= horizon
        took = (after.index[-1].to_pydatetime() - bar) if final else None
        return Resolution("open", signed_pips(pair, direction, entry, last_close), took, final)
    took = after.index[(count or 1) - 1].to_pydatetime() - bar
    level = {"take_profit": tp, "stop_loss": sl}.get(result)
    pips = signed_pips(pair, direction, entry, level) if level is not None else None
    return Resolution(result, pips, took, True)


async def bars_after(
    engine: Database, signals: Sequence[DeliveredSignal], until: datetime
) -> dict[str, pd.DataFrame]:
    """Per pair, the 5m bars from its oldest signal up to ``until``: one read per pair."""
    first: dict[str, datetime] = {}
    for signal in signals:
        pair = signal["currency_pair"]
        first[pair] = min(first.get(pair, signal["bar_timestamp"]), signal["bar_timestamp"])
    frames = {}
    async with engine.connect() as conn:
        for pair, since in first.items():
            frames[pair] = await candle_store.load_bars(
                conn, pair, Timeframe.M5, since=since, until=until
            )
    return frames


def followup_key(signal: DeliveredSignal) -> str:
    """``outcome:`` + the pattern message's key without its ``pattern:`` prefix."""
    key = str(signal["dedupe_key"])
    return "outcome:" + key.removeprefix("pattern:")


async def queue_followups(
    engine: Database, *, as_of: datetime, since: datetime | None = None
) -> int:
    """Queue a follow-up for every notified signal resolved by ``as_of``; returns how many."""
    async with engine.connect() as conn:
        signals = await notified_without_followup(conn, since or as_of - LOOKBACK, as_of)
    if not signals:
        return 0
    frames = await bars_after(engine, signals, as_of)
    by_pair: dict[str, list[tuple[DeliveredSignal, Resolution]]] = defaultdict(list)
    for signal in signals:
        resolution = resolve(signal, frames[signal["currency_pair"]], as_of)
        if resolution.final:
            by_pair[signal["currency_pair"]].append((signal, resolution))
    queued = 0
    for pair, items in by_pair.items():
        async with engine.begin() as conn:  # one commit per pair: all of its follow-ups or none
            for signal, res in items:
                queued += await outbox.enqueue(
                    conn,
                    kind="outcome",
                    channel="patterns",
                    dedupe_key=followup_key(signal),
                    payload={"discord": outcome_message(signal, res.result, res.pips, res.took)},
                    pattern_detection_id=int(signal["detection_id"]),
                )
        log.info("followups.queued", pair=pair, count=len(items))
    return queued
