"""The PNG of the monthly report (``performance_analysis.py --plot FILE.png``).

matplotlib is imported here only, with the non-interactive Agg backend (no display under
cron), so nothing else pays for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange_analytics.reports.system_report import SystemReport


def plot_report(report: SystemReport, path: Path) -> Path:
    """Processing time (avg, p95) and success rate per day, patterns per type; returns path.

    Drawn from the rows of the report's sections, the same rows ``--json`` prints."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    daily = _rows(report, "daily")
    days = [str(row["date"])[5:] for row in daily]
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), constrained_layout=True)
    time_ax, rate_ax, pattern_ax = axes
    label = report.period.label

    x = list(range(len(days)))
    avg = [_number(row["avg_s"]) for row in daily]
    p95 = [_number(row["p95_s"]) for row in daily]
    time_ax.plot(x, avg, marker="o", label="avg")
    time_ax.plot(x, p95, marker="o", label="p95")
    time_ax.set_title(f"Processing time per day ({label}, UTC)")
    time_ax.set_ylabel("seconds")
    time_ax.legend()

    rates = [100 * _number(row["success_rate"]) for row in daily]
    rate_ax.bar(x, rates, color="tab:green")
    rate_ax.set_ylim(0, 105)
    rate_ax.set_title("Success rate per day")
    rate_ax.set_ylabel("%")
    for axis in (time_ax, rate_ax):
        axis.set_xticks(x)
        axis.set_xticklabels(days, rotation=90, fontsize=7)
        axis.grid(alpha=0.3)

    patterns = _rows(report, "patterns")
    names = [f"{row['pattern_type']} {row['direction']}" for row in patterns]
    counts = [_number(row["detections"]) for row in patterns]
    pattern_ax.barh(names or ["(none)"], counts or [0], color="tab:blue")
    pattern_ax.set_title("Pattern detections per type and direction")
    pattern_ax.set_xlabel("detections")

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _rows(report: SystemReport, key: str) -> Sequence[Mapping[str, object]]:
    """The rows of the section ``key`` (none when the report has no such section)."""
    return next((s.data for s in report.sections if s.key == key), [])


def _number(value: object) -> float:
    """A figure to plot; a missing one (None) is a gap in the line (NaN)."""
    return float(value) if isinstance(value, int | float) else math.nan
