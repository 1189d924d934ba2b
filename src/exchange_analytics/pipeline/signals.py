"""Stage 6: evaluate the six patterns at every new closed 5m bar and store detections.

Which bars: every stored 5m bar after the pair's ``evaluated_until`` mark, oldest first (so a
healed gap is evaluated bar by bar, as cron would have), capped at ``MAX_BARS_PER_RUN``. After
an initialization backfill only the latest bar is evaluated: history is not a signal.

Detections come from ``patterns.engine.detect_bars`` over the range of new bars — the same
entry point ``replay`` uses — so the higher timeframes are the buckets as they stood when each
bar closed, and the windows handed to the messages are the per-bar ones.

Per bar, in ONE transaction: the detections (idempotent on their unique key), the outbox
message of each detection decided ``new`` (SPEC §8: "the detection and its message are written
in one transaction"), and the ``evaluated_until`` mark. A crash before the commit re-evaluates
that bar next run; after it, nothing is evaluated twice.

Notification policy for healed bars: a detection whose bar closed more than
``STALE_AFTER`` before the cycle's clock is stored with decision ``stale`` and not sent, since
a signal from hours ago is not actionable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import pandas as pd
import structlog
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange_analytics import stopping as stop
from exchange_analytics.domain import DayBoundary, Timeframe
from exchange_analytics.indicators.compute import TRAILING_WINDOW
from exchange_analytics.notifications import outbox
from exchange_analytics.patterns.engine import detect_bars
from exchange_analytics.patterns.evaluate import PatternResult
from exchange_analytics.patterns.newness import NewnessTracker
from exchange_analytics.patterns.thresholds import Thresholds
from exchange_analytics.pipeline.derive import FrameCache, window_start
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage import initialization as init_store
from exchange_analytics.storage.dialect import dialect_insert
from exchange_analytics.storage.models import PatternDetection, PriceData, utcnow

log = structlog.get_logger(__name__)

MARKER = "evaluated_until"
MAX_BARS_PER_RUN = 2016  # one week of 5m bars
STALE_AFTER = timedelta(minutes=15)
DET = cast(Table, PatternDetection.__table__)


@dataclass
class SignalOutcome:
    bars_evaluated: int = 0
    detections: int = 0
    queued: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)


async def _bars_to_evaluate(
    conn: AsyncConnection, pair: str, since: datetime | None
) -> list[datetime]:
    col = PriceData.__table__.c
    stmt = select(col.timestamp).where(col.currency_pair == pair, col.timeframe == "5m")
    if since is not None:
        stmt = stmt.where(col.timestamp > since)
        stmt = stmt.order_by(col.timestamp).limit(MAX_BARS_PER_RUN)
    else:
        stmt = stmt.order_by(col.timestamp.desc()).limit(1)
    return sorted(r[0] for r in await conn.execute(stmt))


async def _newness_state(
    conn: AsyncConnection, pair: str, before: datetime, cooldown: int
) -> NewnessTracker:
    col = PriceData.__table__.c
    previous_bar = (
        await conn.execute(
            select(func.max(col.timestamp)).where(
                col.currency_pair == pair, col.timeframe == "5m", col.timestamp < before
            )
        )
    ).scalar()
    previous: list[tuple[str, str]] = []
    if previous_bar is not None:
        rows = await conn.execute(
            select(DET.c.pattern_type, DET.c.direction).where(
                DET.c.currency_pair == pair, DET.c.bar_timestamp == previous_bar
            )
        )
        previous = [(r[0], r[1]) for r in rows]
    notified = await conn.execute(
        select(DET.c.pattern_type, DET.c.direction, func.max(DET.c.bar_timestamp))
        .where(
            DET.c.currency_pair == pair,
            DET.c.notify_decision == "new",
            DET.c.bar_timestamp < before,
        )
        .group_by(DET.c.pattern_type, DET.c.direction)
    )
    last = {}
    for pattern, direction, stamp in notified:
        if stamp is not None:
            last[(pattern, direction)] = stamp + Timeframe.M5.duration
    return NewnessTracker.seeded(cooldown, previous, last)


async def _insert_detection(
    conn: AsyncConnection,
    pair: str,
    result: PatternResult,
    decision: str,
    source: str,
    readings: Mapping[str, Any],
) -> int | None:
    """Insert once; returns the new id, or None when it already existed (a re-run)."""
    stmt = (
        dialect_insert(conn, DET)
        .values(
            currency_pair=pair,
            pattern_type=result.pattern_type,
            direction=result.direction,
            bar_timestamp=result.bar_timestamp,
            detected_at=utcnow(),
            confidence_score=result.confidence,
            priority=result.priority,
            entry_price=result.entry_price,
            take_profit=result.take_profit,
            stop_loss=result.stop_loss,
            detection_data={**result.to_detection_data(), "readings": readings},
            notify_decision=decision,
            source=source,
        )
        .on_conflict_do_nothing(
            index_elements=["currency_pair", "pattern_type", "direction", "bar_timestamp"]
        )
        .returning(DET.c.id)
    )
    return (await conn.execute(stmt)).scalar()


async def store_bar_results(
    conn: AsyncConnection,
    outcome: SignalOutcome,
    *,
    pair: str,
    results: list[PatternResult],
    decisions: Mapping[tuple[str, str], str],
    stale: bool,
    source: str,
    is_demo: bool,
    queue_status: str,
    windows: Mapping[Timeframe, Any],
    gate: Any = None,
) -> None:
    """Store one bar's detections and queue the ``new`` ones, on the caller's transaction.

    ``queue_status`` 'suppressed' records what would have been sent (--dry-run, replay)
    without ever sending it. ``gate`` (``pipeline.notify.PolicyGate``, SPEC §17) adds the
    track record to the message and, when sending, picks the delivery (at once, held for the
    digest, or suppressed by policy); without it every ``new`` detection is sent at once.
    """
    readings = outbox.readings_at(windows) if results else {}
    for result in results:
        decision = decisions[(result.pattern_type, result.direction)]
        if decision == "new" and stale:
            decision = "stale"
        detection_id = await _insert_detection(conn, pair, result, decision, source, readings)
        if detection_id is None:
            continue  # stored by an earlier run: its message was queued then
        outcome.detections += 1
        if decision != "new":
            continue
        status = queue_status
        reason = "not sent: dry run or replay" if queue_status == "suppressed" else None
        record_text = None
        if gate is not None:
            delivery, record_text = await gate.route(conn, pair, result)
            if queue_status == "pending":
                status, reason = delivery.status, delivery.reason
        message = outbox.pattern_outbox_entry(
            pair,
            result,
            detection_id=detection_id,
            is_demo=is_demo,
            readings=readings,
            track_record=record_text,
        )
        queued = await outbox.enqueue(conn, **message, status=status, last_error=reason)
        if status != queue_status:
            continue  # held for the digest, or stored and never sent (SPEC §17 policy)
        if queued:
            outcome.queued += 1
            outcome.messages.append(
                {
                    "summary": outbox.summary_line(message["payload"]),
                    "bar_timestamp": str(result.bar_timestamp),
                    "pattern_type": result.pattern_type,
                    "direction": result.direction,
                    "confidence": result.confidence,
                    "entry_price": result.entry_price,
                    "take_profit": result.take_profit,
                    "stop_loss": result.stop_loss,
                    "payload": message["payload"]["discord"],
                }
            )


def cached_window_start(
    cached: tuple[datetime | None, pd.DataFrame], before: datetime, window: int = TRAILING_WINDOW
) -> tuple[datetime | None] | None:
    """``window_start(before)`` answered from a derive-stage window, or None when the window
    cannot tell. The cached frame holds every stored bar from its start on (the derive stage
    wrote it in this cycle), so when at least ``window`` of its bars lie before ``before``, the
    ``window``-th of them is the bar the probe would find; when fewer do and the frame is all
    history (start None), the probe would find none. Wrapped in a 1-tuple: (None,) means
    "use all history", a bare None means "ask the database"."""
    cached_start, frame = cached
    count = int(frame.index.searchsorted(pd.Timestamp(before), side="left"))
    if count >= window:
        moment: datetime = frame.index[count - window].to_pydatetime()
        return (moment,)
    return (None,) if cached_start is None else None


async def load_inputs(
    conn: AsyncConnection, pair: str, first_bar: datetime, frames: FrameCache | None = None
) -> tuple[pd.DataFrame, dict[Timeframe, pd.DataFrame]]:
    """The trailing windows the snapshots need; reuses what the derive stage just read."""

    async def read(timeframe: Timeframe, before: datetime) -> pd.DataFrame:
        cached = (frames or {}).get(timeframe)
        known = cached_window_start(cached, before) if cached is not None else None
        if cached is not None and known is not None:
            start = known[0]
            frame = cached[1]
            return frame if start is None else frame[frame.index >= pd.Timestamp(start)]
        start = await window_start(conn, pair, timeframe, before)
        if cached is not None:
            cached_start, frame = cached
            if cached_start is None or (start is not None and cached_start <= start):
                return frame if start is None else frame[frame.index >= pd.Timestamp(start)]
        return await candle_store.load_bars(conn, pair, timeframe, since=start)

    m5 = await read(Timeframe.M5, first_bar)
    higher = {
        tf: await read(tf, first_bar - tf.duration)
        for tf in (Timeframe.H1, Timeframe.H4, Timeframe.D1)
    }
    return m5, higher


async def evaluate_new_bars(
    engine: AsyncEngine,
    *,
    pair: str,
    now: datetime,
    day_boundary: DayBoundary,
    thresholds: Thresholds,
    cooldown_minutes: int,
    source: str,
    is_demo: bool,
    after_backfill: bool,
    dry_run: bool,
    frames: FrameCache | None = None,
    gate: Any = None,
) -> SignalOutcome:
    outcome = SignalOutcome()
    async with engine.connect() as conn:
        marker = None if after_backfill else await init_store.get_marker(conn, pair, MARKER)
        bars = await _bars_to_evaluate(conn, pair, marker)
        if not bars:
            return outcome
        m5, higher = await load_inputs(conn, pair, bars[0], frames)
        tracker = await _newness_state(conn, pair, bars[0], cooldown_minutes)
    eval_from, eval_to = pd.Timestamp(bars[0]), pd.Timestamp(bars[-1])
    found = {
        bar.stamp.value: bar
        for bar in detect_bars(m5, higher, pair, day_boundary, eval_from, eval_to, thresholds)
    }
    for bar_ts in m5.index[(m5.index >= eval_from) & (m5.index <= eval_to)]:
        stop.check()
        detected = found.get(pd.Timestamp(bar_ts).value)
        results = detected.results if detected is not None else []
        windows = detected.windows if detected is not None else {}
        bar_close = bar_ts.to_pydatetime() + Timeframe.M5.duration
        decisions = tracker.step([(r.pattern_type, r.direction) for r in results], bar_close)
        async with engine.begin() as conn:
            await store_bar_results(
                conn,
                outcome,
                pair=pair,
                results=results,
                decisions=decisions,
                stale=now - bar_close > STALE_AFTER,
                source=source,
                is_demo=is_demo,
                queue_status="suppressed" if dry_run else "pending",
                windows=windows,
                gate=gate,
            )
            await init_store.set_marker(conn, pair, MARKER, bar_ts.to_pydatetime())
        outcome.bars_evaluated += 1
    if outcome.detections:
        log.info(
            "patterns.detected",
            pair=pair,
            **{k: v for k, v in outcome.__dict__.items() if k != "messages"},
        )
    return outcome
