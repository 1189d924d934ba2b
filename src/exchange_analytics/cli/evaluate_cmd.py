"""``patterns evaluate``: how each pattern's signals turned out on stored history (SPEC §16).

Thin: checks the input, reads the bars (``storage.evaluation_queries``), hands them to the pure
``evaluation.evaluate.evaluate_range`` and prints a table or JSON. Stores nothing unless
``--store`` (the trailing track record the notifications read).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

import click

from exchange_analytics.cli.runtime import emit_json, parse_timestamp, run_async, with_engine
from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.domain import CurrencyPair, DayBoundary
from exchange_analytics.errors import ConfigurationError

if TYPE_CHECKING:
    from exchange_analytics.evaluation.evaluate import EvaluationReport, RangeInputs
    from exchange_analytics.patterns.thresholds import Thresholds
    from exchange_analytics.storage.engine import Database

CTX = {"help_option_names": ["-h", "--help"]}


class PairRefresh(TypedDict):
    """One pair of the daily refresh: rows stored, or why it was skipped."""

    stored: int
    skipped: NotRequired[str]


def check_range(start: datetime, end: datetime) -> None:
    if start > end:
        raise ConfigurationError(
            f"--from {start.isoformat()} is after --to {end.isoformat()}: swap them"
        )


def evaluation_range(
    start: str | None, end: str | None, days: int | None, now: datetime
) -> tuple[datetime, datetime]:
    """[--from, --to], or the trailing ``--days`` up to ``now``; one of the two forms."""
    if days is not None:
        if start or end:
            raise ConfigurationError("give either --days or --from/--to, not both")
        if days < 1:
            raise ConfigurationError(f"--days {days}: give a number of days of at least 1")
        return now - timedelta(days=days), now
    if not start or not end:
        raise ConfigurationError("give --from and --to (ISO-8601), or --days N")
    first, last = parse_timestamp(start, "--from"), parse_timestamp(end, "--to")
    check_range(first, last)
    return first, last


def check_numbers(horizon: int, spread: float) -> None:
    if horizon < 1:
        raise ConfigurationError(f"--horizon {horizon}: give a number of 5m bars of at least 1")
    if spread < 0:
        raise ConfigurationError(f"--spread {spread}: the spread in pips must not be negative")


def check_pattern(pattern: str | None) -> tuple[str, ...]:
    from exchange_analytics.evaluation.evaluate import PATTERNS

    if pattern is None:
        return PATTERNS
    if pattern not in PATTERNS:
        raise ConfigurationError(
            f"--pattern {pattern!r} is not a pattern: use one of {', '.join(PATTERNS)}"
        )
    return (pattern,)


def thresholds_of(settings: Settings, path: Path | None = None) -> Thresholds:
    """PATTERN_THRESHOLDS, or the thresholds file ``path`` (e.g. what calibrate --out wrote)."""
    from exchange_analytics.patterns.thresholds import build_thresholds

    if path is None:
        return build_thresholds(settings.pattern_thresholds)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"--thresholds {path}: cannot read it ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"--thresholds {path}: not JSON ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"--thresholds {path}: give a JSON object of thresholds")
    try:
        return build_thresholds(raw)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--thresholds {path}: {exc}") from exc


async def load_inputs(
    engine: Database,
    pair: str,
    start: datetime,
    end: datetime,
    after_bars: int,
    day_boundary: DayBoundary,
) -> RangeInputs:
    """The range's bars as :class:`RangeInputs`; exit 2 when the range holds no stored bar."""
    import pandas as pd

    from exchange_analytics.evaluation.evaluate import RangeInputs
    from exchange_analytics.indicators import TRAILING_WINDOW
    from exchange_analytics.storage.evaluation_queries import read_evaluation_bars

    count, m5, higher = await read_evaluation_bars(
        engine, pair, start, end, after_bars, trailing=TRAILING_WINDOW
    )
    if count == 0:
        raise ConfigurationError(
            f"no 5m bars of {pair} stored between {start.isoformat()} and {end.isoformat()}: "
            "import history first (exchange-analytics import FILE --pair ...) or pick another range"
        )
    return RangeInputs(
        pair,
        m5,
        higher,
        pd.Timestamp(start),
        pd.Timestamp(end),
        day_boundary,
    )


