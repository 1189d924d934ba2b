"""The PNG of the monthly report (``performance_analysis.py --plot FILE.png``).

matplotlib is imported here only, with the non-interactive Agg backend (no display under
cron), so nothing else pays for it.
"""

from __future__ import annotations

from pathlib import Path

from exchange_analytics.jsontypes import JSONObject


def plot_report(report: JSONObject, path: Path) -> Path:
    """Processing time (avg, p95) and success rate per day, patterns per type; returns path.

    ``report`` is the report's ``--json`` document (``SystemReport.to_dict``): the plot draws
    exactly what ``--json`` prints."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = report["sections"]
    daily = sections.get("daily", [])
    days = [row["date"][5:] for row in daily]
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), constrained_layout=True)
    time_ax, rate_ax, pattern_ax = axes
    label = report["period"]["label"]

    x = list(range(len(days)))
    avg = [row["avg_s"] if row["avg_s"] is not None else float("nan") for row in daily]
    p95 = [row["p95_s"] if row["p95_s"] is not None else float("nan") for row in daily]
    time_ax.plot(x, avg, marker="o", label="avg")
    time_ax.plot(x, p95, marker="o", label="p95")
    time_ax.set_title(f"Processing time per day ({label}, UTC)")
    time_ax.set_ylabel("seconds")
    time_ax.legend()

    rates = [
        100 * row["success_rate"] if row["success_rate"] is not None else float("nan")
        for row in daily
    ]
    rate_ax.bar(x, rates, color="tab:green")
    rate_ax.set_ylim(0, 105)
    rate_ax.set_title("Success rate per day")
    rate_ax.set_ylabel("%")
    for axis in (time_ax, rate_ax):
        axis.set_xticks(x)
        axis.set_xticklabels(days, rotation=90, fontsize=7)
        axis.grid(alpha=0.3)

    patterns = sections.get("patterns", [])
    names = [f"{row['pattern_type']} {row['direction']}" for row in patterns]
    counts = [row["detections"] for row in patterns]
    pattern_ax.barh(names or ["(none)"], counts or [0], color="tab:blue")
    pattern_ax.set_title("Pattern detections per type and direction")
    pattern_ax.set_xlabel("detections")

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
