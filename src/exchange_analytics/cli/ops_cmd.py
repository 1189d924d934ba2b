"""Operations commands: ``crontab`` (SPEC §12), ``logs maintain`` (SPEC §10) and the ``ops``
reports (SPEC §2), which ``scripts/`` also run by path under cron (each script is a shim that
calls the same command).

Every ``ops`` command is the same three steps: open the database (a missing SQLite file or
schema is one line and exit 1), let a report function return its data, then print that data
as text tables or, with ``--json``, as JSON. Errors end in one line through ``cli.main``: 2 for
configuration or usage, 1 when the database or a service is unreachable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from exchange_analytics.cli.runtime import emit_json, open_database, run_async
from exchange_analytics.config.settings import PROVIDERS, Settings, load_settings
from exchange_analytics.errors import ConfigurationError

if TYPE_CHECKING:
    from exchange_analytics.reports.connection_test import DbProbe
    from exchange_analytics.storage.engine import Database

_HELP = {"help_option_names": ["-h", "--help"]}
R = TypeVar("R")


@click.command("crontab", context_settings=_HELP)
@click.option(
    "--home",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Render for the installation in DIR (its .env, data/, logs/): adds the cron line "
    "EXCHANGE_ANALYTICS_HOME=DIR. Default: this checkout, or EXCHANGE_ANALYTICS_HOME.",
)
@click.option("--install-hint", is_flag=True, help="Append comment lines on how to install it.")
def crontab(home: Path | None, install_hint: bool) -> None:
    """Print crontab/updated_crontab.txt filled in with this installation's absolute paths.

    Cycle every 5 min, health every 10 min, log maintenance daily, database optimization
    weekly, performance analysis monthly. Every line works under cron's minimal environment.
    The log directory is created if missing (cron's output redirections need it).

    \b
    Example:
        exchange-analytics crontab > /tmp/ea.cron && crontab /tmp/ea.cron
        exchange-analytics crontab --install-hint
    """
    from exchange_analytics.maintenance import crontab as rendering

    paths = rendering.resolve_paths(home)
    try:
        # Cron's `>> LOG_DIR/...` redirections fail before the job starts if it is missing.
        paths.log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"LOG_FILE: cannot create the log directory {paths.log_dir}: {exc.strerror or exc}"
        ) from exc
    click.echo(rendering.render(paths), nl=False)
    if install_hint:
        click.echo(rendering.install_hint(paths))


@click.group("logs", context_settings=_HELP)
def logs() -> None:
    """Log files: rotation, compression and expiry (SPEC §10)."""


@logs.command("maintain", context_settings=_HELP)
@click.option("--dry-run", is_flag=True, help="Show what would be rotated, compressed, deleted.")
@click.option(
    "--keep-days",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Rotated files of logs other than error_alert.log (always 7 days) are kept this long.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout.")
def maintain(dry_run: bool, keep_days: float, as_json: bool) -> None:
    """Rotate logs over 10 MB, gzip rotated files, delete old rotations (daily from cron).

    Safe while the cycle and the health check write: it uses the same lock and rules as
    their in-process rotation (logs/files.py); no logrotate involved.

    \b
    Example:
        exchange-analytics logs maintain --dry-run
    """
    from exchange_analytics.config.settings import load_settings
    from exchange_analytics.maintenance.logs import maintain_logs

    settings = load_settings()
    result = maintain_logs(settings.log_dir, dry_run=dry_run, keep_days=keep_days)
    if as_json:
        emit_json(result.to_dict())
        return
    prefix = "would be " if dry_run else ""
    click.echo(f"logs in {result.directory}:")
    for label, names in (
        ("rotated", result.rotated),
        ("compressed", result.compressed),
        ("deleted", result.deleted),
    ):
        shown = ", ".join(names) if names else "none"
        click.echo(f"  {prefix}{label}: {shown}")


# --- ops: the operations reports -------------------------------------------------------------


@click.group("ops", context_settings=_HELP)
def ops() -> None:
    """Operations reports and checks (the scripts under scripts/ run these same commands).

    \b
    Example:
        exchange-analytics ops db-stats
        exchange-analytics ops performance-stats --json
    """


def _settings() -> Settings:
    """Settings, and logging to the main log (retention events); stdout stays the report's."""
    from exchange_analytics.logs import configure_logging

    settings = load_settings()
    try:
        configure_logging(settings.log_dir, "cycle", level=settings.log_level)
    except OSError:
        configure_logging(None, level=settings.log_level)  # the report still prints
    return settings


def _report(
    work: Callable[[Settings, Database], Awaitable[R]],
    render: Callable[[R], str],
    as_json: bool,
    *,
    to_data: Callable[[R], object] = lambda result: result,
    need_schema: bool = True,
    settings: Settings | None = None,
) -> R:
    """Open the database, run ``work``, print text or JSON of the same result."""
    chosen = settings or _settings()

    async def run() -> R:
        async with open_database(chosen, need_schema=need_schema) as engine:
            return await work(chosen, engine)

    result = run_async(run)
    if as_json:
        emit_json(to_data(result))
    else:
        click.echo(render(result))
    return result


_json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@ops.command("db-stats", context_settings=_HELP)
@_json_option
def db_stats(as_json: bool) -> None:
    """Rows, first/last bar and gaps per pair x timeframe; table rows and sizes.

    A gap is two consecutive bars further apart than one timeframe where the missing span
    holds open-market time (the FX weekend is never a gap). PostgreSQL and SQLite.

    \b
    Example:
        exchange-analytics ops db-stats --json
        python scripts/monitoring/database_stats.py
    """
    from exchange_analytics.reports import dbstats

    _report(
        lambda settings, engine: dbstats.collect(engine, settings),
        dbstats.render,
        as_json,
        to_data=dbstats.DbStats.to_dict,
    )


@ops.command("performance-stats", context_settings=_HELP)
@_json_option
def performance_stats(as_json: bool) -> None:
    """Run statistics for the last 24 h and 7 d: count, success rate, processing time
    avg/p50/p95/max, rows per cycle, time per stage, errors.

    \b
    Example:
        exchange-analytics ops performance-stats --json
        python scripts/monitoring/performance_stats.py
    """
    from exchange_analytics.reports import perfstats

    now = datetime.now(UTC)
    _report(
        lambda settings, engine: perfstats.collect(engine, settings, now),
        perfstats.render,
        as_json,
    )


@ops.command("db-performance", context_settings=_HELP)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Timed runs per query.",
)
@click.option(
    "--bars", type=click.IntRange(min=1), default=200, show_default=True, help="N in 'last N bars'."
)
@_json_option
def db_performance(repeat: int, bars: int, as_json: bool) -> None:
    """Latency of the pipeline's key queries, table and index sizes; on PostgreSQL dead
    tuples, sequential vs index scans and the last (auto)vacuum/analyze.

    \b
    Example:
        exchange-analytics ops db-performance --repeat 10
        python scripts/monitoring/database_performance.py --json
    """
    from exchange_analytics.reports import dbperf

    now = datetime.now(UTC)
    _report(
        lambda settings, engine: dbperf.collect(engine, settings, now, repeat=repeat, bars=bars),
        dbperf.render,
        as_json,
        to_data=dbperf.DbPerformance.to_dict,
    )


