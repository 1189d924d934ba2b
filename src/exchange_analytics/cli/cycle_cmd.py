"""``exchange-analytics cycle`` (= scripts/cron/continuous_processing_cron.py) and ``backfill``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from exchange_analytics.cli.runtime import emit_json, fail, parse_timestamp, progress_bar, run_async
from exchange_analytics.config.settings import PROVIDERS, Settings, load_settings
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.logs import configure_logging
from exchange_analytics.render import Column, table

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from exchange_analytics.pipeline.cycle import CycleOptions, ProgressCallback
    from exchange_analytics.pipeline.report import CycleReport

#: A click command callback, decorated by ``cycle_options``.
F = TypeVar("F", bound=Callable[..., object])


def _pairs(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    from exchange_analytics.domain import CurrencyPair

    try:
        return tuple(str(CurrencyPair.parse(p)) for p in value.split(",") if p.strip())
    except ConfigurationError as exc:
        raise ConfigurationError(f"--pairs: {exc}") from exc


def _progress_printer(enabled: bool) -> ProgressCallback | None:
    """click's progress bar on stderr, one per backfill step (``label``), for a terminal only."""
    if not enabled:
        return None
    bars: dict[str, ProgressBar[int]] = {}
    closed: set[str] = set()

    def progress(label: str, done: int, total: int) -> None:
        bar = bars.get(label)
        if bar is None:
            bar = bars[label] = progress_bar(f"  backfill {label:<14}", total)
        bar.update(done - bar.pos)
        if done >= total and label not in closed:
            closed.add(label)
            bar.render_finish()

    return progress


async def _run_cycle(
    settings: Settings, options: CycleOptions, progress: ProgressCallback | None
) -> CycleReport:
    from exchange_analytics.pipeline.runner import run_cycle

    return await run_cycle(settings, options, progress=progress)


#: The per-pair summary of ``cycle``: counts as plain integers (no grouping), fixed widths.
_SUMMARY_COLUMNS = [
    Column("pair", min_width=8),
    Column("action", min_width=14),
    *(
        Column(name, align="right", min_width=width)
        for name, width in (
            ("fetched", 8),
            ("written", 8),
            ("rejected", 8),
            ("aggregated", 10),
            ("indicators", 10),
            ("patterns", 8),
            ("queued", 6),
        )
    ),
]


def _print_human(report: CycleReport) -> None:
    demo = " [DEMO DATA]" if report.provider == "demo" else ""
    click.echo(
        f"cycle {report.mode} run #{report.run_id}: {report.status.upper()} in "
        f"{report.processing_time:.2f}s (provider {report.provider}{demo}, as of "
        f"{report.as_of:%Y-%m-%d %H:%M:%S}Z)"
    )
    if report.pairs:
        lines = table(
            [
                [
                    p.pair,
                    p.action,
                    *(
                        str(n)
                        for n in (
                            p.rows_fetched,
                            p.rows_written,
                            p.rejected_bars,
                            p.bars_aggregated,
                            p.indicator_rows_written,
                            p.patterns_detected,
                            p.notifications_queued,
                        )
                    ),
                ]
                for p in report.pairs
            ],
            _SUMMARY_COLUMNS,
            indent="  ",
            gap=" ",
            rule=False,
        ).splitlines()
        click.echo(lines[0])
        for p, line in zip(report.pairs, lines[1:], strict=True):
            click.echo(line)
            if p.error:
                click.echo(f"    error: {p.error}")
    if report.dry_run and report.messages:
        click.echo(f"  --dry-run: {len(report.messages)} message(s) not sent:")
        for message in report.messages:
            summary = message.get("summary")
            text = summary if isinstance(summary, str) else str(message)
            click.echo("    " + text[:200])
    click.echo(
        f"  notifications sent {report.notifications_sent}, pending {report.notifications_pending}"
    )
    if report.error_message:
        click.echo(f"  {report.error_message}")


def cycle_options(func: F) -> F:
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
