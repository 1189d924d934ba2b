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
from typing import TYPE_CHECKING

import pandas as pd
import structlog

from exchange_analytics import stopping as stop
from exchange_analytics.domain import DayBoundary, Timeframe
from exchange_analytics.indicators.compute import TRAILING_WINDOW
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.notifications import outbox
from exchange_analytics.patterns.engine import BarDetections, detect_bars
from exchange_analytics.patterns.evaluate import PatternResult
from exchange_analytics.patterns.inputs import TimeframeWindow
from exchange_analytics.patterns.newness import NewnessTracker
from exchange_analytics.patterns.thresholds import Thresholds
from exchange_analytics.pipeline.derive import FrameCache, window_start
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage import cycle_signals
from exchange_analytics.storage import initialization as init_store
from exchange_analytics.storage.cycle_reads import PairFacts
from exchange_analytics.storage.cycle_signals import DetectionRow
from exchange_analytics.storage.engine import Connection, Database

if TYPE_CHECKING:
    from exchange_analytics.pipeline.notify import PolicyGate

log = structlog.get_logger(__name__)

MARKER = "evaluated_until"
MAX_BARS_PER_RUN = 2016  # one week of 5m bars
STALE_AFTER = timedelta(minutes=15)


@dataclass
class SignalOutcome:
    bars_evaluated: int = 0
    detections: int = 0
    queued: int = 0
    #: The queued messages as the ``--json`` summary shows them.
    messages: list[JSONObject] = field(default_factory=list)


async def _evaluated_until(conn: Connection, pair: str, facts: PairFacts | None) -> datetime | None:
    """The pair's ``evaluated_until`` mark, from its facts when the cycle read them."""
    if facts is not None:
        return facts.marker(MARKER)
    return await init_store.get_marker(conn, pair, MARKER)


async def _bars_to_evaluate(
    conn: Connection, pair: str, since: datetime | None, frames: FrameCache | None
) -> list[datetime]:
    """The 5m bars after the ``evaluated_until`` mark (capped), or the latest bar alone
    without a mark. Answered from the derive stage's 5m window when it reaches back to the
    mark: that window holds every stored bar from its start on."""
    cached = (frames or {}).get(Timeframe.M5)
    if since is not None and cached is not None:
        start, frame = cached
        if start is None or start <= since:
            index = frame.index
            after = index[index > pd.Timestamp(since)][:MAX_BARS_PER_RUN]
            return [stamp.to_pydatetime() for stamp in after]
    return await cycle_signals.bar_times_to_evaluate(conn, pair, since, MAX_BARS_PER_RUN)


async def _newness_state(
    conn: Connection, pair: str, before: datetime, cooldown: int, m5: pd.DataFrame
) -> NewnessTracker:
    """The newness rule's memory of the bars before ``before``; the previous bar comes from
    the 5m window when it holds one before ``before``."""
    earlier = m5.index[m5.index < pd.Timestamp(before)]
    if len(earlier):
        previous_bar: datetime | None = earlier[-1].to_pydatetime()
    else:
        previous_bar = await cycle_signals.previous_bar_time(conn, pair, before)
    history = await cycle_signals.newness_history(conn, pair, previous_bar, before)
    last = {key: stamp + Timeframe.M5.duration for key, stamp in history.last_notified.items()}
    return NewnessTracker.seeded(cooldown, history.previous, last)


def _json_readings(readings: Mapping[str, Mapping[str, float | None]]) -> JSONObject:
    """The message readings (timeframe -> name -> value) as the JSON column stores them."""
    out: JSONObject = {}
    for timeframe, values in readings.items():
        numbers: JSONObject = {}
        for name, value in values.items():
            numbers[name] = value
        out[timeframe] = numbers
    return out


def _detection_row(
    result: PatternResult,
    decision: str,
    source: str,
    readings: Mapping[str, Mapping[str, float | None]],
) -> DetectionRow:
    if result.bar_timestamp is None:  # pragma: no cover - detect_bars stamps every result
        raise ValueError(f"{result.pattern_type} result has no bar timestamp")
    return DetectionRow(
        pattern_type=result.pattern_type,
        direction=result.direction,
        bar_timestamp=result.bar_timestamp,
        confidence_score=result.confidence,
        priority=result.priority,
        entry_price=result.entry_price,
        take_profit=result.take_profit,
        stop_loss=result.stop_loss,
        detection_data={**result.to_detection_data(), "readings": _json_readings(readings)},
        notify_decision=decision,
        source=source,
    )


def _summary(payload: JSONObject, result: PatternResult) -> JSONObject:
    """A queued message (its outbox ``payload``) as the ``--json`` summary lists it."""
    return {
        "summary": outbox.summary_line(payload),
        "bar_timestamp": str(result.bar_timestamp),
        "pattern_type": result.pattern_type,
        "direction": result.direction,
        "confidence": result.confidence,
        "entry_price": result.entry_price,
        "take_profit": result.take_profit,
        "stop_loss": result.stop_loss,
        "payload": payload["discord"],
    }


async def _queue(
    conn: Connection,
    outcome: SignalOutcome,
    pair: str,
    result: PatternResult,
    detection_id: int,
    *,
    is_demo: bool,
    queue_status: str,
    readings: dict[str, dict[str, float | None]],
    gate: PolicyGate | None,
) -> None:
    """Queue the message of one ``new`` detection (see ``store_bar_results``)."""
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
        return  # held for the digest, or stored and never sent (SPEC §17 policy)
    if queued:
        outcome.queued += 1
        outcome.messages.append(_summary(message["payload"], result))


