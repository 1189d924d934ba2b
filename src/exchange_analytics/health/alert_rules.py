"""The operations alerts of SPEC §9.1, as pure rules over recent ``processing_runs`` rows.

``evaluate_alerts`` answers "which alert conditions hold now?"; each condition has a stable
``alert_key`` so the caller can keep one ``alert_state`` row per condition. ``plan_alerts``
turns the conditions plus that stored state into what to send: a new alert, a repeat once
ALERT_REPEAT_MINUTES have passed while the condition lasts, or a "resolved" message when it
clears. Sending (through the outbox to the alert channel, mentioning the admin on CRITICAL)
is the caller's job; nothing here touches the database or the clock.

The rules (definitions of success/failure as in ``runstats``):

    key                        severity  condition
    processing_time_critical   CRITICAL  the newest finished run took > 10 min, or a run has
                                         been 'running' for > 10 min
    consecutive_errors         CRITICAL  the newest MAX_ERROR_COUNT finished runs all failed
    success_rate_low           WARNING   < 90 % of the runs finished in the last 24 h
                                         succeeded (needs ``min_runs`` finished runs)
    run_timeout                WARNING   the newest finished run stopped at MAX_PROCESSING_TIME
    bars_held_back             WARNING   the newest finished run held back bars whose close
                                         jumped more than MAX_BAR_JUMP_PERCENT (SPEC §3.5)

INFO alerts (a new pattern) are the pattern messages themselves and are not produced here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from exchange_analytics.health import runstats
from exchange_analytics.health.runstats import RunRecord

CRITICAL = "CRITICAL"
WARNING = "WARNING"

PROCESSING_TIME_CRITICAL = "processing_time_critical"
CONSECUTIVE_ERRORS = "consecutive_errors"
SUCCESS_RATE_LOW = "success_rate_low"
RUN_TIMEOUT = "run_timeout"
BARS_HELD_BACK = "bars_held_back"
ALERT_KEYS: tuple[str, ...] = (
    PROCESSING_TIME_CRITICAL,
    CONSECUTIVE_ERRORS,
    SUCCESS_RATE_LOW,
    RUN_TIMEOUT,
    BARS_HELD_BACK,
)


@dataclass(frozen=True, slots=True)
class Alert:
    alert_key: str
    severity: str
    title: str
    text: str


@dataclass(frozen=True)
class AlertRules:
    """Thresholds; ``from_settings`` takes MAX_ERROR_COUNT and MAX_PROCESSING_TIME."""

    max_error_count: int = 5
    max_processing_time: float = 300.0
    critical_processing_seconds: float = 600.0
    warning_success_rate: float = 0.90
    window: timedelta = timedelta(hours=24)
    #: Fewer finished runs than this in the window make the rate too noisy to alert on.
    min_runs: int = 3

    @classmethod
    def from_settings(cls, settings: object) -> AlertRules:
        return cls(
            max_error_count=int(getattr(settings, "max_error_count", 5)),
            max_processing_time=float(getattr(settings, "max_processing_time", 300.0)),
        )

    @property
    def stale_after(self) -> timedelta:
        return runstats.abandoned_after(self.max_processing_time)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _processing_time(runs: Sequence[RunRecord], now: datetime, rules: AlertRules) -> Alert | None:
    limit = rules.critical_processing_seconds
    for run in runstats.newest_first(runs):
        if run.status == runstats.RUNNING:
            running_for = (now - run.started_at).total_seconds()
            if running_for > limit:
                return Alert(
                    PROCESSING_TIME_CRITICAL,
                    CRITICAL,
                    f"Cycle running for {_minutes(running_for)}",
                    f"Run #{run.id} (pid {run.pid} on {run.host}) started "
                    f"{run.started_at:%Y-%m-%d %H:%M:%S}Z and is still running after "
                    f"{_minutes(running_for)} (limit {_minutes(limit)}). Check "
                    "`pgrep -af continuous_processing_cron` and `top -p <pid>`.",
                )
            continue
        if run.status == runstats.SKIPPED:
            continue
        if run.processing_time is not None and run.processing_time > limit:
            return Alert(
                PROCESSING_TIME_CRITICAL,
                CRITICAL,
                f"Cycle took {_minutes(run.processing_time)}",
                f"Run #{run.id} ({run.status}) took {_minutes(run.processing_time)}, more than "
                f"{_minutes(limit)}. See the stage timings: "
                "`grep processing_time logs/continuous_processing_cron.log`.",
            )
        return None
    return None


def _consecutive(runs: Sequence[RunRecord], now: datetime, rules: AlertRules) -> Alert | None:
    streak = runstats.consecutive_failures(runs, now, rules.stale_after)
    if len(streak) < rules.max_error_count:
        return None
    latest = streak[0]
    return Alert(
        CONSECUTIVE_ERRORS,
        CRITICAL,
        f"{len(streak)} failed runs in a row",
        f"The last {len(streak)} runs failed (MAX_ERROR_COUNT={rules.max_error_count}). "
        f"Newest: run #{latest.id} ({latest.status}): "
        f"{(latest.error_message or 'no error message recorded')[:500]}",
    )


def _success_rate(runs: Sequence[RunRecord], now: datetime, rules: AlertRules) -> Alert | None:
    since = now - rules.window
    recent = [r for r in runs if r.started_at >= since]
    rate = runstats.success_rate(recent, now, rules.stale_after)
    if rate.rate is None or rate.finished < rules.min_runs:
        return None
    if rate.rate >= rules.warning_success_rate:
        return None
    hours = rules.window.total_seconds() / 3600
    return Alert(
        SUCCESS_RATE_LOW,
        WARNING,
        f"Success rate {rate.rate:.0%} over {hours:g} h",
        f"{rate.succeeded} of {rate.finished} runs succeeded in the last {hours:g} h "
        f"({rate.partial} partial, {rate.failed} failed); the alert threshold is "
        f"{rules.warning_success_rate:.0%}. Run `exchange-analytics health` for details.",
    )


def _timeout(runs: Sequence[RunRecord], now: datetime, rules: AlertRules) -> Alert | None:
    latest = runstats.latest_finished(runs, now, rules.stale_after)
    if latest is None or latest.status != "timeout":
        return None
    took = latest.processing_time or 0.0
    return Alert(
        RUN_TIMEOUT,
        WARNING,
        f"Cycle stopped at the time limit ({rules.max_processing_time:g}s)",
        f"Run #{latest.id} stopped after {took:.0f}s (MAX_PROCESSING_TIME="
        f"{rules.max_processing_time:g}s); the rest of its work is done by the next run.",
    )


def _held_back(runs: Sequence[RunRecord], now: datetime, rules: AlertRules) -> Alert | None:
    latest = runstats.latest_finished(runs, now, rules.stale_after)
    if latest is None or not latest.held_back_bars:
        return None
    count = latest.held_back_bars
    return Alert(
        BARS_HELD_BACK,
        WARNING,
        f"{count} bars held back (price jump)",
        f"Run #{latest.id} held back {count} bars whose close jumped more than "
        "MAX_BAR_JUMP_PERCENT from the previous stored close; they were not stored. "
        "`grep held_back_bar` in the cycle log names them. A real market move: import the "
        "bars with `exchange-analytics import FILE --force`.",
    )


def evaluate_alerts(
    runs: Iterable[RunRecord], now: datetime, rules: AlertRules | None = None
) -> list[Alert]:
    """The alert conditions that hold at ``now``, CRITICAL first.

    ``runs`` should cover at least the last 24 h and the newest MAX_ERROR_COUNT runs (older
    rows do no harm). Order does not matter.
    """
    rules = rules or AlertRules()
    records = list(runs)
    found = [
        rule(records, now, rules)
        for rule in (_processing_time, _consecutive, _success_rate, _timeout, _held_back)
    ]
    return [a for a in found if a is not None]


@dataclass(frozen=True, slots=True)
class AlertState:
    """The part of an ``alert_state`` row the plan needs."""

    alert_key: str
    active: bool
    last_notified_at: datetime | None


@dataclass
class AlertPlan:
    #: Conditions to announce: new ones and repeats whose ALERT_REPEAT_MINUTES have passed.
    send: list[Alert] = field(default_factory=list)
    #: Conditions that still hold but were announced recently: update state only.
    still_active: list[Alert] = field(default_factory=list)
    #: Keys that were active and no longer hold: send a "resolved" message.
    resolved: list[str] = field(default_factory=list)


def plan_alerts(
    active: Iterable[Alert],
    states: Mapping[str, AlertState],
    now: datetime,
    repeat_minutes: int,
) -> AlertPlan:
    """What to send now, given the conditions and the stored ``alert_state`` rows by key."""
    plan = AlertPlan()
    holding = {a.alert_key: a for a in active}
    repeat = timedelta(minutes=repeat_minutes)
    for key, alert in holding.items():
        state = states.get(key)
        announced = None if state is None or not state.active else state.last_notified_at
        if announced is None or now - announced >= repeat:
            plan.send.append(alert)
        else:
            plan.still_active.append(alert)
    plan.resolved = sorted(k for k, s in states.items() if s.active and k not in holding)
    return plan
