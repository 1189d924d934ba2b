"""``ops performance-stats`` (``scripts/monitoring/performance_stats.py``): how the cycles ran
over the last 24 h and 7 d.

Per window: runs by status, success rate (``runstats`` definitions: partial is not a
success, skipped runs are left out), processing time avg/p50/p95/max, the average rows per
cycle at every stage, the average time per stage, and the most frequent error messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypedDict

from exchange_analytics.config.settings import Settings
from exchange_analytics.health import runstats
from exchange_analytics.health.runstats import RunRecord
from exchange_analytics.render import table
from exchange_analytics.storage.engine import Database
from exchange_analytics.storage.run_history import runs_between

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
PER_CYCLE = (
    "rows_fetched",
    "bars_aggregated",
    "indicator_rows_written",
    "patterns_detected",
    "notifications_sent",
)


class TopError(TypedDict):
    message: str
    runs: int


class WindowSummary(TypedDict):
    """One window's figures (``--json`` prints them as they are)."""

    runs: int
    by_status: dict[str, int]
    success_rate: float | None
    finished: int
    consecutive_errors: int
    processing_time: dict[str, float | int] | None
    per_cycle_avg: dict[str, float | None]
    stage_avg_seconds: dict[str, float]
    error_count_total: int
    top_errors: list[TopError]


class PerfStats(TypedDict):
    generated_at: datetime
    windows: dict[str, WindowSummary]


def summarize(
    runs: Sequence[RunRecord],
    stages: Sequence[Mapping[str, float] | None],
    now: datetime,
    max_processing_time: float,
) -> WindowSummary:
    """Pure summary of one window's runs (``stages[i]`` is the stage_timings of ``runs[i]``)."""
    stale_after = runstats.abandoned_after(max_processing_time)
    rate = runstats.success_rate(runs, now, stale_after)
    timing = runstats.timing_stats(runs)
    worked = [r for r in runs if r.status not in (runstats.SKIPPED, runstats.RUNNING)]
    per_cycle = {
        key: round(sum(getattr(r, key) for r in worked) / len(worked), 2) if worked else None
        for key in PER_CYCLE
    }
    stage_totals: dict[str, list[float]] = {}
    for stage_map in stages:
        for stage, seconds in (stage_map or {}).items():
            stage_totals.setdefault(stage, []).append(float(seconds))
    errors = Counter((r.error_message or "").splitlines()[0][:160] for r in runs if r.error_message)
    return {
        "runs": len(runs),
        "by_status": dict(sorted(Counter(r.status for r in runs).items())),
        "success_rate": None if rate.rate is None else round(rate.rate, 4),
        "finished": rate.finished,
        "consecutive_errors": len(runstats.consecutive_failures(runs, now, stale_after)),
        "processing_time": None if timing is None else timing.to_dict(),
        "per_cycle_avg": per_cycle,
        "stage_avg_seconds": {
            stage: round(sum(values) / len(values), 4)
            for stage, values in sorted(stage_totals.items())
        },
        "error_count_total": sum(r.error_count for r in runs),
        "top_errors": [{"message": m, "runs": n} for m, n in errors.most_common(5)],
    }


async def collect(engine: Database, settings: Settings, now: datetime) -> PerfStats:
    """The report's data (what ``--json`` prints)."""
    since = now - max(WINDOWS.values())
    async with engine.connect() as conn:
        rows = await runs_between(conn, since)
    records = [
        (RunRecord.from_mapping(row), runstats.stage_seconds(row["stage_timings"])) for row in rows
    ]
    windows = {}
    for name, span in WINDOWS.items():
        chosen = [(r, s) for r, s in records if r.started_at >= now - span]
        windows[name] = summarize(
            [r for r, _ in chosen], [s for _, s in chosen], now, settings.max_processing_time
        )
    return {"generated_at": now, "windows": windows}


def render(report: PerfStats) -> str:
    windows = report["windows"]
    names = list(windows)
    lines = [f"Cycle performance (generated {report['generated_at']:%Y-%m-%d %H:%M}Z)", ""]

    def row(label: str, pick: Callable[[WindowSummary], object]) -> list[object]:
        return [label, *(pick(windows[n]) for n in names)]

    def timing(key: str) -> Callable[[WindowSummary], object]:
        return lambda w: None if w["processing_time"] is None else w["processing_time"][key]

    def per_cycle(key: str) -> Callable[[WindowSummary], object]:
        return lambda w: w["per_cycle_avg"][key]

    def rate(w: WindowSummary) -> str:
        return "-" if w["success_rate"] is None else f"{w['success_rate']:.1%}"

    rows = [
        row("runs", lambda w: w["runs"]),
        row("finished (not skipped)", lambda w: w["finished"]),
        row("success rate", rate),
        row("failed in a row now", lambda w: w["consecutive_errors"]),
        row("processing avg (s)", timing("avg")),
        row("processing p50 (s)", timing("p50")),
        row("processing p95 (s)", timing("p95")),
        row("processing max (s)", timing("max")),
        *(row(f"{key} / cycle", per_cycle(key)) for key in PER_CYCLE),
        row("errors recorded", lambda w: w["error_count_total"]),
    ]
    lines.append(table(rows, ["", *names]))
    for name in names:
        by_status = ", ".join(f"{k} {v}" for k, v in windows[name]["by_status"].items())
        lines.append(f"\n{name}: {by_status or 'no runs'}")
        stages = windows[name]["stage_avg_seconds"]
        if stages:
            lines.append(
                "  avg per stage: " + ", ".join(f"{k} {v:.3f}s" for k, v in stages.items())
            )
        for error in windows[name]["top_errors"]:
            lines.append(f"  {error['runs']}x {error['message']}")
    return "\n".join(lines)
