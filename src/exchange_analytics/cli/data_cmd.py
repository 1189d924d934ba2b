"""``exchange-analytics data``: repairs of stored market data.

``data quarantine --future`` lists the bars that open after now (every timeframe, with their
indicator rows) and removes them. Such a bar freezes the pipeline: every fetch asks for bars
after the newest stored one, gets none, and the run calls that success (SPEC §3.5). New bars
are refused on every path that stores them; this command cleans a database that already holds
one (the health check names it when it finds one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from exchange_analytics.cli.runtime import emit_json, parse_timestamp, run_async, with_engine
from exchange_analytics.config.settings import load_settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.jsontypes import JSONObject

if TYPE_CHECKING:
    from exchange_analytics.storage.bar_checks import FutureBar
    from exchange_analytics.storage.engine import Database

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group("data", context_settings=CONTEXT)
def data() -> None:
    """Repairs of stored market data.

    \b
    Example:
        exchange-analytics data quarantine --future --dry-run
    """


@data.command("quarantine", context_settings=CONTEXT)
@click.option("--future", is_flag=True, help="Bars that open after now (required).")
@click.option("--pair", default=None, help="Only this pair, e.g. USD/JPY.")
@click.option("--dry-run", is_flag=True, help="List the bars, remove nothing.")
@click.option("--as-of", default=None, help="Clock to compare with (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def quarantine(
    future: bool, pair: str | None, dry_run: bool, as_of: str | None, as_json: bool
) -> None:
    """List and remove stored bars that lie in the future (bad data).

    Removes the bars of every timeframe opening after now, their indicator rows, and the
    per-pair marks that point after now, so the next cycle fetches the real bars again.

    \b
    Example:
        exchange-analytics data quarantine --future --dry-run
        exchange-analytics data quarantine --future --pair USD/JPY
    """
    if not future:
        raise ConfigurationError("data quarantine: say what to quarantine: --future")
    settings = load_settings()
    name = str(CurrencyPair.parse(pair)) if pair else None
    now = parse_timestamp(as_of) if as_of else datetime.now(UTC)
    result = run_async(lambda: with_engine(settings, lambda e: _quarantine(e, now, name, dry_run)))
    if as_json:
        emit_json(_quarantine_json(result, now, dry_run))
        return
    for bar in result.bars:
        click.echo(
            f"{bar.pair} {bar.timeframe.value:>3} {bar.timestamp.isoformat()} close={bar.close} "
            f"source={bar.source} stored={bar.created_at.isoformat()}"
        )
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {len(result.bars)} bars that open after {now.isoformat()}")


@dataclass(frozen=True, slots=True)
class _Quarantined:
    """The future bars found, the bars removed and the per-pair marks dropped."""

    bars: list[FutureBar]
    removed: int
    marks_dropped: int


async def _quarantine(
    engine: Database, now: datetime, pair: str | None, dry_run: bool
) -> _Quarantined:
    """The future bars, and what was removed (unless ``dry_run``), in one transaction."""
    from exchange_analytics.storage import bar_checks

    async with engine.begin() as conn:
        bars = await bar_checks.future_bars(conn, now, pair)
        removed = marks = 0
        if not dry_run and bars:
            removed = await bar_checks.delete_future_bars(conn, now, pair)
            marks = await bar_checks.drop_future_marks(conn, now, pair)
    return _Quarantined(bars, removed, marks)


def _quarantine_json(result: _Quarantined, now: datetime, dry_run: bool) -> JSONObject:
    """The ``data quarantine --json`` document."""
    return {
        "as_of": now.isoformat(),
        "dry_run": dry_run,
        "bars": [b.as_dict() for b in result.bars],
        "removed": result.removed,
        "marks_dropped": result.marks_dropped,
    }
