"""Health evaluation (SPEC §9.2): gathered facts + thresholds + ``now`` -> one verdict per
component, each ok / degraded / unhealthy with a reason an operator can act on.

Pure: no database, no HTTP, no clock. This module holds the system checks (database,
provider, disk, memory, notifications, .env) and ``evaluate``, which runs every check in a
stable order; ``pipeline_checks`` holds the data and run checks. Choices:

* a provider that does not answer is *degraded* (temporary: the cycle retries and freshness
  escalates if it lasts); a provider that refuses us (401/403/404) is *unhealthy* (a person
  must fix the token, URL or pair).
* when the database cannot be read, every component that depends on it is unhealthy with
  the reason "not checked": nothing can be confirmed, and the database line names the cause.
* a disk above DISK_USAGE_MAX_PERCENT is degraded; above 98 % it is unhealthy whatever the
  setting, because SQLite and the logs are about to fail writing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from exchange_analytics.health.facts import (
    DatabaseFacts,
    DiskFacts,
    EnvFileFacts,
    HealthFacts,
    MemoryFacts,
    NotificationFacts,
    ProviderFacts,
)
from exchange_analytics.health.notify_policy import check_notify_policy
from exchange_analytics.health.pipeline_checks import (
    check_freshness,
    check_last_run,
    check_processing_time,
    check_success_rate,
)
from exchange_analytics.health.verdict import (
    MB,
    Component,
    HealthReport,
    HealthThresholds,
    Status,
    duration,
    stamp,
    worst,
)
from exchange_analytics.jsontypes import JSONObject, JSONValue

__all__ = [
    "Component",
    "HealthReport",
    "HealthThresholds",
    "Status",
    "check_freshness",
    "check_last_run",
    "check_processing_time",
    "check_success_rate",
    "evaluate",
]

_REFUSED = re.compile(r"HTTP (401|403|404)\b")


def check_database(db: DatabaseFacts, th: HealthThresholds) -> Component:
    details: JSONObject = {
        "target": db.target,
        "dialect": db.dialect,
        "latency_ms": None if db.latency_ms is None else round(db.latency_ms, 2),
        "revision": db.revision,
        "head": db.head,
    }
    if not db.reachable:
        return Component("database", Status.UNHEALTHY, db.error or "unreachable", details)
    if db.revision is None:
        reason = f"{db.target}: schema not created: run `exchange-analytics db upgrade`"
        return Component("database", Status.UNHEALTHY, reason, details)
    if db.revision != db.head:
        reason = (
            f"{db.target}: schema at {db.revision}, code expects {db.head}: "
            "run `exchange-analytics db upgrade`"
        )
        return Component("database", Status.UNHEALTHY, reason, details)
    latency = db.latency_ms or 0.0
    summary = f"{db.dialect} {db.target}: SELECT 1 in {latency:.1f} ms, schema at head ({db.head})"
    if latency > th.db_latency_degraded_ms:
        return Component(
            "database",
            Status.DEGRADED,
            f"{summary}; slower than {th.db_latency_degraded_ms:g} ms",
            details,
        )
    return Component("database", Status.OK, summary, details)


def check_provider(p: ProviderFacts) -> Component:
    details: JSONObject = {
        "provider": p.name,
        "url": p.url,
        "status_code": p.status_code,
        "latency_ms": None if p.latency_ms is None else round(p.latency_ms, 1),
    }
    if not p.checked:
        what = "offline simulation" if p.name == "demo" else "local files"
        return Component("provider", Status.OK, f"{p.name}: {what}, nothing to reach", details)
    if p.reachable:
        reason = f"{p.name} answered HTTP {p.status_code} in {p.latency_ms or 0:.0f} ms"
        return Component("provider", Status.OK, reason, details)
    code = p.status_code
    if code in (401, 403):
        fix = "check OANDA_API_TOKEN" if p.name == "oanda" else "check the provider settings"
        reason = f"{p.name} refused the request (HTTP {code}): {fix}"
        return Component("provider", Status.UNHEALTHY, reason, details)
    if code is not None and 400 <= code < 500 and code not in (408, 429):
        reason = f"{p.name} answered HTTP {code} for {p.url}: check the base URL and CURRENCY_PAIRS"
        return Component("provider", Status.UNHEALTHY, reason, details)
    problem = p.error or (f"HTTP {code}" if code else "no answer")
    reason = f"{p.name} not reachable: {problem} (temporary: the cycle retries)"
    return Component("provider", Status.DEGRADED, reason, details)


def check_disk(disks: Iterable[DiskFacts], th: HealthThresholds) -> Component:
    results: list[tuple[Status, str]] = []
    filesystems: list[JSONValue] = []
    details: JSONObject = {"max_percent": th.disk_usage_max_percent, "filesystems": filesystems}
    for disk in disks:
        if disk.error:
            results.append((Status.DEGRADED, f"{disk.label} ({disk.path}): {disk.error}"))
            continue
        pct = disk.percent
        free_gb = disk.free_bytes / 1024**3
        filesystems.append(
            {
                "label": disk.label,
                "path": disk.path,
                "percent": round(pct, 1),
                "free_gb": round(free_gb, 2),
            }
        )
        text = f"{disk.label} {pct:.0f}% used ({free_gb:.1f} GB free at {disk.path})"
        if pct >= th.disk_unhealthy_percent:
            results.append((Status.UNHEALTHY, f"{text}: writes will fail soon"))
        elif pct > th.disk_usage_max_percent:
            results.append((Status.DEGRADED, f"{text}: above {th.disk_usage_max_percent:g}%"))
        else:
            results.append((Status.OK, text))
    status = worst(s for s, _ in results)
    shown = (
        [t for s, t in results if s == status] if status != Status.OK else [t for _, t in results]
    )
    return Component("disk", status, "; ".join(shown) or "no file systems checked", details)


def check_memory(mem: MemoryFacts, th: HealthThresholds) -> Component:
    details: JSONObject = {
        "rss_max_mb": th.memory_rss_max_mb,
        "processes": [
            {"pid": p.pid, "role": p.role, "rss_mb": round(p.rss_bytes / MB, 1)}
            for p in mem.processes
        ],
        "system_available_mb": round(mem.system_available_bytes / MB),
    }
    if mem.error:
        return Component("memory", Status.DEGRADED, f"cannot read memory use: {mem.error}", details)
    problems: list[str] = []
    for proc in mem.processes:
        rss_mb = proc.rss_bytes / MB
        if rss_mb > th.memory_rss_max_mb:
            problems.append(
                f"{proc.role} pid {proc.pid} uses {rss_mb:.0f} MB "
                f"(> MEMORY_RSS_MAX_MB {th.memory_rss_max_mb:g})"
            )
    total = mem.system_total_bytes or 1
    available_pct = 100.0 * mem.system_available_bytes / total
    if mem.system_total_bytes and available_pct < th.memory_available_min_percent:
        problems.append(f"system memory available only {available_pct:.1f}%")
    if problems:
        return Component("memory", Status.DEGRADED, "; ".join(problems), details)
    cycles = [p for p in mem.processes if p.role == "cycle"]
    own = next((p for p in mem.processes if p.role == "health"), None)
    parts = []
    if own is not None:
        parts.append(f"health {own.rss_bytes / MB:.0f} MB RSS")
    if cycles:
        parts.append(", ".join(f"cycle pid {p.pid} {p.rss_bytes / MB:.0f} MB" for p in cycles))
    else:
        parts.append("no cycle running")
    parts.append(
        f"system {mem.system_available_bytes / 1024**3:.1f} GB available ({available_pct:.0f}%)"
    )
    return Component("memory", Status.OK, "; ".join(parts), details)


def check_notifications(n: NotificationFacts, now: datetime, th: HealthThresholds) -> Component:
    details: JSONObject = {
        "enabled": n.enabled,
        "pending": n.pending,
        "sending": n.sending,
        "failed_24h": n.failed_recent,
        "failed_total": n.failed_total,
        "oldest_pending_at": stamp(n.oldest_pending_at),
        "last_failure_at": stamp(n.last_failure_at),
        "last_failure": n.last_failure_error,
    }
    if not n.enabled:
        reason = (
            "disabled: no DISCORD_WEBHOOK_URL (or DISCORD_BOT_TOKEN + DISCORD_CHANNEL_ID) "
            f"configured; {n.pending} message(s) stored unsent"
        )
        return Component("notifications", Status.OK, reason, details)
    if n.failed_recent and n.last_failure_error and _REFUSED.search(n.last_failure_error):
        reason = (
            f"Discord refused {n.failed_recent} message(s) in 24 h: {n.last_failure_error[:200]}"
        )
        return Component("notifications", Status.UNHEALTHY, reason, details)
    problems: list[str] = []
    if n.failed_recent:
        last = (n.last_failure_error or "no reason recorded")[:200]
        problems.append(f"{n.failed_recent} message(s) failed in 24 h (last: {last})")
    if n.oldest_pending_at is not None and now - n.oldest_pending_at > th.pending_max_age:
        age = duration((now - n.oldest_pending_at).total_seconds())
        retry = f" (last error: {n.last_retry_error[:200]})" if n.last_retry_error else ""
        problems.append(f"{n.pending} pending, oldest for {age}{retry}")
    elif n.pending > th.notification_backlog_max:
        problems.append(f"{n.pending} messages pending (> {th.notification_backlog_max})")
    if n.oldest_claim_at is not None and now - n.oldest_claim_at > th.claim_max_age:
        age = duration((now - n.oldest_claim_at).total_seconds())
        problems.append(f"{n.sending} message(s) stuck in 'sending' for {age}")
    if problems:
        return Component("notifications", Status.DEGRADED, "; ".join(problems), details)
    reason = f"{n.pending} pending, {n.failed_recent} failed in 24 h"
    return Component("notifications", Status.OK, reason, details)


def check_env_file(env: EnvFileFacts) -> Component:
    details: JSONObject = {
        "path": env.path,
        "mode": None if env.mode is None else f"{env.mode:03o}",
    }
    if env.path is None:
        reason = "no .env file: configuration comes from the environment"
        return Component("env_file", Status.OK, reason, details)
    if env.error:
        return Component("env_file", Status.DEGRADED, f"{env.path}: {env.error}", details)
    mode = env.mode or 0
    if mode & 0o077:
        reason = (
            f"{env.path} is mode {mode:03o}, readable by group/others and it may hold "
            f"secrets: chmod 600 {env.path}"
        )
        return Component("env_file", Status.DEGRADED, reason, details)
    return Component("env_file", Status.OK, f"{env.path} is mode {mode:03o}", details)


def evaluate(
    facts: HealthFacts, th: HealthThresholds, duration_ms: float | None = None
) -> HealthReport:
    """Every component's verdict, in a stable order."""
    now = facts.now
    components: list[Component] = [
        check_database(facts.database, th),
        check_provider(facts.provider),
    ]
    not_read = f"not checked: {facts.unread_reason or 'the database could not be read'}"
    if facts.pairs is not None:
        components.extend(check_freshness(p, now, th) for p in facts.pairs)
    else:
        components.extend(
            Component(f"data_freshness[{p}]", Status.UNHEALTHY, not_read) for p in facts.pair_names
        )
    if facts.runs is not None:
        components.append(check_last_run(facts.runs, now, th))
        components.append(check_success_rate(facts.runs, now, th))
        components.append(check_processing_time(facts.runs, th))
    else:
        for name in ("last_run", "success_rate", "processing_time"):
            components.append(Component(name, Status.UNHEALTHY, not_read))
    components.append(check_disk(facts.disks, th))
    components.append(check_memory(facts.memory, th))
    if facts.notifications is not None:
        components.append(check_notifications(facts.notifications, now, th))
    else:
        components.append(Component("notifications", Status.UNHEALTHY, not_read))
    if facts.notify_policy is not None:
        components.append(check_notify_policy(facts.notify_policy, now))
    components.append(check_env_file(facts.env_file))
    return HealthReport(checked_at=now, components=tuple(components), duration_ms=duration_ms)
