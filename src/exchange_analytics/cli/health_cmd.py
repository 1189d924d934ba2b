"""``exchange-analytics health`` (SPEC §9.2): every component ok / degraded / unhealthy.

Exit 0 healthy, 1 degraded, 2 unhealthy; a configuration error is exit 2 with one line (the
CLI's error mapping in ``cli.main``). The result also goes to ``health_check_cron.log`` as one
JSON line (and to ``error_alert.log`` when unhealthy).

Kept light on purpose: this module and what it imports must not pull in pandas, numpy or
TA-Lib, so the whole process finishes within a second (tests/integration/test_health.py
checks both).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
import structlog

from exchange_analytics.cli.runtime import emit_json, run_async
from exchange_analytics.config.settings import load_settings
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.logs import configure_logging

log = structlog.get_logger(__name__)


@click.command("health", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report on stdout.")
def health(as_json: bool) -> None:
    """Check database, provider, data freshness, runs, disk, memory, Discord and .env.

    Exit status: 0 healthy, 1 degraded, 2 unhealthy (or a configuration error).

    \b
    Example:
        exchange-analytics health
        exchange-analytics health --json | jq '.components | map_values(.status)'
    """
    started = time.perf_counter()
    settings = load_settings()
    try:
        configure_logging(settings.log_dir, "health", level=settings.log_level)
    except OSError as exc:
        raise ConfigurationError(
            f"LOG_FILE: cannot write logs in {settings.log_dir}: {exc.strerror or exc}"
        ) from exc
    from exchange_analytics.health.gather import check_health
    from exchange_analytics.health.report import render_table, to_dict

    report = run_async(lambda: check_health(settings, datetime.now(UTC), started=started))
    data = to_dict(report)
    record = {0: log.info, 1: log.warning}.get(report.exit_code, log.error)
    record(
        "health.check",
        status=data["status"],
        exit_code=data["exit_code"],
        duration_ms=data["duration_ms"],
        components=data["components"],
    )
    if as_json:
        emit_json(data)
    else:
        click.echo(render_table(report))
    click.get_current_context().exit(report.exit_code)
