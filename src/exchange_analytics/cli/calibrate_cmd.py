"""``patterns calibrate``: walk-forward choice of pattern settings (SPEC §16, §19).

Thin: checks the input, reads each pair's bars once, builds the independent tasks
(``evaluation.walkforward``), runs them on the chosen executor (``evaluation.executors``) and
reports (``evaluation.calibrate``). Never applies anything: ``--out`` writes a file that an
operator may put in ``PATTERN_THRESHOLDS``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from exchange_analytics.cli.evaluate_cmd import CTX, check_numbers, check_range, load_inputs
from exchange_analytics.cli.runtime import emit_json, parse_timestamp, run_async, with_engine
from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.domain import CurrencyPair
from exchange_analytics.errors import ConfigurationError

if TYPE_CHECKING:
    from exchange_analytics.evaluation.calibrate import CalibrationReport
    from exchange_analytics.evaluation.evaluate import RangeInputs
    from exchange_analytics.evaluation.executors import ExecutorSpec, Progress
    from exchange_analytics.evaluation.grid import PatternGrid
    from exchange_analytics.evaluation.walkforward import Task, Window
    from exchange_analytics.storage.engine import Database


@dataclass(frozen=True, slots=True)
class CalibrateOptions:
    """The command line of ``patterns calibrate``, as click parsed it."""

    pair_list: str
    start: str
    end: str
    train_weeks: int
    test_weeks: int
    workers: int | None
    dask_address: str | None
    grid_file: Path | None
    min_signals: int
    horizon: int
    spread: float
    out_file: Path | None
    as_json: bool


def _pairs(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigurationError("--pair: give one or more pairs like USD/CHF,EUR/USD")
    return list(dict.fromkeys(str(CurrencyPair.parse(name)) for name in names))


def _check(train_weeks: int, test_weeks: int, min_signals: int, workers: int) -> None:
    for option, value in (("--train-weeks", train_weeks), ("--test-weeks", test_weeks)):
        if value < 1:
            raise ConfigurationError(f"{option} {value}: give a whole number of weeks ≥ 1")
    if min_signals < 1:
        raise ConfigurationError(f"--min-signals {min_signals}: give at least 1")
    if workers < 1:
        raise ConfigurationError(f"--workers {workers}: give at least 1")


@contextlib.contextmanager
def _progress(total: int, show: bool) -> Iterator[Progress | None]:
    """A click progress bar on a terminal; nothing under cron or --json."""
    if not show:
        yield None
        return
    with click.progressbar(length=total, label="calibrate", file=sys.stderr) as bar:
        done = [0]

        def update(finished: int, _total: int) -> None:
            bar.update(finished - done[0])
            done[0] = finished

        yield update


def _read_all(
    settings: Settings, pairs: list[str], start: datetime, end: datetime, horizon: int
) -> dict[str, RangeInputs]:
    async def read(engine: Database) -> dict[str, RangeInputs]:
        return {
            pair: await load_inputs(engine, pair, start, end, horizon, settings.day_boundary)
            for pair in pairs
        }

    return run_async(lambda: with_engine(settings, read))


@click.command("calibrate", context_settings=CTX)
@click.option(
    "--pair", "pair_list", required=True, help="Pair(s), comma-separated: USD/CHF,EUR/USD."
)
@click.option("--from", "start", required=True, help="Start of the first training window.")
@click.option("--to", "end", required=True, help="No test window ends after this.")
@click.option("--train-weeks", default=8, show_default=True, type=int)
@click.option("--test-weeks", default=2, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Local processes (default: all cores).")
@click.option("--dask", "dask_address", default=None, help="Dask scheduler, tcp://HOST:8786.")
@click.option("--grid", "grid_file", type=click.Path(path_type=Path), help="Grid JSON file.")
@click.option("--min-signals", default=10, show_default=True, type=int)
@click.option("--horizon", default=1440, show_default=True, type=int)
@click.option("--spread", default=1.0, show_default=True, type=float)
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Write chosen thresholds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def calibrate(
    pair_list: str,
    start: str,
    end: str,
    train_weeks: int,
    test_weeks: int,
    workers: int | None,
    dask_address: str | None,
    grid_file: Path | None,
    min_signals: int,
    horizon: int,
    spread: float,
    out_file: Path | None,
    as_json: bool,
) -> None:
    """Walk-forward: choose settings on each training window, score them on the next test window.

    Per pattern and direction, the grid setting with the best training expectancy (at least
    --min-signals signals) is scored out of sample, beside the SPEC seed defaults and the
    baseline. Runs on --workers local processes or a Dask cluster (--dask or
    DASK_SCHEDULER_ADDRESS). Nothing is applied: --out writes one line of JSON that
    PATTERN_THRESHOLDS accepts as it is, if you decide to use it.

    \b
    Example:
        exchange-analytics patterns calibrate --pair USD/CHF --from 2026-01-05 \\
            --to 2026-07-03 --workers 2 --out chosen.json
    """
    options = CalibrateOptions(
        pair_list, start, end, train_weeks, test_weeks, workers, dask_address, grid_file,
        min_signals, horizon, spread, out_file, as_json,
    )  # fmt: skip
    settings = load_settings()
    report = calibrate_report(settings, options)
    if as_json:
        emit_json(report)
        return
    from exchange_analytics.evaluation.render import render_calibration

    click.echo(render_calibration(report), nl=False)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a calibration runs: pairs, range, windows, grid and executor, all checked."""

    pairs: list[str]
    first: datetime
    last: datetime
    windows: list[Window]
    grid: dict[str, PatternGrid]
    spec: ExecutorSpec