@click.command("evaluate", context_settings=CTX)
@click.option(
    "--pair",
    default=None,
    help="Currency pair, e.g. USD/CHF (with --store and no --pair: every pair in CURRENCY_PAIRS).",
)
@click.option("--from", "start", help="First 5m bar (ISO-8601, UTC if no offset).")
@click.option("--to", "end", help="Last 5m bar (ISO-8601).")
@click.option(
    "--days",
    type=int,
    default=None,
    help="Instead of --from/--to: the trailing N days up to now (cron: --days 90 --store).",
)
@click.option("--pattern", default=None, help="Only this pattern (default: all six).")
@click.option(
    "--horizon", default=1440, show_default=True, type=int, help="5m bars an outcome may take."
)
@click.option(
    "--spread", default=1.0, show_default=True, type=float, help="Cost per trade in pips."
)
@click.option(
    "--thresholds",
    "thresholds_file",
    type=click.Path(path_type=Path),
    help="Thresholds JSON file instead of PATTERN_THRESHOLDS (e.g. calibrate --out).",
)
@click.option(
    "--store",
    is_flag=True,
    help="Also store the figures as the track record of this window (pattern_track_records).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def evaluate(
    pair: str | None,
    start: str | None,
    end: str | None,
    days: int | None,
    pattern: str | None,
    horizon: int,
    spread: float,
    thresholds_file: Path | None,
    store: bool,
    as_json: bool,
) -> None:
    """Did the patterns work? Signals, outcomes and a baseline over stored history.

    Per pattern and direction: detections; signals (what replay would have notified);
    take-profit first / stop-loss first / ambiguous / open within --horizon bars; hit rate
    with its 95 % Wilson interval; expectancy in R after --spread; the same for a baseline
    entering at every 5m close of the range; edge = hit rate - baseline hit rate with a
    bootstrap 95 % interval. Reads stored bars; stores nothing unless --store, which writes
    one pattern_track_records row per pattern and direction with window_days = the range's
    length in whole days (the messages quote the row whose window is TRACK_RECORD_DAYS, so
    run --days TRACK_RECORD_DAYS --store daily).

    \b
    Example:
        exchange-analytics patterns evaluate --pair USD/CHF --from 2026-03-01 --to 2026-04-01
        exchange-analytics patterns evaluate --pair USD/CHF --days 90 --store
        exchange-analytics patterns evaluate --store   # daily cron: every pair, TRACK_RECORD_DAYS
    """
    from exchange_analytics.evaluation.render import render_table

    settings = load_settings()
    if store and days is None and start is None and end is None:
        days = settings.track_record_days  # the window the messages quote
    first, last = evaluation_range(start, end, days, datetime.now(UTC))
    check_numbers(horizon, spread)
    patterns = check_pattern(pattern)
    thresholds = thresholds_of(settings, thresholds_file)
    if pair is None:
        if not store:
            raise ConfigurationError(
                "give --pair P (without --pair, --store refreshes every pair in CURRENCY_PAIRS)"
            )
        refresh_every_pair(settings, first, last, horizon, spread, patterns, thresholds, as_json)
        return
    name = str(CurrencyPair.parse(pair))
    result = evaluate_result(settings, name, first, last, horizon, spread, patterns, thresholds)
    if store:
        result["stored"] = store_track_records(settings, result)
    if as_json:
        emit_json(result)
        return
    click.echo(render_table(result), nl=False)
    if store:
        click.echo(f"stored {result['stored']} track record rows ({window_days(result)} days)")


def refresh_every_pair(
    settings: Settings,
    first: datetime,
    last: datetime,
    horizon: int,
    spread: float,
    patterns: tuple[str, ...],
    thresholds: Thresholds,
    as_json: bool,
) -> None:
    """The daily track-record refresh: every configured pair evaluated and stored.

    A pair with no stored bars in the window is reported and skipped (a pair added yesterday
    has no record yet; the messages say so), so one new pair does not stop the others.
    """
    outcome: dict[str, PairRefresh] = {}
    for currency_pair in settings.pairs:
        name = str(currency_pair)
        try:
            result = evaluate_result(
                settings, name, first, last, horizon, spread, patterns, thresholds
            )
        except ConfigurationError as exc:
            if not str(exc).startswith("no 5m bars"):
                raise
            outcome[name] = {"stored": 0, "skipped": str(exc)}
            continue
        outcome[name] = {"stored": store_track_records(settings, result)}
    if as_json:
        emit_json({"from": first.isoformat(), "to": last.isoformat(), "pairs": outcome})
        return
    for name, done in outcome.items():
        reason = f" (skipped: {done['skipped']})" if "skipped" in done else ""
        click.echo(f"{name}: stored {done['stored']} track record rows{reason}")


def evaluate_result(
    settings: Settings,
    name: str,
    first: datetime,
    last: datetime,
    horizon: int,
    spread: float,
    patterns: tuple[str, ...],
    thresholds: Thresholds,
) -> EvaluationReport:
    """Read the range's bars and evaluate them: the JSON document ``--json`` prints."""
    from exchange_analytics.evaluation.evaluate import evaluate_range

    inputs = run_async(
        lambda: with_engine(
            settings,
            lambda engine: load_inputs(engine, name, first, last, horizon, settings.day_boundary),
        )
    )
    rows = evaluate_range(
        inputs,
        thresholds,
        cooldown_minutes=settings.notify_cooldown_minutes,
        horizon=horizon,
        spread_pips=spread,
        patterns=patterns,
    )
    return {
        "pair": name,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "horizon": horizon,
        "spread_pips": spread,
        "day_boundary": settings.day_boundary,
        "cooldown_minutes": settings.notify_cooldown_minutes,
        "bars": inputs.last - inputs.first + 1,
        "results": rows,
    }


def window_days(result: EvaluationReport) -> int:
    """The range's length in whole days (at least 1): the track record's ``window_days``."""
    span = datetime.fromisoformat(result["to"]) - datetime.fromisoformat(result["from"])
    return max(1, round(span.total_seconds() / 86400))


def store_track_records(settings: Settings, result: EvaluationReport) -> int:
    """Write the evaluation as ``pattern_track_records`` rows; returns the rows written."""
    from exchange_analytics.evaluation.track_record import track_record_rows
    from exchange_analytics.storage.track_records import upsert_track_records

    rows = track_record_rows(
        result["results"],
        pair=result["pair"],
        window_days=window_days(result),
        period_from=datetime.fromisoformat(result["from"]),
        period_to=datetime.fromisoformat(result["to"]),
        computed_at=datetime.now(UTC),
        settings={
            "horizon": result["horizon"],
            "spread_pips": result["spread_pips"],
            "cooldown_minutes": result["cooldown_minutes"],
            "day_boundary": result["day_boundary"],
        },
    )

    async def write(engine: Database) -> int:
        async with engine.begin() as conn:
            return await upsert_track_records(conn, rows)

    return int(run_async(lambda: with_engine(settings, write)))
