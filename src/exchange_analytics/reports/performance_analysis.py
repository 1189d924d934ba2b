"""``ops analysis`` (``scripts/analysis/performance_analysis.py``): the monthly system report,
as text, JSON or with a PNG plot. The report itself is built by
``system_report.build_system_report``; this module picks the period and writes the plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange_analytics.errors import ConfigurationError
from exchange_analytics.reports.sections import ReportPeriod
from exchange_analytics.reports.system_report import (
    SystemReport,
    build_system_report,
    default_sections,
)
from exchange_analytics.storage.engine import Database


def plot_path(template: str, period: ReportPeriod) -> Path:
    """``--plot`` may contain ``{month}`` so one cron line writes a file per month."""
    return Path(template.replace("{month}", period.label)).expanduser()


def parse_period(text: str, now: datetime) -> ReportPeriod:
    """``--month``: 'YYYY-MM', 'current' or 'previous'; a usage error names the option."""
    try:
        return ReportPeriod.parse(text, now)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc


@dataclass(frozen=True)
class Analysis:
    """The built report and where its plot went (if one was asked for)."""

    report: SystemReport
    plot: Path | None = None

    def to_dict(self) -> dict[str, object]:
        data = self.report.to_dict()
        if self.plot is not None:
            data["plot"] = str(self.plot)
        return data

    def render(self) -> str:
        text = self.report.render().rstrip("\n")
        return text if self.plot is None else f"{text}\nplot written to {self.plot}"


async def analysis(
    engine: Database, period: ReportPeriod, now: datetime, *, horizon: int, plot: str | None
) -> Analysis:
    """Build the month's report; with ``plot``, also write the PNG (matplotlib, Agg)."""
    sections = default_sections(horizon)
    report = await build_system_report(engine, period, sections=sections, now=now)
    if not plot:
        return Analysis(report)
    from exchange_analytics.reports.report_plot import plot_report

    return Analysis(report, plot_report(report, plot_path(plot, period)))
