"""``scripts/analysis/performance_analysis.py``: the monthly system report, as text, JSON or
with a PNG plot. The report itself is built by ``system_report.build_system_report``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from exchange_analytics.config.settings import Settings
from exchange_analytics.errors import ConfigurationError
from exchange_analytics.reports.script_runtime import (
    open_database,
    parser,
    print_json,
    run_script,
)
from exchange_analytics.reports.sections import ReportPeriod
from exchange_analytics.reports.system_report import build_system_report, default_sections


def plot_path(template: str, period: ReportPeriod) -> Path:
    """``--plot`` may contain ``{month}`` so one cron line writes a file per month."""
    return Path(template.replace("{month}", period.label)).expanduser()


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    try:
        period = ReportPeriod.parse(args.month, now)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    async with open_database(settings) as engine:
        sections = default_sections(args.horizon)
        report = await build_system_report(engine, period, sections=sections, now=now)
    data = report.to_dict()
    plotted = None
    if args.plot:
        from exchange_analytics.reports.report_plot import plot_report

        plotted = plot_report(data, plot_path(args.plot, period))
        data["plot"] = str(plotted)
    if args.json:
        print_json(data)
    else:
        print(report.render(), end="")
        if plotted is not None:
            print(f"plot written to {plotted}")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser(
        "performance_analysis.py",
        "Monthly system report: processing-time trend and success rate per day, slowest "
        "cycles, patterns per type and direction, and how each pattern's signals turned out "
        "(take-profit before stop-loss within --horizon 5m bars).",
        "python scripts/analysis/performance_analysis.py --month previous "
        "--plot reports/performance_{month}.png",
    )
    arguments.add_argument(
        "--month",
        default="current",
        help="YYYY-MM, 'current' (month to date, the default) or 'previous'",
    )
    arguments.add_argument(
        "--plot", metavar="FILE.png", help="also write a PNG ({month} is replaced by YYYY-MM)"
    )
    arguments.add_argument(
        "--horizon",
        type=int,
        default=288,
        help="5m bars a signal has to reach take-profit or stop-loss (288 = one day)",
    )
    arguments.add_argument("--json", action="store_true", help="machine-readable output")
    run_script(arguments, _run, argv)