@ops.command("optimize", context_settings=_HELP)
@click.option("--dry-run", is_flag=True, help="Count only; change nothing.")
@click.option("--no-vacuum", is_flag=True, help="Skip VACUUM/ANALYZE.")
@_json_option
def optimize(dry_run: bool, no_vacuum: bool, as_json: bool) -> None:
    """Retention deletes (5m candles 90 d, 1h 2 y, runs 180 d, sent notifications 90 d; from
    RETENTION_DAYS_*), then VACUUM/ANALYZE on PostgreSQL or SQLite (weekly from cron).

    \b
    Example:
        exchange-analytics ops optimize --dry-run
        python scripts/maintenance/database_optimization.py
    """
    from exchange_analytics.maintenance import retention

    now = datetime.now(UTC)
    _report(
        lambda settings, engine: retention.optimize(
            engine, settings, now, dry_run=dry_run, skip_vacuum=no_vacuum
        ),
        retention.render,
        as_json,
        to_data=retention.Optimization.to_dict,
    )


@ops.command("analysis", context_settings=_HELP)
@click.option(
    "--month",
    default="current",
    show_default=True,
    help="YYYY-MM, 'current' (month to date) or 'previous'.",
)
@click.option(
    "--plot", metavar="FILE.png", help="Also write a PNG ({month} is replaced by YYYY-MM)."
)
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    default=288,
    show_default=True,
    help="5m bars a signal has to reach take-profit or stop-loss (288 = one day).",
)
@_json_option
def analysis(month: str, plot: str | None, horizon: int, as_json: bool) -> None:
    """Monthly system report: processing time and success rate per day, slowest cycles,
    patterns per type and direction, and how each pattern's signals turned out
    (take-profit before stop-loss within --horizon 5m bars).

    \b
    Example:
        exchange-analytics ops analysis --month previous --plot reports/performance_{month}.png
        python scripts/analysis/performance_analysis.py --month 2026-07 --json
    """
    from exchange_analytics.reports import performance_analysis as monthly

    settings = _settings()
    now = datetime.now(UTC)
    period = monthly.parse_period(month, now)
    _report(
        lambda _settings, engine: monthly.analysis(engine, period, now, horizon=horizon, plot=plot),
        monthly.Analysis.render,
        as_json,
        to_data=monthly.Analysis.to_dict,
        settings=settings,
    )


