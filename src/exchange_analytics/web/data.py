"""What each page and endpoint needs, read through the read-only store and shaped for JSON.

The only module of ``web/`` that talks to storage; every read is one of the bounded functions
of ``storage.dashboard_queries``. The health verdict is the ``health`` command's own
(``health.gather.check_health``), cached for a few seconds so a refreshing browser does not
re-run it (it may ping the provider) on every request.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from exchange_analytics.config.settings import Settings
from exchange_analytics.domain import Timeframe
from exchange_analytics.evaluation.outcomes import DEFAULT_HORIZON, outcome
from exchange_analytics.health.gather import check_health
from exchange_analytics.health.report import to_dict
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.storage import dashboard_queries as q
from exchange_analytics.storage.dashboard_rows import DetectionRow
from exchange_analytics.storage.engine import Connection
from exchange_analytics.web import shaping
from exchange_analytics.web.params import NotFound

RUNS_SHOWN = 30
NOTIFICATIONS_SHOWN = 20
ALERTS_SHOWN = 50
HEALTH_TTL_S = 15.0
#: Signals closer together than this share one read of the 5m bars after them.
OUTCOME_CLUSTER = timedelta(days=2)
FIVE_MINUTES = timedelta(minutes=5)


class HealthCache:
    """The last health report for ``ttl`` seconds; one check at a time."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime], ttl: float) -> None:
        self.settings = _read_only_health(settings)
        self.clock = clock
        self.ttl = ttl
        self._lock = asyncio.Lock()
        self._value: JSONObject | None = None
        self._at = 0.0

    async def get(self) -> JSONObject:
        async with self._lock:
            if self._value is None or time.monotonic() - self._at > self.ttl:
                report = await check_health(self.settings, self.clock())
                self._value = to_dict(report)
                self._at = time.monotonic()
            return self._value


def _read_only_health(settings: Settings) -> Settings:
    """The health check builds its own engine; on PostgreSQL its sessions are made read-only
    too (SQLite: it runs SELECTs only, through the health command's own engine)."""
    if settings.is_sqlite:
        return settings
    args = settings.database_connect_args.copy()
    args["server_settings"] = {
        **args.get("server_settings", {}),
        "application_name": "exchange-analytics-dashboard",
        "default_transaction_read_only": "on",
    }
    return settings.with_overrides(database_connect_args=args)


async def known_pairs(store: q.DashboardStore) -> list[str]:
    async with store.connect() as conn:
        return await q.known_pairs(conn, store.settings.currency_pairs)


async def pairs(store: q.DashboardStore, now: datetime) -> list[JSONObject]:
    async with store.connect() as conn:
        names = await q.known_pairs(conn, store.settings.currency_pairs)
        return shaping.pair_rows(await q.last_bars(conn, names), now)


async def overview(store: q.DashboardStore, health: HealthCache, now: datetime) -> JSONObject:
    """Everything the overview page shows, in one connection plus the cached health check."""
    verdict = await health.get()
    async with store.connect() as conn:
        names = await q.known_pairs(conn, store.settings.currency_pairs)
        found = await q.last_bars(conn, names)
        runs = await q.recent_runs(conn, RUNS_SHOWN)
        counts = await q.notification_counts(conn)
        notes = await q.open_notifications(conn, NOTIFICATIONS_SHOWN)
        alerts = await q.active_alerts(conn, ALERTS_SHOWN)
    return {
        "pairs": [*shaping.pair_rows(found, now)],
        "health": verdict,
        "runs": [shaping.run_row(r) for r in runs],
        "sparkline": [*shaping.sparkline(list(reversed(runs)))],
        "notification_counts": {**counts},
        "notifications": [shaping.notification_row(n) for n in notes],
        "alerts": [shaping.alert_row(a) for a in alerts],
    }


async def runs(store: q.DashboardStore, limit: int) -> list[JSONObject]:
    async with store.connect() as conn:
        return [shaping.run_row(r) for r in await q.recent_runs(conn, limit)]