async def store_bar_results(
    conn: Connection,
    outcome: SignalOutcome,
    *,
    pair: str,
    results: list[PatternResult],
    decisions: Mapping[tuple[str, str], str],
    stale: bool,
    source: str,
    is_demo: bool,
    queue_status: str,
    windows: Mapping[Timeframe, TimeframeWindow],
    gate: PolicyGate | None = None,
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
        row = _detection_row(result, decision, source, readings)
        detection_id = await cycle_signals.insert_detection(conn, pair, row)
        if detection_id is None:
            continue  # stored by an earlier run: its message was queued then
        outcome.detections += 1
        if decision == "new":
            await _queue(
                conn,
                outcome,
                pair,
                result,
                detection_id,
                is_demo=is_demo,
                queue_status=queue_status,
                readings=readings,
                gate=gate,
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


def _from(frame: pd.DataFrame, start: datetime | None) -> pd.DataFrame:
    """The bars of ``frame`` (sorted) from ``start`` on, by position (a view, no mask)."""
    if start is None:
        return frame
    return frame.iloc[int(frame.index.searchsorted(pd.Timestamp(start), side="left")) :]


async def load_inputs(
    conn: Connection, pair: str, first_bar: datetime, frames: FrameCache | None = None
) -> tuple[pd.DataFrame, dict[Timeframe, pd.DataFrame]]:
    """The trailing windows the snapshots need; reuses what the derive stage just read."""

    async def read(timeframe: Timeframe, before: datetime) -> pd.DataFrame:
        cached = (frames or {}).get(timeframe)
        known = cached_window_start(cached, before) if cached is not None else None
        if cached is not None and known is not None:
            return _from(cached[1], known[0])
        start = await window_start(conn, pair, timeframe, before)
        if cached is not None:
            cached_start, frame = cached
            if cached_start is None or (start is not None and cached_start <= start):
                return _from(frame, start)
        return await candle_store.load_bars(conn, pair, timeframe, since=start)

    m5 = await read(Timeframe.M5, first_bar)
    higher = {
        tf: await read(tf, first_bar - tf.duration)
        for tf in (Timeframe.H1, Timeframe.H4, Timeframe.D1)
    }
    return m5, higher


async def evaluate_new_bars(
    engine: Database,
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
    facts: PairFacts | None = None,
    gate: PolicyGate | None = None,
) -> SignalOutcome:
    """Detect the patterns at every new closed 5m bar and store them bar by bar (see the
    module docstring). ``frames`` are the derive stage's windows and ``facts`` the pair's
    facts read at the start of its turn: they spare reads of the same rows."""
    outcome = SignalOutcome()
    async with engine.connect() as conn:
        marker = None if after_backfill else await _evaluated_until(conn, pair, facts)
        bars = await _bars_to_evaluate(conn, pair, marker, frames)
        if not bars:
            return outcome
        m5, higher = await load_inputs(conn, pair, bars[0], frames)
        tracker = await _newness_state(conn, pair, bars[0], cooldown_minutes, m5)
    eval_from, eval_to = pd.Timestamp(bars[0]), pd.Timestamp(bars[-1])
    found = {
        bar.stamp.value: bar
        for bar in detect_bars(m5, higher, pair, day_boundary, eval_from, eval_to, thresholds)
    }
    queue_status = "suppressed" if dry_run else "pending"
    for bar_ts in m5.index[(m5.index >= eval_from) & (m5.index <= eval_to)]:
        stop.check()
        detected = found.get(pd.Timestamp(bar_ts).value)
        await _store_bar(
            engine,
            outcome,
            pair,
            bar_ts.to_pydatetime(),
            detected,
            tracker,
            stale_before=now - STALE_AFTER,
            source=source,
            is_demo=is_demo,
            queue_status=queue_status,
            gate=gate,
        )
    if outcome.detections:
        log.info(
            "patterns.detected",
            pair=pair,
            **{k: v for k, v in outcome.__dict__.items() if k != "messages"},
        )
    return outcome


async def _store_bar(
    engine: Database,
    outcome: SignalOutcome,
    pair: str,
    bar: datetime,
    detected: BarDetections | None,
    tracker: NewnessTracker,
    *,
    stale_before: datetime,
    source: str,
    is_demo: bool,
    queue_status: str,
    gate: PolicyGate | None,
) -> None:
    """One bar in ONE transaction: its detections, their messages and the mark."""
    results = detected.results if detected is not None else []
    windows = detected.windows if detected is not None else {}
    bar_close = bar + Timeframe.M5.duration
    decisions = tracker.step([(r.pattern_type, r.direction) for r in results], bar_close)
    async with engine.begin() as conn:
        await store_bar_results(
            conn,
            outcome,
            pair=pair,
            results=results,
            decisions=decisions,
            stale=bar_close < stale_before,
            source=source,
            is_demo=is_demo,
            queue_status=queue_status,
            windows=windows,
            gate=gate,
        )
        await init_store.set_marker(conn, pair, MARKER, bar)
    outcome.bars_evaluated += 1
