"""Rendering a health report: a table for people, a JSON-ready dict for machines and logs.

The dict is the contract of ``exchange-analytics health --json``::

    {"status": "healthy|degraded|unhealthy", "exit_code": 0|1|2,
     "checked_at": "...Z", "duration_ms": 84.2, "version": "0.1.0",
     "components": {"database": {"status": "ok|degraded|unhealthy", "reason": "...",
                                 "details": {...}}, ...}}

Every string passes the redactor, so a secret echoed in a library error never reaches the
output or the health log.
"""

from __future__ import annotations

from exchange_analytics import __version__
from exchange_analytics.config.redact import redact
from exchange_analytics.health.verdict import HealthReport, Status, stamp
from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.render import Column, table

_MARKS = {Status.OK: "ok", Status.DEGRADED: "DEGRADED", Status.UNHEALTHY: "UNHEALTHY"}


def _clean(value: JSONValue) -> JSONValue:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_dict(report: HealthReport) -> JSONObject:
    """The ``health --json`` document (see the module docstring)."""
    return {
        "status": report.status,
        "exit_code": report.exit_code,
        "checked_at": stamp(report.checked_at),
        "duration_ms": None if report.duration_ms is None else round(report.duration_ms, 1),
        "version": __version__,
        "components": {
            c.name: {
                "status": str(c.status),
                "reason": redact(c.reason),
                "details": _clean(c.details),
            }
            for c in report.components
        },
    }


def render_table(report: HealthReport, width: int = 100) -> str:
    """One line per component: name, status, reason (wrapped under the reason column)."""
    took = "" if report.duration_ms is None else f", {report.duration_ms:.0f} ms"
    title = (
        f"Exchange Analytics health: {report.status.upper()} "
        f"(checked {stamp(report.checked_at)}{took})"
    )
    name_w = max([len("component"), *(len(c.name) for c in report.components)])
    status_w = len("UNHEALTHY")
    reason_w = max(30, width - name_w - status_w - 4)
    rows = [[c.name, _MARKS[c.status], redact(c.reason)] for c in report.components]
    columns = [
        Column("component", align="left"),
        Column("status", align="left", min_width=status_w),
        Column("reason", wrap=reason_w),
    ]
    return "\n".join([title, "", table(rows, columns)])