async def chart(
    store: q.DashboardStore,
    pair: str,
    timeframe: Timeframe,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> JSONObject:
    """Candles (newest ``limit`` of the range) and their BB/RSI/MACD, for one timeframe."""
    async with store.connect() as conn:
        bars = await q.candles(conn, pair, timeframe, start, end, limit + 1)
        truncated = len(bars) > limit
        bars = bars[-limit:]
        indicators = (
            await q.indicator_rows(conn, pair, timeframe, bars[0][0], bars[-1][0], len(bars))
            if bars
            else []
        )
    payload = shaping.chart_payload(bars, indicators)
    return {"pair": pair, "timeframe": timeframe.value, "truncated": truncated, **payload}


async def detections(
    store: q.DashboardStore,
    where: q.DetectionFilter,
    limit: int,
    offset: int,
    horizon: int = DEFAULT_HORIZON,
) -> JSONObject:
    """One page of detections, each signal with its outcome (TP first / SL first / ...)."""
    async with store.connect() as conn:
        rows = await q.detections(conn, where, limit + 1, offset)
        more = len(rows) > limit
        rows = rows[:limit]
        results = await _outcomes(conn, where.pair, rows, horizon)
    return {
        "pair": where.pair,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
        "horizon_bars": horizon,
        "detections": [shaping.detection(r, results.get(r["id"])) for r in rows],
    }


@dataclass(frozen=True, slots=True)
class _Signal:
    """A notified signal with both levels: the detections an outcome is computed for."""

    id: int
    direction: str
    bar_time: datetime
    take_profit: float
    stop_loss: float


def _signals(rows: list[DetectionRow]) -> list[_Signal]:
    """The notified signals among ``rows`` that have take-profit and stop-loss, by bar time."""
    found = []
    for r in rows:
        tp, sl = r["take_profit"], r["stop_loss"]
        if r["notify_decision"] == "new" and tp is not None and sl is not None:
            found.append(_Signal(r["id"], r["direction"], r["bar_timestamp"], tp, sl))
    return sorted(found, key=lambda s: s.bar_time)


def _clusters(signals: list[_Signal]) -> list[list[_Signal]]:
    """Signals (by bar time) grouped so each group spans at most ``OUTCOME_CLUSTER`` from its
    first: one read of the 5m bars then serves the whole group."""
    groups: list[list[_Signal]] = []
    for signal in signals:
        if groups and signal.bar_time - groups[-1][0].bar_time <= OUTCOME_CLUSTER:
            groups[-1].append(signal)
        else:
            groups.append([signal])
    return groups


async def _outcomes(
    conn: Connection, pair: str, rows: list[DetectionRow], horizon: int
) -> dict[int, tuple[str, int | None]]:
    """Outcomes of the notified signals among ``rows``; bars read per cluster of signals."""
    results: dict[int, tuple[str, int | None]] = {}
    for cluster in _clusters(_signals(rows)):
        first, last = cluster[0].bar_time, cluster[-1].bar_time
        span = int((last - first) / FIVE_MINUTES) + horizon + 1
        until = last + FIVE_MINUTES * (horizon * 2)
        bars = await q.highs_lows_after(conn, pair, first, until, span)
        stamps = [b[0] for b in bars]
        for item in cluster:
            at = bisect.bisect_right(stamps, item.bar_time)
            window = bars[at : at + horizon]
            results[item.id] = outcome(
                item.direction,
                item.take_profit,
                item.stop_loss,
                [b[1] for b in window],
                [b[2] for b in window],
            )
    return results


async def pattern_choices(store: q.DashboardStore, pair: str) -> list[str]:
    async with store.connect() as conn:
        return await q.pattern_names(conn, pair)


async def records(store: q.DashboardStore, pair: str | None, limit: int) -> JSONObject:
    """The §16 records, or why there are none (migration 0003 absent, or nothing computed)."""
    async with store.connect() as conn:
        found = await q.track_records(conn, pair, limit)
    if found is None:
        return {
            "available": False,
            "reason": "this database has no pattern_track_records table yet "
            "(run `exchange-analytics db upgrade` once migration 0003 is installed)",
            "records": [],
        }
    return {
        "available": True,
        "reason": None if found else "no track record computed yet",
        "records": [shaping.record_row(r) for r in found],
    }


def require_pair(name: str, known: list[str]) -> str:
    if name not in known:
        raise NotFound(f"unknown pair {name}: known pairs are {', '.join(known) or 'none'}")
    return name
