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
from datetime import datetime, timedelta
from typing import Any

from exchange_analytics.config.settings import Settings
from exchange_analytics.evaluation.outcomes import DEFAULT_HORIZON, outcome
from exchange_analytics.health.gather import check_health
from exchange_analytics.health.report import to_dict
from exchange_analytics.storage import dashboard_queries as q
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
        self._value: dict[str, Any] | None = None
        self._at = 0.0

    async def get(self) -> dict[str, Any]:
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
    args = dict(settings.database_connect_args)
    args["server_settings"] = {
        **args.get("server_settings", {}),
        "application_name": "exchange-analytics-dashboard",
        "default_transaction_read_only": "on",
    }
    return settings.with_overrides(database_connect_args=args)


async def known_pairs(store: q.DashboardStore) -> list[str]:
    async with store.connect() as conn:
        return await q.known_pairs(conn, store.settings.currency_pairs)


async def pairs(store: q.DashboardStore, now: datetime) -> list[dict[str, Any]]:
    async with store.connect() as conn:
        names = await q.known_pairs(conn, store.settings.currency_pairs)
        return shaping.pair_rows(await q.last_bars(conn, names), now)


async def overview(store: q.DashboardStore, health: HealthCache, now: datetime) -> dict[str, Any]:
    """Everything the overview page shows, in one connection plus the cached health check."""
    verdict = await health.get()
    async with store.connect() as conn:
        names = await q.known_pairs(conn, store.settings.currency_pairs)
        found = await q.last_bars(conn, names)
        runs = await q.recent_runs(conn, RUNS_SHOWN)
        counts = await q.notification_counts(conn)
        notes = await q.open_notifications(conn, NOTIFICATIONS_SHOWN)
        alerts = await q.active_alerts(conn, ALERTS_SHOWN)
    run_rows = [shaping.run_row(r) for r in runs]
    return {
        "pairs": shaping.pair_rows(found, now),
        "health": verdict,
        "runs": run_rows,
        "sparkline": shaping.sparkline(list(reversed(run_rows))),
        "notification_counts": counts,
        "notifications": [shaping.notification_row(n) for n in notes],
        "alerts": [shaping.alert_row(a) for a in alerts],
    }


async def runs(store: q.DashboardStore, limit: int) -> list[dict[str, Any]]:
    async with store.connect() as conn:
        return [shaping.run_row(r) for r in await q.recent_runs(conn, limit)]


async def chart(
    store: q.DashboardStore,
    pair: str,
    timeframe: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> dict[str, Any]:
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
    return {"pair": pair, "timeframe": timeframe, "truncated": truncated, **payload}


async def detections(
    store: q.DashboardStore,
    where: q.DetectionFilter,
    limit: int,
    offset: int,
    horizon: int = DEFAULT_HORIZON,
) -> dict[str, Any]:
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


async def _outcomes(
    conn: Any, pair: str, rows: list[dict[str, Any]], horizon: int
) -> dict[int, tuple[str, int | None]]:
    """Outcomes of the notified signals among ``rows``; bars read per cluster of signals."""
    signals = sorted(
        (
            r
            for r in rows
            if r["notify_decision"] == "new"
            and r["take_profit"] is not None
            and r["stop_loss"] is not None
        ),
        key=lambda r: r["bar_timestamp"],
    )
    results: dict[int, tuple[str, int | None]] = {}
    cluster: list[dict[str, Any]] = []
    for row in [*signals, None]:
        if row is not None and (
            not cluster or row["bar_timestamp"] - cluster[0]["bar_timestamp"] <= OUTCOME_CLUSTER
        ):
            cluster.append(row)
            continue
        if cluster:
            first, last = cluster[0]["bar_timestamp"], cluster[-1]["bar_timestamp"]
            span = int((last - first) / FIVE_MINUTES) + horizon + 1
            bars = await q.highs_lows_after(
                conn, pair, first, last + FIVE_MINUTES * (horizon * 2), span
            )
            stamps = [b[0] for b in bars]
            for item in cluster:
                at = bisect.bisect_right(stamps, item["bar_timestamp"])
                window = bars[at : at + horizon]
                results[item["id"]] = outcome(
                    item["direction"],
                    item["take_profit"],
                    item["stop_loss"],
                    [b[1] for b in window],
                    [b[2] for b in window],
                )
        cluster = [] if row is None else [row]
    return results


async def pattern_choices(store: q.DashboardStore, pair: str) -> list[str]:
    async with store.connect() as conn:
        return await q.pattern_names(conn, pair)


async def records(store: q.DashboardStore, pair: str | None, limit: int) -> dict[str, Any]:
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
