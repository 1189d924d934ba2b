"""``replay`` and ``patterns explain``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from exchange_analytics.cli.runtime import (
    emit_json,
    parse_timestamp,
    progress_bar,
    run_async,
    with_engine,
)
from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.logs import configure_logging

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from exchange_analytics.patterns.thresholds import Thresholds
    from exchange_analytics.pipeline.replay import ReplayOutcome
    from exchange_analytics.storage.engine import Database

CTX = {"help_option_names": ["-h", "--help"]}


def _thresholds(settings: Settings) -> Thresholds:
    from exchange_analytics.patterns.thresholds import build_thresholds

    return build_thresholds(settings.pattern_thresholds)


@click.command("replay", context_settings=CTX)
@click.option("--pair", required=True, help="Currency pair, e.g. USD/JPY.")
@click.option("--from", "start", required=True, help="First 5m bar (ISO-8601, UTC if no offset).")
@click.option("--to", "end", required=True, help="Last 5m bar (ISO-8601).")
@click.option(
    "--notify", is_flag=True, help="Queue the messages for sending (default: only record)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def replay(pair: str, start: str, end: str, notify: bool, as_json: bool) -> None:
    """Walk stored history bar by bar as if cron had run at every 5m close.

    Uses only data known at each bar (higher timeframes are the forming buckets as they stood),
    stores the detections and prints what would have been sent.

    \b
    Example:
        exchange-analytics replay --pair USD/JPY --from 2026-06-01 --to 2026-07-01
    """
    settings = load_settings()
    configure_logging(settings.log_dir, "cycle", level=settings.log_level)
    parsed = CurrencyPair.parse(pair)
    name = str(parsed)
    first, last = parse_timestamp(start, "--from"), parse_timestamp(end, "--to")
    progress = _replay_progress(name, sys.stderr.isatty() and not as_json)

    outcome, queued = run_async(
        lambda: with_engine(
            settings,
            lambda engine: _replay(engine, settings, parsed, first, last, notify, progress),
        )
    )
    result = _replay_document(name, outcome, notify, queued)
    if as_json:
        emit_json(result)
        return
    _print_replay(name, outcome, result, notify)


def _replay_progress(name: str, enabled: bool) -> Callable[[int, int], None]:
    """click's progress bar on stderr while replay walks the bars (a terminal only, never
    under cron or ``--json``)."""
    bar: ProgressBar[int] | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not enabled:
            return
        if bar is None:
            bar = progress_bar(f"  replay {name}", total)
        bar.update(done - bar.pos)
        if done >= total:
            bar.render_finish()

    return progress


async def _replay(
    engine: Database,
    settings: Settings,
    pair: CurrencyPair,
    first: datetime,
    last: datetime,
    notify: bool,
    progress: Callable[[int, int], None],
) -> tuple[ReplayOutcome, dict[str, int]]:
    """The replay, then (with ``--notify``, SPEC §17) the range's digests and follow-ups
    queued for the sender; returns the outcome and those queued counts."""
    from exchange_analytics.pipeline.notify import PolicyGate, after_replay
    from exchange_analytics.pipeline.replay import replay as do_replay

    done = await do_replay(
        engine,
        pair=pair,
        start=first,
        end=last,
        day_boundary=settings.day_boundary,
        thresholds=_thresholds(settings),
        cooldown_minutes=settings.notify_cooldown_minutes,
        notify=notify,
        is_demo=settings.market_data_provider == "demo",
        progress=progress,
        gate=PolicyGate(settings, datetime.now(UTC)),
    )
    queued = await after_replay(engine, settings, first, last) if notify else {}
    return done, queued


def _replay_document(
    name: str, outcome: ReplayOutcome, notify: bool, queued: Mapping[str, int]
) -> JSONObject:
    """``replay --json``: what was walked, stored and would have been sent."""
    return {
        "pair": name,
        "bars_evaluated": outcome.bars_evaluated,
        "first_bar": outcome.first_bar.isoformat() if outcome.first_bar else None,
        "last_bar": outcome.last_bar.isoformat() if outcome.last_bar else None,
        "detections_stored": outcome.detections,
        "detections_by_pattern": dict(sorted(outcome.counts.items())),
        "would_notify": [{k: v for k, v in m.items() if k != "payload"} for m in outcome.messages],
        "queued_for_sending": notify,
        "digests_queued": queued.get("digests", 0),
        "followups_queued": queued.get("followups", 0),
    }


def _print_replay(name: str, outcome: ReplayOutcome, result: JSONObject, notify: bool) -> None:
    click.echo(
        f"replayed {outcome.bars_evaluated} bars of {name} "
        f"({result['first_bar']} .. {result['last_bar']}): "
        f"{sum(outcome.counts.values())} detections, {len(outcome.messages)} would notify"
    )
    if notify:
        click.echo(
            f"  queued {result['digests_queued']} digest message(s) and "
            f"{result['followups_queued']} outcome follow-up(s) (SPEC §17)"
        )
    for key, count in sorted(outcome.counts.items()):
        click.echo(f"  {key:<28} {count:>6}")
    if outcome.messages:
        click.echo(
            f"  {'bar (UTC)':<17} {'pattern':<18} {'dir':<7} {'conf':>5} "
            f"{'entry':>10} {'TP':>10} {'SL':>10}"
        )
        for m in outcome.messages:
            stamp = str(m["bar_timestamp"])  # a str already: the bar's str() (pipeline.signals)
            click.echo(
                f"  {stamp[:16]:<17} {m['pattern_type']:<18} {m['direction']:<7} "
                f"{m['confidence']:>5.2f} {_p(m['entry_price']):>10} {_p(m['take_profit']):>10} "
                f"{_p(m['stop_loss']):>10}"
            )


def _p(value: JSONValue) -> str:
    """A price of a message summary: a JSON number, or null where the pattern has none."""
    return "-" if value is None else f"{value:.5g}"


@click.group("patterns", context_settings=CTX)
def patterns() -> None:
    """Inspect pattern conditions."""


@patterns.command("explain", context_settings=CTX)
@click.option("--pair", required=True, help="Currency pair, e.g. USD/JPY.")
@click.option("--at", "at", help="Moment (ISO-8601; default now): the last 5m bar closed by then.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def explain(pair: str, at: str | None, as_json: bool) -> None:
    """Every pattern's conditions per timeframe at one moment, met or not, with the values.

    \b
    Example:
        exchange-analytics patterns explain --pair USD/JPY --at 2026-07-01T12:00:00Z
    """
    import pandas as pd

    from exchange_analytics.patterns.explain import render_explain
    from exchange_analytics.pipeline.replay import explain as do_explain

    settings = load_settings()
    parsed = CurrencyPair.parse(pair)
    name = str(parsed)
    moment = parse_timestamp(at, "--at") if at else datetime.now(UTC)
    results, _bar = run_async(
        lambda: with_engine(
            settings,
            lambda engine: do_explain(
                engine,
                pair=parsed,
                at=moment,
                day_boundary=settings.day_boundary,
                thresholds=_thresholds(settings),
            ),
        )
    )
    if as_json:
        emit_json(
            [r.to_detection_data() | {"bar_timestamp": str(r.bar_timestamp)} for r in results]
        )
        return
    click.echo(render_explain(results, name, pd.Timestamp(moment)), nl=False)


def _register_evaluation() -> None:
    """``patterns evaluate`` and ``patterns calibrate`` live in their own modules
    (``calibrate_cmd`` uses ``evaluate_cmd``'s input checks; neither imports the other back)."""
    from exchange_analytics.cli.calibrate_cmd import calibrate
    from exchange_analytics.cli.evaluate_cmd import evaluate

    patterns.add_command(evaluate)
    patterns.add_command(calibrate)


_register_evaluation()
