"""``exchange-analytics cycle`` (= scripts/cron/continuous_processing_cron.py) and ``backfill``."""

from __future__ import annotations

import sys
from typing import Any

import click

from exchange_analytics.cli.runtime import emit_json, fail, parse_timestamp, run_async
from exchange_analytics.config.settings import PROVIDERS, Settings, load_settings
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.logs import configure_logging


def _pairs(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    from exchange_analytics.domain import CurrencyPair

    try:
        return tuple(str(CurrencyPair.parse(p)) for p in value.split(",") if p.strip())
    except ConfigurationError as exc:
        raise ConfigurationError(f"--pairs: {exc}") from exc


def _progress_printer(enabled: bool) -> Any:
    if not enabled:
        return None
    state: dict[str, Any] = {}

    def progress(label: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done >= total else ""
        click.echo(f"\r  backfill {label:<14} [{bar}] {done}/{total}", nl=False, err=True)
        if end:
            click.echo("", err=True)
        state[label] = done

    return progress


async def _run_cycle(settings: Settings, options: Any, progress: Any) -> Any:
    from exchange_analytics.pipeline.runner import run_cycle

    return await run_cycle(settings, options, progress=progress)


def _print_human(report: Any) -> None:
    demo = " [DEMO DATA]" if report.provider == "demo" else ""
    click.echo(
        f"cycle {report.mode} run #{report.run_id}: {report.status.upper()} in "
        f"{report.processing_time:.2f}s (provider {report.provider}{demo}, as of "
        f"{report.as_of:%Y-%m-%d %H:%M:%S}Z)"
    )
    if report.pairs:
        header = (
            f"  {'pair':<8} {'action':<14} {'fetched':>8} {'written':>8} {'rejected':>8} "
            f"{'aggregated':>10} {'indicators':>10} {'patterns':>8} {'queued':>6}"
        )
        click.echo(header)
        for p in report.pairs:
            click.echo(
                f"  {p.pair:<8} {p.action:<14} {p.rows_fetched:>8} {p.rows_written:>8} "
                f"{p.rejected_bars:>8} {p.bars_aggregated:>10} {p.indicator_rows_written:>10} "
                f"{p.patterns_detected:>8} {p.notifications_queued:>6}"
            )
            if p.error:
                click.echo(f"    error: {p.error}")
    if report.dry_run and report.messages:
        click.echo(f"  --dry-run: {len(report.messages)} message(s) not sent:")
        for message in report.messages:
            click.echo("    " + message.get("summary", str(message))[:200])
    click.echo(
        f"  notifications sent {report.notifications_sent}, pending {report.notifications_pending}"
    )
    if report.error_message:
        click.echo(f"  {report.error_message}")


def cycle_options(func: Any) -> Any:
    options = [
        click.option(
            "--mode",
            type=click.Choice(["system_cycle", "single_cycle"]),
            default="system_cycle",
            show_default=True,
            help="system_cycle: initialization check, then backfill or continuous processing; "
            "single_cycle: continuous processing only (error for an uninitialized pair).",
        ),
        click.option(
            "--force-reinitialize", is_flag=True, help="Backfill again (upserts; deletes nothing)."
        ),
        click.option(
            "--health-check-only", is_flag=True, help="Run the health check instead of a cycle."
        ),
        click.option(
            "--pairs", help="Comma-separated pairs, e.g. USD/JPY,EUR/USD (default: CURRENCY_PAIRS)."
        ),
        click.option(
            "--provider",
            type=click.Choice(PROVIDERS),
            help="Market-data provider (default: MARKET_DATA_PROVIDER).",
        ),
        click.option(
            "--dry-run", is_flag=True, help="Send nothing to Discord; print the messages."
        ),
        click.option(
            "--as-of", "as_of", help="Run as if the clock said this (ISO-8601, UTC if no offset)."
        ),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("cycle", context_settings={"help_option_names": ["-h", "--help"]})
@cycle_options
def cycle(
    mode: str,
    force_reinitialize: bool,
    health_check_only: bool,
    pairs: str | None,
    provider: str | None,
    dry_run: bool,
    as_of: str | None,
    as_json: bool,
) -> None:
    """Run one system cycle: fetch, aggregate, indicators, patterns, notify, record.

    \b
    Example:
        exchange-analytics cycle --provider demo
        exchange-analytics cycle --pairs USD/JPY --as-of 2026-07-01T12:02:00Z --json
    """
    if health_check_only:
        from exchange_analytics.cli.health_cmd import health

        ctx = click.get_current_context()
        ctx.invoke(health, as_json=as_json)
        return
    settings = load_settings()
    configure_logging(settings.log_dir, "cycle", level=settings.log_level)
    from exchange_analytics.pipeline.cycle import CycleOptions

    options = CycleOptions(
        mode=mode,
        pairs=_pairs(pairs),
        provider=provider,
        force_reinitialize=force_reinitialize,
        dry_run=dry_run,
        as_of=parse_timestamp(as_of) if as_of else None,
    )
    progress = _progress_printer(sys.stderr.isatty() and not as_json)
    report = run_async(lambda: _run_cycle(settings, options, progress), graceful=True)
    if as_json:
        emit_json(report.to_dict())
    elif report.status != "interrupted":
        _print_human(report)
    if report.status == "interrupted":
        fail(
            f"{report.error_message}; the run was recorded as interrupted and its locks released",
            1,
        )
    if report.status in ("error", "timeout"):
        sys.exit(1)


@click.command("backfill", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--pairs", help="Comma-separated pairs (default: CURRENCY_PAIRS).")
@click.option("--provider", type=click.Choice(PROVIDERS), help="Market-data provider.")
@click.option("--as-of", "as_of", help="Backfill up to this moment (ISO-8601).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout.")
def backfill(pairs: str | None, provider: str | None, as_of: str | None, as_json: bool) -> None:
    """Backfill every timeframe again for the pairs (upserting; nothing deleted).

    \b
    Example:
        exchange-analytics backfill --pairs EUR/USD --provider yahoo
    """
    ctx = click.get_current_context()
    ctx.invoke(
        cycle,
        mode="system_cycle",
        force_reinitialize=True,
        health_check_only=False,
        pairs=pairs,
        provider=provider,
        dry_run=True,
        as_of=as_of,
        as_json=as_json,
    )
