"""``exchange-analytics import FILE``: CSV history into price_data, all or nothing (SPEC §3.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from exchange_analytics.cli.runtime import emit_json, run_async, with_engine
from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.domain import Candle, CurrencyPair, Timeframe
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.logs import configure_logging


@click.command("import", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pair", required=True, help="Currency pair of the file, e.g. USD/JPY.")
@click.option(
    "--timeframe",
    type=click.Choice(["5m", "1h"]),
    default="5m",
    show_default=True,
    help="Timeframe of the bars in the file (4h and 1d are always built by aggregation).",
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
    help="Zone of naive timestamps (e.g. Europe/Athens for a MetaTrader server); "
    "default: UTC, or fixed EST (UTC-5) for HistData.",
)
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option(
    "--no-derive", is_flag=True, help="Do not rebuild 1h/4h/1d and indicators afterwards."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def import_file(
    file: Path,
    pair: str,
    timeframe: str,
    fmt: str,
    tz: str | None,
    skip_bad_rows: bool,
    no_derive: bool,
    as_json: bool,
) -> None:
    """Import CSV history (HistData, MetaTrader export or generic header CSV).

    A bad row refuses the whole file with FILE:LINE: reason, unless --skip-bad-rows.
    Afterwards 1h/4h/1d buckets and indicators of the pair are rebuilt.

    \b
    Example:
        exchange-analytics import EURUSD_M5.csv --pair EUR/USD --tz Europe/Athens
    """
    from exchange_analytics.providers.csv_import import parse_csv

    settings = load_settings()
    configure_logging(settings.log_dir, "cycle", level=settings.log_level)
    parsed_pair = str(CurrencyPair.parse(pair))
    tf = Timeframe(timeframe)
    if not file.exists():
        raise ConfigurationError(f"{file}: no such file")
    parsed = parse_csv(file, fmt=fmt, tz=tz, timeframe=tf, skip_bad_rows=skip_bad_rows)
    for error in parsed.errors:
        click.echo(f"skipped {error}", err=True)
    result = run_async(lambda: _store(settings, parsed_pair, tf, parsed.candles, no_derive))
    summary = {
        "file": str(file),
        "format": parsed.format,
        "pair": parsed_pair,
        "timeframe": tf.value,
        "rows_read": parsed.rows,
        "rows_imported": len(parsed.candles),
        "rows_written": result["written"],
        "bad_rows": len(parsed.errors),
        "first": parsed.candles[0].timestamp.isoformat() if parsed.candles else None,
        "last": parsed.candles[-1].timestamp.isoformat() if parsed.candles else None,
        **{k: v for k, v in result.items() if k != "written"},
    }
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"imported {summary['rows_imported']} {tf.value} bars of {parsed_pair} from {file} "
            f"({parsed.format}; {summary['rows_written']} new or changed, "
            f"{summary['bad_rows']} bad rows skipped) {summary['first']} .. {summary['last']}"
        )


async def _store(
    settings: Settings,
    pair: str,
    timeframe: Timeframe,
    candles: list[Candle],
    no_derive: bool,
) -> dict[str, int]:
    from exchange_analytics.pipeline.derive import derive_full
    from exchange_analytics.storage import candles as candle_store

    async def work(engine: Any) -> dict[str, int]:
        rows = candle_store.candle_rows(pair, timeframe, candles, "csv")
        async with engine.begin() as conn:  # one transaction: all or nothing
            written = await candle_store.write_rows(conn, rows)
        result = {"written": written}
        if not no_derive and candles:
            derived = await derive_full(engine, pair, settings.day_boundary)
            result["bars_aggregated"] = derived.bars_aggregated
            result["indicator_rows_written"] = derived.indicator_rows_written
        return result

    return await with_engine(settings, work)