@ops.command("test-db", context_settings=_HELP)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="SELECT 1 round trips.",
)
@_json_option
def test_db(rounds: int, as_json: bool) -> None:
    """Connect to DATABASE_URL: server version, migration revision vs the code's head,
    round-trip latency. Exit 0 OK, 1 unreachable or schema not at head, 2 bad configuration.

    \b
    Example:
        exchange-analytics ops test-db --json
        python scripts/test/database_connection_test.py
    """
    from exchange_analytics.reports import connection_test

    settings = _settings()
    started = time.perf_counter()

    async def probe(chosen: Settings, engine: Database) -> DbProbe:
        connect_ms = (time.perf_counter() - started) * 1000
        return await connection_test.probe(engine, chosen, rounds, connect_ms=connect_ms)

    report = _report(probe, connection_test.render, as_json, need_schema=False, settings=settings)
    if not report["at_head"]:
        sys.exit(1)


@ops.command("test-api", context_settings=_HELP)
@click.option("--provider", type=click.Choice(PROVIDERS), help="Default: MARKET_DATA_PROVIDER.")
@click.option("--pairs", help="Comma-separated, default: CURRENCY_PAIRS.")
@click.option("--skip-discord", is_flag=True, help="Check the provider only.")
@_json_option
def test_api(provider: str | None, pairs: str | None, skip_discord: bool, as_json: bool) -> None:
    """Provider reachability per pair (latest closed 5m candle) and Discord webhook validity.

    The Discord check is a GET of the webhook URL (or the bot's channel): it posts nothing.
    Exit 0 when everything answered, 1 when something did not, 2 on bad configuration.

    \b
    Example:
        exchange-analytics ops test-api --pairs USD/JPY --skip-discord
        python scripts/test/api_connection_test.py --json
    """
    from exchange_analytics.pipeline import connection_check

    settings = _settings()  # provider and Discord events go to the log, not into --json
    chosen = connection_check.parse_pairs(pairs, settings)
    results = run_async(
        lambda: connection_check.check_connections(
            settings, provider, chosen, skip_discord=skip_discord
        )
    )
    if as_json:
        emit_json(results)
    else:
        click.echo(connection_check.render(results))
    if not connection_check.all_ok(results):
        sys.exit(1)
