"""SIGTERM mid-run and runs that start at the same instant (SPEC §13.1, §13.3).

SIGTERM is what the operations manual's emergency stop (``pkill -f
continuous_processing_cron``) sends. Tests signal their own process by pid: a ``pkill -f``
here would also hit cycles that other test sessions on this machine are running.

A stopped run must: exit promptly with a non-zero code and one line on stderr, record
itself as 'interrupted', leave no half-written data (what is stored is a clean prefix of the
reference; the next run completes it to the reference row for row) and release its lock
(the next run is not skipped).

Concurrency: N cycles started together on one database take one run lock; exactly one
works, the others record 'skipped' and exit 0. Two "hosts" (RUN_LOCK_SCOPE=host) sharing a
four-pair list coordinate through per-pair locks, so each pair's new data is written by
exactly one of them per time step.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.faults import (
    AS_OF,
    CronProcess,
    DbState,
    FaultTally,
    aggregation_mismatches,
    backend,
    compare_states,
    copy_sqlite,
    create_pg_database,
    cron_env,
    cycle_log,
    differing_prices,
    drop_pg_database,
    format_tally,
    iso,
    log_events,
    m5_mismatches,
    read_state,
    record_faults,
    run_cron,
    unrecognisable_running_rows,
    wait_until,
)

pytestmark = pytest.mark.slow

PAIR = "USD/JPY"
#: Deeper history than the kill tests, so a run lasts long enough to be stopped halfway and
#: so that concurrent starters all arrive while the first one still holds the lock.
LONG_BACKFILL = {
    "BACKFILL_DAYS_5M": "20",
    "BACKFILL_DAYS_1H": "120",
    "BACKFILL_DAYS_4H": "120",
    "BACKFILL_DAYS_1D": "120",
}
FOUR_PAIRS = "USD/JPY,EUR/USD,GBP/USD,AUD/USD"
TALLY = FaultTally()
_REFERENCES: dict[str, DbState] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    record_faults("sigterm+concurrency", TALLY)
    print("\n" + format_tally("sigterm+concurrency", TALLY))


def _reference(request: pytest.FixtureRequest, db_url: str) -> DbState:
    """A clean LONG_BACKFILL run at AS_OF into a separate database of the same kind."""
    kind = backend(db_url)
    if kind not in _REFERENCES:
        home = request.getfixturevalue("tmp_path_factory").mktemp(f"sigterm-ref-{kind}")
        if kind == "sqlite":
            url = copy_sqlite(request.getfixturevalue("sqlite_template"), home / "data" / "r.db")
        else:
            admin = request.getfixturevalue("pg_admin_url")
            url = create_pg_database(admin, request.getfixturevalue("pg_template"), "ea_ref")
        try:
            done = run_cron(
                cron_env(home, url, **LONG_BACKFILL), "--as-of", iso(AS_OF), out_dir=home
            )
            assert done.returncode == 0, f"reference run failed: {done.describe()}"
            _REFERENCES[kind] = read_state(url)
        finally:
            if kind == "postgres":
                drop_pg_database(request.getfixturevalue("pg_admin_url"), url)
    return _REFERENCES[kind]


def _logged(home: Path, event: str, since: float) -> bool:
    """True once ``event`` was logged by a process started at wall time ``since``."""
    for item in log_events(cycle_log(home)):
        stamp = item.get("timestamp")
        if item.get("event") != event or not stamp:
            continue
        if datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() >= since:
            return True
    return False


@pytest.mark.parametrize(
    "moment",
    ["backfill.chunk", "derive.full"],
    ids=["during-backfill-fetch", "after-aggregation-and-indicators"],
)
def test_sigterm_stops_promptly_records_interrupted_and_releases_the_lock(
    moment: str, db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    reference = _reference(request, db_url)
    home = tmp_path / "home"
    env = cron_env(home, db_url, **LONG_BACKFILL)
    started = time.time()
    victim = CronProcess(env, ["--as-of", iso(AS_OF)], home / "out")
    reached = wait_until(lambda: _logged(home, moment, started), timeout=120, while_alive=victim)
    TALLY.kills_tried += 1
    assert reached and victim.signal(signal.SIGTERM), (
        f"the run ended before {moment!r} was logged: {victim.wait(10).describe()}"
    )
    TALLY.faults_injected += 1
    TALLY.add_stage(f"SIGTERM at {moment}")
    signalled = time.monotonic()
    stopped = victim.wait(timeout=60)
    took = time.monotonic() - signalled
    print(f"\nSIGTERM at {moment}: exited {stopped.returncode} after {took:.2f} s")

    assert stopped.returncode != 0, stopped.describe()
    assert len(stopped.stderr_lines) == 1, f"expected one stderr line: {stopped.describe()}"
    assert "Traceback" not in stopped.stderr
    after_stop = read_state(db_url)
    mine = [r for r in after_stop.runs if int(r["pid"]) == victim.pid]
    assert [r["status"] for r in mine] == ["interrupted"], mine
    assert mine[0]["finished_at"] is not None
    assert after_stop.duplicate_total == 0, after_stop.duplicates
    if after_stop.bars_of(PAIR, "5m"):  # stopped while still fetching 1h history: none yet
        _, wrong = m5_mismatches(after_stop, PAIR, AS_OF)
        assert not [w for w in wrong if "missing" not in w], f"half-written 5m data: {wrong[:5]}"
    wrong_prices = differing_prices(reference, after_stop)
    assert not wrong_prices, f"stored prices differ from the reference: {wrong_prices[:5]}"

    finished = run_cron(env, "--as-of", iso(AS_OF), out_dir=home / "out")
    assert finished.returncode == 0, finished.describe()
    final = read_state(db_url)
    assert final.runs[-1]["status"] == "success", (
        f"the run after SIGTERM recorded {final.runs[-1]['status']!r}: lock not released?"
    )
    comparison = compare_states(reference, final)
    TALLY.duplicates_found += final.duplicate_total
    TALLY.bars_missing += len(comparison.missing_bars)
    TALLY.bars_differing += len(comparison.differing_bars)
    TALLY.runs_checked += len(final.runs)
    assert final.duplicate_total == 0
    assert not comparison.problems(), "; ".join(comparison.problems())
    assert not unrecognisable_running_rows(final)


def _did_work(pair_report: dict[str, Any]) -> bool:
    return pair_report.get("action") in ("backfill", "continuous") and any(
        int(pair_report.get(name) or 0) > 0
        for name in ("rows_written", "bars_aggregated", "indicator_rows_written")
    )


@pytest.mark.parametrize("count", [2, 4])
def test_cycles_started_together_do_the_work_once(count: int, db_url: str, tmp_path: Path) -> None:
    homes = [tmp_path / f"home{i}" for i in range(count)]
    # One installation per process (own logs), one shared database, one lock directory:
    # the SQLite lock files live beside the database file, PostgreSQL uses advisory locks.
    procs = [
        CronProcess(cron_env(h, db_url, **LONG_BACKFILL), ["--as-of", iso(AS_OF)], h / "out")
        for h in homes
    ]
    results = [p.wait(300) for p in procs]
    for result in results:
        assert result.returncode == 0, result.describe()
    state = read_state(db_url)
    statuses = sorted(r["status"] for r in state.runs)
    assert statuses == ["skipped"] * (count - 1) + ["success"], state.runs
    winner = next(r for r in state.runs if r["status"] == "success")
    for run in state.runs:
        if run["status"] == "skipped":
            # Skipped while the winner still held the lock (a row's started_at is written
            # after the lock attempt, so the winner's may even be the later one).
            assert run["started_at"] <= winner["finished_at"], (
                "a run was skipped after the winner had finished: the lock was not released"
            )
    TALLY.runs_checked += len(state.runs)
    TALLY.duplicates_found += state.duplicate_total
    assert state.duplicate_total == 0
    missing, wrong = m5_mismatches(state, PAIR, AS_OF)
    TALLY.bars_missing += missing
    assert not wrong, wrong[:5]
    assert not aggregation_mismatches(state, PAIR)


def test_two_hosts_share_a_pair_list_through_per_pair_locks(db_url: str, tmp_path: Path) -> None:
    pairs = FOUR_PAIRS.split(",")
    steps = [AS_OF + timedelta(minutes=5 * i) for i in range(3)]
    revisits = 0
    for step in steps:
        procs = {
            host: CronProcess(
                cron_env(
                    tmp_path / host,
                    db_url,
                    CURRENCY_PAIRS=FOUR_PAIRS,
                    RUN_LOCK_SCOPE="host",
                    HOST_ID=host,
                ),
                ["--as-of", iso(step)],
                tmp_path / host / "out",
            )
            for host in ("a", "b")
        }
        for host, proc in procs.items():
            result = proc.wait(300)
            assert result.returncode == 0, f"host {host}: {result.describe()}"
        state = read_state(db_url)
        runs = [r for r in state.runs if r["as_of"] == step]
        assert sorted(r["host"] for r in runs) == ["a", "b"], runs
        assert all(r["status"] == "success" for r in runs), runs
        workers: dict[str, list[str]] = {p: [] for p in pairs}
        for run in runs:
            for report in (run["details"] or {}).get("pairs", []):
                if _did_work(report):
                    workers[report["pair"]].append(run["host"])
                elif report.get("action") in ("backfill", "continuous"):
                    revisits += 1
        assert all(len(hosts) == 1 for hosts in workers.values()), (
            f"at {step:%H:%M} each pair must be worked on by exactly one host: {workers}"
        )
    final = read_state(db_url)
    TALLY.runs_checked += len(final.runs)
    TALLY.duplicates_found += final.duplicate_total
    assert final.duplicate_total == 0, final.duplicates
    for pair in pairs:
        missing, wrong = m5_mismatches(final, pair, steps[-1])
        TALLY.bars_missing += missing
        assert not wrong, wrong[:5]
        assert not aggregation_mismatches(final, pair)
    print(f"\ntwo hosts: {revisits} pair visit(s) found nothing left to do (already done)")
