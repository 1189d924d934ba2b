"""Shortened soak: cron's 5-minute rhythm replayed in-process through simulated time.

``bench/bench_soak.py`` runs the full week (2,016 cycles); the suite runs one simulated day
on SQLite (288 cycles, crossing a UTC day boundary so 1d buckets complete) and 100 cycles
on PostgreSQL, which is enough to catch what accumulates: a bucket rewritten wrongly as it
forms and completes, a bar fetched twice or skipped at a chunk seam, a run row left open,
memory that grows per cycle.

Each cycle is ``run_cycle`` with ``CycleOptions(as_of=T)`` (its own engine, disposed at the
end, like a cron process) and T steps by 5 minutes. Afterwards:

* every closed demo 5m bar from the first stored one to the last T is present once, with the
  simulator's values;
* every 1h/4h/1d bucket of the 5m era equals re-aggregating the stored 5m bars with
  ``exchange_analytics.aggregation.aggregate`` (values, bar_count and is_complete);
* processing_runs holds one 'success' row per cycle;
* RSS growth from cycle 10 to the end stays under a generous bound (printed, not timed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog

from exchange_analytics.config.settings import Settings
from exchange_analytics.logs import configure_logging
from exchange_analytics.pipeline.cycle import CycleOptions
from exchange_analytics.pipeline.runner import run_cycle
from tests.support.faults import (
    SMALL_BACKFILL,
    aggregation_mismatches,
    backend,
    m5_mismatches,
    read_state,
    rss_mb,
)

pytestmark = pytest.mark.slow

PAIR = "USD/JPY"
#: Wednesday noon UTC: one simulated day crosses Thursday 00:00 UTC (1d bucket completes).
START = datetime(2026, 11, 18, 12, 0, 30, tzinfo=UTC)
CYCLES = {"sqlite": 288, "postgres": 100}
RSS_GROWTH_LIMIT_MB = 150.0


@pytest.fixture
def file_logging(tmp_path: Path) -> Iterator[Path]:
    """Log like the cron job (JSON lines to files, nothing on the console), then restore."""
    log_dir = tmp_path / "logs"
    configure_logging(log_dir, "cycle", console=False)
    yield log_dir
    structlog.reset_defaults()


def test_one_simulated_day_of_cron_cycles_stays_consistent(
    db_url: str, make_settings: Callable[..., Settings], file_logging: Path
) -> None:
    settings = make_settings(db_url, **SMALL_BACKFILL)
    cycles = CYCLES[backend(db_url)]
    moments = [START + timedelta(minutes=5 * i) for i in range(cycles)]
    statuses: list[str] = []
    rss_start = 0.0
    for index, moment in enumerate(moments):
        report = asyncio.run(run_cycle(settings, CycleOptions(as_of=moment)))
        statuses.append(report.status)
        if index == 9:
            rss_start = rss_mb()
    rss_end = rss_mb()
    print(
        f"\nsoak {backend(db_url)}: {cycles} cycles, RSS at cycle 10 {rss_start:.1f} MB, "
        f"at the end {rss_end:.1f} MB (growth {rss_end - rss_start:+.1f} MB)"
    )

    assert statuses == ["success"] * cycles, [
        (m.isoformat(), s) for m, s in zip(moments, statuses, strict=True) if s != "success"
    ]
    state = read_state(db_url)
    assert state.duplicate_total == 0, state.duplicates
    assert len(state.runs) == cycles
    assert all(r["status"] == "success" and r["finished_at"] for r in state.runs)
    assert [r["as_of"] for r in state.runs] == moments
    missing, problems = m5_mismatches(state, PAIR, moments[-1])
    assert missing == 0 and not problems, problems[:10]
    mismatched = aggregation_mismatches(state, PAIR, settings.day_boundary)
    assert not mismatched, mismatched[:10]
    assert rss_end - rss_start < RSS_GROWTH_LIMIT_MB


def test_the_consistency_checks_catch_what_they_look_for(
    sqlite_url: str, make_settings: Callable[..., Settings], file_logging: Path
) -> None:
    """The checks above (and in the fault tests) are only worth something if they can fail:
    corrupt a copy of a real state in each way they guard against and watch them object."""
    from dataclasses import replace

    from tests.support.faults import compare_states

    settings = make_settings(sqlite_url, **SMALL_BACKFILL)
    for step in range(3):
        asyncio.run(run_cycle(settings, CycleOptions(as_of=START + timedelta(minutes=5 * step))))
    end = START + timedelta(minutes=10)
    clean = read_state(sqlite_url)
    assert not aggregation_mismatches(clean, PAIR) and m5_mismatches(clean, PAIR, end) == (0, [])

    m5 = sorted(clean.bars_of(PAIR, "5m"))
    hour = next(k for k in clean.bars if k[0] == PAIR and k[1] == "1h" and k[2] >= m5[0])
    lost = (PAIR, "5m", m5[len(m5) // 2])
    changed_bar = dict(clean.bars)
    changed_bar[hour] = (clean.bars[hour][0] + 0.001, *clean.bars[hour][1:])
    missing_bar = {k: v for k, v in clean.bars.items() if k != lost}
    ind_key = next(iter(clean.indicators))
    drifted = dict(clean.indicators)
    drifted[ind_key] = (clean.indicators[ind_key][0] + 1e-6, clean.indicators[ind_key][1])

    assert aggregation_mismatches(replace(clean, bars=changed_bar), PAIR)
    assert m5_mismatches(replace(clean, bars=missing_bar), PAIR, end)[0] == 1
    assert compare_states(clean, replace(clean, bars=missing_bar)).missing_bars == [lost]
    assert compare_states(clean, replace(clean, bars=changed_bar)).differing_bars == [hour]
    assert compare_states(clean, replace(clean, indicators=drifted)).differing_indicators
