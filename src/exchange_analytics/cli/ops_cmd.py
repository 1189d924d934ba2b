"""Operations commands: ``crontab`` (SPEC §12) and ``logs maintain`` (SPEC §10)."""

from __future__ import annotations

from pathlib import Path

import click

from exchange_analytics.cli.runtime import emit_json
from exchange_analytics.errors import ConfigurationError

_HELP = {"help_option_names": ["-h", "--help"]}


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
