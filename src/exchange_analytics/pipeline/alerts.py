"""Stage 8: evaluate the alert rules (SPEC §9.1) after the run is recorded, queue what to send.

The rules are pure (``health.alert_rules``); here they meet the database: the recent
``processing_runs`` rows in, ``alert_state`` rows and outbox messages out, in one transaction.
An alert is not repeated within ALERT_REPEAT_MINUTES while its condition lasts; when it clears
a "resolved" message follows. The dedupe key is the alert key plus the repeat window the
moment falls in, so two hosts evaluating the same condition at once queue one message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from exchange_analytics.config.settings import Settings
from exchange_analytics.health.alert_rules import (
    Alert,
    AlertRules,
    AlertState,
    evaluate_alerts,
    plan_alerts,
)
from exchange_analytics.health.runstats import RunRecord
from exchange_analytics.notifications import outbox
from exchange_analytics.notifications.formatting import alert_message
from exchange_analytics.storage.alert_state import (
    AlertStateRow,
    alert_states,
    runs_since_or_latest,
    save_alert_state,
)
from exchange_analytics.storage.engine import Connection, Database

log = structlog.get_logger(__name__)


def _window_key(now: datetime, repeat_minutes: int) -> str:
    step = max(repeat_minutes, 1) * 60
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=now.tzinfo).isoformat()


async def raise_alerts(engine: Database, settings: Settings, now: datetime) -> int:
    """Queue alert and resolved messages; returns how many were queued."""
    rules = AlertRules.from_settings(settings)
    async with engine.begin() as conn:
        rows = await runs_since_or_latest(
            conn, now - timedelta(hours=24), settings.max_error_count + 1
        )
        records = [RunRecord.from_mapping(r) for r in rows]
        active = evaluate_alerts(records, now, rules)
        stored = await alert_states(conn)
        states = {
            key: AlertState(key, bool(r["active"]), r["last_notified_at"])
            for key, r in stored.items()
        }
        plan = plan_alerts(active, states, now, settings.alert_repeat_minutes)
        window = _window_key(now, settings.alert_repeat_minutes)
        queued = 0
        for alert in plan.send:
            queued += await _raise(conn, alert, settings.discord_admin_user_id, now, window)
        for alert in plan.still_active:
            await save_alert_state(conn, alert.alert_key, alert.severity, True, now, alert.text)
        for key in plan.resolved:
            queued += await _resolve(conn, key, stored[key], now, window)
    return queued


async def _raise(
    conn: Connection, alert: Alert, admin_user_id: str | None, now: datetime, window: str
) -> int:
    """Queue the alert's message (once per repeat window) and mark it notified now."""
    payload = alert_message(alert.severity, alert.title, alert.text, admin_user_id, at=now)
    queued = await outbox.enqueue(
        conn,
        kind="alert",
        channel="alerts",
        dedupe_key=f"alert:{alert.alert_key}:{window}",
        payload={"discord": payload},
    )
    log.warning(
        "alert.raised",
        alert=True,
        key=alert.alert_key,
        severity=alert.severity,
        title=alert.title,
        text=alert.text,
    )
    await save_alert_state(
        conn, alert.alert_key, alert.severity, True, now, alert.text, notified=now
    )
    return int(queued)


async def _resolve(
    conn: Connection, key: str, row: AlertStateRow, now: datetime, window: str
) -> int:
    """Queue the all-clear of an alert whose condition ended, and mark it resolved."""
    payload = alert_message(
        row["severity"],
        f"{key.replace('_', ' ')}",
        row["message"],
        None,
        resolved=True,
        at=now,
    )
    queued = await outbox.enqueue(
        conn,
        kind="alert",
        channel="alerts",
        dedupe_key=f"alert-resolved:{key}:{window}",
        payload={"discord": payload},
    )
    log.info("alert.resolved", alert=True, key=key)
    await save_alert_state(conn, key, row["severity"], False, now, row["message"], resolved=now)
    return int(queued)
