"""``exchange-analytics import FILE``: CSV history into price_data, all or nothing (SPEC §3.4,
§3.5). Thin: reading is ``providers.csv_import``, the checks against stored bars and the write
are ``pipeline.history_import``, the rebuild of 1h/4h/1d is ``pipeline.derive``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from exchange_analytics.cli.runtime import emit_json, parse_timestamp, run_async, with_engine
from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.domain import CurrencyPair, Timeframe
from exchange_analytics.errors import ConfigurationError, CsvFormatError
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.logs import configure_logging

if TYPE_CHECKING:
    from exchange_analytics.providers.csv_import import ParsedCsv
    from exchange_analytics.storage.engine import Database

SKIP_HINT = "fix the row, or import the other rows with --skip-bad-rows"


def _as_timeframe(_ctx: click.Context, _param: click.Parameter, value: str) -> Timeframe:
    """--timeframe as the command receives it: click's choice already checked the text."""
    return Timeframe(value)


@click.command("import", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pair", required=True, help="Currency pair of the file, e.g. USD/JPY.")
@click.option(
    "--timeframe",
    type=click.Choice(["5m", "1h"]),
    default="5m",
    show_default=True,
    callback=_as_timeframe,
    help="Timeframe to store (1-minute files are aggregated to it; 4h and 1d are always "
    "built by aggregation).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "histdata", "metatrader", "generic"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--tz",
    default=None,
    help="Zone of naive timestamps (e.g. Europe/Athens for a MetaTrader server); default: "
    "UTC, or HistData's real clock (UTC-5, UTC-4 in EU summer time) for HistData files.",
)
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option(
    "--force",
    is_flag=True,
    help="Store bars the plausibility checks would refuse or hold back (price level far from "
    "the stored one, jumps beyond MAX_BAR_JUMP_PERCENT): for a known market event.",
)
@click.option("--as-of", default=None, help="Clock for the future-bar check (default: now).")
@click.option(
    "--no-derive", is_flag=True, help="Do not rebuild 1h/4h/1d and indicators afterwards."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def import_file(
    file: Path,
    pair: str,
    timeframe: Timeframe,
    fmt: str,
    tz: str | None,
    skip_bad_rows: bool,
    force: bool,
    as_of: str | None,
    no_derive: bool,
    as_json: bool,
) -> None:
    """Import CSV history: HistData (ASCII or MT, 1-minute, .zip), MetaTrader export or
    generic header CSV.

    A bad row (or a bar dated after now) refuses the whole file with FILE:LINE: reason,
    unless --skip-bad-rows. A file whose prices are >20 % off the pair's stored level is
    refused; bars that jump more than MAX_BAR_JUMP_PERCENT are held back (--force stores
    both). Afterwards 1h/4h/1d buckets and indicators of the pair are rebuilt.

    \b
    Example:
        exchange-analytics import HISTDATA_COM_MT_USDJPY_M12024.zip --pair USD/JPY
        exchange-analytics import EURUSD_M5.csv --pair EUR/USD --tz Europe/Athens
    """
    from exchange_analytics.providers.csv_import import parse_csv

    settings = load_settings()
    configure_logging(settings.log_dir, "cycle", level=settings.log_level)
    parsed_pair = str(CurrencyPair.parse(pair))
    now = parse_timestamp(as_of) if as_of else datetime.now(UTC)
    if not file.exists():
        raise ConfigurationError(f"{file}: no such file")
    try:
        parsed = parse_csv(
            file, fmt=fmt, tz=tz, timeframe=timeframe, skip_bad_rows=skip_bad_rows, now=now
        )
    except CsvFormatError as exc:
        raise CsvFormatError(exc.path, exc.line, f"{exc.reason}; {SKIP_HINT}") from None
    for error in parsed.errors:
        click.echo(f"skipped {error}", err=True)
    result = run_async(lambda: _store(settings, parsed_pair, timeframe, parsed, force, no_derive))
    summary = _summary(file, parsed, parsed_pair, timeframe, result)
    if as_json:
        emit_json(summary)
        return
    _echo(summary, parsed.from_minutes, settings.max_bar_jump_percent)


@dataclass(frozen=True)
class _Stored:
    """What ``_store`` wrote: the import's counts, and the rebuild's when it ran."""

    written: int
    stored: int
    held_back: int
    bars_aggregated: int | None = None
    indicator_rows_written: int | None = None


def _summary(
    file: Path, parsed: ParsedCsv, pair: str, timeframe: Timeframe, result: _Stored
) -> JSONObject:
    """``import --json``, and what the summary line is printed from."""
    summary: JSONObject = {
        "file": str(file),
        "format": parsed.format,
        "clock": parsed.clock,
        "pair": pair,
        "timeframe": timeframe.value,
        "rows_read": parsed.rows,
        "from_1m": parsed.from_minutes,
        "rows_imported": result.stored,
        "rows_written": result.written,
        "held_back": result.held_back,
        "bad_rows": len(parsed.errors),
        "first": parsed.candles[0].timestamp.isoformat() if parsed.candles else None,
        "last": parsed.candles[-1].timestamp.isoformat() if parsed.candles else None,
    }
    if result.bars_aggregated is not None:
        summary["bars_aggregated"] = result.bars_aggregated
        summary["indicator_rows_written"] = result.indicator_rows_written
    return summary


def _echo(summary: JSONObject, from_minutes: bool, max_jump: float) -> None:
    source = " (1-minute rows aggregated)" if from_minutes else ""
    click.echo(
        f"imported {summary['rows_imported']} {summary['timeframe']} bars of {summary['pair']} "
        f"from {summary['file']}{source} ({summary['format']}, clock {summary['clock']}; "
        f"{summary['rows_written']} new or changed, {summary['bad_rows']} bad rows skipped, "
        f"{summary['held_back']} held back) {summary['first']} .. {summary['last']}"
    )
    if summary["held_back"]:
        click.echo(
            f"held back {summary['held_back']} bars that jump more than {max_jump:g}% "
            "(see the log); --force stores them",
            err=True,
        )


async def _store(
    settings: Settings,
    pair: str,
    timeframe: Timeframe,
    parsed: ParsedCsv,
    force: bool,
    no_derive: bool,
) -> _Stored:
    from exchange_analytics.pipeline.derive import derive_full
    from exchange_analytics.pipeline.history_import import store_import

    async def work(engine: Database) -> _Stored:
        outcome = await store_import(
            engine,
            pair,
            timeframe,
            parsed,
            max_jump_percent=settings.max_bar_jump_percent,
            force=force,
        )
        stored = _Stored(outcome.written, outcome.stored, len(outcome.held_back))
        if no_derive or not outcome.stored:
            return stored
        derived = await derive_full(engine, pair, settings.day_boundary)
        return replace(
            stored,
            bars_aggregated=derived.bars_aggregated,
            indicator_rows_written=derived.indicator_rows_written,
        )

    return await with_engine(settings, work)
