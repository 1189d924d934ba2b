"""Health checks of the pipeline's own output: data freshness per pair, the last completed
run, the success rate with the failure streak, and processing times (SPEC §9.2).

Pure. Ages are measured in cron intervals (INTERVAL_MINUTES): more than 3 missed intervals is
degraded, more than 12 (an hour by default) unhealthy. Data age only counts open-market time,
so the FX weekend (Fri 17:00 to Sun 17:00 New York) never raises an alarm, and the first
``weekly_open_grace`` after the Sunday open stays quiet while providers start the new week.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from exchange_analytics.health import feed_watch, market_hours, runstats
from exchange_analytics.health.facts import PairFacts, RunFacts
from exchange_analytics.health.verdict import (
    CRITICAL_PROCESSING_SECONDS,
    Component,
    HealthThresholds,
    Status,
    duration,
    stamp,
)
from exchange_analytics.jsontypes import JSONObject


def check_freshness(pair: PairFacts, now: datetime, th: HealthThresholds) -> Component:
    """Latest 5m bar age in open-market time (no alarm for the weekend closure)."""
    name = f"data_freshness[{pair.pair}]"
    market_open = market_hours.is_market_open(now)
    details: JSONObject = {
        "pair": pair.pair,
        "latest_5m_bar": stamp(pair.latest_5m),
        "market_open": market_open,
        "initialization": pair.init_status,
    }
    if pair.latest_5m is None:
        return Component(name, Status.DEGRADED, _no_bars_reason(pair), details)
    data_until = pair.latest_5m + timedelta(minutes=5)
    age = (now - data_until).total_seconds()
    stale = market_hours.open_seconds_between(data_until, now)
    details.update(age_seconds=round(age), open_market_stale_seconds=round(stale))
    latest = f"latest 5m bar {stamp(pair.latest_5m)}"
    if age < -th.interval.total_seconds():
        return Component(name, *_future_bar(pair, pair.latest_5m, latest), details)
    week_open = market_hours.last_weekly_open(now)
    if market_open and data_until <= week_open and now - week_open <= th.weekly_open_grace:
        reason = (
            f"{pair.pair}: market reopened {duration((now - week_open).total_seconds())} ago "
            f"(Sun 17:00 New York); waiting for the week's first bars ({latest})"
        )
        return Component(name, Status.OK, reason, details)
    degraded_s = th.stale_degraded_intervals * th.interval.total_seconds()
    unhealthy_s = th.stale_unhealthy_intervals * th.interval.total_seconds()
    if pair.stale_runs >= feed_watch.STUCK_RUNS and feed_watch.is_trading(now):
        details["stale_runs"] = pair.stale_runs
        reason = (
            f"{pair.pair}: provider returned no new bars since {stamp(data_until)} "
            f"({pair.stale_runs} runs in a row while the market is open)"
        )
        status = Status.UNHEALTHY if stale > unhealthy_s else Status.DEGRADED
        return Component(name, status, reason, details)
    if stale > degraded_s:
        status = Status.UNHEALTHY if stale > unhealthy_s else Status.DEGRADED
        reason = (
            f"{pair.pair}: {latest}: no new bar for {duration(stale)} of open market "
            f"(limit {duration(degraded_s)}); check the provider and the cycle log"
        )
        return Component(name, status, reason, details)
    if not market_open:
        closed = stamp(market_hours.last_close(now))
        reason = f"{pair.pair}: market closed since {closed} (weekend); {latest}"
        return Component(name, Status.OK, reason, details)
    return Component(name, Status.OK, f"{pair.pair}: {latest} ({duration(age)} ago)", details)


def _no_bars_reason(pair: PairFacts) -> str:
    """Why a pair has no 5m bar yet: its backfill runs, or the next cycle starts it."""
    if pair.init_status == "in_progress":
        return f"{pair.pair}: no 5m bars yet, backfill in progress"
    return f"{pair.pair}: no 5m bars stored yet; the next cycle backfills it"


def _future_bar(pair: PairFacts, latest_5m: datetime, latest: str) -> tuple[Status, str]:
    """The newest bar opens in the future: bad data when it was stored before it could have
    opened (SPEC §3.5, unhealthy), otherwise this host's clock is behind (degraded)."""
    stored = pair.latest_stored_at
    if stored is not None and stored < latest_5m:
        reason = (
            f"{pair.pair}: a stored bar lies in the future: bad data ({latest}, stored "
            f"{stamp(stored)}); list and remove it with "
            "`exchange-analytics data quarantine --future`"
        )
        return Status.UNHEALTHY, reason
    return Status.DEGRADED, f"{pair.pair}: {latest} is in the future: check the system clock"


def _run_summary(run: runstats.RunRecord) -> str:
    took = "" if run.processing_time is None else f", {run.processing_time:.1f}s"
    return f"run #{run.id} ({run.status}{took})"