def _plan(settings: Settings, o: CalibrateOptions) -> _Plan:
    """Check the options and derive the windows, the grid and the executor."""
    import pandas as pd

    from exchange_analytics.evaluation.executors import ExecutorSpec
    from exchange_analytics.evaluation.grid import load_grid
    from exchange_analytics.evaluation.walkforward import windows

    pairs = _pairs(o.pair_list)
    first, last = parse_timestamp(o.start, "--from"), parse_timestamp(o.end, "--to")
    check_range(first, last)
    check_numbers(o.horizon, o.spread)
    workers = o.workers if o.workers is not None else (os.cpu_count() or 1)
    _check(o.train_weeks, o.test_weeks, o.min_signals, workers)
    grid = load_grid(o.grid_file, settings.notify_cooldown_minutes)
    wins = windows(pd.Timestamp(first), pd.Timestamp(last), o.train_weeks, o.test_weeks)
    if not wins:
        raise ConfigurationError(
            f"--from {first.date()} --to {last.date()} holds no window of "
            f"{o.train_weeks}+{o.test_weeks} weeks: widen the range or shorten the weeks"
        )
    spec = ExecutorSpec(workers=workers, dask=o.dask_address or settings.dask_scheduler_address)
    return _Plan(pairs, first, last, wins, grid, spec)


def calibrate_report(settings: Settings, o: CalibrateOptions) -> CalibrationReport:
    """Run the calibration the options describe and return the report (also ``--out``)."""
    from exchange_analytics.evaluation import calibrate as cal
    from exchange_analytics.evaluation.executors import run_tasks
    from exchange_analytics.evaluation.walkforward import build_tasks, run_task

    plan = _plan(settings, o)
    full = _read_all(settings, plan.pairs, plan.first, plan.last, o.horizon)
    passes = cal.grid_passes(plan.grid, settings.notify_cooldown_minutes)
    tasks: list[Task] = build_tasks(full, plan.windows, passes, o.horizon, o.spread)
    show = sys.stderr.isatty() and not o.as_json
    with _progress(len(tasks), show) as progress:
        results = run_tasks(run_task, tasks, plan.spec, progress)
    choices = cal.choose([row for rows in results for row in rows], o.min_signals)
    chosen = cal.chosen_settings(choices)
    if o.out_file is not None:
        o.out_file.write_text(cal.thresholds_file(chosen), encoding="utf-8")
    return {
        "pairs": plan.pairs,
        "from": plan.first.isoformat(),
        "to": plan.last.isoformat(),
        "train_weeks": o.train_weeks,
        "test_weeks": o.test_weeks,
        "horizon": o.horizon,
        "spread_pips": o.spread,
        "min_signals": o.min_signals,
        "executor": plan.spec.describe(),
        "tasks": len(tasks),
        "windows": [w.to_dict() for w in plan.windows],
        "summary": cal.summary(choices),
        "chosen_settings": chosen,
        "out": str(o.out_file) if o.out_file is not None else None,
        "per_window": choices,
    }
