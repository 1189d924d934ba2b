"""Stages 4-5: aggregate 5m into 1h/4h/1d and compute indicators, incrementally.

Full mode (after a backfill) rebuilds every bucket and every indicator row of the pair.
Incremental mode (every other cycle) touches only:

* the buckets that contain a new or changed 5m bar, plus buckets still stored as forming
  (is_complete = false), whose completeness may change without a new bar inside them;
* indicator rows from the earliest changed bar on, computed over a trailing window of
  ``indicators.TRAILING_WINDOW`` bars, which equals the full-history value within 1e-9.

Bucket source rule (SPEC §5): a bucket starting at or after the first stored 5m bar is built
from 5m; an older one from the stored 1h bars (provider history), with the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd
import structlog

from exchange_analytics.aggregation import aggregate, touched_bucket_starts
from exchange_analytics.aggregation.aggregate import BAR_COLUMNS, BarArrays
from exchange_analytics.aggregation.rebuild import rebuild_buckets, splice_columns
from exchange_analytics.domain import DayBoundary, Timeframe
from exchange_analytics.indicators import (
    TRAILING_WINDOW,
    IndicatorSpec,
    compute_indicators,
    indicator_rows,
    trailing_window,
)
from exchange_analytics.indicators.compute import indicator_columns_of
from exchange_analytics.indicators.rows import IndicatorRow, indicator_rows_of_columns
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage import initialization as init_store
from exchange_analytics.storage.cycle_reads import PairFacts
from exchange_analytics.storage.cycle_windows import (
    StoredWindow,
    load_window_arrays,
    window_of_frame,
)
from exchange_analytics.storage.cycle_writes import write_indicator_rows
from exchange_analytics.storage.engine import Connection, Database

log = structlog.get_logger(__name__)

MARKER = "derived_until"
#: timeframe -> (the start a frame was read from, None for "all history"; the frame)
FrameCache = dict[Timeframe, tuple[datetime | None, pd.DataFrame]]
HIGHER = (Timeframe.H1, Timeframe.H4, Timeframe.D1)


@dataclass
class DeriveOutcome:
    bars_aggregated: int = 0
    indicator_rows_written: int = 0
    #: The trailing windows read for the indicators, keyed by timeframe, with the start they
    #: were read from; the patterns stage reuses them instead of reading the same bars again.
    frames: FrameCache = field(default_factory=dict)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _to_index(values: Sequence[datetime]) -> pd.DatetimeIndex:
    """Sorted unique UTC index of aware datetimes (exact integer arithmetic, no parsing)."""
    micros = np.unique(np.fromiter(((v - _EPOCH) // _MICROSECOND for v in values), np.int64))
    return pd.DatetimeIndex(micros.astype("datetime64[us]").astype("datetime64[ns]"), tz="UTC")


async def _write_bars(
    conn: Connection, pair: str, timeframe: Timeframe, frame: pd.DataFrame
) -> int:
    rows = candle_store.frame_rows(pair, timeframe, frame, "aggregated")
    return await candle_store.write_rows(conn, rows)


async def derive_full(
    engine: Database, pair: str, day_boundary: DayBoundary, extras: Sequence[IndicatorSpec] = ()
) -> DeriveOutcome:
    """Rebuild every higher-timeframe bucket and every indicator row for ``pair``."""
    outcome = DeriveOutcome()
    async with engine.begin() as conn:
        m5 = await candle_store.load_bars(conn, pair, Timeframe.M5)
        h1_provider = await candle_store.load_bars(conn, pair, Timeframe.H1)
        first_m5 = m5.index[0] if len(m5) else None
        data_end = m5.index[-1] + Timeframe.M5.duration if len(m5) else None
        h1_from_m5 = _build(m5, h1_provider, Timeframe.H1, day_boundary, first_m5, data_end)
        outcome.bars_aggregated += await _write_bars(conn, pair, Timeframe.H1, h1_from_m5)
        provider_era = (
            h1_provider if first_m5 is None else h1_provider[h1_provider.index < first_m5]
        )
        h1_series = pd.concat([provider_era, h1_from_m5]).sort_index()
        built: dict[Timeframe, pd.DataFrame] = {Timeframe.H1: h1_series}
        for timeframe in (Timeframe.H4, Timeframe.D1):
            frame = _build(m5, h1_series, timeframe, day_boundary, first_m5, data_end)
            built[timeframe] = frame
            outcome.bars_aggregated += await _write_bars(conn, pair, timeframe, frame)
        frames = {Timeframe.M5: m5, **built}
        for timeframe, frame in frames.items():
            if frame.empty:
                continue
            values = compute_indicators(frame, extras)
            outcome.indicator_rows_written += await write_indicator_rows(
                conn, indicator_rows(pair, timeframe, values)
            )
        if len(m5):
            await init_store.set_marker(conn, pair, MARKER, m5.index[-1].to_pydatetime())
    log.info("derive.full", pair=pair, **outcome.__dict__)
    return outcome


def _build(
    m5: pd.DataFrame,
    h1_series: pd.DataFrame,
    timeframe: Timeframe,
    day_boundary: DayBoundary,
    first_m5: pd.Timestamp | None,
    data_end: pd.Timestamp | None,
) -> pd.DataFrame:
    """Buckets starting at/after the first 5m bar from 5m; older ones from the 1h series.

    ``h1_series`` is the complete 1h series (provider bars before the first 5m bar, 5m
    aggregates after), so a 4h/1d bucket that straddles the first 5m bar still sees all of
    its hours.
    """
    parts = []
    if len(h1_series) and timeframe is not Timeframe.H1:
        older = aggregate(
            h1_series[["open", "high", "low", "close", "volume"]],
            timeframe,
            day_boundary,
            data_end=data_end,
            source_timeframe=Timeframe.H1,
        )
        if first_m5 is not None:
            older = older[older.index < first_m5]
        parts.append(older)
    if first_m5 is not None and len(m5):
        from_m5 = aggregate(m5, timeframe, day_boundary, data_end=data_end)
        # The bucket holding the first 5m bar (a file starting at 22:05) is built from 5m too
        # unless older history has it, so higher timeframes lose no bar (SPEC §3.5); its
        # bar_count tells that it is partial.
        known = h1_series.index if timeframe is Timeframe.H1 else parts[0].index if parts else None
        first_bucket = from_m5[from_m5.index < first_m5]
        if known is None or not first_bucket.index.isin(known).any():
            parts.insert(0, first_bucket)
        parts.append(from_m5[from_m5.index >= first_m5])
    if not parts:
        return _empty_frame()
    frame = pd.concat(parts)
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Series(dtype="float64") for name in ("open", "high", "low", "close", "volume")}
    )
    frame["bar_count"] = pd.Series(dtype="int64")
    frame["is_complete"] = pd.Series(dtype=bool)
    frame.index = pd.DatetimeIndex([], tz="UTC", name="timestamp")
    return frame


async def window_start(
    conn: Connection,
    pair: str,
    timeframe: Timeframe,
    before: datetime,
    window: int = TRAILING_WINDOW,
) -> datetime | None:
    """Open time of the ``window``-th bar before ``before`` (None: use all history)."""
    return await candle_store.nth_bar_before(conn, pair, timeframe, before, window)


async def refresh_indicators(
    conn: Connection,
    pair: str,
    timeframe: Timeframe,
    since: datetime,
    extras: Sequence[IndicatorSpec] = (),
    frames: FrameCache | None = None,
) -> int:
    """Recompute indicator rows from ``since`` on over a trailing window; write changed ones."""
    # Long EMAs (e.g. EMA:200) need more than TRAILING_WINDOW bars to agree within 1e-9.
    start = await window_start(conn, pair, timeframe, since, trailing_window(extras))
    bars = await candle_store.load_bars(conn, pair, timeframe, since=start)
    if frames is not None:
        frames[timeframe] = (start, bars)
    if bars.empty:
        return 0
    values = compute_indicators(bars, extras)
    rows = indicator_rows(pair, timeframe, values, since=pd.Timestamp(since))
    return await write_indicator_rows(conn, rows)


async def _m5_state(
    conn: Connection, pair: str, new_m5: Sequence[datetime], facts: PairFacts | None
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """First and last stored 5m bar, and the ``derived_until`` mark when bars after it may
    be missing from ``new_m5``.

    From the pair's facts read at the start of its turn when the cycle has them: the fetch
    since then only added ``new_m5`` (the pair's lock keeps everyone else out)."""
    if facts is None:
        first, latest = await candle_store.m5_span(conn, pair)
        return first, latest, await init_store.get_marker(conn, pair, MARKER)
    first, latest, derived_until = facts.first_m5, facts.latest_m5, facts.marker(MARKER)
    if derived_until is not None and latest is not None and derived_until >= latest:
        # Everything stored before the fetch was derived: the bars after the mark are
        # exactly ``new_m5``, so ``_pending_m5`` need not ask (None: nothing to add).
        derived_until = None
    if new_m5:
        first = min(new_m5) if first is None else min(first, min(new_m5))
        latest = max(new_m5) if latest is None else max(latest, max(new_m5))
    return first, latest, derived_until


async def _pending_m5(
    conn: Connection,
    pair: str,
    new_m5: Sequence[datetime],
    latest: datetime,
    derived_until: datetime | None,
) -> list[datetime]:
    """The new 5m bars, plus bars stored by a run that died before deriving them."""
    pending = list(new_m5)
    if derived_until is not None and derived_until < latest:
        pending.extend(await candle_store.bar_times_after(conn, pair, Timeframe.M5, derived_until))
    return pending


async def derive_incremental(
    engine: Database,
    pair: str,
    new_m5: Sequence[datetime],
    day_boundary: DayBoundary,
    extras: Sequence[IndicatorSpec] = (),
    *,
    facts: PairFacts | None = None,
) -> DeriveOutcome:
    """Recompute only the buckets and indicator rows that the new 5m bars can change.

    The common case (every touched bucket lies after the first stored 5m bar) reads each
    timeframe's trailing window once, in one statement, and writes bars and indicator rows in
    one statement each (``_derive_windowed``). Buckets older than the first 5m bar need the
    provider's 1h history and take the general path (``_derive_from_history``). ``facts``
    (``storage.cycle_reads``) spare the reads of the 5m span and the mark.
    """
    outcome = DeriveOutcome()
    async with engine.begin() as conn:
        first_m5, latest, derived_until = await _m5_state(conn, pair, new_m5, facts)
        if first_m5 is None or latest is None:
            return outcome
        pending = await _pending_m5(conn, pair, new_m5, latest, derived_until)
        if not pending:
            return outcome
        new_index = _to_index(pending)
        first = pd.Timestamp(first_m5)
        data_end = pd.Timestamp(latest) + Timeframe.M5.duration
        forming = await candle_store.forming_starts(conn, pair, HIGHER)
        touched = {
            tf: touched_bucket_starts(new_index, tf, day_boundary).union(_to_index(forming[tf]))
            for tf in HIGHER
        }
        if all(t.empty or t[0] >= first for t in touched.values()):
            args = (conn, pair, new_index, touched, data_end, day_boundary, extras, outcome)
            await _derive_windowed(*args)
        else:
            args2 = (conn, pair, new_index, touched, first, data_end, day_boundary, extras, outcome)
            await _derive_from_history(*args2)
        await init_store.set_marker(conn, pair, MARKER, latest)
    return outcome


async def _derive_windowed(
    conn: Connection,
    pair: str,
    new_index: pd.DatetimeIndex,
    touched: dict[Timeframe, pd.DatetimeIndex],
    data_end: pd.Timestamp,
    day_boundary: DayBoundary,
    extras: Sequence[IndicatorSpec],
    outcome: DeriveOutcome,
) -> None:
    """One read of every trailing window, buckets rebuilt from 5m in memory, two writes.

    A higher timeframe's window is the stored bars with the rebuilt buckets spliced in, which
    is exactly what the table holds after the write. Each window starts ``trailing_window``
    bars before the earliest bar the patterns stage will ask for, so it reuses them."""
    touched = {tf: t for tf, t in touched.items() if not t.empty}
    first_new = new_index[0]
    before = {Timeframe.M5: first_new.to_pydatetime()} | {
        tf: min(t[0], first_new - tf.duration).to_pydatetime() for tf, t in touched.items()
    }
    windows = await load_window_arrays(conn, pair, before, trailing_window(extras))
    earliest = min((t[0] for t in touched.values()), default=None)
    m5_start = windows[Timeframe.M5].start
    if m5_start is not None and earliest is not None and earliest < m5_start:
        # a forming bucket older than the window (after downtime): its 5m bars too
        since = earliest.to_pydatetime()
        m5_frame = await candle_store.load_bars(conn, pair, Timeframe.M5, since=since)
        windows[Timeframe.M5] = window_of_frame(since, m5_frame)
    changed_since = {Timeframe.M5: int(first_new.as_unit("ns").value)}
    bar_rows = _rebuild(pair, windows, touched, data_end, day_boundary, changed_since)
    outcome.bars_aggregated += await candle_store.write_rows(conn, bar_rows)
    rows: list[IndicatorRow] = []
    for tf, since_ns in changed_since.items():
        window = windows[tf]
        tail = int(np.searchsorted(window.timestamps, since_ns, side="left"))
        columns = indicator_columns_of(window.columns, window.timestamps, extras)
        tails = {name: values[tail:] for name, values in columns.items()}
        rows.extend(indicator_rows_of_columns(pair, tf, _stamps(window.timestamps[tail:]), tails))
    outcome.indicator_rows_written += await write_indicator_rows(conn, rows)
    outcome.frames.update({tf: (w.start, w.frame()) for tf, w in windows.items()})


def _rebuild(
    pair: str,
    windows: dict[Timeframe, StoredWindow],
    touched: dict[Timeframe, pd.DatetimeIndex],
    data_end: pd.Timestamp,
    day_boundary: DayBoundary,
    changed_since: dict[Timeframe, int],
) -> list[candle_store.PriceRow]:
    """Rebuild the touched buckets from the 5m window, splice them into each higher
    timeframe's window (what the table holds once they are written) and note where each
    timeframe changed (epoch ns) in ``changed_since``; the price rows to write."""
    m5 = windows[Timeframe.M5]
    m5_arrays = BarArrays(
        m5.timestamps, {c: m5.columns[c].astype(np.float64, copy=False) for c in BAR_COLUMNS}
    )
    end_ns = int(data_end.as_unit("ns").value)
    bar_rows: list[candle_store.PriceRow] = []
    for tf, starts_tf in touched.items():
        wanted = np.asarray(starts_tf.as_unit("ns").asi8, dtype=np.int64)
        built = rebuild_buckets(m5_arrays, wanted, tf, day_boundary, end_ns)
        if not len(built):
            continue
        bar_rows.extend(
            candle_store.bucket_rows(pair, tf, built.starts, built.columns, "aggregated")
        )
        stored = windows[tf]
        stamps, columns = splice_columns(stored.timestamps, stored.columns, built)
        windows[tf] = StoredWindow(stored.start, stamps, columns)
        changed_since[tf] = int(built.starts[0])
    return bar_rows


def _stamps(stamps_ns: npt.NDArray[np.int64]) -> list[datetime]:
    """Aware UTC datetimes of epoch-ns open times (exact integer arithmetic)."""
    return [_EPOCH + timedelta(microseconds=ns // 1000) for ns in stamps_ns.tolist()]


async def _derive_from_history(
    conn: Connection,
    pair: str,
    new_index: pd.DatetimeIndex,
    touched: dict[Timeframe, pd.DatetimeIndex],
    first: pd.Timestamp,
    data_end: pd.Timestamp,
    day_boundary: DayBoundary,
    extras: Sequence[IndicatorSpec],
    outcome: DeriveOutcome,
) -> None:
    """The general path, one timeframe at a time, for buckets that reach back before the
    first 5m bar and are therefore built (SPEC §5) from the provider's 1h bars."""
    changed_since: dict[Timeframe, datetime] = {Timeframe.M5: new_index[0].to_pydatetime()}
    for timeframe, starts in touched.items():
        if starts.empty:
            continue
        window = starts[0]
        m5 = await candle_store.load_bars(
            conn, pair, Timeframe.M5, since=max(window, first).to_pydatetime()
        )
        h1 = (
            await candle_store.load_bars(conn, pair, Timeframe.H1, since=window.to_pydatetime())
            if window < first and timeframe is not Timeframe.H1
            else m5.iloc[0:0]
        )
        frame = _build(m5, h1, timeframe, day_boundary, first, data_end)
        frame = frame[frame.index.isin(starts)]
        if timeframe is Timeframe.H1:
            frame = frame[frame.index >= first]
        if frame.empty:
            continue
        outcome.bars_aggregated += await _write_bars(conn, pair, timeframe, frame)
        changed_since[timeframe] = frame.index[0].to_pydatetime()
    for timeframe, since in changed_since.items():
        outcome.indicator_rows_written += await refresh_indicators(
            conn, pair, timeframe, since, extras, outcome.frames
        )