def check_last_run(runs: RunFacts, now: datetime, th: HealthThresholds) -> Component:
    interval_s = th.interval.total_seconds()
    degraded_s = th.stale_degraded_intervals * interval_s
    unhealthy_s = th.stale_unhealthy_intervals * interval_s
    stuck = [
        r
        for r in runs.latest
        if r.status == runstats.RUNNING and now - r.started_at > th.stale_after
    ]
    details: JSONObject = {
        "last_completed_run": None if runs.last_completed is None else runs.last_completed.id,
        "stuck_runs": [{"id": r.id, "host": r.host, "pid": r.pid} for r in stuck],
    }
    last = runs.last_completed
    if last is None:
        if runs.first_started_at is None:
            reason = "no cycle has run yet: install the crontab (`exchange-analytics crontab`)"
            return Component("last_run", Status.DEGRADED, reason, details)
        age = (now - runs.first_started_at).total_seconds()
        status = Status.UNHEALTHY if age > unhealthy_s else Status.DEGRADED
        reason = f"no run has completed since the first one {duration(age)} ago"
        return Component("last_run", status, reason, details)
    finished = last.finished_at or last.started_at
    age = (now - finished).total_seconds()
    details.update(finished_at=stamp(finished), age_seconds=round(age))
    if age > degraded_s:
        status = Status.UNHEALTHY if age > unhealthy_s else Status.DEGRADED
        reason = (
            f"last completed {_run_summary(last)} finished {duration(age)} ago "
            f"(> {th.stale_degraded_intervals} intervals of {th.interval_minutes} min): is cron "
            "running? `pgrep -af continuous_processing_cron`"
        )
        return Component("last_run", status, reason, details)
    reason = f"last completed {_run_summary(last)} finished {duration(age)} ago"
    if stuck:
        first = stuck[0]
        reason = (
            f"run #{first.id} (pid {first.pid} on {first.host}) still 'running' after "
            f"{duration((now - first.started_at).total_seconds())}: stuck or killed; {reason}"
        )
        return Component("last_run", Status.DEGRADED, reason, details)
    return Component("last_run", Status.OK, reason, details)


def check_success_rate(runs: RunFacts, now: datetime, th: HealthThresholds) -> Component:
    streak = runstats.consecutive_failures(runs.latest, now, th.stale_after)
    rate = runstats.success_rate(runs.recent, now, th.stale_after)
    details: JSONObject = {
        "window_hours": 24,
        "finished": rate.finished,
        "succeeded": rate.succeeded,
        "partial": rate.partial,
        "failed": rate.failed,
        "success_rate": None if rate.rate is None else round(rate.rate, 4),
        "consecutive_errors": len(streak),
        "min_success_rate": th.min_success_rate,
        "max_error_count": th.max_error_count,
    }
    if len(streak) >= th.max_error_count:
        error = (streak[0].error_message or "no error message recorded")[:200]
        reason = (
            f"{len(streak)} failed runs in a row (MAX_ERROR_COUNT={th.max_error_count}); "
            f"latest: {error}"
        )
        return Component("success_rate", Status.UNHEALTHY, reason, details)
    if rate.rate is None:
        return Component("success_rate", Status.OK, "no finished runs in the last 24 h", details)
    summary = (
        f"{rate.rate:.1%} of {rate.finished} runs succeeded in 24 h "
        f"({rate.partial} partial, {rate.failed} failed); {len(streak)} failed in a row"
    )
    if rate.rate < th.min_success_rate:
        reason = f"{summary}: below MIN_SUCCESS_RATE {th.min_success_rate:.0%}"
        return Component("success_rate", Status.DEGRADED, reason, details)
    return Component("success_rate", Status.OK, summary, details)


def check_processing_time(runs: RunFacts, th: HealthThresholds) -> Component:
    stats = runstats.timing_stats(runs.recent)
    timeouts = sum(1 for r in runs.recent if r.status == "timeout")
    details: JSONObject = {
        "window_hours": 24,
        "timeouts": timeouts,
        "max_processing_time": th.max_processing_time,
        **({} if stats is None else stats.to_dict()),
    }
    if stats is None:
        return Component("processing_time", Status.OK, "no timed runs in the last 24 h", details)
    summary = (
        f"avg {stats.avg:.2f}s, p95 {stats.p95:.2f}s, max {stats.max:.2f}s over {stats.count} "
        f"runs (MAX_PROCESSING_TIME {th.max_processing_time:g}s)"
    )
    if stats.p95 > CRITICAL_PROCESSING_SECONDS:
        reason = f"{summary}: p95 above {CRITICAL_PROCESSING_SECONDS:g}s"
        return Component("processing_time", Status.UNHEALTHY, reason, details)
    if timeouts:
        reason = f"{summary}; {timeouts} run(s) hit the time limit"
        return Component("processing_time", Status.DEGRADED, reason, details)
    if stats.p95 > 0.8 * th.max_processing_time:
        reason = f"{summary}: p95 is above 80% of the limit"
        return Component("processing_time", Status.DEGRADED, reason, details)
    return Component("processing_time", Status.OK, summary, details)
