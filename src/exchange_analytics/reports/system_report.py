"""The monthly system report behind ``scripts/analysis/performance_analysis.py``.

A report is a list of *sections*, each built by an async function from a read-only
connection and the period, each with JSON-ready ``data`` and its own text rendering. The
sections here describe the system: processing time and success rate per day, the slowest
cycles, and the patterns detected per type and direction. Further sections live in their own
modules and are added to ``default_sections()`` (as ``signal_outcomes``, how each pattern's
signals turned out, is), or passed to ``build_system_report(sections=...)``; nothing else in
this module has to change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypedDict

from exchange_analytics.health import runstats
from exchange_analytics.health.runstats import RunRecord, stage_seconds
from exchange_analytics.render import table
from exchange_analytics.reports.sections import ReportPeriod, Section, SectionBuilder
from exchange_analytics.reports.signal_outcomes import DEFAULT_HORIZON, outcomes_section_builder
from exchange_analytics.storage.engine import Connection, Database
from exchange_analytics.storage.run_history import runs_between
from exchange_analytics.storage.stats_queries import pattern_counts


class DailyRow(TypedDict):
    date: str
    runs: int
    finished: int
    failed: int
    success_rate: float | None
    avg_s: float | None
    p95_s: float | None
    max_s: float | None


class SlowRun(TypedDict):
    id: int
    started_at: datetime
    status: str
    processing_time: float
    slowest_stage: str | None
    slowest_stage_s: float | None


class PatternCount(TypedDict):
    pattern_type: str
    direction: str
    detections: int
    avg_confidence: float | None
    pairs: int


@dataclass
class SystemReport:
    period: ReportPeriod
    generated_at: datetime
    sections: list[Section]

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` document (``render.to_json`` writes the times as text)."""
        return {
            "period": {
                "label": self.period.label,
                "start": self.period.start,
                "end": self.period.end,
            },
            "generated_at": self.generated_at,
            "sections": {s.key: s.data for s in self.sections},
        }

    def render(self) -> str:
        out = [f"Exchange Analytics system report {self.period.label}", ""]
        for section in self.sections:
            out += [section.title, "=" * len(section.title), *section.lines, ""]
        return "\n".join(out).rstrip() + "\n"

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


async def _runs(conn: Connection, period: ReportPeriod) -> list[tuple[RunRecord, dict[str, float]]]:
    """The period's runs, each with its stage timings (stage -> seconds)."""
    rows = await runs_between(conn, period.start, period.end)
    return [(RunRecord.from_mapping(r), stage_seconds(r["stage_timings"])) for r in rows]


def daily_rows(runs: Sequence[RunRecord], period: ReportPeriod, now: datetime) -> list[DailyRow]:
    """Per day: runs, success rate, processing time avg/p95/max (pure)."""
    stale_after = runstats.abandoned_after(300.0)
    by_day: dict[date, list[RunRecord]] = defaultdict(list)
    for run in runs:
        by_day[run.started_at.astimezone(UTC).date()].append(run)
    rows: list[DailyRow] = []
    for day in period.days():
        chosen = by_day.get(day, [])
        rate = runstats.success_rate(chosen, now, stale_after)
        timing = runstats.timing_stats(chosen)
        rows.append(
            {
                "date": day.isoformat(),
                "runs": len(chosen),
                "finished": rate.finished,
                "failed": rate.failed,
                "success_rate": None if rate.rate is None else round(rate.rate, 4),
                "avg_s": None if timing is None else round(timing.avg, 3),
                "p95_s": None if timing is None else round(timing.p95, 3),
                "max_s": None if timing is None else round(timing.max, 3),
            }
        )
    return rows


async def daily_section(conn: Connection, period: ReportPeriod) -> Section:
    runs = [r for r, _ in await _runs(conn, period)]
    rows = daily_rows(runs, period, datetime.now(UTC))
    shown = [r for r in rows if r["runs"]]
    lines = (
        [
            table(
                [
                    [
                        r["date"],
                        r["runs"],
                        "-" if r["success_rate"] is None else f"{r['success_rate']:.1%}",
                        r["avg_s"],
                        r["p95_s"],
                        r["max_s"],
                    ]
                    for r in shown
                ],
                ["day (UTC)", "runs", "success", "avg s", "p95 s", "max s"],
            )
        ]
        if shown
        else ["(no runs in this period)"]
    )
    return Section("daily", "Processing time and success rate per day", rows, lines)


async def slowest_section(conn: Connection, period: ReportPeriod, limit: int = 10) -> Section:
    timed = [(r, s) for r, s in await _runs(conn, period) if r.processing_time is not None]
    timed.sort(key=lambda item: item[0].processing_time or 0.0, reverse=True)
    rows: list[SlowRun] = []
    for run, stage_map in timed[:limit]:
        slowest = max(stage_map, key=stage_map.__getitem__) if stage_map else None
        rows.append(
            {
                "id": run.id,
                "started_at": run.started_at,
                "status": run.status,
                "processing_time": round(run.processing_time or 0.0, 3),
                "slowest_stage": slowest,
                "slowest_stage_s": None if slowest is None else round(stage_map[slowest], 3),
            }
        )
    lines = (
        [
            table(
                [
                    [
                        r["id"],
                        r["started_at"],
                        r["status"],
                        r["processing_time"],
                        r["slowest_stage"],
                    ]
                    for r in rows
                ],
                ["run", "started (UTC)", "status", "seconds", "slowest stage"],
            )
        ]
        if rows
        else ["(no timed runs in this period)"]
    )
    return Section("slowest_cycles", f"Slowest {limit} cycles", rows, lines)


async def patterns_section(conn: Connection, period: ReportPeriod) -> Section:
    rows: list[PatternCount] = [
        {
            "pattern_type": pattern,
            "direction": direction,
            "detections": count,
            "avg_confidence": None if avg is None else round(avg, 3),
            "pairs": pairs,
        }
        for pattern, direction, count, avg, pairs in await pattern_counts(
            conn, period.start, period.end
        )
    ]
    lines = (
        [
            table(
                [
                    [
                        r["pattern_type"],
                        r["direction"],
                        r["detections"],
                        r["avg_confidence"],
                        r["pairs"],
                    ]
                    for r in rows
                ],
                ["pattern", "direction", "detections", "avg confidence", "pairs"],
            ),
            f"total {sum(r['detections'] for r in rows)} detections (by bar time in the period)",
        ]
        if rows
        else ["(no pattern detections in this period)"]
    )
    return Section("patterns", "Patterns detected per type and direction", rows, lines)


def default_sections(horizon: int | None = None) -> list[SectionBuilder]:
    """The sections of the monthly report, in order. Add further builders here.

    ``horizon``: how many 5m bars a signal has to reach take-profit or stop-loss
    (``signal_outcomes``; default one day).
    """
    outcomes = outcomes_section_builder(DEFAULT_HORIZON if horizon is None else horizon)
    return [daily_section, slowest_section, patterns_section, outcomes]


async def build_system_report(
    engine: Database,
    period: ReportPeriod,
    *,
    sections: Sequence[SectionBuilder] | None = None,
    now: datetime | None = None,
) -> SystemReport:
    """Run every section builder on one connection; the order of ``sections`` is kept."""
    built = []
    async with engine.connect() as conn:
        for builder in sections if sections is not None else default_sections():
            built.append(await builder(conn, period))
    return SystemReport(period, now or datetime.now(UTC), built)
